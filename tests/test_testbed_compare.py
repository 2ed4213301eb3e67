"""``ns3-mfs compare-testbed`` and ``make-measured``: KS distance, relative errors, alignment, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import ROOT, TINY_RUN as TINY, run_cli
from ns3_mfs.analysis.testbed import compare_testbed, ks_distance, ks_pvalue



@pytest.fixture(scope="module")
def sim(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("tb")
    (d / "tiny.toml").write_text(TINY.format(topo=ROOT / "topologies/testbed.toml").replace(
        "num_requests = 3", "num_requests = 6"))
    res = run_cli("run", str(d / "tiny.toml"), "--out", str(d / "run"), "--no-progress")
    assert res.returncode == 0, res.stderr
    return d / "run"


def sim_tables(sim: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    coll = pd.read_parquet(sim / "collectives.parquet")
    return pd.read_parquet(sim / "requests.parquet"), coll[coll["kind"].isin(["dispatch", "combine"])]


# ------------------------------------------------------------------ KS distance


def test_ks_of_identical_samples_is_zero():
    x = np.random.default_rng(0).lognormal(size=500)
    assert ks_distance(x, x) == 0.0 and ks_distance(x, np.random.default_rng(1).permutation(x)) == 0.0
    assert ks_pvalue(0.0, 500, 500) == 1.0


def test_ks_matches_its_definition():
    assert ks_distance([1, 2, 3], [10, 20]) == 1.0                     # disjoint
    assert ks_distance([1, 2, 3, 4], [2.5, 3.5, 4.5, 5.5]) == pytest.approx(0.5)
    assert ks_distance([1, 2, 2, 3], [2, 2, 2, 2]) == pytest.approx(0.25)  # ties: F jumps together
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=300), rng.normal(0.3, 1, size=200)
    grid = np.linspace(-5, 5, 200001)
    brute = np.max(np.abs((a[:, None] <= grid).mean(0) - (b[:, None] <= grid).mean(0)))
    assert ks_distance(a, b) == pytest.approx(brute, abs=2e-3) and ks_distance(a, b) == ks_distance(b, a)
    assert ks_pvalue(ks_distance(a, b), 300, 200) < 0.05 < ks_pvalue(ks_distance(a, a[::-1] + 1e-9), 300, 300)


# ------------------------------------------------------------------ comparisons


def test_noise_free_copy_compares_exactly(sim, tmp_path):
    csv = tmp_path / "m.csv"
    res = run_cli("make-measured", str(sim), str(csv), "--noise", "0")
    assert res.returncode == 0, res.stderr
    out = tmp_path / "rep"
    res = run_cli("compare-testbed", str(csv), str(sim), "--out", str(out))
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[0].split()[:3] == ["metric", "n", "sim/meas"]
    report = json.loads((out / "testbed_report.json").read_text())["metrics"]
    assert set(report) == {"ttft", "cct_dispatch", "cct_combine"}
    for r in report.values():
        assert r["ks_distance"] == 0.0
        for k in ("p50_rel_error", "p90_rel_error", "p99_rel_error", "paired_abs_rel_error_p99"):
            assert r[k] == pytest.approx(0.0, abs=1e-12)
    assert report["ttft"]["aligned_by"] == "request_id" and report["cct_dispatch"]["aligned_by"] == "rank"
    for name in ("ttft", "cct_dispatch", "cct_combine"):
        assert (out / f"{name}_cdf_overlay.png").stat().st_size > 5000
        assert (out / f"{name}_cdf_overlay.pdf").exists()
    assert len(pd.read_csv(out / "testbed_report.csv")) == 3


def test_known_scale_gives_known_relative_errors(sim, tmp_path):
    req, coll = sim_tables(sim)
    csv = tmp_path / "scaled.csv"
    pd.concat([pd.DataFrame({"request_id": req["request_id"], "ttft_s": req["ttft_s"] * 1.25}),
               pd.DataFrame({"kind": coll["kind"], "cct_s": coll["cct_s"] * 0.8})]).to_csv(csv, index=False)
    rep = compare_testbed(csv, sim)
    # simulated / measured - 1: TTFT measured 25 % slower -> -20 %; CCT measured 20 % faster -> +25 %.
    for q in ("p50", "p90", "p99"):
        assert rep["ttft"][f"{q}_rel_error"] == pytest.approx(-0.2)
        assert rep["ttft"][f"paired_abs_rel_error_{q}"] == pytest.approx(0.2)
        assert rep["cct_dispatch"][f"{q}_rel_error"] == pytest.approx(0.25)
    assert rep["ttft"]["paired_rel_error_mean"] == pytest.approx(-0.2)
    assert rep["ttft"]["ks_distance"] > 0


def test_multiplicative_noise_errors_match_the_csv(sim, tmp_path):
    csv = tmp_path / "noisy.csv"
    res = run_cli("make-measured", str(sim), str(csv), "--noise", "0.1", "--seed", "7")
    assert res.returncode == 0 and "6 TTFT rows" in res.stdout
    meas = pd.read_csv(csv)
    req, coll = sim_tables(sim)
    m_ttft = meas.dropna(subset=["ttft_s"]).set_index("request_id")["ttft_s"]
    rel = req.set_index("request_id")["ttft_s"] / m_ttft - 1
    m_cct = meas.dropna(subset=["cct_s"])
    log_err = np.log(m_cct["cct_s"].to_numpy() / coll["cct_s"].to_numpy())  # same row order as the run
    assert abs(log_err.mean()) < 0.03 and 0.08 < log_err.std() < 0.12  # the noise asked for
    rep = compare_testbed(csv, sim, out=tmp_path / "rep")
    for q in (0.5, 0.9, 0.99):
        tag = f"p{round(q * 100)}"
        assert rep["ttft"][f"paired_abs_rel_error_{tag}"] == pytest.approx(np.quantile(np.abs(rel), q))
        assert rep["ttft"][f"{tag}_rel_error"] == pytest.approx(
            np.quantile(req["ttft_s"], q) / np.quantile(m_ttft, q) - 1)
    d = coll[coll["kind"] == "dispatch"]["cct_s"]
    assert rep["cct_dispatch"]["ks_distance"] == pytest.approx(
        ks_distance(d, m_cct[m_cct["kind"] == "dispatch"]["cct_s"]))
    assert 0 < rep["cct_dispatch"]["ks_distance"] < 0.5


def test_no_ids_aligns_by_rank_and_map_renames_columns(sim, tmp_path):
    req, _ = sim_tables(sim)
    csv = tmp_path / "ms.csv"
    pd.DataFrame({"latency_ms": req["ttft_s"].to_numpy()[::-1] * 1e3}).to_csv(csv, index=False)
    res = run_cli("compare-testbed", str(csv), str(sim), "--map", "latency_ms=ttft_ms", "--out", str(tmp_path / "r"))
    assert res.returncode == 0, res.stderr
    r = json.loads((tmp_path / "r" / "testbed_report.json").read_text())["metrics"]["ttft"]
    assert r["aligned_by"] == "rank" and r["paired_abs_rel_error_p99"] == pytest.approx(0, abs=1e-9)
    assert r["ks_distance"] <= 1 / 6 + 1e-9  # ms -> s may move a value by one ulp


@pytest.mark.parametrize("csv_text, args, expect", [
    ("request_id,ttft_s\n0,0.1\n", ["--map", "ttft_s=latency"], "--map: 'latency' is not a column name; allowed:"),
    ("request_id,ttft_s\n0,0.1\n", ["--map", "lat=ttft_s"], "--map: 'lat' is not a column of"),
    ("request_id,latency\n0,0.1\n", [], "needs a ttft_s or cct_s column (or --map yours to them)"),
    ("request_id,ttft_s\n0,0.1\n1,-2\n", [], "line 3: ttft_s: expected a positive number (s), got -2"),
    ("request_id,ttft_s\n0,0.1\n0,0.2\n", [], "request_id: duplicated ids"),
    ("request_id,ttft_s\n99,0.1\n", [], "no request_id is both in the measured CSV and in the simulation"),
    ("kind,cct_s\nalltoall,0.1\n", [], "kind 'alltoall': the simulation has no collectives of that kind"),
])
def test_bad_measured_input_is_refused(sim, tmp_path, csv_text, args, expect):
    csv = tmp_path / "bad.csv"
    csv.write_text(csv_text)
    res = run_cli("compare-testbed", str(csv), str(sim), *args, "--out", str(tmp_path / "o"))
    assert res.returncode == 2 and expect in res.stderr, res.stderr
    assert "Traceback" not in res.stderr


def test_simdir_must_be_a_serving_run(tmp_path):
    csv = tmp_path / "m.csv"
    csv.write_text("ttft_s\n0.1\n")
    res = run_cli("compare-testbed", str(csv), str(tmp_path))
    assert res.returncode == 2 and "no requests.parquet; give the result directory of a serving run" in res.stderr


def test_ks_pvalue_of_small_samples_is_exact():
    from ns3_mfs.analysis.testbed import compare_samples

    # Disjoint samples of 3 and 3: of the C(6, 3) = 20 equally likely orders, 2 give D = 1 -> p = 0.1
    # exactly (the asymptotic formula says 0.033).
    rep = compare_samples(pd.Series([1.0, 2.0, 3.0]), pd.Series([4.0, 5.0, 6.0]), by_id=False)
    assert rep["ks_distance"] == 1.0 and rep["ks_pvalue"] == pytest.approx(0.1)
    assert ks_pvalue(1.0, 3, 3) < 0.05


def test_style_paper_writes_single_column_pdf_overlays(sim, tmp_path):
    csv = tmp_path / "m.csv"
    assert run_cli("make-measured", str(sim), str(csv), "--noise", "0.1").returncode == 0
    out = tmp_path / "rep"
    res = run_cli("compare-testbed", str(csv), str(sim), "--out", str(out), "--style", "paper")
    assert res.returncode == 0, res.stderr
    figs = sorted(p.name for p in out.iterdir() if p.suffix in (".png", ".pdf"))
    assert figs == ["cct_combine_cdf_overlay.pdf", "cct_dispatch_cdf_overlay.pdf", "ttft_cdf_overlay.pdf"]
    bad = run_cli("compare-testbed", str(csv), str(sim), "--out", str(tmp_path / "o"), "--style", "poster")
    assert bad.returncode == 2 and "--style: 'poster' is not a style; allowed: screen, paper" in bad.stderr
    assert not (tmp_path / "o").exists()
