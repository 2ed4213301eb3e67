"""Packaging facts: no side effects at import, any working directory, the build cache."""

import os
import subprocess
import sys

import pytest

from ns3_mfs import _build
from ns3_mfs.config import ConfigError
from ns3_mfs.fabric import FabricConfig, LeafSpineTopology, Network, TestbedTopology, load_topology


def test_import_has_no_side_effects(root):
    code = (
        "import sys, ns3_mfs, ns3_mfs.fabric, ns3_mfs.config, ns3_mfs.cli; "
        "ns3_mfs.fabric.FabricConfig(); ns3_mfs.fabric.TestbedTopology(); "
        "print('cppyy' in sys.modules, 'ns3' in sys.modules)"
    )
    env = dict(os.environ, PYTHONPATH=str(root))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=root)
    assert out.stdout.strip() == "False False", out.stderr


def test_runs_from_any_working_directory(root):
    code = (
        "from ns3_mfs.fabric import Network, TestbedTopology\n"
        "n = Network(TestbedTopology(servers=2)); n.start_flow(0, 1, 5000); n.run()\n"
        "print(int(n.flows()['completed'].sum()))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(root))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd="/", timeout=120)
    assert out.stdout.strip() == "1", out.stderr


def test_build_key_depends_on_sources_and_compiler(monkeypatch):
    _, version = _build.compiler()
    key = _build.build_key(version)
    assert key == _build.build_key(version)
    assert key != _build.build_key(version + " patched")
    monkeypatch.setattr(_build, "CXXFLAGS", _build.CXXFLAGS + ("-O3",))
    assert key != _build.build_key(version)


def test_missing_compiler_gives_a_clear_error(monkeypatch):
    monkeypatch.setenv("CXX", "no-such-compiler-g++")
    with pytest.raises(_build.BuildError, match="not found: install g\\+\\+ 10 or newer"):
        _build.compiler()


def test_old_compiler_is_refused(monkeypatch, tmp_path):
    fake = tmp_path / "g++-9"
    fake.write_text("#!/bin/sh\necho 'g++ (Debian 9.3.0-22) 9.3.0'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("CXX", str(fake))
    with pytest.raises(_build.BuildError, match="too old .* needs g\\+\\+ 10 or newer"):
        _build.compiler()


def test_build_into_a_fresh_cache_is_atomic_and_reused(monkeypatch, tmp_path):
    monkeypatch.setenv("NS3_MFS_CACHE", str(tmp_path))
    lib = _build.ensure_built()
    assert lib.exists() and lib.parent.parent == tmp_path
    assert not [p for p in lib.parent.iterdir() if p.name.startswith(".build-")]
    mtime = lib.stat().st_mtime_ns
    assert _build.ensure_built() == lib and lib.stat().st_mtime_ns == mtime


def test_shipped_topologies_load(root):
    kinds = {load_topology(p).kind for p in (root / "topologies").glob("*.toml")}
    assert kinds == {"testbed", "leaf_spine", "fat_tree", "rail", "file"}
    ls = load_topology(root / "topologies/leaf_spine.toml")
    assert ls.oversubscription == 1.0


def test_testbed_numbers_nics_server_by_server():
    g = TestbedTopology().graph()
    assert g.num_hosts == 16 and g.host_server[4] == 2 and g.host_server[5] == 2
    assert g.gpus_per_server == 4 and g.num_servers == 8


def test_oversubscription_follows_tier_rates():
    t = LeafSpineTopology(leaves=2, spines=2, hosts_per_leaf=8, host_rate_gbps=100, spine_rate_gbps=200)
    assert t.oversubscription == 2.0


def test_network_api_rejects_bad_flows():
    net = Network(TestbedTopology(servers=2))
    for args, msg in [
        ((0, 7, 10), "dst: 7 is not a host; allowed: 0..3"),
        ((0, 0, 10), "dst: equals src"),
        ((0, 1, 0), "bytes: expected an integer > 0"),
        ((0, 1, -3), "bytes: expected an integer > 0"),
        ((0, 1, 10, 8), "priority: expected an integer 0..7"),
    ]:
        with pytest.raises(ConfigError, match=msg):
            net.start_flow(*args)


def test_flows_started_from_callbacks_and_timers():
    net = Network(TestbedTopology(servers=2))
    log = []

    def second(flow):
        log.append(("second", flow.id, net.now))

    def first(flow):
        log.append(("first", flow.id, net.now))
        net.start_flow(1, 0, 10_000, on_done=second)

    net.start_flow(0, 1, 10_000, on_done=first)
    net.schedule(1e-6, lambda: log.append(("timer", None, net.now)))
    net.run()
    assert [e[0] for e in log] == ["timer", "first", "second"]
    assert log[0][2] == pytest.approx(1e-6)
    flows = net.flows()
    assert log[1][2] == pytest.approx(flows.loc[0, "end_s"]) and log[2][2] == pytest.approx(flows.loc[1, "end_s"])
    assert flows.loc[1, "start_s"] == pytest.approx(flows.loc[0, "end_s"])


def test_callback_errors_surface_from_run():
    net = Network(TestbedTopology(servers=2))

    def boom(flow):
        raise RuntimeError("boom in callback")

    net.start_flow(0, 1, 10_000, on_done=boom)
    with pytest.raises(RuntimeError, match="boom in callback"):
        net.run()


def test_a_new_network_closes_the_previous_one():
    a = Network(TestbedTopology(servers=2))
    b = Network(TestbedTopology(servers=2))
    with pytest.raises(RuntimeError, match="closed"):
        a.start_flow(0, 1, 10)
    b.start_flow(0, 1, 10)
    b.run()
    assert b.flows()["completed"].all()


def test_attribute_errors_from_native_side_are_clear():
    with pytest.raises(ConfigError, match="switch buffer of 1000 bytes is too small"):
        Network(TestbedTopology(servers=2), FabricConfig(buffer_bytes=1000))


def _pyproject(root):
    import tomllib

    return tomllib.loads((root / "pyproject.toml").read_text())


def test_version_flag_prints_the_package_version(root):
    import ns3_mfs

    res = subprocess.run([sys.executable, "-m", "ns3_mfs", "--version"], capture_output=True, text=True,
                         cwd=root, env=dict(os.environ, PYTHONPATH=str(root)), timeout=60)
    assert res.returncode == 0 and res.stdout.strip() == f"ns3-mfs {ns3_mfs.__version__}", res.stderr
    assert ns3_mfs.__version__ == _pyproject(root)["project"]["version"]


def test_requires_python_matches_what_the_code_needs(root):
    """tomllib (and hence the package) needs 3.11: requires-python and the classifiers must say so."""
    import ast
    import re

    project = _pyproject(root)["project"]
    m = re.fullmatch(r">=\s*3\.(\d+)", project["requires-python"])
    assert m, project["requires-python"]
    minimum = (3, int(m.group(1)))
    imports = set()
    for path in (root / "ns3_mfs").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imports |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imports.add(node.module.split(".")[0])
    needs = {"tomllib": (3, 11)}  # standard-library modules newer than 3.8, with the version that added them
    required = max([v for mod, v in needs.items() if mod in imports], default=(3, 8))
    assert minimum == required, f"requires-python says {minimum}, the imports need {required}"
    assert sys.version_info[:2] >= minimum  # and what runs the tests satisfies it
    versions = {tuple(int(x) for x in c.rsplit(":: ", 1)[1].split("."))
                for c in project["classifiers"] if re.search(r"Python :: 3\.\d+$", c)}
    assert versions and min(versions) == minimum


def test_license_citation_changelog_and_typing_marker(root):
    text = (root / "LICENSE").read_text()
    assert "GNU GENERAL PUBLIC LICENSE" in text and "Version 2, June 1991" in text
    assert _pyproject(root)["project"]["license"] == {"text": "GPL-2.0-only"}
    import yaml  # a dependency of mkdocs (the docs extra)

    cff = yaml.safe_load((root / "CITATION.cff").read_text())
    assert cff["cff-version"].startswith("1.2") and cff["license"] == "GPL-2.0-only"
    assert cff["version"] == _pyproject(root)["project"]["version"] and cff["title"] and cff["authors"]
    assert (root / "CHANGELOG.md").read_text().startswith("# Changelog")
    assert (root / "ns3_mfs" / "py.typed").exists()
    assert "py.typed" in _pyproject(root)["tool"]["setuptools"]["package-data"]["ns3_mfs"]
