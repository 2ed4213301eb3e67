"""Bad input fuzzing: random mutations of valid run configs, topologies, flow lists and trace files.

Two layers. The in-process tests here check refusals fast: every mutated input
either passes validation (the simulation is replaced by a sentinel) or is
refused with exit code 2, one ``ns3-mfs: error:`` line naming the problem, no
traceback and no result directory. The slice of :mod:`fuzzing` (the harness
behind ``make fuzz``) goes further: each case runs the real command line in a
forked process and accepted inputs are simulated under a wall budget, so no
input may abort, hang or end in a traceback. The counts are printed
(``pytest -s``).
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from ns3_mfs import cli
from ns3_mfs.config import load_toml
from ns3_mfs.experiment import run as run_mod
from ns3_mfs.fabric.network import Network

import fuzzing
from fuzzing import mutate_bytes, mutate_dict, write_toml

ROOT = Path(__file__).resolve().parents[1]
TRACES = ROOT.parent / "shared" / "traces"
SEED = 20261121
FUZZ_COUNTS: dict[str, int] = {}

AZURE = "TIMESTAMP,ContextTokens,GeneratedTokens\n" + "".join(
    f"2023-11-16 18:15:{i:02d}.000000,{100 + 37 * i},{10 + i}\n" for i in range(40))
MOONCAKE = "".join(json.dumps({"timestamp": 1000 * i, "input_length": 600 + 50 * i, "output_length": 20,
                               "hash_ids": [i, i + 1]}) + "\n" for i in range(30))


class Accepted(Exception):
    """The input passed validation: the simulation would start here."""


@pytest.fixture
def no_simulation(monkeypatch):
    def accept(*_a, **_k):
        raise Accepted

    monkeypatch.setattr(run_mod.RunSetup, "simulate", accept)
    monkeypatch.setattr(Network, "run", accept)


def base_run_config(tmp: Path, trace_kind: str) -> dict:
    trace = tmp / ("trace.jsonl" if trace_kind == "mooncake" else "trace.csv")
    trace.write_text(MOONCAKE if trace_kind == "mooncake" else AZURE)
    return {
        "seed": 1,
        "policy": "mfs",
        "topology": {"kind": "testbed", "servers": 8, "nics_per_server": 2},
        "fabric": {"mtu": 4096, "buffer_bytes": 33554432, "cc": "dcqcn", "ecn_kmin_bytes": 400000},
        "serving": {"model": "mixtral-8x7b", "gpu": "rtx3090", "tp": 1, "ep": 8, "prefill_gpus": 16,
                    "decode_gpus": 4, "max_batched_tokens": 8192, "ttft_slo_s": 1.0},
        "workload": {"kind": "trace", "trace": str(trace), "num_requests": 5, "rate_per_s": 16.0},
        "policies": {"mfs": {"E": 4.0, "U": 0.5, "drop_budget": 0.1}},
    }


def check_refused_cleanly(capsys, argv, out: Path, what: str) -> str:
    """Run the CLI in-process; returns 'accepted' or 'refused' (and asserts a clean refusal)."""
    try:
        code = cli.main(argv)
    except Accepted:
        return "accepted"
    err = capsys.readouterr().err
    assert code == 2, f"{what}: exit {code}, stderr {err!r}"
    assert err.startswith("ns3-mfs: error:") and "Traceback" not in err, f"{what}: {err!r}"
    assert not out.exists(), f"{what}: left a result directory"
    return "refused"


@pytest.mark.parametrize("trace_kind", ["azure", "mooncake"])
def test_mutated_run_configs_are_refused_cleanly(tmp_path, capsys, no_simulation, trace_kind):
    rng = random.Random(f"{SEED}-{trace_kind}")
    base = base_run_config(tmp_path, trace_kind)
    cfg = tmp_path / "run.toml"
    write_toml(cfg, base)
    assert check_refused_cleanly(capsys, ["run", str(cfg), "--out", str(tmp_path / "o")], tmp_path / "o", "base") == "accepted"
    tally = {"accepted": 0, "refused": 0}
    for i in range(150):
        data, what = mutate_dict(base, rng)
        write_toml(cfg, data)
        out = tmp_path / f"out{i}"
        tally[check_refused_cleanly(capsys, ["run", str(cfg), "--out", str(out)], out, what)] += 1
    # Whole-file damage: truncated or binary TOML.
    text = cfg.read_bytes()
    write_toml(cfg, base)
    good = cfg.read_bytes()
    for i in range(40):
        bad, what = mutate_bytes(good, rng)
        cfg.write_bytes(bad)
        out = tmp_path / f"file{i}"
        tally[check_refused_cleanly(capsys, ["run", str(cfg), "--out", str(out)], out, f"config file {what}")] += 1
    del text
    FUZZ_COUNTS[f"run config ({trace_kind})"] = sum(tally.values())
    print(f"fuzz run configs ({trace_kind}): {tally}")
    assert tally["refused"] > 100


@pytest.mark.parametrize("trace_kind", ["azure", "mooncake"])
def test_mutated_trace_files_are_refused_cleanly(tmp_path, capsys, no_simulation, trace_kind):
    rng = random.Random(f"{SEED}-trace-{trace_kind}")
    base = base_run_config(tmp_path, trace_kind)
    trace = Path(base["workload"]["trace"])
    good = trace.read_bytes()
    cfg = tmp_path / "run.toml"
    write_toml(cfg, base)
    tally = {"accepted": 0, "refused": 0}
    for i in range(120):
        bad, what = mutate_bytes(good, rng)
        trace.write_bytes(bad)
        out = tmp_path / f"out{i}"
        tally[check_refused_cleanly(capsys, ["run", str(cfg), "--out", str(out)], out, f"trace {what}")] += 1
    FUZZ_COUNTS[f"trace ({trace_kind})"] = sum(tally.values())
    print(f"fuzz traces ({trace_kind}): {tally}")
    assert tally["refused"] > 30


def test_mutated_topologies_and_flow_lists_are_refused_cleanly(tmp_path, capsys, no_simulation):
    rng = random.Random(f"{SEED}-fabric")
    topos = [load_toml(p) for p in sorted((ROOT / "topologies").glob("*.toml"))]
    flows = ROOT / "scratch" / "incast.csv"
    good_flows = flows.read_bytes()
    topo, fl = tmp_path / "topo.toml", tmp_path / "flows.csv"
    tally = {"accepted": 0, "refused": 0}
    for i in range(160):
        base = rng.choice(topos)
        if i % 2:
            data, what = mutate_dict(base, rng)
            write_toml(topo, data)
            fl.write_bytes(good_flows)
        else:
            write_toml(topo, base)
            bad, what = mutate_bytes(good_flows, rng)
            fl.write_bytes(bad)
            what = f"flows {what}"
        out = tmp_path / f"out{i}"
        tally[check_refused_cleanly(capsys, ["fabric", str(topo), str(fl), "--out", str(out)], out, what)] += 1
    FUZZ_COUNTS["topology/flows"] = sum(tally.values())
    print(f"fuzz topologies and flow lists: {tally}")
    assert tally["refused"] > 60


def test_refusals_through_the_real_command_line(tmp_path):
    """A few end to end: exit code 2, one error line, no traceback, no result directory."""
    base = base_run_config(tmp_path, "azure")
    cases = {
        "serving.tp": {**base, "serving": {**base["serving"], "tp": "two"}},
        "workload.trace": {**base, "workload": {**base["workload"], "trace": str(tmp_path / "missing.csv")}},
        "fabric.mtu": {**base, "fabric": {**base["fabric"], "mtu": 1500}},
        "polcy": {**{k: v for k, v in base.items() if k != "policy"}, "polcy": "mfs"},
    }
    for key, data in cases.items():
        cfg = tmp_path / f"{key}.toml"
        write_toml(cfg, data)
        out = tmp_path / f"out-{key}"
        res = subprocess.run([sys.executable, "-m", "ns3_mfs", "run", str(cfg), "--out", str(out)],
                             capture_output=True, text=True, cwd=ROOT)
        assert res.returncode == 2, (key, res.stderr)
        assert key.split(".")[-1] in res.stderr and "Traceback" not in res.stderr, (key, res.stderr)
        assert not out.exists()


@pytest.mark.slow
def test_fuzz_slice_runs_every_accepted_input_without_abort_hang_or_traceback():
    """1,000 generated cases through the real command line; accepted ones are simulated."""
    import time

    t0 = time.monotonic()
    counts, problems = fuzzing.fuzz(1000, seed=SEED, jobs=2)
    print(fuzzing.report(counts, problems, time.monotonic() - t0))
    assert not problems, "\n".join(problems[:20])
    outcome = lambda o: sum(n for (_, oc), n in counts.items() if oc == o)  # noqa: E731
    assert sum(counts.values()) == 1000 and outcome("ran") > 100 and outcome("refused") > 400
