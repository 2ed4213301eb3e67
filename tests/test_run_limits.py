"""No run that hangs, aborts, or reports complete when it is not: stuck flows end the run with a failed
check, drops with PFC on fail it, a stopped process is no stall, times outside the simulated-time range
are refused before anything is scheduled, and every log is bounded."""

import json
import math
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ns3_mfs.config import ConfigError
from ns3_mfs.errors import CheckFailed
from ns3_mfs.fabric import FabricConfig, LeafSpineTopology, Network, TestbedTopology
from ns3_mfs.fabric import safety
from ns3_mfs.fabric.flowfile import FlowSpec, run_flows
from ns3_mfs.fabric.network import MAX_SIM_S, _what

ROOT = Path(__file__).resolve().parents[1]
#: 8-to-1 incast with 2 us links: long enough links that a small PFC headroom drops.
INCAST = TestbedTopology(servers=9, nics_per_server=1, link_delay_us=2.0)


def incast_flows(seed=0):
    rng = random.Random(seed)
    return [FlowSpec(h, 0, rng.randint(100_000, 3_000_000), rng.uniform(0, 20e-6), 0) for h in range(1, 9)]


# A lossy fabric without retransmission timer: a flow whose last packets are dropped can never finish.
NO_RTO = FabricConfig(pfc=False, retx_timeout_us=0, buffer_bytes=1_500_000, cc="none", max_wall_s=20)


def test_a_flow_that_can_never_finish_ends_the_run_with_a_failed_check(tmp_path):
    with pytest.raises(CheckFailed, match=r"flows_finished: 1 of 8 flows unfinished although no event is left "
                                          r"\(stuck flows\): flow 0 \(1->0\): \d+ of \d+ bytes delivered"):
        run_flows(INCAST, incast_flows(), NO_RTO, out=tmp_path / "r")
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    # The monitors stopped with the traffic: the run drained by itself, within milliseconds of simulated time.
    assert summary["status"] == "invalid" and summary["stop_reason"] == "" and summary["sim_s"] < 0.01
    assert summary["checks"]["flows_finished"]["ok"] is False
    (stuck,) = summary["checks"]["unfinished_flows"]
    assert stuck["flow_id"] == 0 and stuck["bytes_delivered"] < stuck["bytes"]


