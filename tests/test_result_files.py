"""Result files: strict JSON (no bare NaN), readable by the group, and the reproduction script's paths."""

import json
import math
import os
import stat

import pytest

from conftest import ROOT, TINY_RUN, run_cli
from ns3_mfs import store


def _strict(text: str):
    """json.loads that refuses NaN, Infinity and -Infinity (what Python's parser accepts by default)."""
    def refuse(name):
        raise ValueError(f"not JSON: {name}")
    return json.loads(text, parse_constant=refuse)


def test_json_bytes_writes_nan_and_infinity_as_null():
    data = {"a": math.nan, "b": [1.0, math.inf, -math.inf], "c": {"d": float("nan"), "e": 2.5}, "f": None}
    parsed = _strict(store.json_bytes(data).decode())
    assert parsed == {"a": None, "b": [1.0, None, None], "c": {"d": None, "e": 2.5}, "f": None}
    with pytest.raises(ValueError, match="not JSON: NaN"):
        _strict('{"x": NaN}')  # the helper itself can fail


def test_read_summary_reads_null_metrics_as_nan(tmp_path):
    store.write_atomic(tmp_path / "summary.json", store.json_bytes({"ttft_mean_s": 0.5, "tpot_mean_s": math.nan,
                                                                   "checks": {"lossless": None}}))
    s = store.read_summary(tmp_path / "summary.json")
    assert s["ttft_mean_s"] == 0.5 and math.isnan(s["tpot_mean_s"]) and s["checks"] == {"lossless": None}


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o077])
def test_result_files_get_the_mode_open_would_give(tmp_path, umask):
    import pandas as pd

    old = os.umask(umask)
    try:
        store.write_atomic(tmp_path / "a.json", b"{}\n")
        store.write_table(tmp_path / "t.parquet", pd.DataFrame({"x": [1]}))
        with open(tmp_path / "plain", "w"):
            pass
    finally:
        os.umask(old)
    want = stat.S_IMODE((tmp_path / "plain").stat().st_mode)
    assert want == 0o666 & ~umask
    for name in ("a.json", "t.parquet"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == want, name


def test_a_serving_run_writes_strict_json_readable_by_the_group(tmp_path):
    """A run without decode has NaN decode metrics: they are null in summary.json, NaN in load_results."""
    import ns3_mfs

    cfg = tmp_path / "run.toml"
    cfg.write_text(TINY_RUN.format(topo=ROOT / "topologies" / "testbed.toml"))
    old = os.umask(0o022)
    try:
        res = run_cli("run", str(cfg), "--out", str(tmp_path / "r"), "--no-progress")
    finally:
        os.umask(old)
    assert res.returncode == 0, res.stderr
    _strict(res.stdout)  # what the command prints is strict JSON too
    out = tmp_path / "r"
    summary = _strict((out / "summary.json").read_text())
    assert summary["tpot_mean_s"] is None and summary["ttft_mean_s"] > 0
    _strict((out / "meta.json").read_text())
    files = [p for p in out.iterdir() if p.is_file()]
    assert {p.name for p in files} >= {"summary.json", "meta.json", "config.toml", "requests.parquet"}
    for p in files:
        assert stat.S_IMODE(p.stat().st_mode) == 0o644, p.name
    df = ns3_mfs.load_results(tmp_path)
    assert "tpot_mean_s" in df.attrs["metric_columns"] and df["tpot_mean_s"].isna().all()


def _documented_problems(out, kind):
    """Columns/keys a run wrote that the result-file reference does not describe."""
    import pandas as pd

    from ns3_mfs.docs_reference import RESULT_FILES, documented

    def schema(*names):
        merged = {}
        for n in names:
            merged.update(RESULT_FILES[n][1])
        return merged

    problems = []
    for path in sorted(out.glob("*.parquet")):
        if path.name == "flows.parquet":
            names = ["flows.parquet (fabric runs)"] + (["flows.parquet (serving runs)"] if kind == "serving" else [])
        else:
            names = [path.name]
            assert path.name in RESULT_FILES, f"{path.name} is not in the result-file reference"
        problems += [f"{path.name}: {c}" for c in documented(pd.read_parquet(path).columns, schema(*names))]
    summary = json.loads((out / "summary.json").read_text())
    problems += [f"summary.json: {k}" for k in
                 documented(summary, schema("summary.json (every run)", f"summary.json ({kind} runs)"))]
    problems += [f"meta.json: {k}" for k in documented(json.loads((out / "meta.json").read_text()),
                                                       schema("meta.json"))]
    return problems


def test_the_result_file_reference_describes_every_column(tmp_path):
    """docs/reference/results.md is generated from RESULT_FILES: it must name every column a run writes."""
    cfg = tmp_path / "run.toml"
    text = TINY_RUN.format(topo=ROOT / "topologies" / "testbed.toml").replace("decode_gpus = 4", "decode_gpus = 8")
    cfg.write_text(text + "\n[serving.decode]\nep = 8\n")
    res = run_cli("run", str(cfg), "--out", str(tmp_path / "s"), "--no-progress")
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "s" / "decode_steps.parquet").exists()
    res = run_cli("fabric", str(ROOT / "topologies" / "testbed.toml"), str(ROOT / "scratch" / "incast.csv"),
                  "--out", str(tmp_path / "f"))
    assert res.returncode == 0, res.stderr
    problems = _documented_problems(tmp_path / "s", "serving") + _documented_problems(tmp_path / "f", "fabric")
    assert not problems, "not in ns3_mfs.docs_reference.RESULT_FILES: " + ", ".join(problems)


def test_documented_flags_undocumented_names():
    from ns3_mfs.docs_reference import documented

    assert documented(["stage2_class3_flows", "ttft_mean_s", "new_col"],
                      {"stage*_class*_flows": "", "ttft_mean_s": ""}) == ["new_col"]
