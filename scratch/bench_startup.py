"""Fixed cost of a command-line process: start-up, set-up, result writing (prints figures; asserts nothing).

Two parts, each run in fresh processes (the median of ``--rounds`` is printed):

1. Whole processes, CPU seconds (user + sys, from the child's rusage; the
   machine is shared, so wall time is not used) and peak RSS:
     - ``python -c pass`` (the interpreter);
     - the ns-3 process baseline: Python with cppyy and the native library
       (and through it ns-3) loaded, nothing else;
     - ``ns3-mfs fabric topologies/testbed.toml`` with one 1 KB flow;
     - ``ns3-mfs fabric`` on ``scratch/incast.csv`` (8-to-1, 2 MB each);
     - W1: 32 hosts on a 4x8 leaf-spine, each sending 10 MB to a host on
       another leaf, MTU 1024, cc = none (as ``scratch/bench_fabric.py``);
     - ``ns3-mfs run scratch/serving_small.toml`` (unless ``--no-serving``).
   "beyond baseline" is the peak RSS minus the baseline's.
2. The one-flow fabric command split into steps, in one process that does
   what ``ns3-mfs fabric`` does, step by step (CPU seconds per step).

Result files go to a temporary directory.

  python scratch/bench_startup.py                # all of it, 3 rounds
  python scratch/bench_startup.py --rounds 5 --no-serving
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

W1_TOPOLOGY = """kind = "leaf_spine"
leaves = 4
spines = 8
hosts_per_leaf = 8
nics_per_server = 1
gpus_per_server = 8
host_rate_gbps = 100.0
spine_rate_gbps = 100.0
link_delay_us = 1.0
"""


def run_child(cmd: list[str], env: dict) -> tuple[float, float]:
    """(CPU seconds, peak RSS MB) of a child process, from wait4 (exits on failure)."""
    proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, ru = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{err.decode()[-3000:]}")
    return ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024


def phases(tmp: Path) -> dict[str, float]:
    """CPU seconds of each step of a one-flow ``ns3-mfs fabric`` run, in this process."""
    clock = time.process_time
    out: dict[str, float] = {}
    t = clock()

    def step(name: str) -> None:
        nonlocal t
        now = clock()
        out[name] = now - t
        t = now

    from ns3_mfs.config import to_dict
    from ns3_mfs.fabric import safety
    from ns3_mfs.fabric.flowfile import load_flows
    from ns3_mfs.fabric.network import FabricConfig, Network
    from ns3_mfs.fabric.topology import load_topology
    from ns3_mfs.store import write_run
    step("import package (+ numpy, pandas)")
    from ns3_mfs import _ns

    _ns.native()
    step("load cppyy + native library")
    topo = load_topology(REPO / "topologies/testbed.toml")
    flows = load_flows(tmp / "one.csv", topo.graph().num_hosts)
    cfg = FabricConfig()
    net = Network(topo, cfg)
    step("build network")
    for fl in flows:
        net.start_flow(fl.src, fl.dst, fl.bytes, fl.priority, at=fl.start_s)
    net.run()
    step("start flows + simulate")
    res = net.result()
    step("extract result tables")
    summary = safety.conclude(res, res.summary())
    step("summary + checks")
    config = {"topology": to_dict(topo), "fabric": to_dict(cfg), "run": {"seed": 1, "until_s": None}}
    write_run(tmp / "phases", config=config, summary=summary, tables=res.tables(), seed=1,
              status=summary["status"], kind="fabric")
    step("write result files")
    net.close()
    step("close")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3, help="runs of each process (median printed)")
    ap.add_argument("--no-serving", action="store_true", help="skip the serving run")
    ap.add_argument("--phases", metavar="DIR", help=argparse.SUPPRESS)  # child: print the phase split
    args = ap.parse_args()
    if args.phases:
        print(json.dumps(phases(Path(args.phases))))
        return
    env = dict(os.environ, PYTHONPATH=str(REPO), NS3_MFS_PROGRESS="0")
    py = sys.executable
    subprocess.run([py, "-m", "ns3_mfs", "build"], cwd=REPO, env=env, check=True, stdout=subprocess.DEVNULL)
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as d:
        tmp = Path(d)
        (tmp / "one.csv").write_text("src,dst,bytes,start_s,priority\n2,0,1000,0,3\n")
        (tmp / "w1.toml").write_text(W1_TOPOLOGY)
        (tmp / "w1.csv").write_text("src,dst,bytes,start_s,priority\n"
                                    + "".join(f"{h},{(h + 8) % 32},10000000,0,0\n" for h in range(32)))
        fabric = [py, "-m", "ns3_mfs", "fabric"]
        procs = {
            "python -c pass": [py, "-c", "pass"],
            "ns-3 process baseline": [py, "-c", "from ns3_mfs import _ns; _ns.native()"],
            "fabric, testbed, one 1 KB flow": fabric + ["topologies/testbed.toml", str(tmp / "one.csv")],
            "fabric, testbed, scratch/incast.csv": fabric + ["topologies/testbed.toml", "scratch/incast.csv"],
            "fabric, W1 @1024, cc none": fabric + [str(tmp / "w1.toml"), str(tmp / "w1.csv"), "--mtu", "1024",
                                                   "--cc", "none"],
        }
        if not args.no_serving:
            procs["run scratch/serving_small.toml"] = [py, "-m", "ns3_mfs", "run", "scratch/serving_small.toml",
                                                       "--quiet"]
        rows = {}
        for i, (name, cmd) in enumerate(procs.items()):
            runs = []
            for r in range(args.rounds):
                extra = ["--out", str(tmp / f"out{i}-{r}")] if cmd[2:3] == ["ns3_mfs"] else []
                runs.append(run_child(cmd + extra, env))
            rows[name] = (statistics.median(c for c, _ in runs), statistics.median(m for _, m in runs))
        base = rows["ns-3 process baseline"][1]
        print(f"Whole processes (median of {args.rounds}; CPU = user + sys):\n")
        print("| process | CPU s | peak RSS MB | beyond baseline MB |")
        print("|---|---|---|---|")
        for name, (cpu, rss) in rows.items():
            beyond = f"{rss - base:.0f}" if name not in ("python -c pass", "ns-3 process baseline") else ""
            print(f"| {name} | {cpu:.2f} | {rss:.0f} | {beyond} |")

        splits = []
        for _ in range(args.rounds):
            res = subprocess.run([py, __file__, "--phases", str(tmp)], cwd=REPO, env=env, capture_output=True,
                                 text=True)
            if res.returncode != 0:
                raise SystemExit(f"phase split failed:\n{res.stderr[-3000:]}")
            splits.append(json.loads(res.stdout.strip().splitlines()[-1]))
        interp = rows["python -c pass"][0]
        print(f"\nOne-flow fabric run split into steps (CPU s, median of {args.rounds}):\n")
        print("| step | CPU s |")
        print("|---|---|")
        print(f"| interpreter start (python -c pass) | {interp:.3f} |")
        total = interp
        for name in splits[0]:
            v = statistics.median(s[name] for s in splits)
            total += v
            print(f"| {name} | {v:.3f} |")
        print(f"| total | {total:.3f} |")


if __name__ == "__main__":
    main()
