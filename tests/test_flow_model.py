"""The flow-level fabric (``fabric.model = "flow"``): analytic cases, exact.

Rates are wire bit/s (payload plus 82 bytes of RoCE framing, preamble and
gap per frame), as the packet model's line rates and caps. A flow's
completion time is its wire bytes at its rates plus a fixed latency that
makes a lone flow finish exactly at the packet model's analytic ideal.
"""

from __future__ import annotations

import math

import pytest

from ns3_mfs.config import ConfigError
from ns3_mfs.fabric import FabricConfig, Network
from ns3_mfs.fabric.topology import Graph, Link, LeafSpineTopology, TestbedTopology

G = 100e9
OVERHEAD = 82


def wire(nbytes: int, mtu: int = 4096) -> int:
    return nbytes + math.ceil(nbytes / mtu) * OVERHEAD


def flow_net(topo, **cfg) -> Network:
    return Network(topo, FabricConfig(model="flow", **cfg))


def rel(a: float, b: float) -> float:
    return abs(a - b) / abs(b)


def test_one_flow_alone_is_the_packet_models_ideal():
    """Alone on a 4-link leaf-spine path: FCT = the store-and-forward ideal, to the picosecond."""
    topo = LeafSpineTopology(leaves=2, spines=2, hosts_per_leaf=2)
    hops, delay = 4, 1e-6
    for nbytes in (1000, 4096, 4096 * 250, 4096 * 2500, 1_000_001):
        net = flow_net(topo)
        net.start_flow(0, 3, nbytes)
        net.run()
        row = net.flows().iloc[0]
        assert row["fct_s"] == pytest.approx(row["ideal_fct_s"], rel=1e-9)
        full, rest = divmod(nbytes, 4096)
        if rest == 0:   # k full frames: the first crosses 4 hops, the others follow one serialisation apart
            ideal = (hops + full - 1) * (4096 + OVERHEAD) * 8 / G + hops * delay
            assert row["fct_s"] == pytest.approx(ideal, rel=1e-9)
        elif full == 0:  # one short frame
            ideal = hops * (rest + OVERHEAD) * 8 / G + hops * delay
            assert row["fct_s"] == pytest.approx(ideal, rel=1e-9)


def test_one_flow_matches_packet_ideal_and_path():
    """Same flow on both models: same ECMP path, same ideal; the flow model's FCT is that ideal."""
    topo = LeafSpineTopology(leaves=4, spines=8, hosts_per_leaf=8)
    res = {}
    for model in ("packet", "flow"):
        net = Network(topo, FabricConfig(model=model, cc="none"), seed=5)
        flows = [net.start_flow(h, (h + 8) % 32, 1_000_000) for h in range(0, 32, 4)]
        paths = [net.flow_path(f) for f in flows]
        net.run()
        res[model] = (paths, net.flows())
    assert res["flow"][0] == res["packet"][0]
    pf, ff = res["packet"][1], res["flow"][1]
    assert list(ff["ideal_fct_s"]) == pytest.approx(list(pf["ideal_fct_s"]), rel=1e-12)


def test_n_flows_share_a_link_equally():
    """n senders to one receiver: each gets 1/n of the receiver's link and all end together."""
    n, nbytes = 5, 2_000_000
    net = flow_net(TestbedTopology(servers=n + 1, nics_per_server=1))
    flows = [net.start_flow(h, 0, nbytes) for h in range(1, n + 1)]
    rates = {}
    net.schedule(10e-6, lambda: rates.update({f.id: net.flow_rate_bps(f) for f in flows}))
    net.run()
    assert all(r == pytest.approx(G / n, rel=1e-12) for r in rates.values())
    df = net.flows()
    # Fluid time of n x wire bytes through the bottleneck + the lone flow's pipeline latency.
    extra = df["ideal_fct_s"].iloc[0] - wire(nbytes) * 8 / G
    expect = n * wire(nbytes) * 8 / G + extra
    assert list(df["fct_s"]) == pytest.approx([expect] * n, rel=1e-9)


