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
    assert (out / "cdf_ttft.png").stat().st_size > 0 and (out / "cdf_flow_fct.pdf").stat().st_size > 0
    assert pd.read_parquet(out / "validation.parquet").shape == t.shape
    # Errors by link: every link the paired flows crossed, named by the topology's nodes, worst first.
    links = pd.read_csv(out / "validation_links.csv")
    assert list(links.columns) == ["policy", "link", "flows", "mean_abs_rel_err", "max_abs_rel_err", "worst_flows"]
    assert links["link"].str.contains(">switch").any() and links["link"].str.startswith("switch>").any()
    assert links["worst_flows"].is_monotonic_decreasing
    assert f"cross {links['link'].iloc[0]}" in fct["where"]
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


def _config(tmp_path, topology: str):
    from ns3_mfs.experiment.run import load_run_config

    cfg = tmp_path / "run.toml"
    cfg.write_text(TINY_RUN.format(topo=ROOT / "topologies" / topology) + '[fabric]\ncc = "none"\n')
    return load_run_config(cfg)


def _errors_on(links, bad: str, rng) -> pd.DataFrame:
    """Paired errors: 20 % (+ a little) on the flows that cross ``bad``, under 1 % elsewhere; the worst
    flows (the 1 % attribution looks at) have pairwise different sources and destinations."""
    err = rng.uniform(0.0, 0.01, len(links))
    crossing = [i for i, path in enumerate(links) if bad in path]
    err[crossing] = 0.2
    return pd.DataFrame({"rel_err": err})


def test_errors_are_attributed_to_the_spine_link_the_worst_flows_share(tmp_path):
    from ns3_mfs.analysis.validation import _where_flows, link_errors
    from ns3_mfs.experiment.validate import flow_links

    cfg = _config(tmp_path, "leaf_spine.toml")
    # Every host of leaf 0 to every host of the three other leaves, three flow ids each: ECMP spreads them
    # over the 8 spines; a spine-to-leaf link carries a subset of its leaf-to-spine link's flows.
    pairs = [(s, d) for s in range(8) for d in range(8, 32) for _ in range(3)]
    flows = [(s, d, i) for i, (s, d) in enumerate(pairs)]
    links = flow_links(cfg, *zip(*flows))
    assert all(len(path) == 4 for path in links)  # NIC, leaf to spine, spine to leaf, leaf to NIC
    spine_links = {link for path in links for link in path[1:3]}
    assert all("spine" in link for link in spine_links) and len(spine_links) > 8
    bad = links[0][2]  # a spine-to-leaf link
    paired = _errors_on(links, bad, np.random.default_rng(1))
    # The worst 1 % (5 flows): distinct senders and receivers, so only the spine link is common to them.
    crossing = [i for i, path in enumerate(links) if bad in path]
    seen, top = set(), []
    for i in crossing:
        s, d, _ = flows[i]
        if s not in seen and d not in seen:
            seen |= {s, d}
            top.append(i)
    paired.loc[top[:5], "rel_err"] = 0.3
    table = link_errors(paired, links)
    assert table.iloc[0]["link"] == bad
    assert table.iloc[0]["worst_flows"] == 5 and table.iloc[0]["flows"] == len(crossing)
    assert table.iloc[0]["mean_abs_rel_err"] == pytest.approx((0.3 * 5 + 0.2 * (len(crossing) - 5)) / len(crossing))
    assert f"cross {bad} (5," in _where_flows(paired, table)


def test_errors_are_attributed_to_a_pcie_link_with_a_host_path(tmp_path):
    from ns3_mfs.analysis.validation import _where_flows, link_errors
    from ns3_mfs.experiment.validate import flow_links

    cfg = _config(tmp_path, "testbed_host.toml")
    # Server 0's GPUs (hosts 0-3) and host memories (4, 5) to server 1's GPUs (6-9): without GPUDirect a flow
    # crosses GPU > PCIe switch > CPU > memory > NIC > switch and back up on the other side.
    pairs = [(s, d) for s in range(6) for d in range(6, 10)]
    flows = [(s, d, i) for i, (s, d) in enumerate(pairs)]
    links = flow_links(cfg, *zip(*flows))
    assert links[0] == ("s0.gpu0>s0.psw0", "s0.psw0>s0.cpu0", "s0.cpu0>s0.mem0", "s0.mem0>s0.nic0", "s0.nic0>switch",
                        "switch>s1.nic0", "s1.nic0>s1.mem0", "s1.mem0>s1.cpu0", "s1.cpu0>s1.psw0", "s1.psw0>s1.gpu0")
    bad = "s0.gpu0>s0.psw0"  # GPU 0's PCIe link: the flows from GPU 0 are the ones that err
    paired = pd.DataFrame({"rel_err": np.where([bad in path for path in links], 0.25, 0.001)})
    table = link_errors(paired, links)
    assert table.iloc[0]["link"] == bad and table.iloc[0]["flows"] == 4
    assert table.iloc[0]["mean_abs_rel_err"] == pytest.approx(0.25)
    # The links GPU 0 shares with GPU 1 (PCIe switch uplink, memory, NIC) carry smaller mean errors.
    shared = table.set_index("link").loc["s0.psw0>s0.cpu0"]
    assert shared["worst_flows"] == 1 and shared["mean_abs_rel_err"] < 0.25
    assert f"cross {bad} (1, mean 25.0% of 4)" in _where_flows(paired, table)


def test_validate_refuses_an_unknown_style_before_running(tmp_path):
    cfg = tmp_path / "run.toml"
    cfg.write_text(TINY_RUN.format(topo=ROOT / "topologies" / "testbed.toml"))
    r = run_cli("validate", str(cfg), "--out", str(tmp_path / "v"), "--style", "poster")
    assert r.returncode == 2 and "--style: 'poster' is not a style; allowed: screen, paper" in r.stderr
    assert not (tmp_path / "v").exists()
