"""MFS and its baselines as the paper defines them (issue 15): class decisions on hand-built scenarios.

Every test drives a policy on the pure-Python fake fabric (no packets) and
checks its event log of class decisions against the expected list.
"""

from __future__ import annotations

import pytest

from ns3_mfs.policies import BatchPlan, BatchRequest, FlowInfo, make_policy
from ns3_mfs.policies.mfs import LEVEL_TABLE, early_class
from ns3_mfs.serving.fake import FakeFabric


def fake(policy, params=None, **fab):
    f = FakeFabric(rate_bps=100e9, latency_s=1e-6, **fab)
    return f, make_policy(policy, params or {}, f)


def decisions(pol, flow=None):
    """(class, reason) of every decision, of one flow or of all."""
    return [(c, r) for (_t, fid, _s, c, r) in pol.log if flow is None or fid == flow.id]


def classes(pol, flow):
    return [c for c, _ in decisions(pol, flow)]


def advance(fab, t):
    """Run the fake fabric to time ``t`` (even with nothing scheduled)."""
    fab.schedule(t, lambda: None)
    fab.run(until=t)


def plan(batch_id, reqs, compute_end, start=0.0, instance=0):
    """``reqs``: (request_id, deadline_s, p2d_bytes[, ports]) from host 1 to host 0."""
    out = []
    for r in reqs:
        rid, d, b = r[:3]
        ports = tuple(sorted(r[3].items())) if len(r) > 3 else ()
        out.append(BatchRequest(rid, d, b, 1, 0, ports))
    return BatchPlan(batch_id, instance, start, compute_end, tuple(out))


# ------------------------------------------------------------------ item 1
def test_late_p2d_never_preempts_collectives():
    """Past its deadline a P2D flow is infeasible: scavenger within the budget, else P6; never P1."""
    for params, expected in (({"drop_budget": 1.0}, [7]), ({"drop_budget": 0.0}, [6])):
        fab, pol = fake("mfs", {"rho": 0.0, **params})
        advance(fab, 2e-3)
        coll = pol.start(FlowInfo(2, 0, 1_000_000, "combine", batch_id=1))
        late = pol.start(FlowInfo(1, 0, 1_000_000, "p2d", request_id=5, batch_id=0, deadline_s=1e-3))
        assert classes(pol, coll) == [2] and classes(pol, late) == expected
        fab.run()


def test_a_deferred_p2d_flow_whose_deadline_passes_is_not_promoted_to_p1():
    fab, pol = fake("mfs", {"rho": 0.0, "drop_budget": 0.0})
    # 1 MB, 100 us to go: MLU 0.8 (level 1) -> P1 at once; 10 ms to go: deferred, promoted as laxity shrinks.
    f = pol.start(FlowInfo(1, 0, 100_000_000, "p2d", request_id=1, batch_id=0, deadline_s=5e-3))
    for k in range(1, 40):  # boundaries every 0.25 ms, past the deadline (the flow lasts 8 ms)
        fab.schedule(k * 0.25e-3, lambda k=k: pol.layer_boundary(0, 0, k))
    fab.run()
    seq = classes(pol, f)
    # MLU = 800 Mbit / (5 ms x 100 G) = 1.6 > 1 from the start: infeasible, lowest data class, stays there.
    assert seq == [6]


# ------------------------------------------------------------------ item 2
def test_tight_request_in_a_loose_batch_uses_its_own_deadline():
    deadlines = [1e-3, 50e-3, 51e-3, 52e-3]  # RED = 0.25 x 1 ms + 0.75 x 50 ms = 37.75 ms
    fab, pol = fake("mfs", {"rho": 0.0})
    pol.batch_started(plan(0, [(i, d, 1_000_000) for i, d in enumerate(deadlines)], 0.5e-3))
    tight = pol.start(FlowInfo(1, 0, 1_000_000, "p2d", request_id=0, batch_id=0, deadline_s=1e-3,
                               extra={"batch_deadlines": deadlines}))
    loose = pol.start(FlowInfo(1, 0, 1_000_000, "p2d", request_id=1, batch_id=0, deadline_s=50e-3,
                               extra={"batch_deadlines": deadlines}))
    # Tight: 8 Mbit / (1 ms x 100 G) = 0.08: level 2 (P3). Loose: 0.0016, level 5 (P6).
    assert classes(pol, tight) == [3] and classes(pol, loose) == [6]
    fab.run()


