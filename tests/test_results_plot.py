"""``ns3-mfs results`` and ``ns3-mfs plot`` on a small sweep, a fabric run and a hand-made tree."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
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


# --------------------------------------------------------------------------- #
# paper-ready figures: units, series, bands, log ticks, queue plots, styles
# --------------------------------------------------------------------------- #

from ns3_mfs.analysis import plots, style as fig_style  # noqa: E402
from ns3_mfs.analysis.ports import paused_intervals, port_peers  # noqa: E402


def legend_texts(fig) -> list[str]:
    leg = fig.axes[0].get_legend()
    return [t.get_text() for t in leg.get_texts()] if leg else []


def tick_values(ax, axis="y") -> list[float]:
    lo, hi = sorted(ax.get_ylim() if axis == "y" else ax.get_xlim())
    ticks = ax.get_yticks() if axis == "y" else ax.get_xticks()
    return [t for t in ticks if lo <= t <= hi]


def test_time_axes_in_their_natural_unit(sweep_dir):
    fig = plots.figure(sweep_dir, "sweep", x="workload.rate_per_s", y="cct_mean_s", hue="policy")
    ax = fig.axes[0]
    assert ax.get_ylabel() == "mean all-to-all CCT (\u00b5s)"  # CCTs are ~100-200 us
    cct = pd.read_parquet(sweep_dir / "results.parquet")["cct_mean_s"]
    ys = np.concatenate([ln.get_ydata() for ln in ax.get_lines()])
    assert sorted(set(np.round(ys, 6))) == sorted(set(np.round(cct.to_numpy() * 1e6, 6)))
    fig = plots.figure(sweep_dir, "ttft-cdf", hue="policy")
    assert fig.axes[0].get_xlabel() == "TTFT (ms)" and fig.axes[0].get_ylabel() == "CDF (fraction)"


def test_series_have_own_style_and_sample_size_in_legend(sweep_dir):
    fig = plots.figure(sweep_dir, "sweep", x="workload.rate_per_s", y="ttft_mean_s", hue="policy")
    lines = [ln for ln in fig.axes[0].get_lines() if len(ln.get_xdata())]
    assert len({(ln.get_linestyle(), ln.get_marker()) for ln in lines}) == len(lines) == 2
    assert legend_texts(fig) == ["fair (n=1)", "mfs (n=1)"]
    assert fig.axes[0].get_legend().get_title().get_text() == "policy"
    fig = plots.figure(sweep_dir, "cct-cdf", hue="policy")
    counts = [int(t.split("n=")[1].rstrip(")")) for t in legend_texts(fig)]
    a2a = sum(len(pd.read_parquet(p).query("kind in ['dispatch', 'combine']"))
              for p in (sweep_dir / "runs").glob("*/collectives.parquet"))
    assert sum(counts) == a2a  # every all-to-all of every run, counted per policy


def test_coinciding_series_are_noted_in_the_legend():
    df = pd.DataFrame({"rate": [1, 2, 1, 2, 1, 2], "policy": ["a", "a", "b", "b", "c", "c"],
                       "ttft_mean_s": [0.01, 0.02, 0.01, 0.02, 0.03, 0.05]})
    with fig_style.use(fig_style.STYLES["screen"]):
        fig = plots.line_figure(df, "rate", "ttft_mean_s", "policy", fig_style.STYLES["screen"])
    assert legend_texts(fig) == ["a (n=1)", "b (n=1), same as a", "c (n=1)"]
    assert fig.axes[0].get_ylabel() == "mean TTFT (ms)"


def band_extent(ax) -> list[tuple[float, float]]:
    from matplotlib.collections import PolyCollection

    polys = [c for c in ax.collections if isinstance(c, PolyCollection)]
    return [(float(p.get_paths()[0].vertices[:, 1].min()), float(p.get_paths()[0].vertices[:, 1].max()))
            for p in polys]


def test_ci_band_from_the_tables_ci_columns_and_from_replications():
    style = fig_style.STYLES["screen"]
    table = pd.DataFrame({"rate": [1.0, 2.0], "policy": ["mfs", "mfs"], "cct_mean_s": [2e-4, 3e-4],
                          "cct_mean_s_ci_low": [1.5e-4, 2.5e-4], "cct_mean_s_ci_high": [2.5e-4, 4e-4],
                          "cct_mean_s_n": [5, 5]})
    with fig_style.use(style):
        fig = plots.line_figure(table, "rate", "cct_mean_s", "policy", style)
    assert band_extent(fig.axes[0]) == [pytest.approx((150.0, 400.0))]  # in us, as the axis
    assert legend_texts(fig) == ["mfs (n=5)"]
    assert any(t.get_text() == "bands: 95 % CI" for t in fig.axes[0].texts)
    reps = pd.DataFrame({"rate": [1.0] * 3 + [2.0] * 3, "seed": [1, 2, 3] * 2,
                         "ttft_slo_attainment": [0.8, 0.9, 1.0, 0.5, 0.6, 0.7]})
    with fig_style.use(style):
        fig = plots.line_figure(reps, "rate", "ttft_slo_attainment", None, style)
    from scipy import stats

    half = stats.t.ppf(0.975, 2) * 0.1 / np.sqrt(3)  # t(0.975, 2) x sd / sqrt(n)
    assert band_extent(fig.axes[0]) == [pytest.approx((0.6 - half, 0.9 + half))]
    assert legend_texts(fig) == ["n=3"]


@pytest.mark.parametrize("lo, hi", [(2e-3, 5e-2), (1e-6, 1e-1), (3e-4, 9e-4)])
def test_log_axis_tick_labels_never_collide(lo, hi):
    """Values over 1.4, 5 and 0.5 decades: log axes beyond a decade; no two tick labels overlap."""
    style = fig_style.STYLES["paper"]
    rng = np.random.default_rng(1)
    values = {"x": np.exp(rng.uniform(np.log(lo), np.log(hi), 400)), "y": np.array([lo, hi])}
    with fig_style.use(style):
        fig = plots.ecdf_figure(values, "cct_s", style)
        fig.canvas.draw()
        ax = fig.axes[0]
        shown = [t for t in ax.get_xticklabels() if t.get_text() and t.get_visible()]
        lo_x, hi_x = ax.get_xlim()
        shown = [t for t in shown if lo_x <= t.get_position()[0] <= hi_x]
        boxes = sorted((t.get_window_extent() for t in shown), key=lambda b: b.x0)
        assert ax.get_xscale() == ("log" if hi / lo > 10 else "linear") and len(boxes) >= 2
        assert all(a.x1 < b.x0 for a, b in zip(boxes, boxes[1:])), [t.get_text() for t in shown]
        assert not any(t.get_text() for t in ax.get_xticklabels(minor=True))


def test_pfc_timeline_window_and_fraction_view(pfc_run):
    fig = plots.figure(pfc_run, "pfc-timeline", window="0.1ms:0.3ms", view="bars")
    ax = fig.axes[0]
    assert ax.get_xlim() == pytest.approx((100.0, 300.0)) and "simulated time (\u00b5s)" in ax.get_xlabel()
    names = [t.get_text() for t in ax.get_yticklabels()]
    assert "switch:1→nic1 c3" in names and ax.get_ylabel() == "switch:port→peer, class"
    fig = plots.figure(pfc_run, "pfc-timeline", view="fraction")
    ax = fig.axes[0]
    mesh = ax.collections[0]
    frac = np.asarray(mesh.get_array()).reshape(len(ax.get_yticklabels()), -1)
    assert frac.min() >= 0 and frac.max() <= 1
    pfc = pd.read_parquet(pfc_run / "pfc.parquet")
    spans = paused_intervals(pfc, port_peers(pfc_run))
    t0, t1 = pfc["time_s"].min(), pfc["time_s"].max()
    row = [t.get_text() for t in ax.get_yticklabels()].index("switch:1→nic1 c3")
    sp = spans[spans["queue"] == "switch:1→nic1 c3"]
    assert frac[row].mean() == pytest.approx((sp["end_s"] - sp["start_s"]).sum() / (t1 - t0), rel=1e-6)
    assert fig.axes[1].get_ylabel() == "fraction of time paused"  # the colour bar


def test_pfc_timeline_stays_readable_at_100k_pauses(tmp_path):
    rng = np.random.default_rng(3)
    n, queues = 100_000, 64
    node = np.full(2 * n, 40)
    port = np.repeat(rng.integers(0, queues, n), 2)
    start = np.sort(rng.uniform(0, 0.05, n))
    times = np.column_stack([start, start + rng.uniform(1e-7, 5e-6, n)]).ravel()
    kinds = np.tile(["pause", "resume"], n)
    pd.DataFrame({"time_s": times, "node": node, "node_name": "leaf0", "port": port, "priority": 3,
                  "kind": kinds}).to_parquet(tmp_path / "pfc.parquet")
    fig = plots.figure(tmp_path, "pfc-timeline")  # auto: the fraction view
    ax = fig.axes[0]
    assert len(ax.get_yticklabels()) == plots.MAX_ROWS
    assert ax.get_title().startswith("100,000 PAUSE frames from 64 switch queues (the 40 most paused shown)")
    assert ax.get_xlabel() == "simulated time (ms)" and ax.get_yticklabels()[0].get_text().startswith("leaf0:")


def test_queue_heatmap_on_a_real_time_axis_with_named_ports(pfc_run):
    fig = plots.figure(pfc_run, "queue-heatmap")
    ax = fig.axes[0]
    q = pd.read_parquet(pfc_run / "queues.parquet")
    assert ax.get_xlabel() == "simulated time (ms)"
    assert ax.get_xlim() == pytest.approx((q["time_s"].min() * 1e3, q["time_s"].max() * 1e3))
    names = [t.get_text() for t in ax.get_yticklabels()]
    assert names == ["switch:0→nic0 c1", "switch:0→nic0 c3"]  # the incast's receiver port
    grid = np.asarray(ax.collections[0].get_array()).reshape(len(names), -1)
    assert (grid.max(axis=1) > 0).all()  # no empty row
    assert grid.max() == pytest.approx(q["bytes"].max() / 1e3)  # KB
    fig = plots.figure(pfc_run, "queue-heatmap", window="1ms:")  # ~0.4 ms left: in us
    assert fig.axes[0].get_xlim() == pytest.approx((1000.0, q["time_s"].max() * 1e6))
    assert fig.axes[0].get_xlabel() == "simulated time (\u00b5s)"


def test_paper_style_single_column_pdf(sweep_dir, tmp_path):
    res = run_cli("plot", str(sweep_dir), "--kind", "attainment", "--style", "paper", "--out", str(tmp_path / "a"))
    assert res.returncode == 0, res.stderr
    assert written(res.stdout) == [tmp_path / "a.pdf"]
    assert (tmp_path / "a.pdf").read_bytes().startswith(b"%PDF")
    fig = plots.figure(sweep_dir, "attainment", style="paper")
    assert fig.get_size_inches()[0] == pytest.approx(3.4)
    assert fig.axes[0].xaxis.label.get_fontsize() == 8.0


@pytest.mark.parametrize("args, expect", [
    (["--kind", "sweep", "--style", "poster"], "--style: 'poster' is not a style; allowed: screen, paper"),
    (["--kind", "sweep", "--window", "1:2"], "--window: not used by --kind sweep"),
    (["--kind", "cct-cdf", "--view", "bars"], "--view: not used by --kind cct-cdf"),
])
def test_style_window_view_errors(sweep_dir, args, expect):
    res = run_cli("plot", str(sweep_dir), *args)
    assert res.returncode == 2 and expect in res.stderr and "Traceback" not in res.stderr


@pytest.mark.parametrize("args, expect", [
    (["--window", "3ms:1ms"], "--window: the end must be after the start"),
    (["--window", "soon"], "--window: 'soon' is not START:END"),
    (["--view", "pie"], "--view: 'pie' is not a view; allowed: auto, bars, fraction"),
])
def test_window_and_view_errors_on_one_run(pfc_run, args, expect):
    res = run_cli("plot", str(pfc_run), "--kind", "pfc-timeline", *args)
    assert res.returncode == 2 and expect in res.stderr and "Traceback" not in res.stderr


def fake_run(d: Path, policy: str, rate: float, seed: int, ttft: float) -> None:
    d.mkdir(parents=True)
    (d / "config.toml").write_text(f'policy = "{policy}"\nseed = {seed}\n[workload]\nrate_per_s = {rate}\n')
    (d / "summary.json").write_text(json.dumps({"ttft_mean_s": ttft, "ttft_slo_attainment": 1.0}))
    (d / "meta.json").write_text(json.dumps({"status": "complete"}))


def test_seeds_are_pooled_into_a_mean_with_a_band(tmp_path):
    rng = np.random.default_rng(0)
    for policy, base in (("fair", 0.05), ("mfs", 0.03)):
        for rate in (1.0, 2.0):
            for seed in (1, 2, 3):
                fake_run(tmp_path / f"{policy}-{rate}-{seed}", policy, rate, seed, base * rate + rng.uniform(0, 0.004))
    fig = plots.figure(tmp_path, "sweep")  # x: the rate, hue: the policy, never the seed
    ax = fig.axes[0]
    assert ax.get_xlabel() == "request rate (req/s)" and ax.get_ylabel() == "mean TTFT (ms)"
    assert legend_texts(fig) == ["fair (n=3)", "mfs (n=3)"]
    table = collect(tmp_path)
    for (lo, hi), policy in zip(band_extent(ax), ("fair", "mfs")):
        vals = table[table["policy"] == policy]["ttft_mean_s"] * 1e3
        assert lo < vals.min() and hi > vals.max() and hi < 200
