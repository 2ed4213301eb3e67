"""vLLM benchmark results in: the replay workload and ``compare-testbed`` on TTFT, TPOT, ITL and E2E."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import ROOT, run_cli
from ns3_mfs.config import ConfigError
from ns3_mfs.serving.requests import WorkloadConfig, generate
from ns3_mfs.serving.vllm_bench import load_vllm
from ns3_mfs.config import from_dict

#: A hand-written benchmark_serving.py --save-result file: 4 requests at 2 req/s, Poisson.
BENCH = {
    "date": "20260101-120000", "backend": "vllm", "model_id": "mistralai/Mixtral-8x7B-v0.1",
    "tokenizer_id": "mistralai/Mixtral-8x7B-v0.1", "num_prompts": 4, "request_rate": 2.0, "burstiness": 1.0,
    "max_concurrency": None, "duration": 3.1, "completed": 4, "total_input_tokens": 1100,
    "total_output_tokens": 18, "request_throughput": 1.29, "mean_ttft_ms": 61.0, "median_ttft_ms": 60.0,
    "p99_ttft_ms": 80.0, "mean_tpot_ms": 20.0, "median_tpot_ms": 20.0, "p99_tpot_ms": 22.0,
    "mean_itl_ms": 20.0, "median_itl_ms": 20.0, "p99_itl_ms": 22.0, "mean_e2el_ms": 150.0,
    "median_e2el_ms": 140.0, "p99_e2el_ms": 200.0,
    "input_lens": [200, 300, 250, 350], "output_lens": [4, 6, 3, 5],
    "ttfts": [0.05, 0.06, 0.055, 0.08],
    "itls": [[0.02, 0.021, 0.019], [0.02] * 5, [0.022, 0.02], [0.02, 0.02, 0.021, 0.02]],
    "generated_texts": ["a b c d", "a b c d e f", "a b c", "a b c d e"], "errors": ["", "", "", ""],
}

RUN = """
topology = "{topo}"
policy = "fair"
[serving]
prefill_gpus = 16
decode_gpus = 4
[serving.decode]
policy = "continuous"
kv_capacity_tokens = 100000
[workload]
kind = "vllm"
trace = "{bench}"
seed = 3
"""


def write(path: Path, obj) -> Path:
    path.write_text(json.dumps(obj) if not isinstance(obj, str) else obj)
    return path


def test_reading_follows_vllms_definitions(tmp_path):
    res = load_vllm(write(tmp_path / "b.json", BENCH))
    assert len(res) == 4 and res.input_lens.tolist() == [200, 300, 250, 350]
    e2e0 = 0.05 + 0.02 + 0.021 + 0.019
    assert res.e2e_s[0] == pytest.approx(e2e0)
    assert res.tpot_s[0] == pytest.approx((e2e0 - 0.05) / 3)
    assert len(res.itl_samples_s) == 3 + 5 + 2 + 4
    # a failed request keeps its place, with no metrics
    bad = dict(BENCH, errors=["", "timeout", "", ""])
    res = load_vllm(write(tmp_path / "f.json", bad))
    assert np.isnan(res.ttft_s[1]) and len(res.itl_samples_s) == 3 + 2 + 4
    # an explicit e2el list wins over ttft + sum(itls)
    res = load_vllm(write(tmp_path / "e.json", dict(BENCH, e2el=[0.2, 0.3, 0.25, 0.35])))
    assert res.e2e_s.tolist() == [0.2, 0.3, 0.25, 0.35]


@pytest.mark.parametrize("text, expect", [
    (json.dumps(BENCH)[:300], "truncated JSON"),
    ('{"traceEvents": [], "displayTimeUnit": "ms"}', "not a vLLM benchmark result"),
    ('[1, 2, 3]', "not a vLLM benchmark result (a JSON list)"),
    (json.dumps(dict(BENCH, output_lens=[4, 6])), "output_lens: 2 values but input_lens has 4"),
    (json.dumps(dict(BENCH, ttfts=[0.05, "x", 0.1, 0.1])), "ttfts[1]: expected a number >= 0"),
])
def test_bad_files_are_one_short_line(tmp_path, text, expect):
    f = write(tmp_path / "m.json", text)
    with pytest.raises(ConfigError, match=None) as err:
        load_vllm(f)
    assert expect in str(err.value) and "\n" not in str(err.value) and len(str(err.value)) < 200


def test_replay_workload_has_the_files_prompts_and_its_arrival_rate(tmp_path):
    n = 4000
    big = dict(BENCH, input_lens=list(range(1, n + 1)), output_lens=[2] * n, ttfts=[0.1] * n, itls=[[0.02]] * n,
               errors=[""] * n, request_rate=4.0, burstiness=0.25)
    f = write(tmp_path / "big.json", big)
    reqs = generate(from_dict(WorkloadConfig, {"kind": "vllm", "trace": str(f), "seed": 1}))
    assert [r.input_tokens for r in reqs] == list(range(1, n + 1)) and {r.output_tokens for r in reqs} == {2}
    gaps = np.diff([r.arrival_s for r in reqs])
    assert reqs[0].arrival_s == 0.0
    assert gaps.mean() == pytest.approx(1 / 4.0, rel=0.05)
    # gamma gaps of shape burstiness: coefficient of variation 1 / sqrt(burstiness) = 2
    assert gaps.std() / gaps.mean() == pytest.approx(2.0, rel=0.08)
    inf = write(tmp_path / "inf.json", dict(BENCH, request_rate="inf"))
    reqs = generate(from_dict(WorkloadConfig, {"kind": "vllm", "trace": str(inf), "num_requests": 3}))
    assert [r.arrival_s for r in reqs] == [0.0, 0.0, 0.0] and len(reqs) == 3
    with pytest.raises(ConfigError, match="workload.input: not used when kind = 'vllm'"):
        from_dict(WorkloadConfig, {"kind": "vllm", "trace": str(inf), "input": {"kind": "fixed", "value": 3}},
                  "workload")


@pytest.fixture(scope="module")
def replay(tmp_path_factory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("vllm")
    bench = write(d / "bench.json", BENCH)
    (d / "run.toml").write_text(RUN.format(topo=ROOT / "topologies/testbed.toml", bench=bench))
    res = run_cli("run", str(d / "run.toml"), "--out", str(d / "run"), "--no-progress")
    assert res.returncode == 0, res.stderr
    return bench, d / "run"


def test_compare_reports_all_four_metrics_paired_by_order(replay, tmp_path):
    bench, run = replay
    res = run_cli("compare-testbed", str(bench), str(run), "--out", str(tmp_path / "rep"))
    assert res.returncode == 0, res.stderr
    rep = json.loads((tmp_path / "rep" / "testbed_report.json").read_text())["metrics"]
    assert set(rep) == {"ttft", "tpot", "itl", "e2e"}
    for name in ("ttft", "tpot", "e2e"):
        assert rep[name]["aligned_by"] == "order" and rep[name]["n_paired"] == 4, name
    assert rep["itl"]["aligned_by"] == "rank" and rep["itl"]["n_measured"] == 14
    for name in rep:
        assert (tmp_path / "rep" / f"{name}_cdf_overlay.png").exists()
    # the measured medians are the file's own numbers
    assert rep["ttft"]["measured_p50_s"] == pytest.approx(np.median(BENCH["ttfts"]))


def test_the_runs_own_numbers_plus_an_offset_compare_exactly(replay, tmp_path):
    bench, run = replay
    req = pd.read_parquet(run / "requests.parquet").sort_values("request_id")
    offset = 0.035  # client-side time (HTTP, tokenisation) the model does not simulate
    itls = [[t] * (n - 1) for t, n in zip(req["tpot_s"], req["output_tokens"])]
    measured = dict(BENCH, ttfts=(req["ttft_s"] + offset).tolist(), itls=itls,
                    e2el=(req["e2e_s"] + offset).tolist())
    f = write(tmp_path / "own.json", measured)
    res = run_cli("compare-testbed", str(f), str(run), "--ttft-offset-ms", "35", "--out", str(tmp_path / "r"))
    assert res.returncode == 0, res.stderr
    rep = json.loads((tmp_path / "r" / "testbed_report.json").read_text())["metrics"]
    for name in ("ttft", "tpot", "e2e"):
        assert rep[name]["paired_abs_rel_error_p99"] == pytest.approx(0, abs=1e-9), name
        for q in ("p50", "p90", "p99"):
            assert rep[name][f"{q}_rel_error"] == pytest.approx(0, abs=1e-9), name
    # without the offset, TTFT is off by exactly offset / ttft per request
    rel = offset / req["ttft_s"].to_numpy()
    from ns3_mfs.analysis.testbed import compare_vllm

    rep0 = compare_vllm(f, run)
    assert rep0["ttft"]["paired_abs_rel_error_p50"] == pytest.approx(np.quantile(rel / (1 + rel), 0.5))


def test_other_prompts_are_aligned_by_rank(replay, tmp_path):
    bench, run = replay
    f = write(tmp_path / "other.json", dict(BENCH, input_lens=[10, 20, 30, 40]))
    from ns3_mfs.analysis.testbed import compare_vllm

    rep = compare_vllm(f, run)
    assert all(r["aligned_by"] == "rank" for r in rep.values())


@pytest.mark.parametrize("text", [json.dumps(BENCH)[:-40], '{"hello": "world", "columns": [1, 2, 3]}'])
def test_cli_refuses_truncated_or_foreign_json_in_one_line(replay, tmp_path, text):
    _, run = replay
    f = write(tmp_path / "m.json", text)
    res = run_cli("compare-testbed", str(f), str(run), "--out", str(tmp_path / "o"))
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1 and len(res.stderr) < 200, res.stderr
    # given as CSV on purpose, a JSON is not echoed either
    res = run_cli("compare-testbed", str(f), str(run), "--format", "csv", "--out", str(tmp_path / "o"))
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and len(res.stderr) < 200, res.stderr