# ------------------------------------------------------------------ item 3
def test_early_stage_ties_are_broken_by_the_batch_red_rank():
    fab, pol = fake("mfs", {"rho": 0.0})
    pol.batch_started(plan(0, [(1, 9e-3, 1000)], 5e-3, instance=0))   # later RED
    pol.batch_started(plan(1, [(2, 3e-3, 1000)], 5e-3, instance=1))   # earlier RED: leads
    pol.layer_boundary(0, 0, 0)
    pol.layer_boundary(1, 1, 0)
    c0 = pol.start(FlowInfo(1, 0, 10_000_000, "dispatch", batch_id=0, instance=0))
    c1 = pol.start(FlowInfo(3, 2, 10_000_000, "dispatch", batch_id=1, instance=1))
    f0 = pol.start(FlowInfo(1, 0, 10_000_000, "kv_fetch", layer=1, request_id=1, batch_id=0, instance=0))
    f1 = pol.start(FlowInfo(3, 2, 10_000_000, "kv_fetch", layer=1, request_id=2, batch_id=1, instance=1))
    assert (classes(pol, c1), classes(pol, c0)) == ([2], [3])
    assert (classes(pol, f1), classes(pol, f0)) == ([3], [4])
    # Batch 1 ends: batch 0 leads, its early-stage flows move up one class.
    pol.batch_done(1, 1)
    assert decisions(pol, c0) == [(3, "start"), (2, "rank")]
    assert decisions(pol, f0) == [(4, "start"), (3, "rank")]
    fab.run()
    # Switched off: both batches share the levels.
    fab, pol = fake("mfs", {"rho": 0.0, "rank": False})
    pol.batch_started(plan(0, [(1, 9e-3, 1000)], 5e-3))
    pol.batch_started(plan(1, [(2, 3e-3, 1000)], 5e-3))
    c0 = pol.start(FlowInfo(1, 0, 10_000, "dispatch", batch_id=0))
    assert classes(pol, c0) == [2]
    fab.run()


def test_red_off_ranks_batches_by_their_earliest_deadline():
    # RED of [1, 20, 21] ms = 1/3 x 1 + 2/3 x 20 = 13.7 ms; of [5] ms = 5 ms.
    for red, lead in ((True, 1), (False, 0)):
        fab, pol = fake("mfs", {"rho": 0.0, "red": red})
        pol.batch_started(plan(0, [(1, 1e-3, 1), (2, 20e-3, 1), (3, 21e-3, 1)], 9.0))
        pol.batch_started(plan(1, [(4, 5e-3, 1)], 9.0))
        assert pol.rank_of(lead) == 0 and pol.rank_of(1 - lead) == 1


# ------------------------------------------------------------------ item 4
def test_rho_counts_other_traffic_over_a_window_and_mlu_is_per_request():
    fab, pol = fake("mfs", {"rho_window_s": 1e-3})
    # The request's own flow is the only traffic on host 1: rho stays 0 (own traffic is not "other").
    pol.batch_started(plan(0, [(1, 20e-3, 2_000_000)], 0.0))
    a = pol.start(FlowInfo(1, 0, 1_000_000, "p2d", layer=0, request_id=1, batch_id=0, deadline_s=20e-3))
    fab.run(until=50e-6)
    assert pol._rho(pol.active[a.id], 100e9) == 0.0
    # Per request: MLU of the request's 2 MB left (two layers), not this 1 MB flow alone.
    info = pol.active[a.id]
    left = 2_000_000 - fab.flow_bytes_delivered(a)
    assert pol.mlu(info) == pytest.approx(left * 8 / ((20e-3 - 50e-6) * 100e9))
    fab.run()
    fab2, pol2 = fake("mfs", {"rho_window_s": 1e-3, "per_request": False})
    pol2.batch_started(plan(0, [(1, 20e-3, 2_000_000)], 0.0))
    b = pol2.start(FlowInfo(1, 0, 1_000_000, "p2d", request_id=1, batch_id=0, deadline_s=20e-3))
    assert pol2.mlu(pol2.active[b.id]) == pytest.approx(1_000_000 * 8 / (20e-3 * 100e9))
    fab2.run()


