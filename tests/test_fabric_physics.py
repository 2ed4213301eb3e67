"""Physics of the lossless RoCE fabric: analytic FCT, incast, priority, ECMP, PFC timing."""

import numpy as np
import pandas as pd
import pytest

from ns3_mfs.fabric import FabricConfig, FatTreeTopology, LeafSpineTopology, Network, TestbedTopology

GBPS100 = 100e9
FRAME_OVERHEAD = 62 + 20  # RoCEv2 headers + FCS, preamble + IFG


def analytic_fct(nbytes: int, mtu: int, rate_bps: float, hops: int, delay_s: float) -> float:
    """Store-and-forward completion time of one flow alone on a path of equal links."""
    full, rest = divmod(nbytes, mtu)
    wire = full * (mtu + FRAME_OVERHEAD) + (rest + FRAME_OVERHEAD if rest else 0)
    first = min(nbytes, mtu) + FRAME_OVERHEAD
    return hops * delay_s + (wire + (hops - 1) * first) * 8 / rate_bps


@pytest.mark.parametrize(
    "topo,src,dst,hops",
    [
        (TestbedTopology(), 0, 5, 2),
        (LeafSpineTopology(leaves=2, spines=2, hosts_per_leaf=4), 0, 7, 4),
        (FatTreeTopology(k=4), 0, 15, 6),
    ],
    ids=["testbed", "leaf_spine", "fat_tree"],
)
@pytest.mark.parametrize("nbytes", [1000, 1_000_000, 10_000_001])
@pytest.mark.parametrize("mtu", [1024, 4096])
def test_single_flow_matches_analytic_fct(topo, src, dst, hops, nbytes, mtu):
    net = Network(topo, FabricConfig(mtu=mtu))
    net.start_flow(src, dst, nbytes)
    net.run()
    row = net.flows().iloc[0]
    expected = analytic_fct(nbytes, mtu, GBPS100, hops, 1e-6)
    assert row["completed"] and row["bytes_delivered"] == nbytes
    assert len(net.flow_path(0)) == hops + 1
    assert abs(row["fct_s"] - expected) / expected < 0.01
    assert abs(row["ideal_fct_s"] - expected) / expected < 1e-6
    assert net.counter("drops") == 0 and net.counter("buffer_bytes_in_use") == 0


def incast(n: int, nbytes: int, cfg: FabricConfig) -> Network:
    net = Network(TestbedTopology(servers=n + 1, nics_per_server=1), cfg)
    for s in range(1, n + 1):
        net.start_flow(s, 0, nbytes, priority=3)
    net.run()
    return net


@pytest.mark.parametrize("n", [8, 16])
def test_incast_with_pfc_is_lossless_and_keeps_line_rate(n):
    nbytes = 64_000_000 // n  # 64 MB in total: twice the switch buffer
    net = incast(n, nbytes, FabricConfig(pfc=True, cc="none"))
    flows, s = net.flows(), net.summary()
    assert s["drops"] == 0
    assert s["pfc_pause_frames"] > 0
    assert flows["completed"].all()
    assert (flows["bytes_delivered"] == nbytes).all()
    assert (flows["bytes_sent"] == nbytes).all()  # nothing was ever resent
    goodput = flows["bytes"].sum() * 8 / (flows["end_s"].max() - flows["start_s"].min())
    assert goodput >= 0.95 * GBPS100
    assert net.counter("buffer_bytes_in_use") == 0
    pfc = net.pfc()
    assert set(pfc["kind"]) >= {"pause", "resume", "pause_rx", "resume_rx"}
    assert (pfc["priority"] == 3).all()


def test_incast_without_pfc_drops_and_go_back_n_delivers_everything():
    n, nbytes = 8, 1_000_000
    net = incast(n, nbytes, FabricConfig(pfc=False, cc="none", buffer_bytes=1_000_000))
    flows, s = net.flows(), net.summary()
    assert s["drops"] > 0
    assert s["pfc_pause_frames"] == 0
    assert flows["completed"].all()
    assert (flows["bytes_delivered"] == nbytes).all()
    assert (flows["rewinds"] > 0).any()
    assert (flows["bytes_sent"] > nbytes).any()  # go-back-N resent data
    assert net.counter("buffer_bytes_in_use") == 0


def test_strict_priority_isolates_classes():
    """A high-class flow gets line rate; the low-class flow on the same egress waits."""
    topo = TestbedTopology(servers=3, nics_per_server=1)
    net = Network(topo)
    low = net.start_flow(1, 0, 8_000_000, priority=5)
    high = net.start_flow(2, 0, 4_000_000, priority=1, at=50e-6)
    switch = topo.graph().num_hosts
    net.enable_tx_log(switch, 0)  # switch port 0 faces host 0
    net.run()
    flows = net.flows().set_index("flow_id")
    h, l = flows.loc[high.id], flows.loc[low.id]
    assert h["fct_s"] <= 1.01 * h["ideal_fct_s"]
    # While the high flow runs, the bottleneck carries (almost) only its packets.
    log = net.tx_log()
    data = log[(log["type"] == "data") & (log["time_s"] > h["start_s"] + 2e-6) & (log["time_s"] < h["end_s"] - 2e-6)]
    assert (data["priority"] == 1).mean() > 0.999
    # The low flow finishes after the high one, delayed by about the high flow's duration.
    assert l["end_s"] > h["end_s"]
    assert l["fct_s"] >= l["ideal_fct_s"] + 0.95 * h["ideal_fct_s"]
    assert net.counter("drops") == 0