def test_high_class_preempts_low():
    """A class-1 flow arriving on a busy class-3 flow's link takes it all; the low one waits."""
    nbytes = 4_000_000
    net = flow_net(TestbedTopology(servers=3, nics_per_server=1))
    low = net.start_flow(1, 0, nbytes, priority=3)
    t1 = 50e-6
    seen = {}
    net.schedule(t1, lambda: net.start_flow(2, 0, nbytes, priority=1))
    net.schedule(t1 + 1e-6, lambda: seen.update(low=net.flow_rate_bps(low), high=net.flow_rate_bps(1)))
    net.run()
    assert seen == {"low": 0.0, "high": pytest.approx(G, rel=1e-12)}
    df = net.flows().set_index("flow_id")
    tx = wire(nbytes) * 8 / G
    extra = df.loc[0, "ideal_fct_s"] - tx
    assert df.loc[1, "fct_s"] == pytest.approx(df.loc[1, "ideal_fct_s"], rel=1e-9)  # alone in its class
    assert df.loc[0, "fct_s"] == pytest.approx(2 * tx + extra, rel=1e-9)           # paused for the whole high flow


def test_rate_cap_leaves_the_rest_to_others():
    """A flow capped at 20G next to an uncapped one on the same link: the other gets 80G."""
    net = flow_net(TestbedTopology(servers=3, nics_per_server=1))
    a = net.start_flow(1, 0, 5_000_000)
    b = net.start_flow(2, 0, 5_000_000)
    net.set_rate_cap(a, 20e9)
    seen = {}
    net.schedule(5e-6, lambda: seen.update(a=net.flow_rate_bps(a), b=net.flow_rate_bps(b)))
    net.run()
    assert seen["a"] == pytest.approx(20e9, rel=1e-12)
    assert seen["b"] == pytest.approx(80e9, rel=1e-12)
    df = net.flows().set_index("flow_id")
    extra = df.loc[1, "ideal_fct_s"] - wire(5_000_000) * 8 / G
    assert df.loc[1, "fct_s"] == pytest.approx(wire(5_000_000) * 8 / 80e9 + extra, rel=1e-9)


def parking_lot(links: int = 3, rate: float = G) -> Graph:
    """Switches s0..s{links} in a line; host i on switch i (i = 0..links), plus a second host on s1."""
    hosts = links + 2
    sw = [hosts + i for i in range(links + 1)]
    ls = [Link(i, sw[i], rate, 1e-6) for i in range(links + 1)]
    ls.append(Link(links + 1, sw[1], rate, 1e-6))
    ls += [Link(sw[i], sw[i + 1], rate, 1e-6) for i in range(links)]
    return Graph(name="parking_lot", num_hosts=hosts, switch_names=tuple(f"s{i}" for i in range(links + 1)),
                 links=tuple(ls), host_server=tuple(range(hosts)), gpus_per_server=1)


def test_max_min_on_a_parking_lot():
    """Long flow h0 -> h3 over s0-s1-s2-s3; s0-s1 also carries h0->h1; s1-s2 carries h1->h2 and h4->h2;
    s2-s3 carries h2->h3. Max-min: s1-s2 has 3 flows (C/3 each); h0->h1 gets 2C/3 on h0's NIC; h2->h3 2C/3."""
    net = flow_net(parking_lot())
    long_ = net.start_flow(0, 3, 50_000_000)
    a = net.start_flow(0, 1, 50_000_000)
    b = net.start_flow(1, 2, 50_000_000)
    c = net.start_flow(4, 2, 50_000_000)
    d = net.start_flow(2, 3, 50_000_000)
    seen = {}
    net.schedule(10e-6, lambda: seen.update({f.id: net.flow_rate_bps(f) for f in (long_, a, b, c, d)}))
    net.run(until=20e-6)
    assert seen[long_.id] == pytest.approx(G / 3, rel=1e-12)
    assert seen[b.id] == pytest.approx(G / 3, rel=1e-12)
    assert seen[c.id] == pytest.approx(G / 3, rel=1e-12)
    assert seen[a.id] == pytest.approx(2 * G / 3, rel=1e-12)
    assert seen[d.id] == pytest.approx(2 * G / 3, rel=1e-12)


