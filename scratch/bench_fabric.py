"""Fabric speed benchmark (prints figures; asserts nothing).

W1: 32 hosts on a 2-tier leaf-spine at 100G (4 leaves x 8 hosts, 8 spines),
    each host sends 10 MB to a host on another leaf; MTU 1024 and 4096.
W2: 31-to-1 incast of 2 MB each with PFC, MTU 4096.

Each workload runs three times, each in a fresh process (so peak memory is
its own); the run with the median wall time is printed, plus the best
packet-hops/s (shared VMs vary by tens of percent between identical runs).
Usage: python scratch/bench_fabric.py [--extra '{"cc": "none"}'] [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time


def workload(name: str, mtu: int, extra: dict) -> dict:
    from ns3_mfs.fabric import FabricConfig, LeafSpineTopology, Network, TestbedTopology

    if name == "W1":
        topo = LeafSpineTopology(leaves=4, spines=8, hosts_per_leaf=8)
        net = Network(topo, FabricConfig(mtu=mtu, **extra))
        for h in range(32):
            net.start_flow(h, (h + 8) % 32, 10_000_000)
    else:
        topo = TestbedTopology(servers=32, nics_per_server=1)
        net = Network(topo, FabricConfig(mtu=mtu, **extra))
        for h in range(1, 32):
            net.start_flow(h, 0, 2_000_000)
    t0 = time.perf_counter()
    net.run()
    wall = time.perf_counter() - t0
    s = net.summary()
    return {
        "workload": name,
        "mtu": mtu,
        "packet_hops": s["packet_hops"],
        "events": s["events"],
        "wall_s": round(wall, 3),
        "packet_hops_per_s": round(s["packet_hops"] / wall),
        "events_per_s": round(s["events"] / wall),
        "sim_ms": round(s["sim_s"] * 1e3, 3),
        "pause_frames": s["pfc_pause_frames"],
        "drops": s["drops"],
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--one", nargs=2, metavar=("WORKLOAD", "MTU"), help=argparse.SUPPRESS)
    ap.add_argument("--extra", default="{}", help="JSON of extra FabricConfig fields")
    ap.add_argument("--repeat", type=int, default=3, help="runs per workload (median reported)")
    args = ap.parse_args()
    if args.one:
        print(json.dumps(workload(args.one[0], int(args.one[1]), json.loads(args.extra))))
        return
    rows = []
    for name, mtu in (("W1", 1024), ("W1", 4096), ("W2", 4096)):
        runs = []
        for _ in range(args.repeat):
            out = subprocess.run(
                [sys.executable, __file__, "--one", name, str(mtu), "--extra", args.extra],
                capture_output=True, text=True, check=True,
            )
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
        row = sorted(runs, key=lambda r: r["wall_s"])[len(runs) // 2]
        row["best_hops_per_s"] = max(r["packet_hops_per_s"] for r in runs)
        rows.append(row)
    cols = list(rows[0])
    print(" ".join(f"{c:>17}" for c in cols))
    for r in rows:
        print(" ".join(f"{r[c]:>17,}" if isinstance(r[c], (int, float)) else f"{r[c]:>17}" for c in cols))


if __name__ == "__main__":
    main()
