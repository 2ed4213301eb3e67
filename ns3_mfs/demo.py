"""The built-in demo: the MFS testbed serving scenario at a reduced size.

The MFS testbed (8 servers x 4 RTX 3090, 2 x 100G NICs each, one switch)
serves Mixtral-8x7B with EP8 on 16 prefill GPUs (two instances, two GPUs per
NIC), 4 decode GPUs and a KV-store server. 24 requests arrive as a Poisson
process at 1 request/s per prefill GPU, with log-normal prompt lengths
(mean 1,000 tokens). Each layer runs the dispatch and combine all-to-alls
and the prefill-to-decode transfer of its KV cache on the packet-level
fabric; the TTFT SLO is 3x the unloaded TTFT, measured by the simulator.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .config import from_dict
from .experiment.run import RunConfig, ServingConfig, run
from .fabric.network import FabricConfig
from .fabric.topology import TestbedTopology
from .serving.requests import WorkloadConfig

DEFAULT_OUT = Path("results") / "demo"


def demo_config(num_requests: int = 24) -> RunConfig:
    workload = from_dict(
        WorkloadConfig,
        {
            "kind": "poisson",
            "rate_per_s": 16.0,
            "num_requests": num_requests,
            "input": {"kind": "lognormal", "mean": 1000.0, "sigma": 0.8, "clip_min": 16, "clip_max": 8192},
            "output": {"kind": "lognormal", "mean": 200.0, "sigma": 0.8, "clip_min": 1, "clip_max": 2048},
        },
        "workload",
    )
    return RunConfig(
        topology=TestbedTopology(name="mfs-testbed"),
        workload=workload,
        serving=ServingConfig(model="mixtral-8x7b", gpu="rtx3090", tp=1, ep=8, prefill_gpus=16, decode_gpus=4),
        fabric=FabricConfig(),
        seed=1,
        scenario="demo: MFS testbed, Mixtral-8x7B EP8, reduced",
    )


def run_demo(out: Path = DEFAULT_OUT, num_requests: int = 24, replace: bool = False) -> dict:
    summary = run(demo_config(num_requests), out=out, replace=replace)
    req = pd.read_parquet(Path(out) / "requests.parquet")
    coll = pd.read_parquet(Path(out) / "collectives.parquet")
    flows = pd.read_parquet(Path(out) / "flows.parquet")
    ms = lambda s: f"{1e3 * s:8.1f}"  # noqa: E731
    print("TTFT (ms)          mean      p50      p99   SLO attainment")
    print(f"               {ms(req.ttft_s.mean())} {ms(req.ttft_s.median())} {ms(req.ttft_s.quantile(0.99))}"
          f"   {summary['ttft_slo_attainment']:.0%} of {summary['requests']} requests")
    a2a = coll[coll.kind.isin(["dispatch", "combine"])]
    print(f"all-to-all CCT (ms)  mean {1e3 * a2a.cct_s.mean():.3f}   p99 {1e3 * a2a.cct_s.quantile(0.99):.3f}"
          f"   ({len(a2a)} collectives)")
    by_stage = flows.groupby("stage")["bytes"].sum() / 1e6
    print("bytes by stage (MB): " + ", ".join(f"{k} {v:,.0f}" for k, v in by_stage.items()))
    print(
        f"fabric: {summary['network_flows']:,} flows, {summary['drops']} drops, {summary['pfc_pause_frames']} PAUSE frames, "
        f"{summary['packet_hops']:,} packet-hops; {summary['sim_s']:.3f} s simulated in {summary['wall_s']:.1f} s wall "
        f"({summary['packet_hops_per_s'] / 1e3:,.0f} k packet-hops/s)"
    )
    checks = [k for k, v in summary["checks"].items() if isinstance(v, dict)]
    print(f"checks: {'all passed' if summary['checks_ok'] else 'FAILED'} ({', '.join(checks)}); "
          f"longest PFC pause {1e6 * summary['longest_pause_s']:.1f} us")
    print(f"results: {Path(out).resolve()}")
    return summary
