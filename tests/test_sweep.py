"""``ns3-mfs sweep``: expansion, resume after a kill, failures, Ray, determinism."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import ns3_mfs
from conftest import ROOT, TINY_RUN as TINY, run_cli
from ns3_mfs.config import ConfigError
from ns3_mfs.experiment.sweep import config_hash, load_sweep

WALL_CLOCK = {"wall_s", "packet_hops_per_s", "memory_estimate_mb"}


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("sweep_base")
    (d / "tiny.toml").write_text(TINY.format(topo=ROOT / "topologies/testbed.toml"))
    return d / "tiny.toml"


def sweep_file(base: Path, body: str, name: str = "sweep.toml") -> Path:
    p = base.parent / name
    p.write_text(f'base = "{base.name}"\n{body}')
    return p


def metas(out: Path) -> list[Path]:
    return sorted((out / "runs").glob("*/meta.json"))


def starts(out: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for line in (out / "sweep.log").read_text().splitlines():
        _, event, run_id, *_ = line.split(" ")
        if event == "start":
            counts[run_id] = counts.get(run_id, 0) + 1
    return counts


@pytest.fixture(scope="module")
def sweep4(base, tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    sw = sweep_file(base, '[grid]\nseed = [1, 2]\n"fabric.mtu" = [2048, 4096]\n', "sweep4.toml")
    out = tmp_path_factory.mktemp("sweep4")
    res = run_cli("sweep", str(sw), "--out", str(out), "--jobs", "2")
    return out, res


def test_four_point_sweep_completes(sweep4):
    out, res = sweep4
    assert res.returncode == 0, res.stderr
    assert "sweep: 4 ran, 0 already finished, 0 failed, 4 points" in res.stdout
    assert "done" not in res.stderr  # no progress bar: not a terminal (tests/test_replications.py forces one)
    assert len(metas(out)) == 4
    manifest = json.loads((out / "sweep.json").read_text())
    assert {tuple(sorted(p["overrides"].items())) for p in manifest["points"]} == {
        (("fabric.mtu", m), ("seed", s)) for s in (1, 2) for m in (2048, 4096)}
    for p in manifest["points"]:  # the directory name is the hash of the resolved config
        assert config_hash(p["config"]) == p["run_id"]
        assert (out / "runs" / p["run_id"] / "config.toml").exists()


def test_rerun_runs_nothing_again(sweep4, base):
    out, _ = sweep4
    before = {p: p.stat().st_mtime_ns for p in metas(out)}
    res = run_cli("sweep", str(base.parent / "sweep4.toml"), "--out", str(out))
    assert res.returncode == 0 and "0 ran, 4 already finished" in res.stdout
    assert {p: p.stat().st_mtime_ns for p in metas(out)} == before
    assert all(n == 1 for n in starts(out).values())


def test_collected_table_has_one_row_per_point(sweep4):
    out, _ = sweep4
    res = run_cli("results", str(out))
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("4 runs (4 ok, 0 failed, 0 partial)")
    table = pd.read_parquet(out / "results.parquet")
    assert len(table) == 4 and (table["status"] == "ok").all()
    assert sorted(zip(table["seed"], table["fabric.mtu"])) == [(1, 2048), (1, 4096), (2, 2048), (2, 4096)]
    assert table["completed"].eq(3).all() and table["ttft_mean_s"].gt(0).all()
    assert set(table["run_id"]) == {p.parent.name for p in metas(out)}
    api = ns3_mfs.load_results(out)
    assert list(api.columns) == list(table.columns) and len(api) == 4


def test_killed_sweep_resumes_without_rerunning_finished_points(base, tmp_path):
    sw = sweep_file(base, '[zip]\nseed = [3, 4, 5, 6]\n"workload.rate_per_s" = [1.0, 1.0, 2.0, 2.0]\n',
                    "sweep_kill.toml")
    out = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "ns3_mfs", "sweep", str(sw), "--out", str(out), "--jobs", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True)
    deadline = time.monotonic() + 300
    while len(metas(out)) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the sweep and the run it had started
    proc.wait()
    finished = {p: p.stat().st_mtime_ns for p in metas(out)}
    assert len(finished) == 2
    res = run_cli("sweep", str(sw), "--out", str(out), "--jobs", "1")
    assert res.returncode == 0, res.stderr
    assert "2 ran, 2 already finished, 0 failed, 4 points" in res.stdout
    assert len(metas(out)) == 4
    assert all(p.stat().st_mtime_ns == t for p, t in finished.items())
    counts = starts(out)
    assert all(counts[p.parent.name] == 1 for p in finished)  # launched once, never again
    assert sum(counts.values()) in (4, 5)  # + the point that was killed mid-run (if it had started)
    assert len(ns3_mfs.load_results(out)) == 4


def test_failing_point_is_recorded_and_does_not_stop_the_others(base, tmp_path):
    # duration_s = 1 us: no request arrives -> the run fails at run time (valid config).
    sw = sweep_file(base, '[grid]\n"workload.duration_s" = [1e-6, 100.0]\n', "sweep_fail.toml")
    out = tmp_path / "fail"
    res = run_cli("sweep", str(sw), "--out", str(out), "--jobs", "2")
    assert res.returncode == 1
    assert "1 ran, 0 already finished, 1 failed" in res.stdout
    errors = list((out / "runs").glob("*/error.json"))
    assert len(errors) == 1 and len(metas(out)) == 1
    err = json.loads(errors[0].read_text())
    assert "workload: produced no requests" in err["error"] and err["returncode"] == 2
    assert "produced no requests" in err["stderr_tail"]
    table = ns3_mfs.load_results(out).set_index("workload.duration_s")
    assert table.loc[1e-6, "status"] == "failed" and "no requests" in table.loc[1e-6, "error"]
    assert table.loc[100.0, "status"] == "ok"
    # A re-run retries the failed point only.
    res = run_cli("sweep", str(sw), "--out", str(out))
    assert res.returncode == 1 and "0 ran, 1 already finished, 1 failed" in res.stdout
    assert starts(out)[errors[0].parent.name] == 2 and starts(out)[metas(out)[0].parent.name] == 1


@pytest.mark.parametrize("body, expect", [
    ('[grid]\n"fabric.link_gbps" = [100, 200]\n', "fabric.link_gbps: unknown key; allowed keys:"),
    ('[grid]\n"serving.tp" = [1, 0]\n', "serving.tp: must be >= 1, got 0"),
    ('[grid]\n"serving.model" = ["mixtral-8x7b", "gpt-9"]\n', "serving.model 'gpt-9': unknown model"),
    ('[grid]\n"policies.mfs.E" = [0.5]\n', "policies.mfs.E: must be > 1.0, got 0.5"),
    ('[grid]\nseed = 3\n', "grid.seed: expected a non-empty list of values, got 3"),
    ('[zip]\nseed = [1, 2]\n"fabric.mtu" = [1024]\n', "zip.fabric.mtu: has 1 values but zip.seed has 2"),
    ('[grid]\nseed = [1]\n[zip]\nseed = [2]\n', "zip.seed: also in [grid]"),
    ('[grid]\nseed = [1]\n[grids]\nx = [1]\n', "grids: unknown key; allowed keys: base, grid, zip"),
    ('[grid]\n"workload.kind.x" = [1]\n', "workload.kind.x: workload.kind is 'poisson', not a table"),
    ('[grid]\n"seed.x" = [1]\n', "seed: expected an integer, got {'x': 1}"),
])
def test_bad_sweep_is_refused_up_front_with_the_key_path(base, tmp_path, body, expect):
    sw = sweep_file(base, body, "bad.toml")
    out = tmp_path / "bad"
    res = run_cli("sweep", str(sw), "--out", str(out))
    assert res.returncode == 2 and expect in res.stderr, res.stderr
    assert "Traceback" not in res.stderr and not out.exists()  # nothing ran, nothing written


def test_point_identity_includes_the_seed_and_merges_duplicates(base):
    sw = sweep_file(base, '[grid]\npolicy = ["fair", "mfs"]\n"policies.mfs.E" = [2.0, 4.0]\nseed = [1, 2]\n',
                    "dups.toml")
    s = load_sweep(sw)
    # fair ignores policies.mfs.E: 2 of the 8 combinations are the same run as another.
    assert len(s.points) == 6 and s.duplicates == 2
    assert len({p.run_id for p in s.points}) == 6
    nobase = base.parent / "nobase.toml"
    nobase.write_text("[grid]\nseed = [1]\n")
    with pytest.raises(ConfigError, match="base: missing"):
        load_sweep(nobase)


def test_inline_base_table(base, tmp_path):
    sw = tmp_path / "inline.toml"
    sw.write_text("[grid]\nseed = [1, 2]\n[base]\n" + TINY.format(topo=ROOT / "topologies/testbed.toml")
                  .replace("[policies.mfs]", "[base.policies.mfs]").replace("[serving]", "[base.serving]")
                  .replace("[workload]", "[base.workload]").replace("[workload.", "[base.workload."))
    s = load_sweep(sw)
    assert [p.config["seed"] for p in s.points] == [1, 2]
    assert {p.run_id for p in s.points} == {p.run_id for p in load_sweep(
        sweep_file(base, "[grid]\nseed = [1, 2]\n", "same.toml")).points}


def _summaries(out: Path) -> dict[str, dict]:
    return {p.parent.name: {k: v for k, v in json.loads((p.parent / "summary.json").read_text()).items()
                            if k not in WALL_CLOCK} for p in metas(out)}


def test_ray_backend_gives_the_same_results_as_local(sweep4, base, tmp_path):
    ray = pytest.importorskip("ray")
    out_local, _ = sweep4
    sw = sweep_file(base, '[grid]\nseed = [1, 2]\n"fabric.mtu" = [4096]\n', "sweep_ray.toml")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        address = ray.get_runtime_context().gcs_address
        out = tmp_path / "ray"
        res = run_cli("sweep", str(sw), "--out", str(out), "--backend", "ray", "--address", address)
    finally:
        ray.shutdown()
    assert res.returncode == 0, res.stderr
    assert "2 ran, 0 already finished, 0 failed" in res.stdout
    remote, local = _summaries(out), _summaries(out_local)
    assert len(remote) == 2 and set(remote) <= set(local)  # same configs -> same run ids
    for run_id, summary in remote.items():  # compared as JSON text: NaN metrics are equal too
        assert json.dumps(summary, sort_keys=True) == json.dumps(local[run_id], sort_keys=True)
    for name in ("requests.parquet", "collectives.parquet"):
        for run_id in remote:
            assert (out / "runs" / run_id / name).read_bytes() == (out_local / "runs" / run_id / name).read_bytes()


def test_ray_missing_is_a_clear_error(monkeypatch, base, tmp_path):
    import builtins

    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray":
            raise ImportError("No module named 'ray'")
        return real_import(name, *args, **kwargs)

    from ns3_mfs.experiment.sweep import run_sweep

    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(ConfigError, match=r"--backend ray: the 'ray' package is not installed.*ns3-mfs\[ray\]"):
        run_sweep(load_sweep(sweep_file(base, "[grid]\nseed = [1]\n", "r.toml")), tmp_path / "o", backend="ray")
    assert not (tmp_path / "o").exists()


def test_same_seed_gives_byte_identical_tables_and_another_seed_differs(sweep4, base, tmp_path):
    out, _ = sweep4
    table = ns3_mfs.load_results(out)
    point = table[(table["seed"] == 1) & (table["fabric.mtu"] == 4096)].iloc[0]
    other = table[(table["seed"] == 2) & (table["fabric.mtu"] == 4096)].iloc[0]
    cfg = out / "runs" / point["run_id"] / "config.toml"
    res = run_cli("run", str(cfg), "--out", str(tmp_path / "again"), "--no-progress")
    assert res.returncode == 0, res.stderr
    for name in ("requests", "flows", "collectives"):
        first = (out / "runs" / point["run_id"] / f"{name}.parquet").read_bytes()
        assert (tmp_path / "again" / f"{name}.parquet").read_bytes() == first, name
        assert (out / "runs" / other["run_id"] / f"{name}.parquet").read_bytes() != first, name


def test_run_reports_simulated_time_progress(base):
    from ns3_mfs.experiment.run import load_run_config, run, workload_requests

    seen = []
    summary = run(load_run_config(base), progress=seen.append)
    times = [p.sim_s for p in seen]
    assert seen and times == sorted(times) and 0 <= times[-1] <= summary["sim_s"]
    assert all(p.total == 3 and 0 <= p.finished <= 3 for p in seen)
    assert [p.finished for p in seen] == sorted(p.finished for p in seen)
    last = max(r.arrival_s for r in workload_requests(load_run_config(base)))
    assert {p.horizon_s for p in seen} == {last}  # the arrival horizon


def test_a_sweep_killed_at_random_moments_loses_and_duplicates_nothing(base, tmp_path):
    import random

    sw = sweep_file(base, '[zip]\nseed = [7, 8, 9, 10]\n', "sweep_random_kill.toml")
    out = tmp_path / "random_kill"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    rng = random.Random(20261121)
    for _ in range(3):
        proc = subprocess.Popen([sys.executable, "-m", "ns3_mfs", "sweep", str(sw), "--out", str(out), "--jobs", "2"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True)
        time.sleep(rng.uniform(0.5, 8.0))
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        # Whatever has meta.json is whole: every table it lists can be read.
        for meta in metas(out):
            for table in ("requests", "flows", "collectives"):
                pd.read_parquet(meta.parent / f"{table}.parquet")
    finished_before = {p.parent.name: p.stat().st_mtime_ns for p in metas(out)}
    res = run_cli("sweep", str(sw), "--out", str(out), "--jobs", "2")
    assert res.returncode == 0, res.stderr
    assert len(metas(out)) == 4 and len(ns3_mfs.load_results(out)) == 4
    for p in metas(out):  # a run finished before a kill was not run again
        if p.parent.name in finished_before:
            assert p.stat().st_mtime_ns == finished_before[p.parent.name]