def test_a_short_burst_of_other_traffic_cannot_ratchet_p2d_up():
    # 1 MB of other traffic leaves host 1 in 80 us. Over a 1 ms window that is 8 % load, not 100 %.
    fab, pol = fake("mfs", {"rho_window_s": 1e-3})
    pol.batch_started(plan(0, [(1, 10e-3, 1_000_000)], 0.0))
    p = pol.start(FlowInfo(1, 0, 1_000_000, "p2d", request_id=1, batch_id=0, deadline_s=10e-3))
    fab.run(until=0.0)
    info = pol.active[p.id]
    pol._rho(info, 100e9)  # first sample
    pol.start(FlowInfo(1, 2, 1_000_000, "dispatch", batch_id=1))
    fab.run(until=85e-6)
    rho = pol._rho(info, 100e9)
    own = fab.flow_bytes_delivered(p)
    other = fab.port_tx_bytes(1) - own
    assert rho == pytest.approx(other * 8 / (1e-3 * 100e9))
    assert rho < 0.1
    fab.run()


# ------------------------------------------------------------------ item 6
def test_a_fetch_the_gpu_waits_for_is_promoted_to_rli_0():
    fab, pol = fake("mfs", {"rho": 0.0})
    pol.layer_boundary(0, 0, 3)
    f = pol.start(FlowInfo(1, 0, 50_000_000, "kv_fetch", layer=4, request_id=1, batch_id=0))
    far = pol.start(FlowInfo(1, 0, 50_000_000, "kv_fetch", layer=6, request_id=1, batch_id=0))
    pol.layer_waiting(0, 0, 4)  # layer 3 done, layer 4 waits for its fetch
    assert decisions(pol, f) == [(3, "start"), (2, "waiting 4")]
    assert decisions(pol, far) == [(5, "start"), (4, "waiting 4")]  # RLI up to K-1 with a deeper lookahead
    fab.run()
    fab, pol = fake("mfs", {"rho": 0.0, "waiting_layer": False})
    pol.layer_boundary(0, 0, 3)
    f = pol.start(FlowInfo(1, 0, 50_000_000, "kv_fetch", layer=4, request_id=1, batch_id=0))
    pol.layer_waiting(0, 0, 4)
    assert decisions(pol, f) == [(3, "start")]
    fab.run()


def test_the_engine_signals_a_blocking_fetch(tiny_model):
    from test_engine_fake import engine_on_fake, run
    from ns3_mfs.serving.requests import Request

    # A slow KV-store NIC: the next layer's fetch outlasts the layer's compute.
    fab0, _, eng0 = engine_on_fake(tiny_model, "mfs", {"rho": 0.0}, prefill_gpus=8, kv_pool="dedicated")
    store = set(eng0.layout.kv_store_hosts)
    slow = FakeFabric(rate_bps=100e9, latency_s=2e-6, host_rates={h: 1e8 for h in store})
    fab, pol, eng = engine_on_fake(tiny_model, "mfs", {"rho": 0.0}, fabric=slow, prefill_gpus=8,
                                   kv_pool="dedicated")
    blocks = tuple(range(4))
    run(fab, eng, [Request(0, 0.0, 512, 1, block_hashes=blocks), Request(1, 0.1, 512, 1, block_hashes=blocks)])
    waits = [(c, r) for (_t, _f, s, c, r) in pol.log if s == "kv_fetch" and r.startswith("waiting")]
    assert waits and all(c == 2 for c, _ in waits)


# ------------------------------------------------------------------ item 7
def test_scavenger_class_carries_only_pruned_requests():
    fab, pol = fake("mfs", {"rho": 0.0, "drop_budget": 1.0})
    deferred = pol.start(FlowInfo(1, 0, 1000, "p2d", request_id=1, batch_id=0, deadline_s=10.0))
    far = pol.start(FlowInfo(1, 0, 1000, "kv_fetch", layer=20, request_id=2, batch_id=0))
    assert classes(pol, deferred) == [6] and classes(pol, far) == [6]
    pol.batch_started(plan(1, [(3, 1e-3, 100_000_000)], 0.5e-3))
    pruned = pol.start(FlowInfo(1, 0, 1000, "kv_fetch", layer=0, request_id=3, batch_id=1))
    assert pol.scavenged == {3} and classes(pol, pruned) == [7]
    assert sorted(LEVEL_TABLE) == list(range(1, 8))
    assert early_class(0) == 2 and early_class(0, rank=1) == 3 and early_class(9) == 6
    fab.run()


