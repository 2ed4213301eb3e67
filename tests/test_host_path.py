"""The host path: GPUs, PCIe switches, root complexes, host memory and NVSwitch as fabric nodes (issue 14.4)."""

import dataclasses

import pandas as pd
import pytest

from ns3_mfs.config import ConfigError
from ns3_mfs.fabric import FabricConfig, Network, TestbedTopology
from ns3_mfs.fabric.topology import HostPath, LeafSpineTopology, topology_from_dict
from ns3_mfs.fabric.topology.host_path import pcie_gbps, route
from ns3_mfs.serving.cluster import build_layout

MB = 1_000_000
CFG = FabricConfig(cc="none", mtu=4096)


def names(graph, nodes):
    return [graph.node_name(n) for n in nodes]


def pcie_testbed(**host):
    return TestbedTopology(servers=2, host=HostPath(model="pcie", **host))


def test_pcie_rates_from_generation_and_lanes():
    # Gen3 x16: 16 x 0.985 GB/s encoded, 80 % usable = 12.6 GB/s (the 12-13 GB/s such links measure).
    assert pcie_gbps(3, 16, 0.8) == pytest.approx(12.608 * 8)
    assert pcie_gbps(5, 16, 1.0) == pytest.approx(3.938 * 16 * 8)
    # A Gen4 GPU in a Gen3 platform runs at Gen3; a x8 GPU at x8.
    assert HostPath(model="pcie", gpu_pcie_gen=4).gpu_link_gbps() == pytest.approx(pcie_gbps(3, 16, 0.8))
    assert HostPath(model="pcie", gpu_pcie_lanes=8).gpu_link_gbps() == pytest.approx(pcie_gbps(3, 8, 0.8))


def test_pcie_graph_puts_gpus_and_host_memory_at_the_edge():
    g = pcie_testbed().graph()
    # 2 servers x (4 GPUs + 2 host-memory endpoints); every GPU on the PCIe switch of its NIC (2 per NIC).
    assert g.num_hosts == 12 and g.gpus_per_nic == 2
    assert names(g, g.gpu_host) == [f"s{s}.gpu{i}" for s in range(2) for i in range(4)]
    assert names(g, [h for m in g.mem_hosts for h in m]) == ["s0.host0", "s0.host1", "s1.host0", "s1.host1"]
    assert names(g, route(g, 0, 1)) == ["s0.gpu0", "s0.psw0", "s0.gpu1"]
    # Across sockets through the root complexes and UPI, never out to the top-of-rack switch and back.
    assert names(g, route(g, 0, 2)) == ["s0.gpu0", "s0.psw0", "s0.cpu0", "s0.cpu1", "s0.psw1", "s0.gpu2"]
    assert names(g, route(g, 0, g.gpu_host[4])) == [
        "s0.gpu0", "s0.psw0", "s0.nic0", "switch", "s1.nic0", "s1.psw0", "s1.gpu0"]


def test_without_gpudirect_nic_traffic_crosses_host_memory():
    g = pcie_testbed(gpudirect=False).graph()
    assert names(g, route(g, 0, g.gpu_host[4])) == [
        "s0.gpu0", "s0.psw0", "s0.cpu0", "s0.mem0", "s0.nic0", "switch", "s1.nic0", "s1.mem0", "s1.cpu0",
        "s1.psw0", "s1.gpu0"]
    assert names(g, route(g, 0, 1)) == ["s0.gpu0", "s0.psw0", "s0.gpu1"]  # peer copies stay in the switch
    # The fabric routes the same way, and a slow host memory caps the transfer: it really crosses it.
    topo = TestbedTopology(servers=2, host=HostPath(model="pcie", gpudirect=False, memory_gbps=40.0))
    net = Network(topo, CFG)
    f = net.start_flow(0, net.graph.gpu_host[4], 20 * MB)
    net.run()
    assert net.flow_path(f) == route(net.graph, 0, net.graph.gpu_host[4])
    gbps = 20 * MB * 8 / net.flows().iloc[0]["fct_s"] / 1e9
    assert 36.0 < gbps <= 40.0


