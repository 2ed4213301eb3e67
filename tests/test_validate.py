"""``ns3-mfs validate``: both models on one config, paired errors, KS, CDFs, a tidy table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import ROOT, TINY_RUN, run_cli
from ns3_mfs.analysis.validation import ks_distance, pair, same_order


def test_ks_distance_is_the_largest_cdf_gap():
    assert ks_distance([1, 2, 3], [1, 2, 3]) == 0.0
    assert ks_distance([1, 2], [3, 4]) == 1.0
    # F_a jumps to 0.5 at 1 and 1 at 3; F_b is 0 until 2, 1 from 2: largest gap 0.5 (at 1 and at 2).
    assert ks_distance([1, 3], [2, 2]) == 0.5
    assert ks_distance([1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 10.0]) == 0.25


def test_pair_matches_duplicates_in_order_and_skips_unmatched():
    packet = pd.DataFrame({"stage": ["a", "a", "b", "c"], "fct_s": [1.0, 2.0, 4.0, 1.0]})
    flow = pd.DataFrame({"stage": ["b", "a", "a"], "fct_s": [5.0, 1.1, 1.8]})
    p = pair(packet, flow, ("stage",), "fct_s").sort_values(["stage", "packet"]).reset_index(drop=True)
    assert list(p["stage"]) == ["a", "a", "b"]
    assert list(p["packet"]) == [1.0, 2.0, 4.0]
    assert list(p["flow"]) == [1.1, 1.8, 5.0]
    assert list(p["rel_err"]) == pytest.approx([0.1, -0.1, 0.25])


def test_same_order_of_policies():
    t = pd.DataFrame({"policy": ["a", "b", "c"], "metric": ["slo_attainment"] * 3,
                      "packet_mean": [0.9, 0.5, 0.7], "flow_mean": [0.8, 0.4, 0.6]})
    assert same_order(t) is True
    t.loc[1, "flow_mean"] = 0.95
    assert same_order(t) is False
    assert same_order(t[t["policy"] == "a"]) is None


def test_validate_command_writes_errors_and_cdfs(tmp_path):
    cfg = tmp_path / "run.toml"
    cfg.write_text(TINY_RUN.format(topo=ROOT / "topologies" / "testbed.toml") + '[fabric]\ncc = "none"\n')
    out = tmp_path / "v"
    r = run_cli("validate", str(cfg), "--out", str(out), "--policies", "fair")
    assert r.returncode == 0, r.stderr[-2000:]
    for model in ("packet", "flow"):
        assert (out / "fair" / model / "meta.json").exists()
    t = pd.read_csv(out / "validation.csv")
    assert set(t["metric"]) >= {"flow_fct", "cct_dispatch", "cct_combine", "ttft", "slo_attainment", "wall_s"}
    ttft = t[t["metric"] == "ttft"].iloc[0]
    assert ttft["pairs"] == 3
    assert ttft["median_abs_rel_err"] < 0.05
    fct = t[t["metric"] == "flow_fct"].iloc[0]
    assert fct["pairs"] > 0 and 0 <= fct["ks"] <= 1 and fct["median_abs_rel_err"] < 0.10
    assert np.isfinite(fct["p99_abs_rel_err"])
    assert (out / "cdf_ttft.png").stat().st_size > 0 and (out / "cdf_flow_fct.png").stat().st_size > 0
    assert pd.read_parquet(out / "validation.parquet").shape == t.shape
    # The flow run's fabric tables leave the packet-only columns empty.
    flows = pd.read_parquet(out / "fair" / "flow" / "flows.parquet")
    assert flows["cnps_received"].isna().all() and flows["completed"].all()


def test_validate_refuses_an_unknown_policy(tmp_path):
    cfg = tmp_path / "run.toml"
    cfg.write_text(TINY_RUN.format(topo=ROOT / "topologies" / "testbed.toml"))
    r = run_cli("validate", str(cfg), "--out", str(tmp_path / "v"), "--policies", "fair,nosuch")
    assert r.returncode == 2
    assert "--policies" in r.stderr and "nosuch" in r.stderr
    assert not (tmp_path / "v").exists()