# ------------------------------------------------------------------ item 8
def test_algorithm1_counts_the_whole_traffic_matrix():
    # P2D alone (1 MB) is feasible; the request's 10 MB of fetches into host 0 make the batch late.
    ports = {(2, "tx"): 10_000_000, (0, "rx"): 11_000_000, (1, "tx"): 1_000_000}
    for matrix, expected in ((True, {1}), (False, set())):
        fab, pol = fake("mfs", {"rho": 0.0, "drop_budget": 1.0, "traffic_matrix": matrix})
        pol.batch_started(plan(0, [(1, 1.5e-3, 1_000_000, ports), (2, 1.5e-3, 1_000, {(0, "rx"): 1_000})], 1e-3))
        assert pol.scavenged == expected
        fab.run()


def test_algorithm1_prunes_the_heaviest_on_the_bottleneck_even_from_a_batch_ahead():
    fab, pol = fake("mfs", {"rho": 0.0, "drop_budget": 1.0})
    pol.batch_started(plan(0, [(1, 5e-3, 8_000_000)], 0.1e-3))    # ahead in RED order, feasible alone
    assert pol.scavenged == set()
    pol.batch_started(plan(1, [(2, 6e-3, 2_000_000), (3, 6e-3, 500_000)], 5.5e-3))
    # Batch 1: 5.5 ms + 10.5 MB / 100 G = 6.34 ms > 6 ms; the bottleneck's heaviest is request 1 (batch 0).
    assert pol.scavenge_log == [(0.0, 1, 1, "infeasible batch")]
    fab.run()


def test_algorithm1_runs_again_when_a_batch_departs():
    fab, pol = fake("mfs", {"rho": 0.0, "drop_budget": 1.0})
    pol.batch_started(plan(0, [(1, 2e-3, 5_000_000), (2, 2e-3, 1_000_000)], 0.5e-3))  # 0.9 ms: feasible
    assert pol.scavenged == set()
    advance(fab, 1.8e-3)
    pol.batch_done(0, 0)  # compute ran late: 1.8 ms + 0.48 ms > 2 ms
    assert pol.scavenge_log == [(1.8e-3, 1, 0, "infeasible batch")]
    fab.run()


def test_a_pruned_requests_running_flows_move_to_the_scavenger():
    fab, pol = fake("mfs", {"rho": 0.0, "drop_budget": 1.0})
    pol.batch_started(plan(0, [(1, 2e-3, 5_000_000), (2, 2e-3, 1_000_000)], 0.5e-3))
    f = pol.start(FlowInfo(2, 0, 50_000_000, "kv_fetch", layer=1, request_id=1, batch_id=0))
    fab.run(until=1.8e-3)
    pol.batch_done(0, 0)
    assert decisions(pol, f) == [(3, "start"), (7, "scavenged")]
    fab.run()


# --------------------------------------------------------------- baselines
def test_edf_puts_every_deadline_flow_above_every_other_flow():
    fab, pol = fake("edf")
    far = pol.start(FlowInfo(1, 0, 1000, "p2d", request_id=1, instance=0, deadline_s=0.2))      # 200 ms to go
    very_far = pol.start(FlowInfo(1, 0, 1000, "p2d", request_id=2, instance=0, deadline_s=30.0))
    near = pol.start(FlowInfo(1, 0, 1000, "p2d", request_id=3, instance=0, deadline_s=2e-3))
    coll = pol.start(FlowInfo(2, 0, 1000, "combine", batch_id=0))
    fetch = pol.start(FlowInfo(3, 0, 1000, "kv_fetch", request_id=1))
    assert [classes(pol, f) for f in (near, far, very_far, coll, fetch)] == [[2], [5], [6], [7], [7]]
    advance(fab, 0.199)
    pol.layer_boundary(0, 0, 1)  # 1 ms to go now: promoted (the others are done by then on the fake)
    assert decisions(pol, far) == [(5, "start")]
    fab2, pol2 = fake("edf")
    f = pol2.start(FlowInfo(1, 0, 10**10, "p2d", request_id=1, instance=0, deadline_s=0.2))
    advance(fab2, 0.199)
    pol2.layer_boundary(0, 0, 1)
    assert decisions(pol2, f) == [(5, "start"), (2, "layer 1")]
    fab2.run()


def test_karuna_deadline_flows_paced_on_top_and_the_rest_by_size():
    fab, pol = fake("karuna", {"margin": 0.0})
    dl = pol.start(FlowInfo(1, 0, 2_000_000, "p2d", request_id=1, deadline_s=2e-3))
    small = pol.start(FlowInfo(2, 0, 10_000, "combine"))
    mid = pol.start(FlowInfo(2, 0, 2_000_000, "dispatch"))
    big = pol.start(FlowInfo(3, 0, 100_000_000, "kv_fetch", request_id=2))
    assert [classes(pol, f) for f in (dl, small, mid, big)] == [[1], [2], [5], [7]]
    assert fab.flows[dl.id].rate_caps == [(0.0, pytest.approx(8e9))]  # 2 MB in 2 ms
    assert all(fab.flows[f.id].demotion is None and not fab.flows[f.id].rate_caps for f in (small, mid, big))
    fab.run()


