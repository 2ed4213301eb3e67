"""Replications over seeds: ``seeds = N`` in sweeps and ``compare --seeds``, per-point mean, standard
deviation and 95 % confidence interval (``results``, ``load_results(over_seeds=True)``), CI bands in plots."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import ns3_mfs
from conftest import ROOT, TINY_RUN, run_cli
from ns3_mfs.config import ConfigError
from ns3_mfs.experiment.sweep import load_sweep


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("repl")
    (d / "tiny.toml").write_text(TINY_RUN.format(topo=ROOT / "topologies/testbed.toml"))
    return d / "tiny.toml"


@pytest.fixture(scope="module")
def replicated(base) -> tuple[Path, object]:
    """2 rates x seeds = 3: six points (the TTFT SLO fixed so that no unloaded-TTFT runs are needed)."""
    sw = base.parent / "seeds.toml"
    sw.write_text('base = "tiny.toml"\nseeds = 3\n[grid]\n"workload.rate_per_gpu" = [0.5, 2.0]\n')
    out = base.parent / "out"
    res = run_cli("sweep", str(sw), "--out", str(out), "--jobs", "2", "--set", "serving.ttft_slo_s=0.05",
                  env={"NS3_MFS_PROGRESS": "1"})
    return out, res


def test_seeds_sweep_gives_per_point_mean_std_and_ci(replicated):
    from scipy import stats

    out, res = replicated
    assert res.returncode == 0, res.stderr
    assert "sweep: 6 ran, 0 already finished, 0 failed, 6 points" in res.stdout
    assert "sweep: 6/6 done, 0 running, 0 failed" in res.stderr  # the progress bar, forced on
    runs = ns3_mfs.load_results(out)
    assert sorted(runs["seed"]) == [1, 1, 2, 2, 3, 3]
    assert sorted(set(runs["workload.rate_per_s"])) == [8.0, 32.0]  # rate_per_gpu x 16 prefill GPUs
    st = ns3_mfs.load_results(out, over_seeds=True)
    assert list(st.columns) == ["workload.rate_per_s", "metric", "n", "mean", "std", "ci_low", "ci_high", "seeds"]
    for rate in (8.0, 32.0):
        x = runs[runs["workload.rate_per_s"] == rate]["ttft_mean_s"].to_numpy()
        row = st[(st["workload.rate_per_s"] == rate) & (st["metric"] == "ttft_mean_s")].iloc[0]
        assert row["n"] == 3 and json.loads(row["seeds"]) == [1, 2, 3]
        assert row["mean"] == pytest.approx(x.mean()) and row["std"] == pytest.approx(x.std(ddof=1))
        half = stats.t.ppf(0.975, 2) * x.std(ddof=1) / math.sqrt(3)
        assert row["ci_low"] == pytest.approx(x.mean() - half) and row["ci_high"] == pytest.approx(x.mean() + half)
        assert row["std"] > 0  # the seeds give different workloads, so a real interval
    # ``results`` writes and prints the same statistics.
    res = run_cli("results", str(out))
    assert res.returncode == 0, res.stderr
    assert "per point over seeds (mean, std, 95 % CI; all metrics)" in res.stdout
    written = pd.read_parquet(out / "results_over_seeds.parquet")
    assert len(written) == len(st) and set(written["metric"]) == set(st["metric"])


def test_plot_draws_ci_bands_over_seeds(replicated):
    from matplotlib.collections import PolyCollection

    from ns3_mfs.analysis import style
    from ns3_mfs.analysis.plots import line_figure, summarise

    out, _ = replicated
    res = run_cli("plot", str(out), "--kind", "sweep", "--y", "ttft_mean_s")
    assert res.returncode == 0, res.stderr
    png = out / "sweep_ttft_mean_s_vs_workload_rate_per_s.png"
    assert png.stat().st_size > 1000 and png.with_suffix(".pdf").exists()
    # The band drawn spans each point's confidence interval over seeds.
    runs = ns3_mfs.load_results(out)
    st = ns3_mfs.load_results(out, over_seeds=True)
    st = st[st["metric"] == "ttft_mean_s"].sort_values("workload.rate_per_s")
    s = summarise(runs, "workload.rate_per_s", "ttft_mean_s", None)
    assert np.allclose(s["lo"], st["ci_low"]) and np.allclose(s["hi"], st["ci_high"])
    assert np.allclose(s["mean"], st["mean"]) and (s["n"] == st["n"].to_numpy()).all()
    fig = line_figure(runs, "workload.rate_per_s", "ttft_mean_s", None, style.STYLES["screen"])
    ax = fig.axes[0]
    (band,) = [c for c in ax.collections if isinstance(c, PolyCollection)]
    (line,) = ax.get_lines()
    scale = st["mean"].iloc[0] / line.get_ydata()[0]  # the axis shows the natural time unit
    ys = band.get_paths()[0].vertices[:, 1] * scale
    assert ys.min() == pytest.approx(st["ci_low"].min()) and ys.max() == pytest.approx(st["ci_high"].max())
    assert np.allclose(line.get_ydata() * scale, st["mean"])
    # One run per point: a line without a band.
    one = summarise(runs[runs["seed"] == 1], "workload.rate_per_s", "ttft_mean_s", None)
    assert one["lo"].isna().all()


@pytest.mark.parametrize("body, seeds", [("seeds = 3\n", [1, 2, 3]), ("seeds = [9, 4, 9]\n", [9, 4])])
def test_seeds_key_expands_to_seed_points(base, body, seeds):
    sw = base.parent / "s.toml"
    sw.write_text(f'base = "tiny.toml"\n{body}')
    assert [p.config["seed"] for p in load_sweep(sw).points] == seeds
    sw.write_text('base = "tiny.toml"\nseeds = 2\n[grid]\n"fabric.mtu" = [2048, 4096]\n')
    assert [(p.config["fabric"]["mtu"], p.config["seed"]) for p in load_sweep(sw).points] == [
        (2048, 1), (2048, 2), (4096, 1), (4096, 2)]  # the seed is the last axis


@pytest.mark.parametrize("body, expect", [
    ("seeds = 0\n", "seeds: must be a count in 1..10000 or a list of seeds, got 0"),
    ("seeds = [0]\n", "seeds: seed 0 out of range"),
    ('seeds = "3"\n', "seeds: expected a count (seeds = 3) or a non-empty list of seeds"),
    ("seeds = 2\n[grid]\nseed = [1, 2]\n", "seeds: seed is also in [grid]"),
    ("seed = 2\n", "seed: unknown key; allowed keys: base, grid, zip, seeds; did you mean 'seeds'?"),
])
def test_bad_seeds_are_refused(base, body, expect):
    sw = base.parent / "bad.toml"
    sw.write_text(f'base = "tiny.toml"\n{body}')
    with pytest.raises(ConfigError) as e:
        load_sweep(sw)
    assert expect in str(e.value)


def test_compare_seeds_make_one_point_per_seed(base):
    from ns3_mfs.experiment.compare import compare_sweep
    from ns3_mfs.experiment.run import load_run_config

    sweep = compare_sweep(load_run_config(base), ["fair", "mfs"], [0.5], seeds=[3, 4, 5])
    assert sorted((p.overrides["policy"], p.config["seed"]) for p in sweep.points) == [
        (pol, s) for pol in ("fair", "mfs") for s in (3, 4, 5)]
    assert {p.config["workload"]["rate_per_s"] for p in sweep.points} == {8.0}


def test_mean_ci_edge_cases():
    from ns3_mfs.analysis.stats import mean_ci

    assert mean_ci([]) [0] == 0
    n, mean, std, lo, hi = mean_ci([2.0])
    assert (n, mean) == (1, 2.0) and math.isnan(std) and math.isnan(lo)
    assert mean_ci([3.0, 3.0, float("nan")]) == (2, 3.0, 0.0, 3.0, 3.0)
    n, mean, std, lo, hi = mean_ci([1.0, 2.0, 3.0, 4.0])
    assert lo < 2.5 < hi and hi - 2.5 == pytest.approx(2.5 - lo)


def test_dry_run_prints_each_points_estimate_and_the_total(replicated, base, tmp_path):
    from ns3_mfs.experiment.sweep import estimate, point_estimate

    out, _ = replicated
    sw = base.parent / "seeds.toml"
    sweep = load_sweep(sw, {"serving.ttft_slo_s": 0.05})
    hops = {p.run_id: point_estimate(p)[0] for p in sweep.points}
    assert all(h > 0 for h in hops.values()) and len(set(hops.values())) > 1  # the seeds draw other prompts
    # A given rate: minutes = estimated packet-hops / rate.
    res = run_cli("sweep", str(sw), "--out", str(tmp_path / "new"), "--dry-run", "--hops-per-s", "1e5",
                  "--set", "serving.ttft_slo_s=0.05")
    assert res.returncode == 0, res.stderr
    lines = {ln.split()[0]: ln.split() for ln in res.stdout.splitlines()[1:] if ln and not ln.startswith("total")}
    assert set(lines) == set(hops) and not (tmp_path / "new").exists()  # nothing run, nothing written
    for run_id, cols in lines.items():
        assert float(cols[2]) == pytest.approx(hops[run_id], rel=1e-2)
        assert float(cols[3]) == pytest.approx(hops[run_id] / 1e5 / 60, abs=0.006)
    total = sum(hops.values())
    assert f"total to run: {total:.3g} packet-hops" in res.stdout and "rate 100 k" in res.stdout
    # The sweep's finished points measure the rate: their estimates over their wall time.
    est = estimate(sweep, out)
    walls = sum(json.loads((out / "runs" / p.run_id / "summary.json").read_text())["wall_s"] for p in sweep.points)
    assert est.rate == pytest.approx(total / walls) and est.source.startswith("measured on the finished points")
    assert est.total_hops == 0 and all(p["state"] == "finished" for p in est.points)
    with pytest.raises(ConfigError, match="--hops-per-s: must be a number > 0"):
        estimate(sweep, out, rate=0.0)
