"""Each flow-scheduling policy assigns classes as its definition says (event logs on hand-built scenarios)."""

import math

import pytest

from ns3_mfs.config import ConfigError
from ns3_mfs.fabric import FabricConfig, Network, TestbedTopology
from ns3_mfs.policies import BatchPlan, BatchRequest, FlowInfo, make_policy
from ns3_mfs.policies.mfs import representative_deadline

TOPO = TestbedTopology(servers=4, nics_per_server=1)


def net_and(policy, params=None, cc="none"):
    net = Network(TOPO, FabricConfig(cc=cc))
    return net, make_policy(policy, params or {}, net)


def classes_of(policy, flow):
    return [c for (_t, fid, _s, c, _r) in policy.log if fid == flow.id]


def boundaries(net, policy, every=100e-6, until=10e-3, batch=0):
    """Layer boundaries of one batch every ``every`` seconds (as the serving engine would signal)."""
    for k in range(int(until / every)):
        net.schedule(k * every, lambda k=k: policy.layer_boundary(batch, 0, k))


def p2d_against_collective(policy, params=None, coll_bytes=25_000_000, deadline=3e-3):
    """A 4 MB P2D flow with a deadline shares host 0's downlink with an all-to-all flow."""
    net, pol = net_and(policy, params)
    coll = pol.start(FlowInfo(1, 0, coll_bytes, "dispatch", batch_id=1))
    p2d = pol.start(FlowInfo(2, 0, 4_000_000, "p2d", request_id=7, batch_id=0, deadline_s=deadline))
    boundaries(net, pol)
    net.run()
    flows = net.flows().set_index("flow_id")
    return pol, flows.loc[p2d.id], flows.loc[coll.id], p2d, coll


def test_mfs_defers_p2d_and_promotes_it_as_its_deadline_nears():
    pol, p2d, coll, f_p2d, f_coll = p2d_against_collective("mfs", {"rho": 0.0})
    seq = classes_of(pol, f_p2d)
    # MLU = 4 MB x 8 / (3 ms x 100G) = 0.107 < Q1 = 0.125: level 2, one below the collective (P2).
    assert seq[0] == 3
    assert seq[-1] == 1 and seq == sorted(seq, reverse=True)  # monotonic promotion, ends in P1
    assert classes_of(pol, f_coll) == [2]
    assert p2d["end_s"] <= 3e-3  # meets its deadline
    assert p2d["final_priority"] == 1 and p2d["class_changes"] >= 1
    # The promotion happened when the laxity had shrunk: MLU >= Q1 means t >= 3 ms - 4 MB x 8 / (0.125 x 100G).
    t_promote = next(t for (t, fid, _s, c, _r) in pol.log if fid == f_p2d.id and c == 1)
    assert t_promote >= 3e-3 - 4e6 * 8 / (0.125 * 100e9) - 1e-12


def test_mfs_shrinks_p2d_earliness_and_speeds_up_the_collective_compared_with_fair():
    # A 10 MB collective and a P2D flow with a loose 10 ms deadline: fair sharing finishes the
    # P2D flow 9.3 ms early and slows the collective the GPUs wait for; MFS defers P2D.
    deadline = 10e-3
    _, p2d_mfs, coll_mfs, *_ = p2d_against_collective("mfs", {"rho": 0.0}, 10_000_000, deadline)
    _, p2d_fair, coll_fair, *_ = p2d_against_collective("fair", None, 10_000_000, deadline)
    assert p2d_mfs["end_s"] <= deadline and p2d_fair["end_s"] <= deadline
    early_mfs, early_fair = deadline - p2d_mfs["end_s"], deadline - p2d_fair["end_s"]
    assert early_mfs < early_fair
    # The collective runs alone at line rate (10 MB with RoCE framing: ~0.82 ms) instead of sharing.
    assert coll_mfs["fct_s"] <= 1.02 * coll_mfs["ideal_fct_s"]
    assert coll_mfs["end_s"] < 0.8 * coll_fair["end_s"]
    # P2D waited for it: it cannot end before the collective plus its own 4 MB at line rate.
    assert p2d_mfs["end_s"] >= coll_mfs["end_s"] + 4e6 * 8 / 100e9 * 0.95


