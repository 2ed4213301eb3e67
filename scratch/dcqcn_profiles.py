"""Bottleneck utilisation, fairness and makespan per DCQCN profile (the README table).

Workloads: ns3_mfs.fabric.cc_bench (incast2, incast7, perm32). Fairness =
slowest FCT / fastest FCT; the makespan is also given relative to cc=none's.
Usage: python scratch/dcqcn_profiles.py [--only incast2,incast7,perm32] [--profiles connectx,hpcc,paper]
"""

from __future__ import annotations

import argparse

from ns3_mfs.fabric import FabricConfig
from ns3_mfs.fabric.cc_bench import WORKLOADS, run_cc_workload


def row(r: dict, label: str, base: dict) -> str:
    util = f"{r['utilisation'] * 100:.1f} %" if r["utilisation"] is not None else "-"
    return (f"| {r['workload']} | {label} | {util} | {r['fct_ratio']:.2f} | {r['makespan_s'] * 1e3:.3g} ms | "
            f"{r['makespan_s'] / base['makespan_s']:.2f} | {r['pause_frames']} | {r['cnps']} |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default=",".join(WORKLOADS))
    ap.add_argument("--profiles", default="connectx,hpcc,paper")
    args = ap.parse_args()
    print("| workload | cc / profile | utilisation | FCT ratio | makespan | vs none | PAUSE frames | CNPs |")
    print("|---|---|---|---|---|---|---|---|")
    for w in args.only.split(","):
        base = run_cc_workload(w, FabricConfig(cc="none"))
        print(row(base, "none", base), flush=True)
        for p in args.profiles.split(","):
            print(row(run_cc_workload(w, FabricConfig(dcqcn_profile=p)), f"dcqcn `{p}`", base), flush=True)


if __name__ == "__main__":
    main()
