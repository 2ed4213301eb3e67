"""``ns3-mfs trace``: a run directory as a Chrome/Perfetto trace (``trace.json``)."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pandas as pd
import pytest

from conftest import ROOT, TINY_RUN, run_cli
from ns3_mfs.analysis.trace import lanes


@pytest.fixture(scope="module")
def serving_run(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("trace")
    decode = '[serving.decode]\npolicy = "continuous"\nkv_capacity_tokens = 100000\n[workload]'
    (d / "tiny.toml").write_text(TINY_RUN.format(topo=ROOT / "topologies/testbed.toml").replace("[workload]", decode))
    res = run_cli("run", str(d / "tiny.toml"), "--out", str(d / "run"))
    assert res.returncode == 0, res.stderr
    return d / "run"


@pytest.fixture(scope="module")
def pfc_run(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("tracepfc")
    (d / "fabric.toml").write_text('[fabric]\nbuffer_bytes = 7000000\ncc = "none"\n')
    res = run_cli("fabric", str(ROOT / "topologies/testbed.toml"), str(ROOT / "scratch/incast.csv"),
                  "--out", str(d / "run"), "--config", str(d / "fabric.toml"))
    assert res.returncode == 0, res.stderr
    return d / "run"


def trace_of(run: Path) -> tuple[list[dict], dict[int, str], dict[tuple[int, int], str]]:
    """(complete events, process names by pid, thread names by (pid, tid)) after ``ns3-mfs trace``."""
    res = run_cli("trace", str(run))
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == str(run / "trace.json")
    data = json.loads((run / "trace.json").read_text())
    events = data["traceEvents"]
    procs = {e["pid"]: e["args"]["name"] for e in events if e["ph"] == "M" and e["name"] == "process_name"}
    threads = {(e["pid"], e["tid"]): e["args"]["name"] for e in events
               if e["ph"] == "M" and e["name"] == "thread_name"}
    return [e for e in events if e["ph"] == "X"], procs, threads


def test_lanes_never_overlap_and_are_as_few_as_possible():
    starts, ends = [0, 1, 2, 5, 5.5, 3], [4, 3, 6, 7, 6, 5]
    lane = lanes(starts, ends)
    by_lane = defaultdict(list)
    for s, e, ln in zip(starts, ends, lane):
        by_lane[ln].append((s, e))
    for spans in by_lane.values():
        spans.sort()
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:])), spans
    assert len(by_lane) == 3  # at t=2.5: [0,4), [1,3), [2,6) overlap


def test_trace_of_a_serving_run(serving_run):
    events, procs, threads = trace_of(serving_run)
    assert set(procs.values()) >= {"prefill instance 0", "prefill instance 1", "flows: dispatch",
                                   "flows: combine", "flows: p2d", "requests"}
    steps = pd.read_parquet(serving_run / "steps.parquet")
    decode = pd.read_parquet(serving_run / "decode_steps.parquet")
    dec = [e for e in events if e["cat"] == "compute" and procs[e["pid"]].startswith("decode instance")]
    assert len(dec) == len(decode) > 0 and dec[0]["name"].startswith("decode step, batch ")
    assert sorted(round(e["ts"], 3) for e in dec) == sorted((decode["start_s"] * 1e6).round(3))
    compute = [e for e in events if e["cat"] == "compute" and procs[e["pid"]].startswith("prefill instance")]
    assert len(compute) == len(steps)
    first = steps.sort_values("start_s").iloc[0]
    e0 = min(compute, key=lambda e: e["ts"])
    assert e0["ts"] == pytest.approx(first["start_s"] * 1e6, abs=1e-3)  # microseconds of simulated time
    assert e0["dur"] == pytest.approx((first["end_s"] - first["start_s"]) * 1e6, abs=1e-3)
    assert e0["name"] == f"L{first['layer']} {first['kind']}"
    assert procs[e0["pid"]] == f"prefill instance {first['instance']}" and threads[(e0["pid"], e0["tid"])] == "compute"
    coll = pd.read_parquet(serving_run / "collectives.parquet")
    ce = [e for e in events if e["cat"] == "collective"]
    assert sorted((e["args"]["collective_id"], round(e["ts"], 3)) for e in ce) == sorted(
        zip(coll["collective_id"], (coll["start_s"] * 1e6).round(3)))
    flows = pd.read_parquet(serving_run / "flows.parquet")
    for stage, n in flows["stage"].value_counts().items():
        fe = [e for e in events if e["cat"] == f"flow.{stage}"]
        assert len(fe) == n and all(procs[e["pid"]] == f"flows: {stage}" for e in fe)
    # Spans on one lane never overlap (the viewer would hide one under another).
    by_thread = defaultdict(list)
    for e in events:
        by_thread[(e["pid"], e["tid"])].append((e["ts"], e["ts"] + e["dur"]))
    for spans in by_thread.values():
        spans.sort()
        assert all(a[1] <= b[0] + 1e-6 for a, b in zip(spans, spans[1:]))
    # The pipeline: within a batch, layer l's dispatch starts after its attention step ends.
    att = {(e["args"]["batch_id"], e["args"]["layer"]): e for e in compute if e["args"]["kind"] == "attention"}
    for e in ce:
        if e["args"]["kind"] == "dispatch":
            a = att[(e["args"]["batch_id"], e["args"]["layer"])]
            assert e["ts"] >= a["ts"] + a["dur"] - 1e-3


def test_trace_of_pfc_pauses_per_port(pfc_run):
    events, procs, threads = trace_of(pfc_run)
    pauses = [e for e in events if e["cat"] == "pfc"]
    pfc = pd.read_parquet(pfc_run / "pfc.parquet")
    sent = pfc[pfc["kind"] == "pause"]
    assert 0 < len(pauses) <= len(sent)
    pid = pauses[0]["pid"]
    assert procs[pid] == "PFC pauses"
    lanes_named = {threads[(pid, e["tid"])] for e in pauses}
    ports = {(r.port, r.priority) for r in sent.itertuples()}
    assert len(lanes_named) == len(ports)
    assert "switch:1→nic1 c3" in lanes_named  # switch port 1 faces NIC 1; class 3
    first = sent[(sent["port"] == 1)]["time_s"].min()
    lane1 = [e for e in pauses if threads[(pid, e["tid"])] == "switch:1→nic1 c3"]
    assert min(e["ts"] for e in lane1) == pytest.approx(first * 1e6, abs=1e-3)
    flows = [e for e in events if e["cat"] == "flow"]
    assert len(flows) == len(pd.read_parquet(pfc_run / "flows.parquet")) and procs[flows[0]["pid"]] == "flows"


def test_trace_errors(tmp_path):
    res = run_cli("trace", str(tmp_path))
    assert res.returncode == 2 and "no run tables" in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    res = run_cli("trace", str(tmp_path / "missing"))
    assert res.returncode == 2 and "not a directory" in res.stderr
