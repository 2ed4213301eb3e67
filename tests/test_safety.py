"""Runs end cleanly: PFC deadlock and pause storms are detected, the watchdog stops stuck runs,
the end-of-run checks hold (and fail loudly when they do not), the memory guard refuses huge fabrics."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from ns3_mfs.config import ConfigError
from ns3_mfs.errors import CheckFailed, RunStopped
from ns3_mfs.fabric import FabricConfig, FatTreeTopology, Network, RingTopology, TestbedTopology
from ns3_mfs.fabric import safety
from ns3_mfs.fabric.flowfile import FlowSpec, run_flows

ROOT = Path(__file__).resolve().parents[1]
RING = RingTopology(switches=5)


def ring_flows(n=5, nbytes=50_000_000):
    """Every host sends two switches clockwise: each ring link carries a local and a transit flow."""
    return [FlowSpec(h, (h + 2) % n, nbytes, 0.0, 3) for h in range(n)]


def test_cyclic_buffer_dependency_on_a_ring_is_detected_as_a_deadlock(tmp_path):
    cfg = FabricConfig(cc="none", buffer_bytes=2_000_000)
    with pytest.raises(RunStopped, match=r"PFC deadlock .*ring\d port \d class 3") as exc:
        run_flows(RING, ring_flows(), cfg, out=tmp_path / "r")
    assert "marked partial" in str(exc.value)
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["status"] == "partial" and summary["stop_reason"] == "deadlock"
    assert json.loads((tmp_path / "r" / "meta.json").read_text())["status"] == "partial"
    an = pd.read_parquet(tmp_path / "r" / "anomalies.parquet")
    cycle = an[an["kind"] == "deadlock"]
    # The cycle: one egress port of each of the 5 ring switches, class 3, each holding packets.
    assert sorted(cycle["node_name"]) == [f"ring{i}" for i in range(5)]
    assert (cycle["priority"] == 3).all() and (cycle["queued_bytes"] > 0).all()
    # Stopped within a few watch periods of the start, instead of hanging.
    assert summary["sim_s"] < 0.01
    # The unfinished flows are reported with their state.
    assert len(summary["checks"]["unfinished_flows"]) == 5
    assert summary["checks"]["flows_finished"]["ok"] is None


def test_the_same_ring_without_the_watch_makes_no_progress():
    # Proof that the detection is no false positive: left alone, no flow moves for 100 ms.
    net = Network(RING, FabricConfig(cc="none", buffer_bytes=2_000_000, pfc_watch_interval_us=0))
    for fl in ring_flows():
        net.start_flow(fl.src, fl.dst, fl.bytes, fl.priority)
    net.run(0.01)
    before = net.flows()["bytes_delivered"].sum()
    net.run(0.1)
    assert net.flows()["bytes_delivered"].sum() == before and not net.flows()["completed"].any()


def test_ring_traffic_without_a_cycle_completes_with_the_watch_on():
    # One hop clockwise: no transit traffic, so no cyclic dependency.
    net = Network(RING, FabricConfig(cc="none", buffer_bytes=2_000_000))
    for h in range(5):
        net.start_flow(h, (h + 1) % 5, 5_000_000)
    net.run()
    assert net.stop_reason == "" and net.flows()["completed"].all() and net.checks()["ok"]


def incast(cfg, n=8, nbytes=4_000_000):
    net = Network(TestbedTopology(servers=n + 1, nics_per_server=1), cfg)
    for h in range(1, n + 1):
        net.start_flow(h, 0, nbytes)
    return net


def test_pause_storm_is_reported_and_stops_the_run_when_asked():
    cfg = FabricConfig(cc="none", pause_storm_ms=0.02, pfc_watch_interval_us=10)
    net = incast(cfg)
    net.run()
    assert net.stop_reason == "pause_storm"
    storms = net.anomalies()
    assert (storms["kind"] == "pause_storm").all() and len(storms) >= 1
    assert (net.now - storms["paused_since_s"] > 0.02e-3).all()
    # Report only: the run goes on to the end.
    net = incast(FabricConfig(cc="none", pause_storm_ms=0.02, pfc_watch_interval_us=10, stop_on_pause_storm=False))
    net.run()
    assert net.stop_reason == "" and net.flows()["completed"].all()
    assert len(net.anomalies()) >= 1 and net.summary()["longest_pause_s"] > 0.02e-3


def test_default_storm_threshold_is_not_hit_by_a_heavy_incast():
    net = incast(FabricConfig(cc="none"), n=16)
    net.run()
    s = net.summary()
    assert net.stop_reason == "" and s["pfc_pause_frames"] > 0 and 0 < s["longest_pause_s"] < 0.05


def test_watchdog_stops_a_run_whose_simulated_time_stands_still():
    net = Network(TestbedTopology(servers=2, nics_per_server=1), FabricConfig(stall_wall_s=0.3))
    calls = [0]

    def spin():  # reschedules itself at the same instant forever
        calls[0] += 1
        net.schedule(net.now, spin)

    net.schedule(1e-6, spin)
    t0 = time.perf_counter()
    net.run()
    assert net.stop_reason == "stalled" and calls[0] > 100
    assert time.perf_counter() - t0 < 5


def test_watchdog_wall_clock_limit_marks_the_results_partial(tmp_path):
    flows = [FlowSpec(h, 0, 2_000_000_000, 0.0, 3) for h in range(1, 9)]
    cfg = FabricConfig(max_wall_s=0.5, queue_sample_interval_us=0)
    with pytest.raises(RunStopped, match="wall-clock limit"):
        run_flows(TestbedTopology(servers=9, nics_per_server=1), flows, cfg, out=tmp_path / "w")
    summary = json.loads((tmp_path / "w" / "summary.json").read_text())
    assert summary["status"] == "partial" and summary["stop_reason"] == "max_wall"
    assert summary["wall_s"] < 3
    assert summary["checks"]["byte_conservation"]["ok"]  # bytes in flight are allowed when stopped


def test_a_time_limit_is_partial_but_not_an_error(tmp_path):
    summary = run_flows(TestbedTopology(servers=2, nics_per_server=1), [FlowSpec(1, 0, 10_000_000, 0.0, 3)],
                        FabricConfig(), out=tmp_path / "t", until_s=100e-6)
    assert summary["status"] == "partial" and summary["stop_reason"] == "time_limit"
    assert summary["checks"]["unfinished_flows"][0]["bytes_delivered"] < 10_000_000


def test_lossy_fabric_conserves_bytes_per_flow():
    net = incast(FabricConfig(pfc=False, buffer_bytes=1_500_000, cc="none"), n=8)
    net.run()
    df = net.flows()
    assert net.counter("drops") > 0 and df["bytes_dropped"].sum() > 0
    assert (df["bytes_sent"] == df["bytes_received"] + df["bytes_dropped"]).all()
    checks = net.checks()
    assert checks["ok"] and checks["lossless"]["ok"] is None


def test_a_violated_invariant_fails_the_run_loudly(tmp_path, monkeypatch):
    real = Network.flows

    def leaky(self):
        df = real(self)
        df.loc[0, "bytes_received"] -= 1000  # a byte count that does not add up
        return df

    monkeypatch.setattr(Network, "flows", leaky)
    with pytest.raises(CheckFailed, match="byte_conservation: 1 flows: sent != received"):
        run_flows(TestbedTopology(servers=2, nics_per_server=1), [FlowSpec(1, 0, 100_000, 0.0, 3)],
                  FabricConfig(), out=tmp_path / "bad")
    assert json.loads((tmp_path / "bad" / "meta.json").read_text())["status"] == "invalid"


def test_memory_guard_refuses_a_fabric_above_the_budget():
    small = safety.estimate_memory_mb(TestbedTopology().graph(), FabricConfig())
    big = safety.estimate_memory_mb(FatTreeTopology(k=32).graph(), FabricConfig())
    assert 250 < small < 300 and big > 10 * small
    with pytest.raises(ConfigError, match=r"estimated memory [\d,]+ MB \(49152 ports, 1280 switches .* budget of 2,000 MB "
                                          r"\(fabric.max_memory_mb\)"):
        Network(FatTreeTopology(k=32), FabricConfig(max_memory_mb=2000))


def test_memory_guard_counts_the_logs_at_their_bound():
    cfg = FabricConfig(max_log_rows=20_000_000, max_memory_mb=6000)
    assert safety.estimate_log_mb(cfg) == pytest.approx(2 * 20e6 * safety.LOG_ROW_BYTES / 2**20)
    with pytest.raises(ConfigError, match=r"logs of up to fabric.max_log_rows = 20,000,000 rows: 7,629 MB"):
        Network(TestbedTopology(), cfg)
    assert safety.estimate_log_mb(FabricConfig(pfc_log=False, queue_sample_interval_us=0)) == 0


def test_cli_exit_codes_for_a_deadlock(tmp_path):
    topo = tmp_path / "ring.toml"
    topo.write_text('kind = "ring"\nswitches = 5\n')
    flows = tmp_path / "flows.csv"
    flows.write_text("src,dst,bytes,start_s,priority\n" + "".join(f"{h},{(h + 2) % 5},50000000,0,3\n" for h in range(5)))
    cfg = tmp_path / "fabric.toml"
    cfg.write_text('[fabric]\ncc = "none"\nbuffer_bytes = 2000000\n')
    res = subprocess.run([sys.executable, "-m", "ns3_mfs", "fabric", str(topo), str(flows), "--config", str(cfg),
                          "--out", str(tmp_path / "out")], capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 3, res.stderr
    assert "PFC deadlock" in res.stderr and "Traceback" not in res.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_an_interrupted_run_never_leaves_a_result_that_looks_complete(tmp_path, sig):
    flows = tmp_path / "flows.csv"
    flows.write_text("src,dst,bytes,start_s,priority\n" + "".join(f"{h},0,300000000,0,3\n" for h in range(1, 9)))
    topo = ROOT / "topologies" / "testbed.toml"
    for delay in (1.5, 3.0, 4.5):
        out = tmp_path / f"out{delay}"
        proc = subprocess.Popen([sys.executable, "-m", "ns3_mfs", "fabric", str(topo), str(flows),
                                 "--out", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
        time.sleep(delay)
        proc.send_signal(sig)
        proc.wait(timeout=60)
        if (out / "meta.json").exists():  # finished before the signal: then it is whole
            for name in ("flows", "pfc", "queues"):
                pd.read_parquet(out / f"{name}.parquet")
            json.loads((out / "summary.json").read_text())
        else:
            assert proc.returncode != 0
            left = [p.name for p in out.iterdir()] if out.exists() else []
            assert "meta.json" not in left
            if sig != signal.SIGKILL:  # a clean unwind removes its temporary files
                assert not [n for n in left if n.endswith(".tmp")], left