def test_mfs_stage_and_rli_order():
    net, pol = net_and("mfs", {"rho": 0.0})
    pol.layer_boundary(0, 0, 4)  # batch 0 computes layer 4
    a2a = pol.start(FlowInfo(1, 0, 1_000_000, "combine", layer=4, batch_id=0))
    near = pol.start(FlowInfo(2, 0, 2_000_000, "kv_fetch", layer=5, batch_id=0, request_id=1))
    far = pol.start(FlowInfo(3, 0, 2_000_000, "kv_fetch", layer=7, batch_id=0, request_id=1))
    p2d = pol.start(FlowInfo(3, 0, 1_000_000, "p2d", layer=4, batch_id=0, request_id=1, deadline_s=1.0))
    first = {}
    for (_t, fid, _s, c, _r) in pol.log:
        first.setdefault(fid, c)
    assert first[a2a.id] == 2                      # stage 2 straight to the high level
    assert first[near.id] == 3 and first[far.id] == 5  # RLI 1 and 3: smaller RLI higher
    assert first[p2d.id] > first[a2a.id]             # stage 2 outranks stage 3
    pol.layer_boundary(0, 0, 5)                     # layer boundary: RLIs shrink by one
    now = {f: c for (_t, f, _s, c, _r) in pol.log}
    assert now[near.id] == 2 and now[far.id] == 4
    net.run()


def test_mlu_thresholds_are_geometric():
    _, pol = net_and("mfs")
    assert pol.thresholds() == pytest.approx([0.5 / 4**i for i in range(1, 7)])
    # Feasible levels: level 1 is P1, level i is P(i + 1), capped at P6 (P7 is the scavenger's alone).
    assert pol.mlu_class(0.2) == 1 and pol.mlu_class(0.1) == 3 and pol.mlu_class(0.0) == 6


def test_sjf_puts_smaller_flows_higher():
    net, pol = net_and("sjf")
    small = pol.start(FlowInfo(1, 0, 10_000, "p2d"))
    mid = pol.start(FlowInfo(2, 0, 2_000_000, "dispatch"))
    big = pol.start(FlowInfo(3, 0, 100_000_000, "kv_fetch"))
    first = {f: c for (_t, f, _s, c, _r) in pol.log}
    assert (first[small.id], first[mid.id], first[big.id]) == (1, 4, 7)
    net.run()


def test_pias_demotes_at_its_thresholds():
    net, pol = net_and("pias")
    short = pol.start(FlowInfo(1, 0, 50_000, "dispatch"))
    longer = pol.start(FlowInfo(2, 0, 2_000_000, "p2d"))
    net.run()
    flows = net.flows().set_index("flow_id")
    # 46 x 1460 = 67,160 and 1084 x 1460 = 1,582,640 bytes: a 2 MB flow crosses two thresholds.
    assert flows.loc[short.id, "final_priority"] == 1 and flows.loc[short.id, "class_changes"] == 0
    assert flows.loc[longer.id, "final_priority"] == 3 and flows.loc[longer.id, "class_changes"] == 2


def test_edf_orders_deadline_flows_and_shares_the_rest():
    net, pol = net_and("edf")
    soon = pol.start(FlowInfo(1, 0, 100_000, "p2d", deadline_s=0.0005))
    later = pol.start(FlowInfo(2, 0, 100_000, "p2d", deadline_s=0.1))
    other = pol.start(FlowInfo(3, 0, 100_000, "dispatch"))
    first = {f: c for (_t, f, _s, c, _r) in pol.log}
    # 0.5 ms to go: under the first limit (1 ms); 100 ms: between 64 and 256 ms, the fifth class;
    # a flow without a deadline below every deadline flow.
    assert first[soon.id] == 1 and first[later.id] == 5 and first[other.id] == 7
    net.run()


def test_karuna_paces_deadline_flows_at_their_minimum_rate():
    net, pol = net_and("karuna", {"margin": 0.0})
    dl = pol.start(FlowInfo(1, 0, 2_000_000, "p2d", deadline_s=2e-3))   # needs 8 Gbit/s
    bulk = pol.start(FlowInfo(2, 0, 20_000_000, "dispatch"))
    net.run()
    flows = net.flows().set_index("flow_id")
    assert classes_of(pol, dl) == [1] and classes_of(pol, bulk) == [7]
    assert 1.9e-3 <= flows.loc[dl.id, "end_s"] <= 2.05e-3  # just in time, not earlier
    assert flows.loc[bulk.id, "final_priority"] == 7      # SJF on its size: 20 MB, the last class
    net, pol = net_and("karuna", {"margin": 0.0, "rest": "pias"})
    bulk = pol.start(FlowInfo(2, 0, 20_000_000, "dispatch"))
    net.run()
    assert net.flows().set_index("flow_id").loc[bulk.id, "final_priority"] > 2  # PIAS demotion variant


