"""Schedulers above the network on the MFS testbed: queue policies, dispatch, expert routing/placement, decode.

One cluster (the MFS testbed: 8 servers x 4 RTX 3090, 2 x 100G NICs each;
Mixtral-8x7B EP8 on 16 prefill GPUs = 2 instances; 8 decode GPUs = one EP8
decode instance; one KV-store server) replays a window of the Azure
conversation trace rescaled to ``--rate`` requests/s per prefill GPU. The
TTFT SLO is 3x the unloaded TTFT (measured once, by prompt length, on the
baseline), the TPOT SLO ``--tpot-factor`` x the unloaded TPOT of the decode
step model. Every
variant changes one thing against the baseline (fcfs, round_robin, uniform
routing, contiguous placement, continuous decode) and reruns the packet-level
simulation with the same requests and deadlines::

    python scratch/compare_schedulers.py [--trace ../shared/traces/azure_llm_2023_conv.csv]
                                         [--requests 24] [--rate 1.0] [--zipf 1.2]
                                         [--batch-tokens 8192] [--tpot-factor 3.0]

It prints one row per variant: TTFT / TPOT / e2e SLO attainment, mean TTFT
and TPOT, all-to-all CCT (mean, p99), and the peak per-layer dispatch bytes
into one NIC (summed over layers: the hot-spot load), each with its change
against the baseline.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ns3_mfs.config import from_dict  # noqa: E402
from ns3_mfs.experiment.run import RunConfig, RunSetup, ServingConfig, result_tables, unloaded_ttft  # noqa: E402
from ns3_mfs.fabric import TestbedTopology  # noqa: E402
from ns3_mfs.serving.decode import DecodeConfig, decode_summary  # noqa: E402
from ns3_mfs.serving.requests import WorkloadConfig, generate  # noqa: E402

DEFAULT_TRACE = "../shared/traces/azure_llm_2023_conv.csv"


def base_config(trace: str, requests: int, rate_per_gpu: float, batch_tokens: int = 8192,
                tpot_factor: float = 3.0) -> RunConfig:
    """The baseline: fcfs, round_robin, uniform routing, contiguous placement, continuous decode."""
    serving = ServingConfig(model="mixtral-8x7b", gpu="rtx3090", tp=1, ep=8, prefill_gpus=16, decode_gpus=8,
                            max_batched_tokens=batch_tokens, tpot_slo_factor=tpot_factor,
                            decode=DecodeConfig(policy="continuous", ep=8))
    workload = from_dict(WorkloadConfig, {"kind": "trace", "trace": trace, "num_requests": requests,
                                          "rate_per_s": rate_per_gpu * serving.prefill_gpus}, "workload")
    return RunConfig(topology=TestbedTopology(name="mfs-testbed"), workload=workload, serving=serving, seed=1,
                     scenario="compare-schedulers")


def variants(zipf: float) -> list[tuple[str, dict]]:
    """(label, ServingConfig changes against the baseline)."""
    z = {"routing": "zipf", "routing_params": {"exponent": zipf, "seed": 1}}
    return [
        ("baseline (fcfs, rr, uniform)", {}),
        ("queue kairos", {"queue_policy": "kairos"}),
        ("queue sjf_aging", {"queue_policy": "sjf_aging"}),
        ("dispatch load_aware", {"dispatch": "load_aware"}),
        (f"zipf {zipf:g} contiguous", z),
        (f"zipf {zipf:g} balanced", {**z, "placement": "balanced"}),
        ("decode kairos_slack", {"decode": DecodeConfig(policy="kairos_slack", ep=8)}),
    ]


def measure(cfg: RunConfig, requests, deadlines, slo) -> dict[str, float]:
    """Simulate one variant; the metrics of its tables."""
    setup = RunSetup(cfg)
    net, eng = setup.simulate(requests, deadlines)
    try:
        t = result_tables(net, eng, slo)
    finally:
        net.close()
    req, coll, flows = t["requests"], t["collectives"], t["flows"]
    a2a = coll[coll["kind"].isin(["dispatch", "combine"])]["cct_s"].dropna()
    d = flows[(flows["stage"] == "dispatch") & (flows["path"] == "network")]
    hot = d.groupby(["layer", "dst"])["bytes"].sum().groupby("layer").max().sum()
    dec = decode_summary(req, t.get("decode_steps"))
    return {
        "ttft_att": float(req["slo_met"].mean()),
        "ttft_mean_ms": 1e3 * float(req["ttft_s"].mean()),
        "tpot_att": dec["tpot_slo_attainment"],
        "tpot_mean_ms": 1e3 * dec["tpot_mean_s"],
        "e2e_att": dec["e2e_slo_attainment"],
        "cct_mean_ms": 1e3 * float(a2a.mean()),
        "cct_p99_ms": 1e3 * float(a2a.quantile(0.99)),
        "hot_nic_MB": hot / 1e6,
    }


def fmt(label: str, m: dict, base: dict) -> str:
    def d(key: str, pct: bool = False) -> str:
        if label.startswith("baseline"):
            return ""
        diff = m[key] - base[key]
        return f"({diff:+.0%})" if pct else f"({diff / base[key]:+.0%})"

    return (f"{label:<28} {m['ttft_att']:5.0%} {d('ttft_att', True):>7} {m['ttft_mean_ms']:8.1f} {d('ttft_mean_ms'):>7}"
            f" {m['tpot_att']:5.0%} {d('tpot_att', True):>7} {m['tpot_mean_ms']:6.1f} {m['e2e_att']:5.0%}"
            f" {m['cct_mean_ms']:6.3f} {d('cct_mean_ms'):>6} {m['cct_p99_ms']:6.3f}"
            f" {m['hot_nic_MB']:8.1f} {d('hot_nic_MB'):>6}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trace", default=str(ROOT / DEFAULT_TRACE), help="Azure CSV or Mooncake JSONL trace")
    ap.add_argument("--requests", type=int, default=24)
    ap.add_argument("--rate", type=float, default=1.0, help="requests/s per prefill GPU")
    ap.add_argument("--zipf", type=float, default=1.2, help="Zipf exponent of the skewed routing")
    ap.add_argument("--batch-tokens", type=int, default=8192, help="max_batched_tokens of a prefill batch")
    ap.add_argument("--tpot-factor", type=float, default=3.0, help="TPOT SLO = factor x unloaded TPOT")
    args = ap.parse_args()
    t0 = time.perf_counter()
    cfg = base_config(args.trace, args.requests, args.rate, args.batch_tokens, args.tpot_factor)
    requests = generate(cfg.workload, cfg.seed)
    lengths = np.array([r.input_tokens for r in requests])
    grid = np.unique(np.quantile(lengths, [0.0, 0.5, 1.0]).round().astype(int))
    slo = 3.0 * np.interp(lengths, grid, unloaded_ttft(RunSetup(cfg), grid))
    deadlines = {r.id: r.arrival_s + float(s) for r, s in zip(requests, slo)}
    print(f"{len(requests)} requests of {Path(args.trace).name} at {args.rate:g} req/s per prefill GPU "
          f"(mean prompt {lengths.mean():.0f}, mean output {np.mean([r.output_tokens for r in requests]):.0f} tokens); "
          f"TTFT SLO 3x unloaded ({1e3 * slo.min():.0f}-{1e3 * slo.max():.0f} ms), "
          f"TPOT SLO {args.tpot_factor:g}x unloaded; max_batched_tokens {args.batch_tokens}")
    print(f"{'variant':<28} {'TTFT att':>13} {'TTFT ms':>16} {'TPOT att':>13} {'TPOT':>6} {'e2e':>5}"
          f" {'CCT ms':>13} {'p99':>6} {'hot NIC MB':>15}")
    base = None
    for label, change in variants(args.zipf):
        c = dataclasses.replace(cfg, serving=dataclasses.replace(cfg.serving, **change))
        m = measure(c, requests, deadlines, slo)
        base = base or m
        print(fmt(label, m, base), flush=True)
    print(f"wall {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