def test_rates_recomputed_when_a_flow_ends():
    """Two flows share a link; when the short one ends the long one gets the whole link."""
    net = flow_net(TestbedTopology(servers=3, nics_per_server=1))
    short = net.start_flow(1, 0, 1_000_000)
    long_ = net.start_flow(2, 0, 3_000_000)
    net.run()
    df = net.flows().set_index("flow_id")
    extra = df.loc[0, "ideal_fct_s"] - wire(1_000_000) * 8 / G
    t_short = 2 * wire(1_000_000) * 8 / G
    t_long = t_short + (wire(3_000_000) - wire(1_000_000)) * 8 / G
    assert df.loc[short.id, "fct_s"] == pytest.approx(t_short + extra, rel=1e-9)
    assert df.loc[long_.id, "fct_s"] == pytest.approx(t_long + extra, rel=1e-9)
    s = net.summary()
    assert s["reallocations"] >= 2 and s["completed"] == 2


def test_pias_demotion_by_bytes_sent():
    """A demoted flow drops one class per threshold crossed, and then yields to a class-1 flow."""
    net = flow_net(TestbedTopology(servers=3, nics_per_server=1))
    a = net.start_flow(1, 0, 4_000_000, priority=1)
    net.set_demotion(a, [1_000_000])
    b = net.start_flow(2, 0, 4_000_000, priority=1)
    net.run()
    df = net.flows().set_index("flow_id")
    assert df.loc[a.id, "final_priority"] == 2 and df.loc[a.id, "class_changes"] == 1
    assert df.loc[b.id, "fct_s"] < df.loc[a.id, "fct_s"]
    # a shares equally until 1 MB payload is sent, then waits for b.
    w1, w4 = wire(1_000_000), wire(4_000_000)
    extra = df.loc[b.id, "ideal_fct_s"] - w4 * 8 / G
    t_demote = 2 * w1 * 8 / G
    t_b = t_demote + (w4 - w1) * 8 / G
    assert df.loc[b.id, "fct_s"] == pytest.approx(t_b + extra, rel=1e-9)
    assert df.loc[a.id, "fct_s"] == pytest.approx(t_b + (w4 - w1) * 8 / G + extra, rel=1e-9)


def test_hold_waits_for_higher_classes_of_its_nic():
    net = flow_net(TestbedTopology(servers=3, nics_per_server=1))
    hi = net.start_flow(1, 0, 2_000_000, priority=1)
    lo = net.start_flow(1, 2, 2_000_000, priority=3)
    net.set_hold(lo)
    net.run()
    df = net.flows().set_index("flow_id")
    assert df.loc[lo.id, "start_s"] == 0
    # lo waits at its NIC until hi's last byte left it, then runs alone on that NIC.
    tx_hi = wire(2_000_000) * 8 / G
    assert df.loc[lo.id, "fct_s"] == pytest.approx(tx_hi + df.loc[lo.id, "ideal_fct_s"], rel=1e-9)
    assert df.loc[hi.id, "fct_s"] == pytest.approx(df.loc[hi.id, "ideal_fct_s"], rel=1e-9)


def test_flow_results_leave_packet_columns_empty():
    net = flow_net(TestbedTopology(servers=2, nics_per_server=1))
    net.start_flow(0, 1, 100_000)
    net.run()
    df = net.flows()
    assert df[["rewinds", "cnps_received", "rate_decreases"]].isna().all().all()
    s = net.summary()
    for key in ("pfc_pause_frames", "ecn_marks", "cnps", "max_queue_bytes", "packet_hops"):
        assert math.isnan(s[key]), key
    assert len(net.pfc()) == 0 and list(net.pfc().columns)[:2] == ["time_s", "node"]
    checks = net.checks()
    assert checks["ok"] and checks["lossless"]["ok"] is None and checks["flows_finished"]["ok"]
    with pytest.raises(ConfigError, match="flow model"):
        net.enable_tx_log(0)


def test_flow_model_config_is_checked():
    from ns3_mfs.config import from_dict

    with pytest.raises(ConfigError, match="model"):
        from_dict(FabricConfig, {"model": "fluid"}, "fabric")