def test_ablation_defer_off_sends_p2d_with_the_collectives():
    pol, p2d, *_ , f_p2d, _ = p2d_against_collective("mfs", {"rho": 0.0, "defer": False})
    assert classes_of(pol, f_p2d) == [2]


def test_ablation_rli_off_treats_fetches_like_collectives():
    net, pol = net_and("mfs", {"rli": False})
    far = pol.start(FlowInfo(1, 0, 100_000, "kv_fetch", layer=9, batch_id=0))
    assert classes_of(pol, far) == [2]
    net.run()


def test_p2d_mlu_uses_its_own_deadline_and_own_deadline_off_uses_the_batch_red():
    assert representative_deadline([1.0, 1.1, 5.0, 5.2]) == pytest.approx(0.5 * 1.0 + 0.5 * 5.0)
    classes = {}
    for own in (True, False):
        net, pol = net_and("mfs", {"rho": 0.0, "own_deadline": own})
        f = pol.start(FlowInfo(1, 0, 1_000_000, "p2d", request_id=1, batch_id=0, deadline_s=0.4e-3,
                               extra={"batch_deadlines": [0.4e-3, 0.5e-3, 1.0, 1.1]}))
        classes[own] = classes_of(pol, f)[0]
        net.run()
    # Own deadline 0.4 ms: MLU = 0.2, level 1. RED ~ 0.5 s: MLU tiny, deferred to the lowest data class.
    assert classes == {True: 1, False: 6}


def test_ablation_scavenger_moves_hopeless_requests_within_the_budget():
    # Needs 800 Gbit/s: MLU = 8 > 1. Scavenged (P7) within the budget; else the lowest data class (P6),
    # never above the collectives; with late_low off, the earlier behaviour (MLU level 1: P1).
    for params, expected in (({"scavenger": True}, 7), ({"scavenger": False}, 6),
                             ({"scavenger": False, "late_low": False}, 1), ({"drop_budget": 0.0}, 6)):
        net, pol = net_and("mfs", {"rho": 0.0, "drop_budget": 1.0, **params})
        f = pol.start(FlowInfo(1, 0, 10_000_000, "p2d", request_id=3, deadline_s=0.1e-3))
        assert classes_of(pol, f) == [expected], params
        net.run()


def test_policy_config_errors_name_the_key():
    with pytest.raises(ConfigError, match="policy: 'lstf' is not a policy; allowed: edf, fair, karuna, mfs, pias, sjf"):
        net_and("lstf")
    with pytest.raises(ConfigError, match="policies.mfs.E: must be > 1.0, got 0.5"):
        net_and("mfs", {"E": 0.5})
    with pytest.raises(ConfigError, match="policies.sjf.thresholds_bytes: must be increasing"):
        net_and("sjf", {"thresholds_bytes": [5, 3]})
    with pytest.raises(ConfigError, match="policies.mfs.defer: expected true or false"):
        net_and("mfs", {"defer": "yes"})


def plan(batch_id, reqs, compute_end, start=0.0):
    """A batch plan: ``reqs`` are (request_id, deadline_s, p2d_bytes) from host 1 to host 0."""
    return BatchPlan(batch_id, 0, start, compute_end,
                     tuple(BatchRequest(rid, d, b, 1, 0) for rid, d, b in reqs))


def test_feasibility_check_scavenges_the_heaviest_request_of_a_late_batch():
    net, pol = net_and("mfs", {"rho": 0.0, "drop_budget": 1.0})
    # Worst case: compute ends at 1 ms, then 11 MB over 100G = 0.88 ms: 1.88 ms > 1.5 ms.
    # Without the 10 MB request: 1 ms + 0.08 ms, feasible.
    pol.batch_started(plan(0, [(1, 1.5e-3, 10_000_000), (2, 1.5e-3, 1_000_000)], 1e-3))
    assert pol.scavenged == {1}
    assert pol.scavenge_log == [(0.0, 1, 0, "infeasible batch")]
    # Its P2D flows go to the scavenger class and stay there; the other request's do not.
    f1 = pol.start(FlowInfo(1, 0, 100_000, "p2d", request_id=1, batch_id=0, deadline_s=1.5e-3))
    f2 = pol.start(FlowInfo(1, 0, 100_000, "p2d", request_id=2, batch_id=0, deadline_s=1.5e-3))
    net.run()
    assert classes_of(pol, f1) == [7] and classes_of(pol, f2)[0] < 7