def test_nvswitch_copies_take_nvlink_and_nic_traffic_takes_pcie():
    topo = TestbedTopology(servers=2, gpus_per_server=8, nics_per_server=8,
                           host=HostPath(model="nvswitch", pcie_gen=5, nvlink_gbps=3600.0))
    g = topo.graph()
    assert g.gpus_per_nic == 1
    assert names(g, route(g, 0, 1)) == ["s0.gpu0", "s0.gpu0.io", "s0.nvswitch", "s0.gpu1.io", "s0.gpu1"]
    assert names(g, route(g, 0, g.gpu_host[8])) == [
        "s0.gpu0", "s0.gpu0.io", "s0.psw0", "s0.nic0", "switch", "s1.nic0", "s1.psw0", "s1.gpu0.io", "s1.gpu0"]
    # An NVLink copy does not slow the GPU's NIC transfer: they share only the GPU's fast link.
    alone = Network(topo, CFG)
    alone.start_flow(0, g.gpu_host[8], 10 * MB)
    alone.run()
    t_alone = alone.flows().iloc[0]["fct_s"]
    both = Network(topo, CFG)
    both.start_flow(0, g.gpu_host[8], 10 * MB)
    both.start_flow(0, 1, 200 * MB)
    both.run()
    assert both.flows().iloc[0]["fct_s"] == pytest.approx(t_alone, rel=0.02)


@pytest.mark.parametrize("direction", ["out", "in"])
def test_intra_server_copy_and_rdma_share_the_gpu_pcie_link(direction):
    """A copy GPU0 <-> GPU1 and an RDMA transfer GPU0 <-> remote GPU cross GPU0's PCIe link: each gets about
    half of it while both run (issue 14: PCIe contention)."""
    topo = pcie_testbed()
    g = topo.graph()
    link = topo.host.gpu_link_gbps()  # 100.9 Gbit/s, above the 100G NIC
    remote = g.gpu_host[4]
    pairs = [(0, 1), (0, remote)] if direction == "out" else [(1, 0), (remote, 0)]
    net = Network(topo, CFG)
    for src, dst in pairs:
        net.start_flow(src, dst, 50 * MB)
    net.run()
    flows = net.flows()
    # Both finish together at about half the link each: 2 x 50 MB over the shared link.
    rates = 50 * MB * 8 / flows["fct_s"] / 1e9
    assert rates.min() > 0.45 * link and rates.max() < 0.56 * link
    assert flows["fct_s"].max() == pytest.approx(100 * MB * 8 / (link * 1e9), rel=0.06)


def test_host_path_table_in_a_topology_file_and_its_errors():
    topo = topology_from_dict({"kind": "leaf_spine", "leaves": 2, "spines": 2, "hosts_per_leaf": 4,
                               "gpus_per_server": 2, "host": {"model": "pcie", "sockets": 1}})
    g = topo.graph()
    assert isinstance(topo, LeafSpineTopology) and g.host_path and g.gpus_per_nic == 2
    with pytest.raises(ConfigError, match=r"topology.host.model: expected one of 'none', 'pcie', 'nvswitch', got 'pci'"):
        topology_from_dict({"kind": "testbed", "host": {"model": "pci"}})
    with pytest.raises(ConfigError, match="3 GPUs per server cannot be shared evenly by 2 NICs"):
        TestbedTopology(gpus_per_server=3, host=HostPath(model="pcie")).graph()


def test_layout_uses_gpu_hosts_and_host_memory_for_the_kv_store():
    g = TestbedTopology(servers=4, host=HostPath(model="pcie")).graph()
    lay = build_layout(g, tp=1, ep=4, prefill_gpus=4, decode_gpus=4, kv_store_servers=1, gpus_per_nic=2)
    assert lay.host_path and lay.gpu_nic == g.gpu_host
    assert names(g, lay.kv_store_hosts) == ["s3.host0", "s3.host1"]
    assert not lay.off_fabric(0, 1)  # copies inside a server are fabric flows
    with pytest.raises(ConfigError, match=r"serving.gpus_per_nic: 1, but the topology's host path puts 2"):
        build_layout(g, tp=1, ep=4, prefill_gpus=4, decode_gpus=4, kv_store_servers=1, gpus_per_nic=1)


