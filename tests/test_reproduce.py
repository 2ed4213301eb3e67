"""The MFS reproduction: the report generator's numbers against the run files (analytic first), the
verdict rule, then scratch/reproduce_mfs.py: arguments, dry-run listing, point order, resume."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ns3_mfs.analysis.reproduction import (Claim, Expected, Setting, a2a_cct, cell, claim_rows, paired, verdict,
                                           write_index, write_page)
from ns3_mfs.analysis.stats import mean_ci

from conftest import ROOT, TINY_MOE


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("reproduce_mfs", ROOT / "scratch" / "reproduce_mfs.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # its dataclasses look their module up
    try:
        spec.loader.exec_module(mod)
        yield mod
    finally:
        sys.modules.pop(spec.name, None)


def fake_run(d: Path, ttft: list[float], cct: list[tuple[int, int, str, float]], pauses: int = 0,
             warmup: int = 1) -> Path:
    """A minimal finished run directory: summary.json, requests (the first ``warmup`` are warm-up, given
    TTFT 99 s so that counting them shows) and collectives (batch, layer, kind, cct)."""
    d.mkdir(parents=True)
    n = len(ttft) + warmup
    t = np.array([99.0] * warmup + ttft)
    req = pd.DataFrame({"request_id": range(n), "arrival_s": np.arange(n, dtype=float), "ttft_s": t,
                        "slo_s": 1.0, "p2d_end_s": np.arange(n) + t - 0.25, "warmup": [True] * warmup + [False] * len(ttft)})
    req.to_parquet(d / "requests.parquet")
    pd.DataFrame([{"batch_id": b, "instance": 0, "layer": layer, "kind": k, "cct_s": c, "measured": True}
                  for b, layer, k, c in cct]).to_parquet(d / "collectives.parquet")
    m = req[~req["warmup"]]
    (d / "summary.json").write_text(json.dumps({
        "requests": len(ttft), "warmup_requests": warmup, "ttft_mean_s": float(m["ttft_s"].mean()),
        "ttft_p50_s": float(m["ttft_s"].median()), "ttft_p99_s": float(m["ttft_s"].quantile(0.99)),
        "ttft_slo_attainment": float((m["ttft_s"] <= 1.0).mean()), "pfc_pause_frames": pauses, "wall_s": 1.0}))
    return d


# --------------------------------------------------------------------------- report generator

def test_a2a_cct_is_dispatch_plus_combine_per_batch_and_layer():
    c = pd.DataFrame({"batch_id": [0, 0, 0, 0, 1], "instance": 0, "layer": [0, 0, 1, 1, 0],
                      "kind": ["dispatch", "combine", "dispatch", "allreduce", "combine"],
                      "cct_s": [1.0, 2.0, 4.0, 8.0, 16.0], "measured": [True, True, True, True, False]})
    assert sorted(a2a_cct(c)) == [3.0, 4.0]  # the all-reduce and the unmeasured collective left out


def test_cell_is_mean_and_half_width_of_the_t_interval():
    n, mean, _, lo, hi = mean_ci([0.010, 0.012, 0.014])
    assert cell([0.010, 0.012, 0.014], "ttft_mean_s") == f"{mean * 1e3:.1f} ± {(hi - lo) / 2 * 1e3:.1f}"
    assert cell([0.5], "ttft_slo_attainment") == "50.0"
    assert cell([], "ttft_mean_s") == "n/a"


@pytest.mark.parametrize("values, kind, paper, expected", [
    ([-0.20, -0.22, -0.18], "change", -0.207, "holds"),
    ([-0.05, -0.06, -0.04], "change", -0.207, "weaker"),      # right side, under half the effect
    ([-0.30, 0.10, -0.25], "change", -0.207, "weaker"),       # interval includes no effect
    ([0.10, 0.12, 0.08], "change", -0.207, "does not hold"),
    ([1.6, 1.5, 1.7], "ratio", 1.5, "holds"),
    ([], "ratio", 1.5, "not measured"),
    ([1.2], "ratio", None, "no paper figure"),
])
def test_verdict_rule(values, kind, paper, expected):
    c = Claim("x", "ttft_mean_s", ("main", "mfs"), ("main", "fair"), paper, kind=kind)
    assert verdict(c, values) == expected


def test_page_numbers_equal_the_run_files_and_missing_points_are_marked(tmp_path):
    runs = tmp_path / "runs"
    exp = [
        Expected("main", "fair", 1.0, 1, fake_run(runs / "f1", [0.2, 0.4], [(0, 0, "dispatch", 1e-3), (0, 0, "combine", 3e-3)], 5), "finished"),
        Expected("main", "fair", 1.0, 2, fake_run(runs / "f2", [0.4, 0.6], [(0, 0, "dispatch", 2e-3), (0, 0, "combine", 2e-3)], 7), "finished"),
        Expected("main", "mfs", 1.0, 1, fake_run(runs / "m1", [0.1, 0.3], [(0, 0, "dispatch", 1e-3), (0, 0, "combine", 1e-3)]), "finished"),
        Expected("main", "mfs", 1.0, 2, runs / "m2", "todo"),
        Expected("main", "mfs", 2.0, 1, runs / "m3", "stale"),
    ]
    setting = Setting("tb", "Testbed", "testbed", "desc", requests=2, warmup=1, seeds=(1, 2), anchor_rate=1.0,
                      claims=(Claim("mean TTFT, MFS vs fair", "ttft_mean_s", ("main", "mfs"), ("main", "fair"),
                                    -0.207, rate="each"),))
    text = write_page(setting, exp, tmp_path / "out", plots=False).read_text()
    rows = {tuple(c.strip() for c in line.split("|")[1:5]): line for line in text.splitlines()
            if line.startswith("| main")}
    fair = rows[("main", "fair", "1", "2/2")]
    # fair: TTFT means 0.3 and 0.5 s (warm-up left out) -> 400 ms, interval from the two seeds.
    cells = [c.strip() for c in fair.split("|")[5:-1]]
    assert cells[0] == cell([0.3, 0.5], "ttft_mean_s") == "400.0 ± 1270.6"
    assert cells[4] == cell([4e-3, 4e-3], "a2a_cct_mean_s") == "4.000 ± 0.000"  # 1 + 3 ms and 2 + 2 ms
    # earliness: deadline (arrival + 1 s) minus P2D end (arrival + ttft - 0.25) = 1.25 - ttft.
    assert cells[9] == cell([1.25 - 0.3, 1.25 - 0.5], "p2d_earliness_mean_s")
    assert cells[10] == cell([5, 7], "pfc_pause_frames")
    assert rows[("main", "mfs", "1", "1/2")].split("|")[5].strip() == "200.0"
    assert "missing" in rows[("main", "mfs", "2", "0/1")]
    # the claim pairs seed 1 only (MFS seed 2 missing): 0.2 / 0.3 - 1
    assert f"{0.2 / 0.3 - 1:+.1%}" in text and "| 1 | does not hold |" not in text
    assert "Reduced run" in text
    assert "2 run(s) have no finished result" in text and "| todo |" in text and "| stale |" in text
    index = write_index([(setting, exp)], tmp_path / "out").read_text()
    assert "[Testbed](tb.md)" in index and "3/5" in index


def test_paired_change_uses_only_seeds_with_both_runs():
    t = pd.DataFrame({"variant": "main", "policy": ["mfs", "mfs", "fair", "fair", "fair"],
                      "rate_per_gpu": 1.0, "seed": [1, 2, 1, 2, 3], "ttft_mean_s": [1.0, 3.0, 2.0, 4.0, 8.0]})
    c = Claim("x", "ttft_mean_s", ("main", "mfs"), ("main", "fair"), -0.2)
    assert paired(t, c, 1.0) == pytest.approx([-0.5, -0.25])
    assert paired(t, Claim("x", "ttft_mean_s", ("main", "mfs"), ("main", "fair"), 2.0, kind="ratio"), 1.0) \
        == pytest.approx([0.5, 0.75])



def test_attainment_claims_get_no_verdict_at_a_saturated_point():
    # The large-scale DBRX point at 0.7 req/s per GPU, one seed: 0.6 % against 0.5 % is "1.20x", not a result.
    t = pd.DataFrame({"variant": "main", "policy": ["mfs", "fair", "mfs", "fair"], "rate_per_gpu": [0.7, 0.7, 0.3, 0.3],
                      "seed": 1, "ttft_slo_attainment": [0.006, 0.005, 0.9, 0.6], "ttft_mean_s": [1.7, 1.75, 0.2, 0.3]})
    att = Claim("att", "ttft_slo_attainment", ("main", "mfs"), ("main", "fair"), 1.4, kind="ratio", rate="each")
    ttft = Claim("ttft", "ttft_mean_s", ("main", "mfs"), ("main", "fair"), -0.2, rate="each")
    s = Setting("x", "x", "large", "", 1024, 512, (1,), claims=(att, ttft))
    rows = {(r["claim"], r["rate"]): r for r in claim_rows(s, t, [0.7, 0.3])}
    assert rows[("att", "0.7")]["verdict"] == "saturated (baseline attainment < 5%)"
    assert rows[("att", "0.7")]["measured (95 % CI)"] == "1.20x"  # the figure stays visible
    assert rows[("att", "0.3")]["verdict"] == "holds"
    assert rows[("ttft", "0.7")]["verdict"] == "weaker"  # only attainment ratios are refused


# --------------------------------------------------------------------------- the script

def tiny_args(tmp_path: Path, *more: str) -> list[str]:
    model = tmp_path / "tiny.toml"
    model.write_text(TINY_MOE)
    return ["--part", "testbed", "--settings", "testbed-qwena-conv", "--topology",
            str(ROOT / "topologies" / "testbed.toml"), "--model", str(model), "--work", str(tmp_path / "work"),
            "--requests", "6", "--warmup", "2", *more]


@pytest.mark.parametrize("argv, message", [
    (["--part", "testbad"], "--part: 'testbad' is not a part; allowed: testbed, large, validate, schedulers"),
    (["--policies", "fast"], "--policies: 'fast' is not a policy"),
    (["--rates", "0"], "--rates: every rate must be a number > 0"),
    (["--rates", "x"], "--rates: expected numbers"),
    (["--seeds", "0"], "--seeds: must be >= 1"),
    (["--work", str(ROOT / "results" / "reference" / "x")], "is inside"),
])
def test_bad_arguments_give_one_line_and_exit_2(script, capsys, argv, message):
    with pytest.raises(SystemExit) as exc:
        script.parse_args(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_unknown_setting_is_one_line_exit_2(script, capsys, tmp_path):
    assert script.main(tiny_args(tmp_path, "--settings", "nowhere", "--rates", "1", "--dry-run")) == 2
    err = capsys.readouterr().err.strip()
    assert "--settings: 'nowhere' is not a setting" in err and len(err.splitlines()) == 1


def test_dry_run_lists_every_point_and_runs_nothing(script, capsys, tmp_path):
    assert script.main(tiny_args(tmp_path, "--rates", "1", "2", "--policies", "mfs", "fair", "--seeds", "2",
                                 "--dry-run")) == 0
    out = capsys.readouterr().out
    lines = [ln for ln in out.splitlines() if ln.startswith("  ")]
    # (2 rates x 2 policies + 11 ablations + the collectives-only pair) x 2 seeds
    assert len(lines) == (2 * 2 + 11 + 1) * 2
    assert "part testbed: 32 runs, 32 to run" in out and "total: about" in out
    assert not (tmp_path / "work" / "testbed" / "runs").exists()


def test_points_run_seed_by_seed_anchor_rate_first(script, tmp_path):
    args = script.parse_args(tiny_args(tmp_path, "--rates", "0.5", "1.2", "3", "--policies", "mfs", "fair",
                                       "--seeds", "2"))
    plans = script.plans_of(args)
    its = script.items(plans)
    assert plans[0].setting.anchor_rate == 1.2
    seeds = [it.seed for it in its]
    assert seeds == sorted(seeds)  # every seed-1 point before any seed-2 point
    first = its[: 2 + 11 + 1]  # the anchor's policies, then its ablations and contention pair
    assert all(it.rate == 1.2 and it.seed == 1 for it in first)
    assert [it.variant for it in first[:2]] == ["main", "main"]
    assert {it.variant for it in first[2:]} == {f"ablation:{sw} off" for sw in script.ABLATIONS} | {"collectives only"}
    assert {"ablation:atomic off", "ablation:late_low off"} < {it.variant for it in first}  # issue 15's fixes
    assert [it.rate for it in its[14:18]] == [0.5, 0.5, 3.0, 3.0]  # then by distance from the anchor


def test_capacity_estimate_gives_rates_spanning_saturation(script):
    opt = script.Options(requests=64, warmup=32, seeds=(1,), policies=("fair",))
    plan = script.testbed_plans(opt)[0]
    rates = sorted({r for _, _, r in plan.runs})
    assert len(rates) >= 5 and rates[-1] / rates[0] == pytest.approx(1.3 / 0.4, rel=0.1)
    assert 0.3 < plan.setting.anchor_rate < 3.0  # QwenA-Conv-like on the testbed: about 1 req/s per GPU


def test_large_dbrx_grid_holds_the_papers_rate_unless_rates_are_given(script):
    opt = script.Options(requests=64, warmup=32, seeds=(1,), policies=("fair",))
    dbrx = next(p for p in script.large_plans(opt) if p.setting.name == "large-dbrx")
    assert 0.7 in {r for _, _, r in dbrx.runs}
    opt = script.Options(requests=64, warmup=32, seeds=(1,), policies=("fair",), rates=(0.3,))
    dbrx = next(p for p in script.large_plans(opt) if p.setting.name == "large-dbrx")
    assert {r for _, _, r in dbrx.runs} == {0.3}  # --rates is obeyed


@pytest.mark.slow
def test_a_second_run_runs_nothing_and_the_page_shows_the_runs(script, capsys, tmp_path):
    argv = tiny_args(tmp_path, "--seeds", "1", "--rates", "1", "--policies", "mfs", "fair", "--variants", "main")
    assert script.main(argv) == 0
    assert "testbed: 2 ran, 0 already finished, 0 failed" in capsys.readouterr().out
    assert script.main(argv) == 0
    assert "testbed: 0 ran, 2 already finished, 0 failed" in capsys.readouterr().out
    page = (tmp_path / "work" / "testbed-qwena-conv.md").read_text()
    runs = sorted(d for d in (tmp_path / "work" / "testbed" / "runs").iterdir() if d.is_dir())
    assert len(runs) == 2
    for d in runs:  # each run's mean TTFT is a cell of the page (one seed: no interval)
        assert f"| {json.loads((d / 'summary.json').read_text())['ttft_mean_s'] * 1e3:.1f} |" in page
    assert "Reduced run" in page and "None: every expected run has finished." in page
    # Another code version made one run (its meta.json says so): the report calls it stale, never a number,
    # unless --report --accept-stale, which counts it and names it on the page.
    meta = runs[0] / "meta.json"
    m = json.loads(meta.read_text())
    m["identity"]["code"]["python_sha256"] = m["identity"]["key"] = "0" * 64
    meta.write_text(json.dumps(m))
    assert script.main(argv + ["--report"]) == 0
    page = (tmp_path / "work" / "testbed-qwena-conv.md").read_text()
    assert "**Runs:** 1 of 2 finished" in page and "| stale |" in page
    assert script.main(argv + ["--report", "--accept-stale"]) == 0
    page = (tmp_path / "work" / "testbed-qwena-conv.md").read_text()
    assert "**Runs:** 2 of 2 finished" in page and f"**Made by another code version:** 1 run(s) ({runs[0].name})" in page
    with pytest.raises(SystemExit) as exc:  # a run never takes a stale result
        script.main(argv + ["--accept-stale"])
    assert exc.value.code == 2


def test_pages_go_to_the_work_directory_and_publish_copies_pages_and_plots_only(script, tmp_path, monkeypatch):
    ref = tmp_path / "reference"
    monkeypatch.setattr(script, "REFERENCE", ref)
    argv = tiny_args(tmp_path, "--seeds", "1", "--rates", "1", "--policies", "fair", "--variants", "main", "--report")
    assert script.main(argv) == 0
    work = tmp_path / "work"
    assert (work / "testbed-qwena-conv.md").exists() and (work / "README.md").exists() and not ref.exists()
    assert "| main | fair | 1 | 0/1 |" in (work / "testbed-qwena-conv.md").read_text()  # nothing ran
    (work / "testbed-qwena-conv").mkdir()
    (work / "testbed-qwena-conv" / "attainment_vs_rate.png").write_bytes(b"png")
    (work / "testbed" / "runs").mkdir(parents=True)
    assert script.main(argv + ["--publish"]) == 0
    assert sorted(p.relative_to(ref).as_posix() for p in ref.rglob("*") if p.is_file()) == [
        "README.md", "testbed-qwena-conv.md", "testbed-qwena-conv/attainment_vs_rate.png"]


def test_scheduler_pages_compare_variants_at_each_rate_and_plot_them(tmp_path):
    runs = tmp_path / "runs"
    exp = []
    for i, (variant, ttft) in enumerate((("fcfs", [0.4, 0.6]), ("kairos", [0.3, 0.5]))):
        for j, rate in enumerate((1.0, 2.0)):
            d = fake_run(runs / f"{i}{j}", [t * rate for t in ttft], [(0, 0, "dispatch", 1e-3)])
            exp.append(Expected(variant, "fair", rate, 1, d, "finished"))
    setting = Setting("sch", "Schedulers", "schedulers", "desc", requests=2, warmup=1, seeds=(1,), anchor_rate=1.0,
                      claims=(Claim("mean TTFT", "ttft_mean_s", ("kairos", "fair"), ("fcfs", "fair"), -0.178,
                                    rate="each"),))
    text = write_page(setting, exp, tmp_path / "out").read_text()
    assert text.count(f"| mean TTFT | 1 | -17.8% | {0.4 / 0.5 - 1:+.1%} | 1 | holds |") == 1
    assert text.count(f"| mean TTFT | 2 | -17.8% | {0.4 / 0.5 - 1:+.1%} | 1 | holds |") == 1
    assert (tmp_path / "out" / "sch" / "attainment_vs_rate.png").exists()
    assert "![TTFT CDF](sch/ttft_cdf.png)" in text


def test_trace_replications_replay_different_windows(script):
    opt = script.Options(requests=64, warmup=32, seeds=(1, 2, 3), rates=(0.1,), policies=("fair",))
    plan = next(p for p in script.testbed_plans(opt) if p.setting.name == "testbed-mooncake")
    cfg = plan.runs[("main", "fair", 0.1)]
    starts = [script.seeded(cfg, s).workload.start_s for s in (1, 2, 3, 6)]
    assert starts == [0.0, 600.0, 1200.0, 0.0]
    its = script.items([plan], ["main"])
    assert len({it.point.run_id for it in its}) == 3


@pytest.mark.slow
def test_validation_page_compares_the_models_run_by_run(tmp_path):
    import dataclasses

    from conftest import TINY_RUN
    from ns3_mfs.experiment.run import load_run_config, run
    from ns3_mfs.fabric import FabricConfig

    cfg_file = tmp_path / "tiny.toml"
    cfg_file.write_text(TINY_RUN.format(topo=ROOT / "topologies" / "testbed.toml"))
    base = load_run_config(cfg_file)
    exp = []
    for model in ("packet", "flow"):
        for policy in ("mfs", "fair"):
            d = tmp_path / "runs" / f"{model}-{policy}"
            run(dataclasses.replace(base, policy=policy, fabric=FabricConfig(model=model, cc="none")), out=d)
            exp.append(Expected(model, policy, 1.0, 1, d, "finished"))
    setting = Setting("val", "Validate", "validate", "desc", requests=3, warmup=0, seeds=(1,), anchor_rate=1.0,
                      claims=(Claim("packet: TTFT", "ttft_mean_s", ("packet", "mfs"), ("packet", "fair"), None),))
    text = write_page(setting, exp, tmp_path / "out").read_text()
    section = text[text.index("## Flow model against packet model"):text.index("## Plots")]
    assert section.count("| ttft |") == 2 and "| mfs |" in section and "| fair |" in section
    assert "| packet: TTFT | 1 | — | " in text and "| not measured |" not in text
