"""``ns3-mfs compare`` and policies chosen in run configs."""

import re

import pandas as pd
import pytest

from conftest import TINY_RUN as TINY, run_cli
from ns3_mfs.config import ConfigError
from ns3_mfs.experiment.run import run_config_from_dict



def test_compare_runs_every_pair_and_plots(tmp_path, root):
    cfg = tmp_path / "tiny.toml"
    cfg.write_text(TINY.format(topo=root / "topologies/testbed.toml"))
    out = tmp_path / "cmp"
    res = run_cli("compare", str(cfg), "--policies", "fair,mfs,pias", "--rates-per-gpu", "0.25,0.5", "--out", str(out),
                  "--jobs", "2")
    assert res.returncode == 0, res.stderr
    table = pd.read_parquet(out / "compare.parquet")
    assert len(table) == 6 and set(table["policy"]) == {"fair", "mfs", "pias"}
    assert table["error"].isna().all() and (table["completed"] == 3).all()
    for name in ("attainment_vs_rate", "ttft_cdf", "cct_cdf"):
        assert (out / f"{name}.png").stat().st_size > 1000 and (out / f"{name}.pdf").exists()
    assert len(list((out / "runs").glob("[!.]*"))) == 6 and (out / "sweep.json").exists()
    # A second call finds every pair complete and runs nothing again.
    run_id = table.set_index(["policy", "rate_per_gpu"]).loc[("mfs", 0.5), "run_id"]
    mtime = (out / "runs" / run_id / "meta.json").stat().st_mtime_ns
    res = run_cli("compare", str(cfg), "--policies", "fair,mfs,pias", "--rates-per-gpu", "0.25,0.5", "--out", str(out))
    assert res.returncode == 0 and (out / "runs" / run_id / "meta.json").stat().st_mtime_ns == mtime
    assert "compare: 0 ran, 6 already finished, 0 failed" in res.stderr


def test_compare_style_paper_writes_single_column_pdfs(tmp_path, root):
    """``compare --style`` is ``plot --style``: paper = single-column (3.4 in) PDFs only."""
    cfg = tmp_path / "tiny.toml"
    cfg.write_text(TINY.format(topo=root / "topologies/testbed.toml"))
    out = tmp_path / "cmp"
    args = ("compare", str(cfg), "--policies", "fair", "--rates-per-gpu", "0.25", "--out", str(out), "--jobs", "1")
    res = run_cli(*args, "--style", "paper")
    assert res.returncode == 0, res.stderr
    figures = sorted(p.name for p in out.glob("*.p[dn][fg]"))
    assert figures == ["attainment_vs_rate.pdf", "cct_cdf.pdf", "ttft_cdf.pdf"]
    again = run_cli(*args)  # the style is not part of a run: nothing runs again, the figures are redrawn
    assert again.returncode == 0 and "compare: 0 ran, 1 already finished, 0 failed" in again.stderr
    assert (out / "ttft_cdf.png").exists()
    assert run_cli(*args, "--style", "paper").returncode == 0
    box = re.search(rb"/MediaBox \[\s*0 0 ([0-9.]+) ", (out / "ttft_cdf.pdf").read_bytes())
    assert box and 2.5 * 72 < float(box.group(1)) <= 3.4 * 72  # cropped to its content, within one column
    bad = run_cli("compare", str(cfg), "--out", str(tmp_path / "o"), "--style", "poster")
    assert bad.returncode == 2 and "--style: 'poster' is not a style; allowed: screen, paper" in bad.stderr
    assert not (tmp_path / "o").exists()  # refused before any run


def test_compare_refuses_unknown_policies(tmp_path, root):
    cfg = tmp_path / "tiny.toml"
    cfg.write_text(TINY.format(topo=root / "topologies/testbed.toml"))
    res = run_cli("compare", str(cfg), "--policies", "mfs,lifo", "--out", str(tmp_path / "o"))
    assert res.returncode == 2 and "--policies: 'lifo' is not a policy" in res.stderr


def test_policy_tables_in_run_configs_are_validated():
    base = {"topology": {"kind": "testbed"},
            "workload": {"kind": "poisson", "rate_per_s": 1.0, "num_requests": 1,
                         "input": {"kind": "fixed", "value": 10}, "output": {"kind": "fixed", "value": 1}}}
    assert run_config_from_dict({**base, "policy": "mfs", "policies": {"mfs": {"defer": False}}}).policy == "mfs"
    with pytest.raises(ConfigError, match="policy: 'lstf' is not a policy"):
        run_config_from_dict({**base, "policy": "lstf"})
    with pytest.raises(ConfigError, match="policies.mfs.reeval_interval_s: must be > 0.0"):
        run_config_from_dict({**base, "policy": "mfs", "policies": {"mfs": {"reeval_interval_s": 0}}})
    with pytest.raises(ConfigError, match="policies.pias.thresholdz: unknown key"):
        run_config_from_dict({**base, "policies": {"pias": {"thresholdz": [1]}}})