def test_karuna_late_deadline_flows_follow_the_late_option():
    for late, expected in (("rest", [5]), ("top", [1])):
        fab, pol = fake("karuna", {"late": late})
        advance(fab, 5e-3)
        f = pol.start(FlowInfo(1, 0, 2_000_000, "p2d", request_id=1, deadline_s=2e-3))
        assert classes(pol, f) == expected
        # Never paced: no minimum rate exists past the deadline (a 0 cap is no cap).
        assert all(bps == 0.0 for _, bps in fab.flows[f.id].rate_caps)
        fab.run()


def test_karuna_pias_variant_is_kept():
    fab, pol = fake("karuna", {"rest": "pias"})
    f = pol.start(FlowInfo(2, 0, 2_000_000, "dispatch"))
    assert classes(pol, f) == [2] and fab.flows[f.id].demotion == list(pol.params.thresholds_bytes)
    fab.run()


# ------------------------------------------------------------- diagnostics
@pytest.mark.parametrize("policy", ["fair", "sjf", "edf", "karuna", "pias", "mfs"])
def test_per_stage_diagnostics_for_every_policy(tiny_model, policy):
    from test_engine_fake import engine_on_fake, run
    from ns3_mfs.serving.diagnostics import stage_summary
    from ns3_mfs.serving.requests import Request

    reqs = [Request(i, 0.0005 * i, 300 + 50 * i, 4) for i in range(4)]
    fab, pol, eng = engine_on_fake(tiny_model, policy, {"late_low": False} if policy == "mfs" else None,
                                   prefill_gpus=8, deadlines={r.id: r.arrival_s + 1e-6 for r in reqs})
    tables = run(fab, eng, reqs)
    flows = tables["flows"]
    assert {"late_p1", "scavenged"} <= set(flows.columns)
    s = stage_summary(flows, pol)
    net = flows[flows.path == "network"]
    for n in (1, 2, 3):
        assert sum(s[f"stage{n}_class{c}_flows"] for c in range(1, 8)) == int((net.stage_num == n).sum())
        assert s[f"stage{n}_rewinds"] == 0  # the fake fabric has no rewinds
    late = net[net.late_p1]
    assert s["p2d_p1_after_deadline"] == len(late) and set(late.stage) <= {"p2d"}
    # Every deadline is missed at once: P1 after the deadline happens only where a policy puts late
    # P2D on top (EDF; PIAS starts every flow there; MFS with late_low off; not Karuna's default).
    assert (len(late) > 0) == (policy in ("edf", "mfs", "pias"))
    assert s["scavenged_bytes"] == int(net[net.scavenged].bytes.sum())


def test_a_deeper_fetch_lookahead_gives_rli_up_to_k_minus_1(tiny_model):
    from test_engine_fake import engine_on_fake, run
    from ns3_mfs.serving.requests import Request

    blocks = tuple(range(4))
    seen = {}
    for ahead in (1, 3):
        fab, pol, eng = engine_on_fake(tiny_model, "mfs", {"rho": 0.0}, prefill_gpus=8, kv_prefetch_layers=ahead,
                                       kv_pool="dedicated")
        run(fab, eng, [Request(0, 0.0, 512, 1, block_hashes=blocks), Request(1, 0.1, 512, 1, block_hashes=blocks)])
        seen[ahead] = sorted({c for (_t, _f, s, c, r) in pol.log if s == "kv_fetch" and r == "start"})
        fetched = sorted({r.layer for r in eng.recorder.flows if r.stage == "kv_fetch"})
        assert fetched == list(range(eng.layers))
    # Lookahead 1: RLI 0 or 1 (P2, P3); lookahead 3 on a model of L layers: RLI up to min(3, L - 1).
    assert seen[1] == [2, 3]
    assert seen[3] == [2 + r for r in range(min(3, eng.layers - 1) + 1)]


def test_the_documented_level_table_is_the_code_table():
    from pathlib import Path

    page = (Path(__file__).resolve().parents[1] / "docs" / "explanation" / "policies.md").read_text()
    for cls, text in LEVEL_TABLE.items():
        assert f"| P{cls} | {text} |" in page