def test_memory_guard_estimates_the_flow_model():
    """No buffers, devices or logs: the process, directed links and route entries."""
    from ns3_mfs.fabric import safety
    from ns3_mfs.fabric.topology import FatTreeTopology

    g = FatTreeTopology(k=16).graph()
    flow_cfg, packet_cfg = FabricConfig(model="flow"), FabricConfig()
    est = safety.estimate_memory_mb(g, flow_cfg)
    switches, ports = len(g.switch_names), 2 * len(g.links)
    assert est == pytest.approx(safety.BASE_MB + (ports * safety.FLOW_LINK_BYTES
                                                  + switches * g.num_hosts * safety.FLOW_ROUTE_BYTES) / 2**20)
    assert safety.estimate_log_mb(flow_cfg) == 0.0
    assert est - safety.BASE_MB < (safety.estimate_memory_mb(g, packet_cfg) - safety.BASE_MB) / 100
    with pytest.raises(ConfigError, match="max_memory_mb"):
        Network(g, FabricConfig(model="flow", max_memory_mb=est / 2))


def test_fabric_command_runs_the_flow_model(tmp_path):
    from conftest import ROOT, run_cli

    flows = tmp_path / "flows.csv"
    flows.write_text("src,dst,bytes,start_s,priority\n1,0,1000000,0,1\n2,0,1000000,0,1\n")
    r = run_cli("fabric", str(ROOT / "topologies" / "testbed.toml"), str(flows), "--out", str(tmp_path / "o"),
                "--model", "flow")
    assert r.returncode == 0, r.stderr[-2000:]
    import json

    s = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert s["status"] == "complete" and s["completed"] == 2 and s["fabric_model"] == "flow"
    v = s["pfc_pause_frames"]
    assert v is None or v != v  # not modelled: NaN (null in JSON), not 0


def test_demotion_set_on_a_running_flow_takes_effect():
    net = flow_net(TestbedTopology(servers=2, nics_per_server=1))
    a = net.start_flow(1, 0, 4_000_000, priority=1)
    net.schedule(10e-6, lambda: net.set_demotion(a, [1_000_000, 2_000_000]))
    net.run()
    row = net.flows().iloc[0]
    assert row["final_priority"] == 3 and row["class_changes"] == 2
    assert row["fct_s"] == pytest.approx(row["ideal_fct_s"], rel=1e-9)  # alone: the class does not matter


def test_atomic_class_change_waits_one_round_trip():
    """An atomic class change (MFS's message boundary) stops a sending flow until its bytes in flight are
    acknowledged, as the packet model's NIC: one unloaded round trip (its last frame's pipeline latency plus
    its ACK's way back), then the new class. A change at once costs nothing."""
    nbytes, ack = 4_000_000, 66 + 20  # an ACK frame with preamble and gap
    fcts = {}
    for atomic in (False, True):
        net = flow_net(TestbedTopology(servers=2, nics_per_server=1))
        f = net.start_flow(1, 0, nbytes, priority=3)
        seen = {}
        net.schedule(50e-6, lambda: net.set_priority(f, 1, atomic=atomic))
        net.schedule(50.5e-6, lambda: seen.update(rate=net.flow_rate_bps(f), cls=net.flow_priority(f)))
        net.run()
        row = net.flows().iloc[0]
        assert row["final_priority"] == 1 and row["class_changes"] == 1
        fcts[atomic] = (row["fct_s"], row["ideal_fct_s"], seen)
    fct, ideal, seen = fcts[False]
    assert fct == pytest.approx(ideal, rel=1e-9) and seen == {"rate": G, "cls": 1}
    fct, ideal, seen = fcts[True]
    pipeline = ideal - wire(nbytes) * 8 / G  # the last frame's way to the receiver
    back = 2 * (1e-6 + ack * 8 / G)          # the ACK over the two links back
    assert seen == {"rate": 0.0, "cls": 3}   # held, still in its old class
    assert fct == pytest.approx(ideal + pipeline + back, rel=1e-9)
