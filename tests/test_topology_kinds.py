"""The ``file`` and ``rail`` topology kinds, PXN, and ``ns3-mfs topology show``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tomli_w

from conftest import ROOT, run_cli
from ns3_mfs.config import ConfigError
from ns3_mfs.fabric.network import Network
from ns3_mfs.fabric.topology import LeafSpineTopology, RailTopology, load_topology, topology_from_dict
from ns3_mfs.fabric.topology.describe import summary
from ns3_mfs.fabric.topology.file import graph_to_table

#: Flows across leaves and under one leaf, several sharing links (hosts of a 4-leaf, 4-host-per-leaf Clos).
FLOWS = [(0, 5, 2_000_000), (1, 9, 1_500_000), (2, 3, 800_000), (4, 13, 2_500_000), (6, 5, 1_000_000),
         (12, 0, 1_200_000), (7, 15, 600_000), (10, 8, 900_000)]


def run_flows(topo):
    net = Network(topo, seed=5)
    try:
        flows = [net.start_flow(s, d, b, 3) for s, d, b in FLOWS]
        net.run()
        table = net.flows().sort_values("flow_id").reset_index(drop=True)
        return [net.flow_path(f) for f in flows], table
    finally:
        net.close()


@pytest.mark.parametrize("fmt", ["toml", "json"])
def test_file_kind_reproduces_leaf_spine_exactly(tmp_path, fmt):
    ls = LeafSpineTopology(leaves=4, spines=2, hosts_per_leaf=4, spine_rate_gbps=100.0)
    table = graph_to_table(ls.graph())
    f = tmp_path / f"ls.{fmt}"
    f.write_text(tomli_w.dumps(table) if fmt == "toml" else json.dumps(table))
    topo = load_topology(f)
    assert topo.kind == "file" and topo.graph() == ls.graph()
    paths_a, flows_a = run_flows(ls)
    paths_b, flows_b = run_flows(topo)
    assert paths_a == paths_b
    # two switches for a flow under one leaf is impossible: 1 switch same leaf, 3 across
    assert {len(p) - 2 for p in paths_a} == {1, 3}
    assert flows_a["completed"].all()
    pd.testing.assert_series_equal(flows_a["fct_s"], flows_b["fct_s"])
    pd.testing.assert_series_equal(flows_a["end_s"], flows_b["end_s"])


def test_rail_routes_same_rail_through_one_switch_and_cross_rail_through_a_spine():
    rail = RailTopology(servers=4, rails=4, spines=2, gpus_per_server=4)
    g = rail.graph()
    rail_sw = {r: g.num_hosts + r for r in range(4)}
    net = Network(rail, seed=1)
    try:
        same = net.start_flow(1, 9, 500_000, 3)     # server 0 NIC 1 -> server 2 NIC 1: rail 1
        cross = net.start_flow(1, 10, 500_000, 3)   # rail 1 -> rail 2
        net.run()
        p_same, p_cross = net.flow_path(same), net.flow_path(cross)
    finally:
        net.close()
    assert p_same == [1, rail_sw[1], 9]
    assert len(p_cross) == 5 and p_cross[1] == rail_sw[1] and p_cross[3] == rail_sw[2]
    assert p_cross[2] >= g.num_hosts + 4   # a spine
    # GPU i of every server sits on rail i
    assert [g.host_rail[g.gpu_nic[s * 4 + i]] for s in range(4) for i in range(4)] == [0, 1, 2, 3] * 4


def test_rail_oversubscription_and_validation():
    r = RailTopology(servers=8, rails=4, spines=2, host_rate_gbps=100, spine_rate_gbps=200, gpus_per_server=8)
    assert r.oversubscription == pytest.approx(8 * 100 / (2 * 200))
    assert summary(r.graph())["tiers"][1]["oversubscription"] == pytest.approx(2.0)
    assert summary(r.graph())["tiers"][2]["oversubscription"] is None
    with pytest.raises(ConfigError, match=r"topology.gpus_per_server: 6 is not a multiple of rails \(4\)"):
        topology_from_dict({"kind": "rail", "rails": 4, "gpus_per_server": 6})
    ls = LeafSpineTopology(leaves=4, spines=2, hosts_per_leaf=8, host_rate_gbps=100, spine_rate_gbps=100)
    assert summary(ls.graph())["tiers"][1]["oversubscription"] == pytest.approx(ls.oversubscription)


def _ring_table():
    return {"kind": "file", "gpus_per_server": 2, "nodes": [
        {"name": "a", "role": "host", "server": 0, "gpus": [0, 1]},
        {"name": "b", "role": "host", "server": 1, "gpus": [0]},
        {"name": "c", "role": "host", "server": 1, "gpus": [1]},
        {"name": "sw", "role": "switch"}],
        "links": [{"a": "a", "b": "sw", "rate_gbps": 100}, {"a": "b", "b": "sw", "rate_gbps": 100},
                  {"a": "c", "b": "sw", "rate_gbps": 50, "delay_us": 0.5}]}


def test_file_kind_gpu_map_and_names():
    g = topology_from_dict(_ring_table()).graph()
    assert g.gpu_nic == (0, 0, 1, 2) and g.host_server == (0, 1, 1) and g.node_name(2) == "c"
    assert g.links[2].rate_bps == 50e9 and g.links[2].delay_s == pytest.approx(0.5e-6)
    assert g.links[0].delay_s == pytest.approx(1e-6)   # link_delay_us


@pytest.mark.parametrize("edit, expect", [
    (lambda t: t["nodes"][3].update(role="router"), "topology.nodes[3].role: 'router' is not allowed; allowed: host, switch"),
    (lambda t: t["links"][1].update(b="sw9"), "topology.links[1].b: 'sw9' is not a node"),
    (lambda t: t["links"].pop(), "topology.nodes[2]: host 'c' has 0 links"),
    (lambda t: t["links"][0].update(rate_gbps=0), "topology.links[0].rate_gbps: must be > 0"),
    (lambda t: t["links"][0].update(speed=1), "topology.links[0].speed: unknown key; allowed keys: a, b, delay_us"),
    (lambda t: t["nodes"][1].update(name="a"), "topology.nodes[1].name: 'a' is used by another node"),
    (lambda t: t["nodes"][2].update(gpus=[0]), "GPU 0 of server 1 is already on another NIC"),
    (lambda t: t["nodes"][2].pop("gpus"), "topology.nodes[2].gpus: missing; give the GPU-to-NIC map"),
    (lambda t: t["nodes"][0].update(server=2), "servers must be numbered 0..1; no host is on server 0"),
    (lambda t: t.update(pxn=True), "topology.pxn: needs the rail and gpus of every host"),
])
def test_file_kind_errors_name_the_key(edit, expect):
    t = _ring_table()
    edit(t)
    with pytest.raises(ConfigError) as err:
        topology_from_dict(t)
    assert expect in str(err.value)


RUN = """
topology = "{topo}"
policy = "fair"
[serving]
prefill_gpus = 8
decode_gpus = 4
[workload]
kind = "poisson"
rate_per_s = 20.0
num_requests = 2
[workload.input]
kind = "fixed"
value = 200
[workload.output]
kind = "fixed"
value = 2
"""


@pytest.fixture(scope="module")
def rail_runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("rail")
    out = {}
    for pxn in (False, True):
        topo = d / f"rail_{pxn}.toml"
        topo.write_text(f'kind = "rail"\nservers = 4\nrails = 4\nspines = 2\ngpus_per_server = 4\n'
                        f'pxn = {str(pxn).lower()}\n')
        cfg = d / f"run_{pxn}.toml"
        cfg.write_text(RUN.format(topo=topo))
        res = run_cli("run", str(cfg), "--out", str(d / f"out_{pxn}"), "--no-progress")
        assert res.returncode == 0, res.stderr
        out[pxn] = (topo, cfg, pd.read_parquet(d / f"out_{pxn}" / "flows.parquet"))
    return out


def test_pxn_moves_cross_rail_traffic_inside_the_server_first(rail_runs):
    g = load_topology(rail_runs[True][0]).graph()
    rail = lambda host: g.host_rail[int(host)]  # noqa: E731
    plain = rail_runs[False][2]
    net0 = plain[(plain["path"] == "network") & (plain["src_gpu"] >= 0)]
    assert (net0["src"].map(rail) != net0["dst"].map(rail)).any()   # without PXN: cross-rail flows
    flows = rail_runs[True][2]
    net = flows[(flows["path"] == "network") & (flows["src_gpu"] >= 0)]
    assert len(net) and (net["src"].map(rail) == net["dst"].map(rail)).all()  # with PXN: never
    assert (net["src"] == net["src_gpu"].map(lambda x: g.gpu_nic[int(x)])).all()
    intra = flows[flows["path"] == "intra_server"]
    plain_intra = plain[plain["path"] == "intra_server"]
    cross0 = net0[net0["src"].map(rail) != net0["dst"].map(rail)]
    # the same network transfers, each cross-rail one after one more intra-server hop
    assert len(net) == len(net0) and sorted(net["bytes"]) == sorted(net0["bytes"])
    assert len(intra) - len(plain_intra) == len(cross0) > 0
    # a hop ends at the GPU its network flow leaves from, before that flow starts
    key = ["stage", "layer", "request_id", "batch_id", "collective_id", "bytes"]
    hops = intra.rename(columns={"dst_gpu": "via", "end_s": "hop_end_s"})[key + ["via", "hop_end_s"]]
    joined = net.merge(hops, left_on=key + ["src_gpu"], right_on=key + ["via"])
    joined["before"] = joined["hop_end_s"] <= joined["start_s"] + 1e-12
    ok = joined.groupby("flow_id")["before"].any()
    assert ok.sum() >= len(cross0)


def test_topology_show_prints_tiers_and_the_layout(rail_runs, tmp_path):
    topo, cfg, _ = rail_runs[True]
    res = run_cli("topology", "show", str(topo), "--layout", str(cfg), "--plot", str(tmp_path / "t.png"))
    assert res.returncode == 0, res.stderr
    assert "tier 1: 4 switches, 24 ports, oversubscription 2.00:1" in res.stdout
    assert "PXN on" in res.stdout
    line = next(l for l in res.stdout.splitlines() if l.split()[:3] == ["prefill", "0", "6"])
    assert line.split()[-3:] == ["nic6", "2", "rail2"]   # GPU 2 of server 1 on NIC 6, rail 2
    assert (tmp_path / "t.png").exists() and (tmp_path / "t.pdf").exists()
    res = run_cli("topology", "show", str(ROOT / "topologies/leaf_spine.toml"))
    assert res.returncode == 0 and "tier 1: 4 switches" in res.stdout and "oversubscription 1.00:1" in res.stdout


@pytest.mark.parametrize("name", ["leaf_spine.toml", "rail.toml", "fat_tree.toml"])
def test_topology_export_writes_a_file_kind_with_the_same_graph(tmp_path, name):
    src = ROOT / "topologies" / name
    out = tmp_path / (name.replace(".toml", ".json") if name == "rail.toml" else name)
    res = run_cli("topology", "export", str(src), str(out))
    assert res.returncode == 0, res.stderr
    exported = load_topology(out)
    assert exported.kind == "file" and exported.graph() == load_topology(src).graph()
