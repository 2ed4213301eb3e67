"""Fabric speed benchmark against a baseline commit (prints figures; asserts nothing).

Workloads (PFC on, cc=none unless --extra says otherwise):
  W1@1024   32 hosts, 2-tier leaf-spine at 100G (4 leaves x 8 hosts, 8 spines),
            each host sends 10 MB to a host on another leaf; MTU 1024
  W1@4096   the same at MTU 4096
  inc31     31-to-1 incast, 2 MB each, MTU 4096 (32-server testbed)
  inc7      7-to-1 incast, 200 MB each, MTU 4096 (same testbed)

Each run is a fresh process. For every workload the runs of this tree and
of the baseline commit (default 9e14ab3) alternate, so machine noise hits
both; the median of the rounds is printed. The baseline's sources are
unpacked once with ``git archive`` into ~/.cache/ns3-mfs-bench/src-<commit>
and its native library is built there once by its own ``_build`` code (the
library cache is keyed by the sources' hash, so both libraries live side by
side). The workload code below uses only API that both versions have.

Printed per workload and version: event-loop CPU seconds (process time
spent in ``Network.run``), packet-hops (data and control frames put on a
link, separately), events per hop, ns of CPU per event, peak RSS, process
start-up seconds (interpreter start to the first event: imports, native
library load, fabric set-up) and the baseline/this ratio of event-loop time.

  python scratch/bench_fabric.py                      # the table
  python scratch/bench_fabric.py --rounds 5 --only W1@1024
  python scratch/bench_fabric.py --dump-fct DIR       # per-flow FCTs of this tree into DIR
  python scratch/bench_fabric.py --check-fct DIR      # compare this tree's FCTs with DIR's
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WORKLOADS = {
    "W1@1024": ("W1", 1024),
    "W1@4096": ("W1", 4096),
    "inc31": ("inc31", 4096),
    "inc7": ("inc7", 4096),
}
DEFAULT_EXTRA = {"cc": "none"}


def workload(key: str, extra: dict, t_spawn: float, fct_out: str | None) -> dict:
    """Run one workload in this process and return its figures."""
    import ns3_mfs
    from ns3_mfs.fabric import FabricConfig, LeafSpineTopology, Network, TestbedTopology

    name, mtu = WORKLOADS[key]
    if name == "W1":
        net = Network(LeafSpineTopology(leaves=4, spines=8, hosts_per_leaf=8), FabricConfig(mtu=mtu, **extra))
        for h in range(32):
            net.start_flow(h, (h + 8) % 32, 10_000_000)
    else:
        n, size = (31, 2_000_000) if name == "inc31" else (7, 200_000_000)
        net = Network(TestbedTopology(servers=32, nics_per_server=1), FabricConfig(mtu=mtu, **extra))
        for h in range(1, n + 1):
            net.start_flow(h, 0, size)
    startup = time.time() - t_spawn
    callgrind = os.environ.get("MFS_BENCH_CALLGRIND")  # under valgrind --instr-atstart=no: count the loop only
    if callgrind:
        subprocess.run(["callgrind_control", "-i", "on", str(os.getpid())], capture_output=True)
    c0 = time.process_time()
    net.run()
    cpu = time.process_time() - c0
    if callgrind:
        subprocess.run(["callgrind_control", "-i", "off", str(os.getpid())], capture_output=True)
    s = net.summary()
    if fct_out:
        f = net.flows()
        rows = [
            {"flow_id": int(r.flow_id), "src": int(r.src), "dst": int(r.dst), "start_s": float(r.start_s),
             "end_s": float(r.end_s)}
            for r in f.itertuples()
        ]
        Path(fct_out).write_text(json.dumps(rows))
    hops = int(s["packet_hops"])
    data = int(s["data_packet_hops"])
    events = int(s["events"])
    return {
        "src": str(Path(ns3_mfs.__file__).resolve().parent.parent),
        "loop_cpu_s": cpu,
        "data_hops": data,
        "ctrl_hops": hops - data,
        "events_per_hop": events / hops if hops else 0.0,
        "ns_per_event": cpu * 1e9 / events if events else 0.0,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "startup_s": startup,
        "sim_ms": s["sim_s"] * 1e3,
        "pause_frames": s["pfc_pause_frames"],
        "drops": s["drops"],
    }


def run_one(root: Path, key: str, extra: dict, fct_out: str | None = None) -> dict:
    env = dict(os.environ, PYTHONPATH=str(root))
    cmd = [sys.executable, __file__, "--one", key, "--extra", json.dumps(extra), "--t0", repr(time.time())]
    if fct_out:
        cmd += ["--fct-out", fct_out]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=root)
    if out.returncode != 0:
        raise SystemExit(f"{key} under {root} failed:\n{out.stderr[-3000:]}")
    row = json.loads(out.stdout.strip().splitlines()[-1])
    if Path(row["src"]) != root.resolve():
        raise SystemExit(f"{key}: imported ns3_mfs from {row['src']}, expected {root}")
    return row


def baseline_root(commit: str) -> Path:
    """The baseline commit's sources, unpacked once, with its native library built."""
    full = subprocess.run(["git", "rev-parse", "--short", commit], cwd=REPO, capture_output=True, text=True,
                          check=True).stdout.strip()
    root = Path(os.path.expanduser("~/.cache/ns3-mfs-bench")) / f"src-{full}"
    if not (root / "ns3_mfs").is_dir():
        tmp = root.with_name(root.name + f".tmp{os.getpid()}")
        tmp.mkdir(parents=True)
        archive = subprocess.run(["git", "archive", full, "ns3_mfs"], cwd=REPO, capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(tmp)], input=archive.stdout, check=True)
        os.replace(tmp, root)
    env = dict(os.environ, PYTHONPATH=str(root))
    subprocess.run([sys.executable, "-m", "ns3_mfs", "build"], cwd=root, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    return root


def fct_diff(ref: list[dict], new: list[dict]) -> float:
    """Largest relative difference of flow completion times (inf if the flow sets differ)."""
    if [(r["flow_id"], r["src"], r["dst"]) for r in ref] != [(r["flow_id"], r["src"], r["dst"]) for r in new]:
        return float("inf")
    worst = 0.0
    for a, b in zip(ref, new):
        fa, fb = a["end_s"] - a["start_s"], b["end_s"] - b["start_s"]
        if fa != fa or fb != fb:  # NaN: unfinished
            if (fa != fa) != (fb != fb):
                return float("inf")
            continue
        worst = max(worst, abs(fb - fa) / fa)
    return worst


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--t0", type=float, help=argparse.SUPPRESS)
    ap.add_argument("--fct-out", help=argparse.SUPPRESS)
    ap.add_argument("--extra", default=json.dumps(DEFAULT_EXTRA), help="JSON of FabricConfig fields")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds per workload (median reported)")
    ap.add_argument("--baseline", default="9e14ab3",
                    help="baseline commit, or a source tree holding ns3_mfs/ ('none': this tree only)")
    ap.add_argument("--only", nargs="*", choices=list(WORKLOADS), help="workloads to run")
    ap.add_argument("--dump-fct", metavar="DIR", help="write this tree's per-flow FCTs into DIR and stop")
    ap.add_argument("--check-fct", metavar="DIR", help="compare this tree's per-flow FCTs with DIR's and stop")
    args = ap.parse_args()
    extra = json.loads(args.extra)
    if args.one:
        print(json.dumps(workload(args.one, extra, args.t0 or time.time(), args.fct_out)))
        return
    keys = args.only or list(WORKLOADS)
    if args.dump_fct or args.check_fct:
        d = Path(args.dump_fct or args.check_fct)
        d.mkdir(parents=True, exist_ok=True)
        worst_all = 0.0
        for k in keys:
            ref = d / f"{k}.json"
            out = ref if args.dump_fct else d / f"{k}.new.json"
            row = run_one(REPO, k, extra, str(out))
            if args.check_fct:
                diff = fct_diff(json.loads(ref.read_text()), json.loads(out.read_text()))
                worst_all = max(worst_all, diff)
                print(f"{k:8} flows={len(json.loads(out.read_text()))} max relative FCT difference {diff:.3g}"
                      f"  (loop {row['loop_cpu_s']:.2f} s)")
            else:
                print(f"{k:8} written to {out}")
        if args.check_fct:
            print(f"largest FCT difference: {worst_all:.3g}")
            sys.exit(0 if worst_all <= 1e-3 else 1)
        return
    versions = [("this", REPO)]
    if os.path.isdir(args.baseline):  # a source tree (holding ns3_mfs/) instead of a commit
        versions.insert(0, (Path(args.baseline).name, Path(args.baseline).resolve()))
    elif args.baseline != "none":
        versions.insert(0, (args.baseline, baseline_root(args.baseline)))
    cols = ("loop_cpu_s", "data_hops", "ctrl_hops", "events_per_hop", "ns_per_event", "peak_rss_mb", "startup_s")
    table = []
    for k in keys:
        runs: dict[str, list[dict]] = {v: [] for v, _ in versions}
        for _ in range(args.rounds):
            for v, root in versions:
                runs[v].append(run_one(root, k, extra))
        med = {v: {c: statistics.median(r[c] for r in rs) for c in cols} for v, rs in runs.items()}
        for v, _ in versions:
            ratio = med[versions[0][0]]["loop_cpu_s"] / med[v]["loop_cpu_s"]
            table.append((k, v, med[v], ratio))
    print(f"extra={json.dumps(extra)}  rounds={args.rounds}  medians; 'speed-up' = baseline loop time / this")
    print("| workload | version | event-loop CPU s | data hops | control hops | events/hop | ns/event "
          "| peak RSS MB | start-up s | speed-up |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for k, v, m, ratio in table:
        print(f"| {k} | {v} | {m['loop_cpu_s']:.3f} | {m['data_hops']:,.0f} | {m['ctrl_hops']:,.0f} | "
              f"{m['events_per_hop']:.2f} | {m['ns_per_event']:.0f} | {m['peak_rss_mb']:.0f} | "
              f"{m['startup_s']:.2f} | {ratio:.2f}x |")


if __name__ == "__main__":
    main()
