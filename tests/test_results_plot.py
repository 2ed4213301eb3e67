"""``ns3-mfs results`` and ``ns3-mfs plot`` on a small sweep, a fabric run and a hand-made tree."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from conftest import ROOT, TINY_RUN as TINY, run_cli
from ns3_mfs.analysis.results import collect



@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("rp")
    (d / "tiny.toml").write_text(TINY.format(topo=ROOT / "topologies/testbed.toml"))
    (d / "sweep.toml").write_text('base = "tiny.toml"\n[grid]\n"workload.rate_per_s" = [1.0, 4.0]\n'
                                  'policy = ["fair", "mfs"]\n')
    out = d / "out"
    res = run_cli("sweep", str(d / "sweep.toml"), "--out", str(out), "--jobs", "2")
    assert res.returncode == 0, res.stderr
    return out


@pytest.fixture(scope="module")
def pfc_run(tmp_path_factory) -> Path:
    """A 8-to-1 incast with a small switch buffer: PFC pauses (about 1 s)."""
    d = tmp_path_factory.mktemp("pfc")
    (d / "fabric.toml").write_text('[fabric]\nbuffer_bytes = 7000000\ncc = "none"\n')
    res = run_cli("fabric", str(ROOT / "topologies/testbed.toml"), str(ROOT / "scratch/incast.csv"),
                  "--out", str(d / "run"), "--config", str(d / "fabric.toml"))
    assert res.returncode == 0, res.stderr
    assert json.loads((d / "run" / "summary.json").read_text())["pfc_pause_frames"] > 0
    return d / "run"


def written(paths_stdout: str) -> list[Path]:
    return [Path(line) for line in paths_stdout.split()]


def test_results_command_writes_the_table(sweep_dir):
    res = run_cli("results", str(sweep_dir))
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("4 runs (4 ok, 0 failed, 0 partial)")
    assert "workload.rate_per_s" in res.stdout and "policy" in res.stdout
    table = pd.read_parquet(sweep_dir / "results.parquet")
    assert len(table) == 4 and list(table.columns[:5]) == ["run_id", "status", "path", "error", "run_status"]
    assert {"fabric.mtu", "serving.prefill_gpus", "workload.input.kind", "ttft_slo_attainment", "cct_mean_s",
            "pfc_pause_frames"} <= set(table.columns)
    assert sorted(zip(table["policy"], table["workload.rate_per_s"])) == [
        ("fair", 1.0), ("fair", 4.0), ("mfs", 1.0), ("mfs", 4.0)]
    assert table["fabric.ecn_classes"].iloc[0] == "[0, 1, 2, 3, 4, 5, 6, 7]"  # lists as JSON text


def test_results_of_any_tree_with_statuses(sweep_dir, tmp_path):
    runs = sorted(p for p in (sweep_dir / "runs").iterdir() if not p.name.startswith("."))  # not the locks
    tree = tmp_path / "tree"
    shutil.copytree(runs[0], tree / "a" / "first")
    shutil.copytree(runs[1], tree / "b" / "deeper" / "second")
    failed = tree / "b" / "broken"
    shutil.copytree(runs[2], failed)
    (failed / "meta.json").unlink()
    (failed / "error.json").write_text(json.dumps({"error": "boom"}))
    partial = tree / "c" / "killed"
    partial.mkdir(parents=True)
    shutil.copy(runs[3] / "config.toml", partial / "config.toml")
    df = collect(tree)
    assert dict(zip(df["path"], df["status"])) == {"a/first": "ok", "b/broken": "failed",
                                                    "b/deeper/second": "ok", "c/killed": "partial"}
    assert df.set_index("path").loc["b/broken", "error"] == "boom"
    assert df.set_index("path").loc["c/killed", "policy"] in ("fair", "mfs")  # config of a partial run
    assert pd.isna(df.set_index("path").loc["c/killed", "ttft_mean_s"])
    res = run_cli("results", str(tree))
    assert res.returncode == 0 and res.stdout.startswith("4 runs (2 ok, 1 failed, 1 partial)")
    assert (tree / "results.parquet").exists()


def test_results_of_an_empty_directory_is_an_error(tmp_path):
    res = run_cli("results", str(tmp_path))
    assert res.returncode == 2 and "no result directories" in res.stderr


def test_import_stays_light_and_load_results_is_exported():
    code = "import sys, ns3_mfs; assert 'pandas' not in sys.modules; f = ns3_mfs.load_results; print(f.__module__)"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "ns3_mfs.analysis.results"


@pytest.mark.parametrize("kind, args, name", [
    ("attainment", [], "attainment"),
    ("sweep", ["--x", "workload.rate_per_s", "--y", "cct_mean_s", "--hue", "policy"],
     "sweep_cct_mean_s_vs_workload_rate_per_s"),
    ("sweep", [], "sweep_ttft_mean_s_vs_workload_rate_per_s"),
    ("ttft-cdf", ["--hue", "policy"], "ttft_cdf"),
    ("cct-cdf", [], "cct_cdf"),
])
def test_plot_kinds_of_a_sweep(sweep_dir, kind, args, name):
    res = run_cli("plot", str(sweep_dir), "--kind", kind, *args)
    assert res.returncode == 0, res.stderr
    assert written(res.stdout) == [sweep_dir / f"{name}.png", sweep_dir / f"{name}.pdf"]
    assert (sweep_dir / f"{name}.png").stat().st_size > 5000 and (sweep_dir / f"{name}.pdf").stat().st_size > 1000


@pytest.mark.parametrize("kind", ["pfc-timeline", "queue-heatmap"])
def test_plot_one_run(pfc_run, tmp_path, kind):
    out = tmp_path / "figs" / f"{kind}.png"
    res = run_cli("plot", str(pfc_run), "--kind", kind, "--out", str(out))
    assert res.returncode == 0, res.stderr
    assert out.stat().st_size > 5000 and out.with_suffix(".pdf").exists()


@pytest.mark.parametrize("args, expect", [
    (["--kind", "violin"], "--kind: 'violin' is not a plot kind; allowed: attainment, ttft-cdf, cct-cdf, "
                           "pfc-timeline, queue-heatmap, sweep"),
    (["--kind", "sweep", "--x", "rate"], "--x: 'rate' is not a column for --kind sweep; allowed: "),
    (["--kind", "sweep", "--y", "goodput"], "--y: 'goodput' is not a column for --kind sweep; allowed: "),
    (["--kind", "attainment", "--y", "ttft_mean_s"], "allowed: ttft_slo_attainment"),
    (["--kind", "ttft-cdf", "--hue", "colour"], "--hue: 'colour' is not a column for --kind ttft-cdf"),
    (["--kind", "ttft-cdf", "--x", "seed"], "--x: not used by --kind ttft-cdf"),
    (["--kind", "pfc-timeline"], "no pfc.parquet; give one run directory"),
])
def test_plot_errors_list_what_is_allowed(sweep_dir, args, expect):
    res = run_cli("plot", str(sweep_dir), *args)
    assert res.returncode == 2 and expect in res.stderr, res.stderr
    assert "Traceback" not in res.stderr
    if args[:3] == ["--kind", "sweep", "--x"]:  # the swept keys come first
        first = res.stderr.split("allowed: ")[1].split(", ")[:2]
        assert sorted(first) == ["policy", "workload.rate_per_s"]