def test_stuck_flows_give_exit_4_naming_the_flows(tmp_path):
    topo = tmp_path / "topo.toml"
    topo.write_text('kind = "testbed"\nservers = 9\nnics_per_server = 1\nlink_delay_us = 2.0\n')
    flows = tmp_path / "flows.csv"
    flows.write_text("src,dst,bytes,start_s,priority\n"
                     + "".join(f"{f.src},{f.dst},{f.bytes},{f.start_s!r},0\n" for f in incast_flows()))
    cfg = tmp_path / "fabric.toml"
    cfg.write_text('[fabric]\npfc = false\nretx_timeout_us = 0\nbuffer_bytes = 1500000\ncc = "none"\n')
    res = subprocess.run([sys.executable, "-m", "ns3_mfs", "fabric", str(topo), str(flows), "--config", str(cfg),
                          "--out", str(tmp_path / "out")], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert res.returncode == 4, res.stderr
    assert "stuck flows): flow 0 (1->0):" in res.stderr and "Traceback" not in res.stderr


def test_monitors_start_again_for_a_flow_that_starts_after_a_stuck_one():
    net = Network(INCAST, NO_RTO)
    for f in incast_flows():
        net.start_flow(f.src, f.dst, f.bytes, at=f.start_s)
    late = [net.start_flow(h, 5, 2_000_000, at=0.05) for h in (6, 7)]
    net.run()
    df = net.flows()
    assert df.loc[[f.id for f in late], "completed"].all() and df["completed"].sum() == 9 and net.drained
    assert (net.queues()["time_s"] > 0.05).any()  # sampled while the late flow ran


def test_any_drop_with_pfc_on_fails_the_lossless_check(tmp_path):
    cfg = FabricConfig(headroom_factor=0.5, cc="none")
    flows = [FlowSpec(h, 0, 4_000_000, 0.0, 0) for h in range(1, 9)]
    with pytest.raises(CheckFailed, match=r"lossless: \d+ frames dropped with PFC on \(headroom_factor 0.5 < 2"):
        run_flows(INCAST, flows, cfg, out=tmp_path / "r")
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["drops"] > 0 and summary["completed"] == 8  # go-back-N recovered them: still not lossless
    assert summary["status"] == "invalid" and summary["checks"]["lossless"]["ok"] is False
    # Each drop is located: switch, ingress port, class and flow (the senders' ports of the one switch).
    an = pd.read_parquet(tmp_path / "r" / "anomalies.parquet")
    drops = an[an["kind"] == "drop"]
    assert len(drops) == summary["drops"] and set(drops["flow"]) <= set(range(8))
    assert (drops["queued_bytes"] > 0).all() and (drops["time_s"] == drops["paused_since_s"]).all()
    assert drops["node_name"].nunique() == 1 and drops["port"].nunique() > 1
    assert "ingress port" in summary["checks"]["lossless"]["message"]


def test_a_stopped_process_is_no_stall(tmp_path):
    # stall_wall_s counts CPU time: a healthy run stopped (SIGSTOP) for twice its stall limit finishes.
    script = tmp_path / "run.py"
    script.write_text(
        "from ns3_mfs.fabric import FabricConfig, Network, TestbedTopology\n"
        "net = Network(TestbedTopology(servers=9, nics_per_server=1), FabricConfig(stall_wall_s=2.0))\n"
        "for h in range(1, 9):\n"
        "    net.start_flow(h, 0, 50_000_000)\n"
        "net.schedule(1e-6, lambda: print('running', flush=True))\n"
        "net.run()\n"
        "print(net.stop_reason or 'finished', int(net.flows()['completed'].sum()), flush=True)\n")
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert proc.stdout.readline().strip() == "running"
        proc.send_signal(signal.SIGSTOP)
        time.sleep(4.0)
        proc.send_signal(signal.SIGCONT)
        out, _ = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert out.split() == ["finished", "8"] and proc.returncode == 0


# ------------------------------------------------------------------ simulated-time range

@pytest.mark.parametrize("at", [float("nan"), float("inf"), 9.3e6, MAX_SIM_S * 1.01, -1.0])
def test_flow_start_and_timer_times_outside_the_range_are_refused(at):
    net = Network(TestbedTopology(servers=2, nics_per_server=1))
    with pytest.raises(ConfigError, match=r"start_s: .* (outside the simulated-time range; allowed: 0..1e\+06 s|"
                                          r"before the current time)"):
        net.start_flow(0, 1, 1000, at=at)
    with pytest.raises(ConfigError, match=r"timer time: .* (outside the simulated-time range|before the current)"):
        net.schedule(at, lambda: None)
    if at >= 0 or math.isnan(at):
        with pytest.raises(ConfigError, match=r"until: .* outside the simulated-time range; allowed: 0..1e\+06 s"):
            net.run(at)
    assert net.flows().empty
    net.start_flow(0, 1, 1000, at=MAX_SIM_S)  # the limit itself is a valid time
    net.run()
    assert net.now > MAX_SIM_S and net.flows()["completed"].all()


def test_the_binding_refuses_times_outside_the_range_itself():
    # The one C++ scheduling front checks every time it converts (no gdb dump, no exit 133).
    net = Network(TestbedTopology(servers=2, nics_per_server=1))
    f = net._f
    for call, needle in ((lambda: f.AddFlow(0, 1, 1000, 0, 9.3e6, False), "flow start time 9.3e+06 s"),
                         (lambda: f.AddFlow(0, 1, 1000, 0, float("nan"), False), "flow start time nan s"),
                         (lambda: f.ScheduleTimer(float("inf"), 1), "timer time inf s"),
                         (lambda: f.Run(float("inf")), "run stop time (until) inf s"),
                         (lambda: f.Run(float("nan")), "run stop time (until) nan s"),
                         (lambda: f.SetQueueSampleInterval(1e7), "queue sample interval 1e+07 s"),
                         (lambda: f.SetPfcWatch(1e-3, float("inf"), True), "pause-storm threshold inf s")):
        with pytest.raises(Exception) as exc:
            call()
        assert needle in _what(exc.value) and "allowed: 0..1e+06 s" in _what(exc.value)
    fl = net.start_flow(0, 1, 100_000)
    with pytest.raises(ConfigError, match=r"rate cap: rate cap 1e-06 bit/s .* simulated-time limit of 1e\+06 s; allowed: 0 \(no cap\) or >= 0.524288"):
        net.set_rate_cap(fl, 1e-6)
    net.run()
    assert net.flows()["completed"].all()


def test_config_durations_outside_the_range_are_refused():
    for kw, key in (({"retx_timeout_us": 1e13}, "retx_timeout_us"), ({"pause_storm_ms": float("inf")}, "pause_storm_ms"),
                    ({"dcqcn_min_rate_mbps": 1e-15}, "dcqcn_min_rate_mbps")):
        with pytest.raises(ConfigError, match=rf"fabric.{key}: "):
            Network(TestbedTopology(servers=2, nics_per_server=1), FabricConfig(**kw))


@pytest.mark.parametrize("until", ["nan", "inf", "9.3e6"])
def test_cli_until_outside_the_range_exits_2_with_one_line(tmp_path, until):
    flows = tmp_path / "flows.csv"
    flows.write_text("src,dst,bytes,start_s,priority\n1,0,1000,0,0\n")
    res = subprocess.run([sys.executable, "-m", "ns3_mfs", "fabric", str(ROOT / "topologies" / "testbed.toml"),
                          str(flows), "--until", until, "--out", str(tmp_path / "out")],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert "until:" in res.stderr and "allowed: 0..1e+06 s" in res.stderr
    assert not (tmp_path / "out").exists()


def test_cli_flow_start_beyond_the_range_names_the_line(tmp_path):
    flows = tmp_path / "flows.csv"
    flows.write_text("src,dst,bytes,start_s,priority\n1,0,1000,0,0\n1,0,1000,9.3e6,0\n")
    res = subprocess.run([sys.executable, "-m", "ns3_mfs", "fabric", str(ROOT / "topologies" / "testbed.toml"),
                          str(flows), "--out", str(tmp_path / "out")], capture_output=True, text=True, cwd=ROOT,
                         timeout=120)
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert f"{flows} line 3: start_s: 9.3e6 is out of range; allowed: 0..1e+06" in res.stderr


# ------------------------------------------------------------------ bounded logs

def test_queue_sampling_below_the_floor_is_refused():
    with pytest.raises(ConfigError, match=r"fabric.queue_sample_interval_us: 1e-06 us is below the floor of 0.1 us"):
        Network(TestbedTopology(servers=2, nics_per_server=1), FabricConfig(queue_sample_interval_us=1e-6))
    Network(TestbedTopology(servers=2, nics_per_server=1), FabricConfig(queue_sample_interval_us=0.1))


def test_every_log_keeps_at_most_max_log_rows_and_says_how_many_it_dropped():
    cfg = FabricConfig(cc="none", pause_quanta=1, buffer_bytes=4_000_000, queue_sample_interval_us=0.1,
                       max_log_rows=100)
    net = Network(TestbedTopology(servers=9, nics_per_server=1), cfg)
    for h in range(1, 9):
        fl = net.start_flow(h, 0, 500_000)
    net.enable_tx_log(net.graph.num_hosts, 0)
    net.enable_delivery_log(fl)
    net.run()
    s = net.summary()
    assert net.flows()["completed"].all()
    for name, table in (("pfc", net.pfc()), ("queues", net.queues()), ("tx_log", net.tx_log()),
                        ("deliveries", net.deliveries())):
        assert len(table) == 100 and s[f"{name}_log_truncated"] > 0, name
    # The rows kept are the first ones, in time order.
    assert net.pfc()["time_s"].is_monotonic_increasing
    # Under the bound nothing is lost: every PAUSE and RESUME is logged at both ends.
    full = Network(TestbedTopology(servers=9, nics_per_server=1), FabricConfig(cc="none", buffer_bytes=4_000_000))
    for h in range(1, 9):
        full.start_flow(h, 0, 2_000_000)
    full.run()
    s = full.summary()
    assert s["pfc_log_truncated"] == 0 and len(full.pfc()) == s["pfc_pause_frames"] * 2 + s["pfc_resume_frames"] * 2


# ------------------------------------------------------------------ property: lossy fabrics

@st.composite
def lossy_scenarios(draw):
    topo = draw(st.sampled_from([
        TestbedTopology(servers=5, nics_per_server=1, link_delay_us=2.0),
        TestbedTopology(servers=3, nics_per_server=2, link_delay_us=5.0),
        LeafSpineTopology(leaves=2, spines=2, hosts_per_leaf=3),
    ]))
    hosts = topo.graph().num_hosts
    flows = []
    for _ in range(draw(st.integers(2, 8))):
        dst = draw(st.integers(0, 1))  # mostly incasts into two hosts: where buffers overflow
        src = draw(st.integers(0, hosts - 2))
        flows.append((src + 1 if src >= dst else src, dst,
                      draw(st.sampled_from([1, 4096, 100_000]) | st.integers(500_000, 2_000_000)),
                      draw(st.sampled_from([0.0, 5e-6]) | st.floats(0, 20e-6))))
    if draw(st.booleans()):  # PFC off: go-back-N with or without a retransmission timer
        cfg = FabricConfig(pfc=False, buffer_bytes=draw(st.sampled_from([300_000, 600_000, 2**20])),
                           retx_timeout_us=draw(st.sampled_from([None, 0.0, 200.0])),
                           cc=draw(st.sampled_from(["none", "dcqcn"])), max_wall_s=30)
    else:  # PFC on with too little headroom
        cfg = FabricConfig(headroom_factor=draw(st.sampled_from([0.0, 0.5, 1.5])), cc="none",
                           buffer_bytes=draw(st.sampled_from([6 * 2**20, 8 * 2**20])), max_wall_s=30)
    return topo, flows, cfg


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lossy_scenarios())
def test_every_drop_is_recovered_or_reported_and_runs_end_on_their_own(scenario):
    topo, flows, cfg = scenario
    net = Network(topo, cfg)
    for src, dst, nbytes, start in flows:
        net.start_flow(src, dst, nbytes, at=start)
    net.run()
    # Ended by itself: the wall-clock safety net was not what stopped it.
    assert net.stop_reason == "" and net.drained
    df = net.flows()
    checks = net.checks()
    summary = safety.conclude(net, net.summary())
    assert (df["bytes_sent"] == df["bytes_received"] + df["bytes_dropped"]).all()
    assert checks["byte_conservation"]["ok"]
    lost = not (df["completed"].all() and (df["bytes_delivered"] == df["bytes"]).all())
    if lost:  # undelivered bytes: never a complete run, and the stuck flows are named
        assert summary["status"] == "invalid" and checks["flows_finished"]["ok"] is False
        for fid in df.loc[~df["completed"], "flow_id"].head(10):
            assert f"flow {fid} (" in checks["flows_finished"]["message"]
    if cfg.pfc and net.counter("drops") > 0:  # PFC on: any drop fails the run
        assert summary["status"] == "invalid" and checks["lossless"]["ok"] is False
    if summary["status"] == "complete":
        assert not lost and (not cfg.pfc or net.counter("drops") == 0)
    if not lost:
        assert checks["buffers_empty"]["ok"]