def test_ecmp_spreads_flows_and_pins_each_flow_to_one_path():
    topo = LeafSpineTopology(leaves=4, spines=4, hosts_per_leaf=4)
    g = topo.graph()
    net = Network(topo, seed=7)
    rng = np.random.default_rng(3)
    leaf0 = g.num_hosts  # node index of leaf0; its ports 4..7 go to the spines
    for port in range(4, 8):
        net.enable_tx_log(leaf0, port)
    flows = []
    for _ in range(200):
        src = int(rng.integers(0, 4))  # hosts under leaf0
        dst = int(rng.integers(4, g.num_hosts))
        flows.append(net.start_flow(src, dst, 20_000, at=float(rng.uniform(0, 50e-6))))
    paths_before = [net.flow_path(f) for f in flows]
    net.run()
    spines_used = {p[2] for p in paths_before}
    assert len(spines_used) == 4, "hash ECMP must use every spine"
    counts = pd.Series([p[2] for p in paths_before]).value_counts()
    assert counts.min() >= 20  # 200 flows over 4 spines: no spine starved
    log = net.tx_log()
    data = log[log["type"] == "data"]
    ports_per_flow = data.groupby("flow")["port"].nunique()
    assert (ports_per_flow == 1).all(), "every packet of a flow must take the same uplink"
    # The port the packets used is the one the path reports.
    first_port = data.groupby("flow")["port"].first()
    for f, path in zip(flows, paths_before):
        assert g.switch_names[path[2] - g.num_hosts] == f"spine{first_port[f.id] - 4}"
    assert [net.flow_path(f) for f in flows] == paths_before


def test_ecmp_seed_changes_the_hash():
    topo = LeafSpineTopology(leaves=2, spines=8, hosts_per_leaf=4)
    paths = []
    for seed in (1, 2):
        net = Network(topo, seed=seed)
        fl = [net.start_flow(0, 4 + i % 4, 1000) for i in range(32)]
        paths.append([net.flow_path(f)[2] for f in fl])
    assert paths[0] != paths[1]


def test_paused_class_stops_and_restarts_within_one_quantum_of_resume():
    n = 8
    topo = TestbedTopology(servers=n + 1, nics_per_server=1)
    net = Network(topo, FabricConfig(cc="none"))
    for s in range(1, n + 1):
        net.start_flow(s, 0, 8_000_000, priority=2)
        net.enable_tx_log(s, 0)
    net.run()
    pfc = net.pfc()
    log = net.tx_log()
    quantum = 512 / GBPS100
    rx = pfc[pfc["kind"].isin(["pause_rx", "resume_rx"]) & (pfc["node"] >= 1) & (pfc["node"] <= n)]
    assert (rx["kind"] == "resume_rx").sum() > 0
    checked = 0
    for host, events in rx.groupby("node"):
        sent = log[(log["node"] == host) & (log["type"] == "data")]["time_s"].to_numpy()
        events = events.sort_values("time_s")
        paused_at = None
        for t, kind in zip(events["time_s"], events["kind"]):
            if kind == "pause_rx":
                paused_at = t
                continue
            if paused_at is None:
                continue
            # No packet started while paused (the one already on the wire may finish).
            assert not ((sent > paused_at) & (sent < t)).any()
            later = sent[sent >= t]
            if len(later):
                assert later[0] - t <= quantum + 1e-15
                checked += 1
            paused_at = None
    assert checked > 0


def _serialisation_overlaps(tx: pd.DataFrame, rate_bps: float) -> int:
    """Frames a port started before it had finished the previous one (1 ps of rounding allowed)."""
    n = 0
    for _, g in tx.groupby(["node", "port"]):
        g = g.sort_values("time_s", kind="stable")
        ends = g["time_s"].to_numpy() + (g["bytes"].to_numpy() + 20) * 8 / rate_bps
        n += int((g["time_s"].to_numpy()[1:] < ends[:-1] - 1e-12).sum())
    return n


@pytest.mark.parametrize("cc", ["dcqcn", "none"])
def test_a_port_serialises_one_frame_at_a_time(cc):
    # Host 1 sends one flow into a congested host (0, where host 3 also sends: CNPs cut its rate) and one to
    # an idle host. Once host 3's flow ends, the first flow climbs back to line rate by its byte counter, inside
    # the pull that builds its next frame: a regression test (that pull once let the port start a second frame,
    # and from then on it sent two at once, faster than its line).
    net = Network(TestbedTopology(servers=4, nics_per_server=1), FabricConfig(cc=cc))
    for src, dst, nbytes in ((1, 0, 30_000_000), (1, 2, 30_000_000), (3, 0, 4_000_000)):
        net.start_flow(src, dst, nbytes)
    for host in (1, 3):
        net.enable_tx_log(host, 0)
    net.run()
    flows = net.flows()
    assert flows["completed"].all()
    if cc == "dcqcn":
        assert flows["rate_decreases"].sum() > 0  # the scenario does exercise DCQCN
    tx = net.tx_log()
    assert len(tx) > 10_000 and _serialisation_overlaps(tx, GBPS100) == 0
    # nothing leaves a host faster than its line: host 1's 60 MB take at least their payload's time at 100G
    assert flows.loc[[0, 1], "end_s"].max() >= 60_000_000 * 8 / GBPS100
