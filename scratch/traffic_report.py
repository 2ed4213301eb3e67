"""Where the network time of a serving run goes: bytes per stage, network waits, contention.

Runs the MFS testbed (Mixtral-8x7B TP1/EP8 on 16 prefill GPUs, two per 100G
NIC, KV pool on the prefill instances, full-history P2D) with a generated
workload (QwenA-Conv-like by default) at a rate per prefill GPU, twice under
fair sharing: once with all traffic, once with only the collectives on the
fabric (no KV fetch, no P2D), and prints

* the bytes per stage per measured request;
* the share of TTFT spent waiting for the network, per stage
  (:mod:`ns3_mfs.analysis.waits`);
* the all-to-all CCT and the TTFT with and without the fetch and P2D traffic
  (the MFS paper's Fig. 5: contention makes TTFT about 1.5x and CCT about
  1.8x longer).

    .venv/bin/python scratch/traffic_report.py [--preset qwena_conv] [--rate 1.0] [--requests 48 --warmup 16]
        [--topology topologies/testbed_host.toml] [--batch-scope dp_rank]

The default topology is the testbed without its servers' inside; give
``topologies/testbed_host.toml`` for the host path (GPUs, PCIe, host memory).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ns3_mfs.config import from_dict  # noqa: E402
from ns3_mfs.experiment.run import RunConfig, ServingConfig, run  # noqa: E402
from ns3_mfs.fabric.topology import TestbedTopology, Topology, load_topology  # noqa: E402
from ns3_mfs.serving.requests import WorkloadConfig  # noqa: E402


def config(preset: str, rate_per_gpu: float, requests: int, warmup: int, traffic: list[str],
           topology: Topology, batch_scope: str = "instance") -> RunConfig:
    wl = from_dict(WorkloadConfig, {"kind": "sessions", "rate_per_s": rate_per_gpu * 16, "num_requests": requests,
                                    "warmup_requests": warmup, "sessions": {"preset": preset}}, "workload")
    serving = ServingConfig(model="mixtral-8x7b", gpu="rtx3090", tp=1, ep=8, prefill_gpus=16, decode_gpus=4,
                            gpus_per_nic=2, traffic=traffic, batch_scope=batch_scope)
    return RunConfig(topology=topology, workload=wl, serving=serving, policy="fair",
                     seed=1, scenario=f"traffic report {preset}")


def one(args: tuple) -> tuple[str, dict]:
    name, cfg, out = args
    return name, run(cfg, out=out, replace=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", default="qwena_conv", choices=("qwena_conv", "qwenb_agent"))
    ap.add_argument("--rate", type=float, default=1.0, help="requests/s per prefill GPU")
    ap.add_argument("--requests", type=int, default=48)
    ap.add_argument("--warmup", type=int, default=16)
    ap.add_argument("--topology", help="topology TOML (default: the MFS testbed, no host path)")
    ap.add_argument("--batch-scope", default="instance", choices=("instance", "dp_rank"))
    ap.add_argument("--out", default=str(ROOT / "results" / "traffic_report"))
    a = ap.parse_args()
    out = Path(a.out)
    topo = load_topology(a.topology) if a.topology else TestbedTopology(name="mfs-testbed")
    full = config(a.preset, a.rate, a.requests, a.warmup, ["kv_fetch", "collectives", "p2d"], topo, a.batch_scope)
    alone = dataclasses.replace(full, serving=dataclasses.replace(full.serving, traffic=["collectives"]))
    t0 = time.time()
    with ProcessPoolExecutor(2) as pool:
        res = dict(pool.map(one, [("all", full, out / "all"), ("collectives only", alone, out / "alone")]))
    import pandas as pd

    from ns3_mfs.analysis.waits import network_waits

    d = out / "all"
    req, flows = pd.read_parquet(d / "requests.parquet"), pd.read_parquet(d / "flows.parquet")
    measured = req[~req["warmup"]]
    f = flows[flows["request_id"].isin(measured["request_id"])]
    per_req = f.groupby("stage")["bytes"].sum() / len(measured) / 1e6
    coll = pd.read_parquet(d / "collectives.parquet")
    a2a = coll[coll["measured"] & coll["kind"].isin(["dispatch", "combine"])]
    a2a_bytes = a2a["bytes"].sum() / len(measured) / 1e6
    waits = network_waits(measured, pd.read_parquet(d / "steps.parquet"), coll)
    print(f"{a.preset} at {a.rate:g} req/s per prefill GPU, {len(measured)} measured requests "
          f"(+{a.warmup} warm-up), mean prompt {measured['input_tokens'].mean():.0f} tokens, "
          f"{measured['cached_tokens'].sum() / measured['input_tokens'].sum():.0%} reused; {time.time() - t0:.0f} s wall")
    print("bytes per measured request (MB): " + ", ".join(
        [f"kv_fetch {per_req.get('kv_fetch', 0):.1f}", f"p2d {per_req.get('p2d', 0):.1f}",
         f"all-to-all {a2a_bytes:.1f} (its batches' dispatch + combine, shared with the batch)"]))
    print("share of TTFT waiting for the network: " + ", ".join(
        f"stage {k} {waits[f'stage{k}_wait_s'].sum() / waits['ttft_s'].sum():.1%}" for k in (1, 2, 3)))
    s_all, s_alone = res["all"], res["collectives only"]
    print(f"fair sharing, all traffic vs collectives only: mean all-to-all CCT {s_all['cct_mean_s'] * 1e3:.3f} vs "
          f"{s_alone['cct_mean_s'] * 1e3:.3f} ms ({s_all['cct_mean_s'] / s_alone['cct_mean_s']:.2f}x), mean TTFT "
          f"{s_all['ttft_mean_s'] * 1e3:.1f} vs {s_alone['ttft_mean_s'] * 1e3:.1f} ms "
          f"({s_all['ttft_mean_s'] / s_alone['ttft_mean_s']:.2f}x); paper Fig. 5: about 1.8x and 1.5x")


if __name__ == "__main__":
    main()
