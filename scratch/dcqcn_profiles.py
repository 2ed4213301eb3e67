"""Bottleneck utilisation, fairness and makespan per DCQCN profile (the README table).

Workloads (100G links, MTU 4096, PFC on, every flow starts at t = 0):
  incast2  two 20 MB flows into one host (TestbedTopology, one switch);
  incast7  seven 20 MB flows into one host (same);
  perm32   32 hosts on a leaf-spine (4 leaves x 8 hosts, 8 spines, ECMP), host h
           sends 10 MB to host (h + 8) mod 32 (scratch/bench_fabric.py W1).
Utilisation = payload bytes delivered / (makespan x payload line rate), the
payload line rate being 100G x 4096 / (4096 + 82 bytes of RoCEv2 headers,
preamble and IFG); makespan = last flow's end - 0. Fairness (incasts) =
slowest FCT / fastest FCT. The permutation's figure is its makespan / cc=none's.
Usage: python scratch/dcqcn_profiles.py [--only WORKLOAD] [--profiles connectx,hpcc,paper]
"""

from __future__ import annotations

import argparse
import time

from ns3_mfs.fabric import FabricConfig, LeafSpineTopology, Network, TestbedTopology

PAYLOAD_BPS = 100e9 * 4096 / (4096 + 82)


def run(workload: str, cc: str, profile: str) -> dict:
    cfg = FabricConfig(cc=cc, dcqcn_profile=profile)
    if workload == "perm32":
        net = Network(LeafSpineTopology(leaves=4, spines=8, hosts_per_leaf=8), cfg)
        for h in range(32):
            net.start_flow(h, (h + 8) % 32, 10_000_000)
    else:
        n = 2 if workload == "incast2" else 7
        net = Network(TestbedTopology(servers=n + 1, nics_per_server=1), cfg)
        for s in range(1, n + 1):
            net.start_flow(s, 0, 20_000_000)
    t0 = time.perf_counter()
    net.run()
    wall = time.perf_counter() - t0
    f = net.flows()
    s = net.summary()
    makespan = float(f["end_s"].max())
    out = {
        "workload": workload, "cc": cc, "profile": profile if cc == "dcqcn" else "-",
        "makespan_ms": round(makespan * 1e3, 3),
        "fct_ratio": round(float(f["fct_s"].max() / f["fct_s"].min()), 3),
        "pause_frames": s["pfc_pause_frames"], "cnps": s["cnps"], "wall_s": round(wall, 2),
    }
    if workload != "perm32":
        out["utilisation"] = round(float(f["bytes"].sum()) * 8 / (makespan * PAYLOAD_BPS), 3)
    net.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="incast2,incast7,perm32")
    ap.add_argument("--profiles", default="connectx,hpcc,paper")
    args = ap.parse_args()
    for w in args.only.split(","):
        base = run(w, "none", "connectx")
        print(base, flush=True)
        for p in args.profiles.split(","):
            r = run(w, "dcqcn", p)
            r["makespan_vs_none"] = round(r["makespan_ms"] / base["makespan_ms"], 3)
            print(r, flush=True)


if __name__ == "__main__":
    main()
