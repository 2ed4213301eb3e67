"""A sweep's parent process killed alone (SIGKILL, SIGTERM, SIGINT): its runs die with it, nothing is
left running, a resume runs every point to completion exactly once, and the results are byte-identical
to those of a sweep that was never interrupted."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from conftest import ROOT, TINY_RUN, run_cli

TABLES = ("requests.parquet", "flows.parquet", "collectives.parquet")


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("interrupt")
    (d / "tiny.toml").write_text(TINY_RUN.format(topo=ROOT / "topologies/testbed.toml"))
    sw = d / "sweep.toml"
    sw.write_text('base = "tiny.toml"\n[grid]\nseed = [11, 12, 13]\n')
    return sw


@pytest.fixture(scope="module")
def clean(sweep, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("clean")
    res = run_cli("sweep", str(sweep), "--out", str(out), "--jobs", "1")
    assert res.returncode == 0, res.stderr
    return out


def _events(out: Path, kind: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for line in (out / "sweep.log").read_text().splitlines():
        _, event, run_id, *_ = line.split(" ")
        if event == kind:
            counts[run_id] = counts.get(run_id, 0) + 1
    return counts


def _lock_free(path: Path) -> bool:
    with open(path, "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        return True


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
def test_parent_killed_alone_leaves_nothing_running_and_resumes_exactly(sweep, clean, tmp_path, sig):
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "ns3_mfs", "sweep", str(sweep), "--out", str(out), "--jobs", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:  # one point done, the next one running
        if (out / "sweep.log").exists() and sum(_events(out, "start").values()) >= 2:
            break
        time.sleep(0.05)
    time.sleep(0.5)
    os.kill(proc.pid, sig)  # the parent alone, not its process group
    t0 = time.monotonic()
    proc.wait(timeout=30)
    stopped = time.monotonic() - t0
    locks = sorted((out / "runs").glob(".*.lock"))
    deadline = time.monotonic() + 10
    while not all(_lock_free(p) for p in locks) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert locks and all(_lock_free(p) for p in locks), "a run outlived its sweep"
    assert stopped < 10
    res = run_cli("sweep", str(sweep), "--out", str(out), "--jobs", "1")
    assert res.returncode == 0, res.stderr
    ok = _events(out, "ok")
    assert sorted(ok.values()) == [1, 1, 1], ok  # every point finished exactly once
    for run in sorted((clean / "runs").iterdir()):
        if run.is_dir():
            for t in TABLES:
                assert (out / "runs" / run.name / t).read_bytes() == (run / t).read_bytes(), f"{run.name}/{t}"


def test_a_point_locked_by_another_process_is_not_started(sweep, tmp_path):
    from ns3_mfs.experiment.sweep import load_sweep, point_lock, run_point

    pt = load_sweep(sweep).points[0]
    out = tmp_path / "runs" / pt.run_id
    with point_lock(out) as held:
        assert held is not None
        res = run_point(pt.config, out)
    assert not res.ok and "being run by another process" in res.error and not out.exists()


@pytest.fixture(scope="module")
def sweep4(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("interrupt4")
    (d / "tiny.toml").write_text(TINY_RUN.format(topo=ROOT / "topologies/testbed.toml"))
    sw = d / "sweep4.toml"
    sw.write_text('base = "tiny.toml"\n[grid]\nseed = [21, 22, 23, 24]\n')
    return sw


def _starts_after(out: Path, t: float) -> list[str]:
    """Points whose ``start`` line in sweep.log is stamped after wall time ``t`` (to the second)."""
    late = []
    for line in (out / "sweep.log").read_text().splitlines():
        stamp, event, run_id, *_ = line.split(" ")
        if event == "start" and time.mktime(time.strptime(stamp, "%Y-%m-%dT%H:%M:%S")) > t:
            late.append(run_id)
    return late


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_first_interrupt_stops_a_sweep_within_5_s_and_starts_nothing_more(sweep4, tmp_path, how):
    """Ctrl-C (SIGINT to the whole foreground process group) or SIGTERM (to the sweep alone) while
    point 2 of 4 runs: the sweep exits within 5 s, with exit code 130, point 1 intact, no point started
    after the signal, nothing left running; a resume then runs only the points not finished."""
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "ns3_mfs", "sweep", str(sweep4), "--out", str(out), "--jobs", "1",
                             "--set", "serving.ttft_slo_s=1.0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:  # point 1 finished, point 2 started
        if (out / "sweep.log").exists() and sum(_events(out, "start").values()) >= 2:
            break
        time.sleep(0.05)
    time.sleep(1.0)  # point 2 is simulating
    finished = {p.parent.name: p.stat().st_mtime_ns for p in (out / "runs").glob("*/meta.json")}
    assert len(finished) == 1 and proc.poll() is None
    (run_id,) = finished
    tables = {t: (out / "runs" / run_id / t).read_bytes() for t in TABLES}
    signalled = time.time()
    t0 = time.monotonic()
    if how == "ctrl-c":
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal sends: the sweep and its run
    else:
        os.kill(proc.pid, signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    stopped = time.monotonic() - t0
    print(f"{how}: the sweep stopped {stopped:.2f} s after the signal")
    assert stopped < 5.0, f"took {stopped:.1f} s to stop"
    assert proc.returncode == 130, stderr
    assert "interrupted: 1 finished (kept)" in stderr and "run the same command again to resume" in stderr
    assert sum(_events(out, "start").values()) == 2 and not _starts_after(out, signalled + 1), \
        (out / "sweep.log").read_text()
    locks = sorted((out / "runs").glob(".*.lock"))
    assert locks and all(_lock_free(p) for p in locks), "a run outlived its sweep"
    now = {p.parent.name: p.stat().st_mtime_ns for p in (out / "runs").glob("*/meta.json")}
    assert now == finished  # the finished point untouched; the stopped one left no meta.json
    assert {t: (out / "runs" / run_id / t).read_bytes() for t in TABLES} == tables
    assert all(len(pd.read_parquet(out / "runs" / run_id / t)) for t in TABLES)
