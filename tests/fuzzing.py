"""Fuzzing harness: generated inputs go through the real command line and, when accepted, are simulated.

Each case mutates one valid input (a run config, a model file, a trace, a
topology, a flow list, a sweep file, or the command line itself) and runs
``ns3-mfs`` on it in a forked child process under a wall budget. A case
passes when the command

* refuses the input: exit 2, one ``ns3-mfs: error:`` line, no traceback, no
  result directory; or
* runs it: exit 0 with a complete result, or exit 3/4 (stopped early /
  failed its checks) with one ``ns3-mfs:`` line and a result marked so.

Anything else is a problem: a traceback, a death by signal (an ns-3 abort),
a run past the budget (a hang), another exit code, a half-written result.

    python tests/fuzzing.py --cases 10000 [--jobs 2] [--seed N]      (make fuzz)

prints the counts by kind and outcome and every problem; the test suite runs
a slice (``tests/test_fuzz.py``). Runs are small (a two-layer model, a few
requests, a few flows) and carry ``fabric.max_wall_s`` so a run that does not
end on its own is stopped by the simulator's watchdog (exit 3) well before
the harness's hard limit.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import copy
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import tomli_w

ROOT = Path(__file__).resolve().parents[1]
#: Wall budget of a run (its ``fabric.max_wall_s``) and the harness's hard limit per case.
RUN_WALL_S = 5.0
HARD_LIMIT_S = 60.0

TINY_MOE = {"name": "tiny-moe", "layers": 2, "moe_layers": 2, "hidden_size": 512, "intermediate_size": 1024,
            "moe_intermediate_size": 1024, "experts": 8, "top_k": 2, "num_heads": 8, "kv_heads": 8,
            "head_dim": 64, "vocab_size": 32000, "total_params": 0.1, "active_params": 0.05}
AZURE = "TIMESTAMP,ContextTokens,GeneratedTokens\n" + "".join(
    f"2023-11-16 18:15:{i:02d}.000000,{100 + 37 * i},{10 + i}\n" for i in range(12))
MOONCAKE = "".join(json.dumps({"timestamp": 500 * i, "input_length": 300 + 50 * i, "output_length": 20,
                               "hash_ids": [0, i + 1]}) + "\n" for i in range(12))
FLOWS = "src,dst,bytes,start_s,priority\n" + "".join(f"{i},{(i + 3) % 8},{20000 + 5000 * i},{i * 1e-6},{i % 8}\n"
                                                      for i in range(8))
TOPOLOGY = {"kind": "testbed", "servers": 4, "nics_per_server": 2, "link_rate_gbps": 100.0, "link_delay_us": 1.0}
FABRIC = {"mtu": 4096, "cc": "dcqcn", "pfc": True, "max_wall_s": RUN_WALL_S, "stall_wall_s": RUN_WALL_S}

BAD_VALUES = ["x", "", [], {}, [1, "a"], True, -1, 0, -1e9, 1e308, 10**30, 3.5, float("inf"), float("nan"),
              "nan", 1e-300, 2**64, 1e7, 9.3e6, None]


# --------------------------------------------------------------------------- #
# Mutations
# --------------------------------------------------------------------------- #


def paths(d: dict, prefix=()):
    for k, v in d.items():
        yield prefix + (k,)
        if isinstance(v, dict):
            yield from paths(v, prefix + (k,))


def mutate_dict(d: dict, rng: random.Random, keep: tuple[tuple[str, ...], ...] = ()) -> tuple[dict, str]:
    """One key of a nested table changed (bad value, deleted, unknown key added, misspelt); ``keep`` paths stay."""
    d = copy.deepcopy(d)
    path = rng.choice([p for p in paths(d) if p not in keep])
    parent = d
    for k in path[:-1]:
        parent = parent[k]
    op = rng.choice(["value", "value", "value", "value", "delete", "unknown", "typo", "scale"])
    key = path[-1]
    if op == "delete":
        del parent[key]
    elif op == "unknown":
        parent["not_a_key_" + str(rng.randint(0, 99))] = 1
    elif op == "typo":
        parent[key + "s"] = parent.pop(key)
    elif op == "scale" and isinstance(parent[key], (int, float)) and not isinstance(parent[key], bool):
        parent[key] = type(parent[key])(parent[key] * rng.choice([0, 2, 10, 1000, 1e6, -1]))
    else:
        parent[key] = rng.choice(BAD_VALUES)
    return d, f"{op} {'.'.join(path)}"


def mutate_bytes(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """Whole-file damage: truncation, binary, flipped bytes, lost header, negative or huge numbers, UTF-16."""
    op = rng.choice(["truncate", "binary", "flip", "empty", "header", "negative", "text", "utf16", "huge",
                     "bom", "longfield", "dup"])
    if op == "truncate":
        return data[: rng.randint(0, len(data) - 1)], op
    if op == "binary":
        return bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 400))), op
    if op == "flip":
        b = bytearray(data)
        for _ in range(rng.randint(1, 20)):
            b[rng.randrange(len(b))] = rng.getrandbits(8)
        return bytes(b), op
    if op == "empty":
        return b"", op
    if op == "header":
        return data.split(b"\n", 1)[1], op
    if op == "bom":
        return b"\xef\xbb\xbf" + data, op
    if op == "dup":
        return data + data.split(b"\n", 1)[1], op
    text = data.decode()
    if op == "negative":
        return text.replace(",1", ",-1").replace(": 3", ": -3").replace(": 6", ": -6").encode(), op
    if op == "text":
        return text.replace("0", "zero").encode(), op
    if op == "huge":
        return (text.replace(",1", ",99999999999999999999").replace(": 3", ": 1e400")
                .replace(": 6", ": 1e400").encode(), op)
    if op == "longfield":
        return text.replace(",1", "," + "1" * 200_000, 1).encode(), op
    return text.encode("utf-16"), op


def write_toml(path: Path, data: dict) -> None:
    """Write a table as TOML, leaving out None (TOML has no null) and values TOML cannot hold."""
    def clean(o):
        if isinstance(o, dict):
            return {k: clean(v) for k, v in o.items() if v is not None}
        if isinstance(o, list):
            return [clean(v) for v in o if v is not None]
        if isinstance(o, int) and not isinstance(o, bool) and not -2**63 <= o < 2**63:
            return float(o)
        return o

    path.write_text(tomli_w.dumps(clean(data)))


# --------------------------------------------------------------------------- #
# Cases
# --------------------------------------------------------------------------- #


@dataclass
class Case:
    kind: str
    what: str
    argv: list[str]
    out: Path


def _run_config(trace: Path, model: Path, policy: str) -> dict:
    return {
        "seed": 1, "policy": policy, "topology": dict(TOPOLOGY), "fabric": dict(FABRIC),
        "serving": {"model": str(model), "gpu": "rtx3090", "tp": 1, "ep": 8, "prefill_gpus": 8,
                    "decode_gpus": 4, "gpus_per_nic": 2, "max_batched_tokens": 2048, "ttft_slo_s": 0.5},
        "workload": {"kind": "trace", "trace": str(trace), "num_requests": 4, "rate_per_s": 40.0},
    }


KEEP = (("fabric", "max_wall_s"), ("fabric", "stall_wall_s"))
POLICIES = ("fair", "sjf", "edf", "karuna", "pias", "mfs")


def make_case(rng: random.Random, d: Path) -> Case:
    """A case in its own directory ``d`` (inputs written there; ``d/out`` is the result directory)."""
    d.mkdir(parents=True)
    out = d / "out"
    trace_kind = rng.choice(["azure", "mooncake"])
    trace = d / ("trace.jsonl" if trace_kind == "mooncake" else "trace.csv")
    trace.write_text(MOONCAKE if trace_kind == "mooncake" else AZURE)
    model = d / "model.toml"
    write_toml(model, TINY_MOE)
    cfg = d / "run.toml"
    base = _run_config(trace, model, rng.choice(POLICIES))
    run = ["run", str(cfg), "--out", str(out), "--no-progress"]
    kind = rng.choice(["run", "run", "model", "trace", "fabric", "flows", "sweep", "argv", "valid"])
    if kind == "valid":  # a valid small run: must complete
        write_toml(cfg, base)
        return Case(kind, "valid run", run, out)
    if kind == "run":
        data, what = mutate_dict(base, rng, KEEP)
        write_toml(cfg, data)
        return Case(kind, what, run, out)
    if kind == "model":
        write_toml(cfg, base)
        data, what = mutate_dict(TINY_MOE, rng)
        write_toml(model, data)
        return Case(kind, f"model {what}", run, out)
    if kind == "trace":
        write_toml(cfg, base)
        bad, what = mutate_bytes(trace.read_bytes(), rng)
        trace.write_bytes(bad)
        return Case(kind, f"trace {trace_kind} {what}", run, out)
    topo, flows, fab = d / "topo.toml", d / "flows.csv", d / "fabric.toml"
    write_toml(fab, {"fabric": FABRIC})
    fabric = ["fabric", str(topo), str(flows), "--out", str(out), "--config", str(fab)]
    if kind == "fabric":
        data, what = mutate_dict(TOPOLOGY, rng)
        write_toml(topo, data)
        flows.write_text(FLOWS)
        return Case(kind, f"topology {what}", fabric, out)
    if kind == "flows":
        write_toml(topo, TOPOLOGY)
        bad, what = mutate_bytes(FLOWS.encode(), rng)
        flows.write_bytes(bad)
        return Case(kind, f"flows {what}", fabric, out)
    if kind == "sweep":
        write_toml(cfg, base)
        sweep = d / "sweep.toml"
        body = {"base": "run.toml", "grid": {"seed": [1, 2], "workload.rate_per_s": [20.0, 40.0]}}
        data, what = mutate_dict(body, rng)
        write_toml(sweep, data)
        return Case(kind, f"sweep {what}", ["sweep", str(sweep), "--out", str(out), "--dry-run"], out)
    write_toml(topo, TOPOLOGY)
    flows.write_text(FLOWS)
    write_toml(cfg, base)
    opt, value = rng.choice([("--until", v) for v in ("nan", "inf", "-1", "0", "1e300", "9.3e6", "x", "1e-3")]
                            + [("--seed", v) for v in ("0", "-5", str(2**70), "x", "7")]
                            + [("--mtu", v) for v in ("1500", "0", "4096")]
                            + [("--rates-per-gpu", v) for v in ("", ",", "0", "-1", "nan", "1e-300", "x")]
                            + [("--policies", v) for v in ("", "lifo", ",,", "mfs,mfs")]
                            + [("--jobs", v) for v in ("-3", "x")])
    if opt in ("--until", "--seed", "--mtu"):
        return Case(kind, f"{opt} {value!r}", fabric + [opt, value], out)
    argv = ["compare", str(cfg), "--out", str(out), "--rates-per-gpu", "0.5", "--policies", "fair"]
    if opt in argv:
        argv[argv.index(opt) + 1] = value
    else:
        argv += [opt, value]
    return Case(kind, f"compare {opt} {value!r}", argv, out)


# --------------------------------------------------------------------------- #
# Running and judging
# --------------------------------------------------------------------------- #


@dataclass
class Outcome:
    code: Optional[int]           #: exit code, or None when killed by a signal or the hard limit
    signal: Optional[int]
    timed_out: bool
    stderr: str
    wall_s: float


def _child(argv: list[str], err_path: Path) -> None:
    """In the forked child: run the command line with stderr to a file; never returns."""
    code = 70
    try:
        os.setsid()
        fd = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.dup2(fd, 2)
        sys.stdout = open(1, "w", closefd=False)
        sys.stderr = open(2, "w", closefd=False)
        from ns3_mfs import cli

        code = cli.main(argv)
    except SystemExit as exc:  # argparse
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - a traceback is the finding
        import traceback

        traceback.print_exc()
        code = 99
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def start(case: Case, d: Path) -> int:
    pid = os.fork()
    if pid == 0:
        _child(case.argv, d / "stderr.txt")
    return pid


def judge(case: Case, o: Outcome) -> Optional[str]:
    """None when the case behaved, else what went wrong."""
    lines = [ln for ln in o.stderr.splitlines() if ln.strip() and not ln.startswith("sweep:")
             and not ln.startswith("results:") and not ln.startswith("compare:")]
    if o.timed_out:
        return f"hung: still running after {HARD_LIMIT_S:g} s"
    if o.signal is not None:
        return f"killed by signal {o.signal} ({signal.Signals(o.signal).name})"
    if "Traceback" in o.stderr:
        return "traceback: " + o.stderr.strip().splitlines()[-1][:200]
    if o.code == 2:
        if len(lines) != 1 or not lines[0].startswith("ns3-mfs: error:"):
            return f"refusal is not one error line: {o.stderr.strip()[:300]!r}"
        if len(lines[0]) > 1200:
            return f"refusal line of {len(lines[0])} characters"
        if case.out.exists() and any(case.out.glob("*.parquet")):
            return "refused but left result tables"
        return None
    if o.code == 0:
        meta = case.out / "meta.json"
        if case.argv[0] in ("run", "fabric") and not meta.exists():
            return "exit 0 without meta.json"
        if meta.exists() and json.loads(meta.read_text()).get("status") != "complete":
            return f"exit 0 but status {json.loads(meta.read_text()).get('status')}"
        return None
    if o.code in (3, 4):
        meta = case.out / "meta.json"
        status = json.loads(meta.read_text()).get("status") if meta.exists() else None
        if status not in ("partial", "invalid"):
            return f"exit {o.code} but meta status {status!r}"
        return None
    if o.code == 1 and case.argv[0] == "compare":
        return None if "failed" in o.stderr else f"compare exit 1: {o.stderr.strip()[-200:]!r}"
    return f"exit {o.code}: {o.stderr.strip()[-300:]!r}"


def classify(case: Case, o: Outcome) -> str:
    return {0: "ran", 2: "refused", 3: "stopped", 4: "check failed"}.get(o.code, "other")


def fuzz(cases: int, seed: int = 1, jobs: int = 2, work: Optional[Path] = None,
         progress: Optional[Callable[[str], None]] = None) -> tuple[collections.Counter, list[str]]:
    """Run ``cases`` cases; returns the counts by (kind, outcome) and the problems found."""
    from ns3_mfs import _ns, cli
    from ns3_mfs.analysis import plots  # noqa: F401 - imported once here, not in every case
    from ns3_mfs.experiment import compare, run, sweep  # noqa: F401

    cli.parser()
    _ns.native()  # load the library and the modules once: every forked case inherits them
    rng = random.Random(seed)
    own = work is None
    work = Path(tempfile.mkdtemp(prefix="ns3-mfs-fuzz-")) if own else work
    counts: collections.Counter = collections.Counter()
    problems: list[str] = []
    running: dict[int, tuple[Case, Path, float]] = {}
    t_start, made, done = time.monotonic(), 0, 0
    try:
        while made < cases or running:
            while made < cases and len(running) < jobs:
                d = work / f"case{made:06d}"
                case = make_case(rng, d)
                running[start(case, d)] = (case, d, time.monotonic())
                made += 1
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                now = time.monotonic()
                for p, (case, d, t0) in list(running.items()):
                    if now - t0 > HARD_LIMIT_S:
                        os.killpg(p, signal.SIGKILL)
                        os.waitpid(p, 0)
                        running.pop(p)
                        _record(case, d, Outcome(None, None, True, "", now - t0), counts, problems, own)
                time.sleep(0.002)
                continue
            if pid not in running:
                continue
            case, d, t0 = running.pop(pid)
            sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
            code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)  # anything the case left behind
            err = (d / "stderr.txt").read_text(errors="replace") if (d / "stderr.txt").exists() else ""
            _record(case, d, Outcome(code, sig, False, err, time.monotonic() - t0), counts, problems, own)
            done += 1
            if progress and done % 500 == 0:
                progress(f"{done} cases, {len(problems)} problems, {time.monotonic() - t_start:.0f} s")
    finally:
        for p in running:
            with contextlib.suppress(OSError):
                os.killpg(p, signal.SIGKILL)
        if own:
            shutil.rmtree(work, ignore_errors=True)
    return counts, problems


def _record(case: Case, d: Path, o: Outcome, counts: collections.Counter, problems: list[str], clean: bool) -> None:
    counts[(case.kind, classify(case, o) if not o.timed_out else "hung")] += 1
    problem = judge(case, o)
    if problem:
        problems.append(f"{case.kind}: {case.what}: {problem} [{d}]")
    elif clean:
        shutil.rmtree(d, ignore_errors=True)


def report(counts: collections.Counter, problems: list[str], wall_s: float) -> str:
    kinds = sorted({k for k, _ in counts})
    outcomes = sorted({o for _, o in counts})
    lines = [f"{sum(counts.values())} cases in {wall_s:.0f} s, {len(problems)} problems",
             "kind      " + "".join(f"{o:>14}" for o in outcomes)]
    for k in kinds:
        lines.append(f"{k:<10}" + "".join(f"{counts[(k, o)]:>14}" for o in outcomes))
    lines += [f"PROBLEM {p}" for p in problems[:50]]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--keep", help="keep the cases with problems under this directory")
    args = ap.parse_args()
    t0 = time.monotonic()
    work = Path(args.keep) if args.keep else None
    if work:
        work.mkdir(parents=True, exist_ok=True)
    counts, problems = fuzz(args.cases, args.seed, args.jobs, work, progress=lambda m: print(m, flush=True))
    print(report(counts, problems, time.monotonic() - t0))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
