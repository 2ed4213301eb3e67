"""Result identity: a finished point is reused only when made from the same config, input contents and code.

Changing an input file's content, the base config or the code key makes a
finished point run again; nothing else does (a second call, a file touched
without a change, a sweep file rewritten with the same values).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from conftest import ROOT, TINY_MOE, TINY_RUN, run_cli
from ns3_mfs import identity as ident
from ns3_mfs.experiment.sweep import load_sweep, point_state


def _setup(tmp_path: Path) -> tuple[Path, Path]:
    model = tmp_path / "tiny-moe.toml"
    model.write_text(TINY_MOE)
    run = TINY_RUN.format(topo=ROOT / "topologies/testbed.toml").replace(
        "[serving]\n", f'[serving]\nmodel = "{model.name}"\n')
    (tmp_path / "tiny.toml").write_text(run)
    sweep = tmp_path / "sweep.toml"
    sweep.write_text('base = "tiny.toml"\n[grid]\nseed = [1]\n')
    return sweep, model


def _sweep(sweep: Path, out: Path, *extra: str):
    res = run_cli("sweep", str(sweep), "--out", str(out), "--jobs", "1", *extra)
    assert res.returncode == 0, res.stderr + res.stdout
    return res.stdout


def _meta(out: Path) -> tuple[Path, dict]:
    (path,) = sorted((out / "runs").glob("*/meta.json"))
    return path, json.loads(path.read_text())


def test_identity_covers_config_input_contents_and_code(tmp_path):
    sweep, model = _setup(tmp_path)
    (pt,) = load_sweep(sweep).points
    assert pt.identity["inputs"]["serving.model"]["sha256"] == ident.file_sha256(model)
    assert set(pt.identity["code"]) == {"version", "native_build_key", "python_sha256"}
    # Same content again: same identity; another content: the model input differs.
    os.utime(model, ns=(1, 1))
    assert ident.identity(pt.config)["key"] == pt.identity["key"]
    changed = {**pt.config, "seed": 2}
    assert ident.differences(pt.identity, ident.identity(changed)) == ["config"]
    model.write_text(TINY_MOE + "# edited\n")
    assert ident.differences(pt.identity, ident.identity(pt.config)) == ["input serving.model"]


def test_python_sources_hash_follows_every_source_file(tmp_path):
    pkg = tmp_path / "pkg"
    shutil.copytree(ROOT / "ns3_mfs", pkg, ignore=shutil.ignore_patterns("__pycache__", "native"))
    before = ident.python_sources_sha256.__wrapped__(pkg)
    assert ident.python_sources_sha256.__wrapped__(pkg) == before
    (pkg / "policies" / "fair.py").write_text((pkg / "policies" / "fair.py").read_text() + "\n# x\n")
    assert ident.python_sources_sha256.__wrapped__(pkg) != before


def test_finished_point_reruns_only_when_its_identity_changes(tmp_path):
    sweep, model = _setup(tmp_path)
    out = tmp_path / "out"
    assert "1 ran, 0 already finished" in _sweep(sweep, out)
    meta_path, meta = _meta(out)
    assert meta["identity"] == load_sweep(sweep).points[0].identity
    assert meta["git_commit"] and isinstance(meta["git_dirty"], bool)

    # Nothing changed, a touched file, a rewritten sweep file: reused.
    os.utime(model, None)
    sweep.write_text(sweep.read_text())
    assert "0 ran, 1 already finished, 0 failed, 1 points" in _sweep(sweep, out)

    # An input file's content changed: stale, run again (or kept on request).
    model.write_text(TINY_MOE + "# a comment changes the content\n")
    kept = _sweep(sweep, out, "--accept-stale")
    assert "0 ran, 1 already finished, 0 failed (1 stale kept)" in kept and "input serving.model" in kept
    text = _sweep(sweep, out)
    assert "1 ran, 0 already finished, 0 failed (1 stale re-run)" in text
    assert "made with another input serving.model; ran again" in text
    assert "0 ran, 1 already finished" in _sweep(sweep, out)

    # Made by other code (the recorded code key differs): run again.
    meta_path, meta = _meta(out)
    meta["identity"]["code"]["python_sha256"] = "0" * 64
    meta["identity"]["key"] = ident.sha256_text(ident.canonical_json({k: v for k, v in meta["identity"].items()
                                                                    if k != "key"}))
    meta_path.write_text(json.dumps(meta))
    assert "1 ran, 0 already finished, 0 failed (1 stale re-run)" in (text := _sweep(sweep, out))
    assert "Python code" in text

    # A run that stopped early is not finished: run again.
    meta_path, meta = _meta(out)
    meta_path.write_text(json.dumps({**meta, "status": "partial"}))
    assert "1 ran, 0 already finished, 0 failed, 1 points" in _sweep(sweep, out)


def test_changed_base_config_is_not_reused_by_compare(tmp_path):
    sweep, model = _setup(tmp_path)
    cfg, out = tmp_path / "tiny.toml", tmp_path / "cmp"
    args = ("compare", str(cfg), "--policies", "fair", "--rates-per-gpu", "0.25", "--out", str(out), "--jobs", "1")
    res = run_cli(*args)
    assert res.returncode == 0 and "compare: 1 ran" in res.stderr, res.stderr
    res = run_cli(*args)
    assert "compare: 0 ran, 1 already finished" in res.stderr
    cfg.write_text(cfg.read_text().replace("decode_gpus = 4", "decode_gpus = 8"))
    res = run_cli(*args)
    assert res.returncode == 0 and "compare: 1 ran, 0 already finished" in res.stderr, res.stderr
    import pandas as pd

    table = pd.read_parquet(out / "compare.parquet")
    config = (out / "runs" / table["run_id"][0] / "config.toml").read_text()
    assert "decode_gpus = 8" in config


def test_a_rerun_into_a_directory_leaves_no_file_of_the_earlier_run(tmp_path):
    from ns3_mfs.store import write_run

    import pandas as pd

    out = tmp_path / "run"
    t = pd.DataFrame({"a": [1]})
    write_run(out, config={"seed": 1}, summary={}, tables={"flows": t, "decode_steps": t}, seed=1)
    (out / "notes.txt").write_text("mine")
    write_run(out, config={"seed": 1}, summary={}, tables={"flows": t}, seed=1)
    assert sorted(p.name for p in out.iterdir()) == ["config.toml", "flows.parquet", "meta.json", "notes.txt",
                                                     "summary.json"]


@pytest.mark.parametrize("status", ["partial", "invalid"])
def test_only_complete_runs_count_as_finished(tmp_path, status):
    d = tmp_path / "p"
    d.mkdir()
    (d / "meta.json").write_text(json.dumps({"status": status, "identity": {"key": "k"}}))
    assert point_state(d, {"key": "k"}) == ("todo", [])
    (d / "meta.json").write_text(json.dumps({"status": "complete", "identity": {"key": "k"}}))
    assert point_state(d, {"key": "k"}) == ("finished", [])
    (d / "meta.json").write_text("{not json")
    assert point_state(d, {"key": "k"}) == ("todo", [])