def test_feasibility_check_counts_only_batches_ahead_in_red_order():
    # An earlier-RED batch's 5 MB on the same port makes a later 6 MB batch late (1 ms + 11 MB
    # over 100G = 1.88 ms > 1.5 ms) until its 5 MB request goes; with a later RED it does not count.
    for other_deadline, expected in ((1.0e-3, {4}), (5e-3, set())):
        net, pol = net_and("mfs", {"rho": 0.0, "drop_budget": 1.0})
        pol.batch_started(plan(0, [(9, other_deadline, 5_000_000)], 0.0))
        pol.scavenged.clear()  # judge only the second batch
        pol.batch_started(plan(1, [(3, 1.5e-3, 1_000_000), (4, 1.5e-3, 5_000_000)], 1e-3))
        assert pol.scavenged == expected
        net.run()


def test_feasibility_check_respects_the_drop_budget_and_the_switch():
    reqs = [(1, 1.5e-3, 10_000_000), (2, 1.5e-3, 10_000_000), (3, 1.5e-3, 10_000_000), (4, 1.5e-3, 1)]
    for params, n in (({"drop_budget": 0.5}, 2), ({"drop_budget": 0.25}, 1), ({"scavenger": False}, 0)):
        net, pol = net_and("mfs", {"rho": 0.0, **params})
        pol.batch_started(plan(0, reqs, 1e-3))
        assert len(pol.scavenged) == n
        net.run()


def test_pending_batches_are_forgotten_once_their_p2d_bytes_are_delivered():
    net, pol = net_and("mfs", {"rho": 0.0})
    pol.batch_started(plan(0, [(1, 1.0, 200_000)], 0.0))
    for _ in range(2):
        pol.start(FlowInfo(1, 0, 100_000, "p2d", request_id=1, batch_id=0, deadline_s=1.0))
    net.run()
    assert 0 in pol.pending  # its compute has not ended: more P2D may come
    pol.batch_done(0, 0)
    assert pol.pending == {}


def test_mfs_promotions_are_atomic_no_rewinds_without_drops():
    """Item 5: a promotion takes effect once none of the flow's packets is in flight, so no reordering.

    The P2D flow is promoted while it sends behind a collective; with ``atomic`` off the promoted
    packets overtake the queued ones and go-back-N rewinds."""
    rewinds = {}
    for atomic in (True, False):
        pol, p2d, coll, f_p2d, _ = p2d_against_collective("mfs", {"rho": 0.0, "atomic": atomic})
        assert classes_of(pol, f_p2d)[-1] == 1 and p2d["class_changes"] >= 1
        assert p2d["bytes_dropped"] == 0 and coll["bytes_dropped"] == 0
        rewinds[atomic] = int(p2d["rewinds"] + coll["rewinds"])
        assert p2d["end_s"] <= 3e-3
    assert rewinds[True] == 0 and rewinds[False] > 0


def test_mfs_deferred_p2d_held_at_the_nic_or_sent_into_low_bands():
    """Item 9: with deferred_at = nic a deferred P2D flow sends nothing while a higher class of its NIC
    has bytes to send (here a collective paced at 10G); with switch (default) it fills the gaps."""
    end = {}
    for where in ("switch", "nic"):
        net, pol = net_and("mfs", {"rho": 0.0, "deferred_at": where})
        coll = pol.start(FlowInfo(1, 0, 1_000_000, "dispatch", batch_id=1))
        net.set_rate_cap(coll, 10e9)
        p2d = pol.start(FlowInfo(1, 2, 1_000_000, "p2d", request_id=7, batch_id=0, deadline_s=1.0))
        assert classes_of(pol, p2d) == [6]
        net.run()
        flows = net.flows().set_index("flow_id")
        end[where] = (flows.loc[p2d.id, "end_s"], flows.loc[coll.id, "end_s"])
    p2d_sw, coll_sw = end["switch"]
    p2d_nic, coll_nic = end["nic"]
    assert p2d_sw < 0.5 * coll_sw            # 1 MB at ~90G in the gaps of the paced collective
    assert p2d_nic >= 0.95 * coll_nic         # held until the collective had sent everything
