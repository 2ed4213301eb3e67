"""Extensions from installed packages: entry points reach the CLI, sweep points and the result identity.

The example package ``scratch/example_plugin`` is made importable the way an
installer does it: its source on the path and a ``.dist-info`` directory
with its ``entry_points.txt`` (what ``pip install`` writes), so the test
needs no network and no build backend.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from conftest import ROOT, TINY_RUN

PLUGIN = ROOT / "scratch" / "example_plugin"


def install_example(site: Path, version: str = "0.1.0") -> Path:
    """Write the example package's distribution metadata under ``site`` (an install without copying)."""
    import tomllib

    meta = tomllib.loads((PLUGIN / "pyproject.toml").read_text())["project"]
    info = site / f"ns3_mfs_example-{version}.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {meta['name']}\nVersion: {version}\n")
    lines = []
    for group, eps in meta["entry-points"].items():
        lines += [f"[{group}]", *(f"{k} = {v}" for k, v in eps.items()), ""]
    (info / "entry_points.txt").write_text("\n".join(lines))
    return site


def env_with(site: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(site), str(PLUGIN), str(ROOT), env.get("PYTHONPATH", "")])
    return env


def cli(env: dict[str, str], *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ns3_mfs", *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=600)


def test_entry_points_load_lazily_not_at_import(tmp_path):
    site = install_example(tmp_path / "site")
    code = ("import sys; import ns3_mfs.policies as p, ns3_mfs.fabric.topology as t;"
            "print('before', 'ns3_mfs_example' in sys.modules);"
            "print('allowed', p.REGISTRY.allowed()); print('kinds', ','.join(t.REGISTRY));"
            "print('after', 'ns3_mfs_example' in sys.modules)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env_with(site),
                         cwd=tmp_path, timeout=120)
    assert res.returncode == 0, res.stderr
    out = dict(line.split(" ", 1) for line in res.stdout.splitlines())
    assert out["before"] == "False" and out["after"] == "True"
    assert "stage_order" in out["allowed"].split(", ")
    assert "dumbbell" in out["kinds"].split(",")


def test_unknown_policy_without_the_plugin_is_one_line(tmp_path):
    cfg = tmp_path / "run.toml"
    cfg.write_text(TINY_RUN.format(topo=ROOT / "topologies/testbed.toml").replace('policy = "mfs"',
                                                                                   'policy = "stage_order"'))
    res = cli(env_with(tmp_path / "empty"), "config", "show", str(cfg))
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1 and "stage_order" in res.stderr and "allowed: edf, fair" in res.stderr


def test_plugin_topology_kind_in_config_show(tmp_path):
    site = install_example(tmp_path / "site")
    topo = tmp_path / "db.toml"
    topo.write_text('kind = "dumbbell"\nhosts = 6\ngpus_per_server = 4\n')
    cfg = tmp_path / "run.toml"
    cfg.write_text(TINY_RUN.format(topo=topo).replace("prefill_gpus = 16", "prefill_gpus = 8"))
    res = cli(env_with(site), "config", "show", str(cfg))
    assert res.returncode == 0, res.stderr
    assert 'kind = "dumbbell"' in res.stdout and "hosts = 6" in res.stdout


def test_a_sweep_point_in_a_fresh_process_uses_the_entry_point_policy(tmp_path):
    site = install_example(tmp_path / "site")
    base = tmp_path / "tiny.toml"
    base.write_text(TINY_RUN.format(topo=ROOT / "topologies/testbed.toml")
                    .replace('policy = "mfs"', 'policy = "stage_order"')
                    .replace("[policies.mfs]\nE = 4.0\nU = 0.5", "[policies.stage_order]\nfirst = 3"))
    sweep = tmp_path / "sweep.toml"
    sweep.write_text('base = "tiny.toml"\n[grid]\nseed = [1]\n')
    res = cli(env_with(site), "sweep", str(sweep), "--out", str(tmp_path / "out"), "--jobs", "1")
    assert res.returncode == 0, res.stderr
    (run,) = (m.parent for m in (tmp_path / "out" / "runs").glob("*/meta.json"))
    flows = pd.read_parquet(run / "flows.parquet")
    net = flows[flows["path"] == "network"]
    assert set(net["stage"]) >= {"dispatch", "combine", "p2d"}
    # the policy's definition: class = first + stage - 1, never changed
    assert (net["priority"] == 3 + net["stage_num"] - 1).all()
    assert (net["class_changes"] == 0).all()
    code = json.loads((run / "meta.json").read_text())["identity"]["code"]
    plugins = json.loads(code["plugins"])
    assert [(p["name"], p["version"]) for p in plugins] == [("ns3-mfs-example", "0.1.0")]
    # another plugin version is another code identity: the point is stale and runs again
    install_example(tmp_path / "site2", "0.2.0")
    res = cli(env_with(tmp_path / "site2"), "sweep", str(sweep), "--out", str(tmp_path / "out"), "--jobs", "1")
    assert res.returncode == 0, res.stderr
    text = res.stdout + res.stderr
    assert "made with another plugins" in text and "1 ran" in text, text


def test_ray_workers_use_the_entry_point_policy(tmp_path, monkeypatch):
    """A Ray cluster whose workers have the plugin installed runs a sweep point with its policy (each point is
    a fresh process on a worker, like a local point)."""
    ray = pytest.importorskip("ray")
    site = install_example(tmp_path / "site")
    monkeypatch.setenv("PYTHONPATH", env_with(site)["PYTHONPATH"])  # the cluster's workers have the plugin
    base = tmp_path / "tiny.toml"
    base.write_text(TINY_RUN.format(topo=ROOT / "topologies/testbed.toml")
                    .replace('policy = "mfs"', 'policy = "stage_order"')
                    .replace("[policies.mfs]\nE = 4.0\nU = 0.5", "[policies.stage_order]\nfirst = 2"))
    sweep = tmp_path / "sweep.toml"
    sweep.write_text('base = "tiny.toml"\n[grid]\nseed = [1]\n')
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    try:
        address = ray.get_runtime_context().gcs_address
        env = dict(os.environ)  # with what ray.init set (the cluster's address and token)
        res = cli(env, "sweep", str(sweep), "--out", str(tmp_path / "out"), "--backend", "ray", "--address", address)
    finally:
        ray.shutdown()
    assert res.returncode == 0, res.stderr
    (run,) = (m.parent for m in (tmp_path / "out" / "runs").glob("*/meta.json"))
    net = pd.read_parquet(run / "flows.parquet").query("path == 'network'")
    assert len(net) and (net["priority"] == 2 + net["stage_num"] - 1).all()