@pytest.mark.slow
def test_serving_run_on_the_host_path(tmp_path):
    """The same requests with and without the host path: the same bytes per stage; with it, copies inside a
    server are fabric flows with their route, and contention on the PCIe links makes the all-to-all slower."""
    from ns3_mfs.experiment.run import run, run_config_from_dict

    base = {"seed": 1, "topology": {"kind": "testbed", "servers": 4},
            "serving": {"model": "mixtral-8x7b", "gpu": "rtx3090", "tp": 1, "ep": 8, "prefill_gpus": 8,
                        "decode_gpus": 4, "kv_pool": "prefill"},
            "workload": {"kind": "poisson", "num_requests": 3, "rate_per_s": 20.0,
                         "input": {"kind": "fixed", "value": 1024}, "output": {"kind": "fixed", "value": 1}}}
    out = {}
    for model in ("none", "pcie"):
        data = {**base, "topology": {**base["topology"], "host": {"model": model}}}
        run(run_config_from_dict(data), tmp_path / model)
        out[model] = {t: pd.read_parquet(tmp_path / model / f"{t}.parquet") for t in ("flows", "collectives")}
    bytes_of = {m: t["flows"].groupby("stage")["bytes"].sum() for m, t in out.items()}
    pd.testing.assert_series_equal(bytes_of["none"], bytes_of["pcie"])
    flows = out["pcie"]["flows"]
    intra = flows[flows["path"] == "intra_server"]
    assert len(intra) and intra["fct_s"].notna().all() and "route" in flows
    assert set(intra["route"].str.split(">").str[1]) <= {"s0.psw0", "s0.psw1", "s1.psw0", "s1.psw1"}
    assert (flows.loc[flows["path"] == "network", "route"].isna()).all()
    cct = {m: t["collectives"].query("kind == 'dispatch'")["cct_s"].mean() for m, t in out.items()}
    assert cct["pcie"] > cct["none"]


@pytest.mark.parametrize("model", ["pcie", "nvswitch"])
def test_a_file_topology_describes_the_servers_inside(tmp_path, model):
    """The file kind with gpu, memory, nic, pcie, cpu (nvswitch) nodes: the host path's graph written out builds
    the same graph, routes the same way and gives the same completion times."""
    import tomli_w

    from ns3_mfs.fabric.topology import load_topology
    from ns3_mfs.fabric.topology.file import graph_to_table

    topo = (pcie_testbed() if model == "pcie" else
            TestbedTopology(servers=2, gpus_per_server=4, nics_per_server=4, host=HostPath(model="nvswitch")))
    table = graph_to_table(topo.graph())
    assert {n["role"] for n in table["nodes"]} >= {"gpu", "memory", "nic", "pcie", "cpu"}
    f = tmp_path / "inside.toml"
    f.write_text(tomli_w.dumps(table))
    mine = load_topology(f)
    # The same graph; a file does not say how many GPUs share a NIC (routes do), so that check is left out.
    assert mine.kind == "file" and mine.graph().gpus_per_nic == 0
    assert dataclasses.replace(mine.graph(), gpus_per_nic=topo.graph().gpus_per_nic) == topo.graph()
    fcts = []
    for t in (topo, mine):
        net = Network(t, CFG)
        g = net.graph
        for a, b in ((0, 1), (0, 2), (1, g.gpu_host[4]), (g.mem_hosts[1][0], 3)):
            net.start_flow(a, b, 5 * MB)
        net.run()
        fcts.append(net.flows()["fct_s"].tolist())
        net.close()
    assert fcts[0] == fcts[1]
    # A [host] table on top of a described inside is refused.
    with pytest.raises(ConfigError, match="describes its servers' inside already"):
        topology_from_dict({**table, "host": {"model": "pcie"}}).graph()


def test_file_inside_errors_name_the_key():
    from ns3_mfs.fabric.topology.file import graph_to_table

    table = graph_to_table(pcie_testbed().graph())
    nodes = [n for n in table["nodes"] if n["name"] != "s1.gpu3"]
    links = [l for l in table["links"] if "s1.gpu3" not in (l["a"], l["b"])]
    with pytest.raises(ConfigError, match=r'topology.nodes: GPU 3 of server 1 has no node \(role = "gpu"\)'):
        topology_from_dict({**table, "nodes": nodes, "links": links}).graph()
    mixed = table["nodes"] + [{"name": "nicx", "role": "host", "server": 0}]
    with pytest.raises(ConfigError, match=r"topology.nodes\[\d+\].role: 'host' \(a NIC port endpoint\) cannot be "
                       "mixed with gpu and memory nodes"):
        topology_from_dict({**table, "nodes": mixed}).graph()
