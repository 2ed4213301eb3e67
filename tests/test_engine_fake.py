"""Serving logic on the pure-Python fake fabric (no packets): each test runs in milliseconds.

The engine and the policies see only the Clock/Transport protocols, so the
same code that drives the ns-3 fabric runs here on :class:`FakeFabric`,
where a flow takes ``bytes * 8 / rate + latency``.
"""

from __future__ import annotations

import pytest

from ns3_mfs.fabric.topology import TestbedTopology
from ns3_mfs.fabric.transport import Clock, Transport
from ns3_mfs.fabric.network import Network
from ns3_mfs.policies import make_policy
from ns3_mfs.serving.config import ServingConfig
from ns3_mfs.serving.engine import ServingSetup
from ns3_mfs.serving.fake import FakeFabric
from ns3_mfs.serving.requests import Request

BLOCK = 64


def engine_on_fake(tiny_model, policy="fair", params=None, fabric=None, deadlines=None, **serving):
    cfg = ServingConfig(model=tiny_model, **{"kv_block_tokens": BLOCK, **serving})
    setup = ServingSetup(cfg, TestbedTopology().graph())
    fab = fabric or FakeFabric(rate_bps=100e9, latency_s=2e-6)
    pol = make_policy(policy, params or {}, fab)
    return fab, pol, setup.engine(fab, pol, deadlines)


def run(fab, eng, requests):
    for r in requests:
        eng.submit(r)
    fab.run()
    return eng.tables(fab.result(), 1.0)


def test_the_fake_fabric_is_a_clock_and_transport_and_times_flows():
    fab = FakeFabric(rate_bps=8e9, latency_s=1e-6, host_rates={3: 4e9})
    assert isinstance(fab, Clock) and isinstance(fab, Transport)
    done = []
    fab.start_flow(0, 1, 1000, 2, on_done=lambda f: done.append((f.id, fab.now)))
    fab.start_flow(0, 3, 1000, 2, on_done=lambda f: done.append((f.id, fab.now)))  # the slower host sets the rate
    fab.schedule(0.0, lambda: done.append(("timer", fab.now)))
    fab.run()
    assert done == [("timer", 0.0), (0, pytest.approx(1e-6 + 1e-6)), (1, pytest.approx(2e-6 + 1e-6))]
    order = []
    for k in range(3):  # callbacks at one time run in scheduling order
        fab.schedule(1.0, lambda k=k: order.append(k))
    fab.run()
    assert order == [0, 1, 2]


def test_batches_are_chunked_under_max_batched_tokens(tiny_model):
    fab, _, eng = engine_on_fake(tiny_model, max_batched_tokens=256, prefill_gpus=8)
    tables = run(fab, eng, [Request(0, 0.0, 600, 4), Request(1, 0.0, 200, 4)])
    # Request 0 arrives first and starts a batch alone; request 1 joins the chunk that ends request 0.
    assert [rids for *_, rids in eng.queue_log] == [(0,), (0,), (0, 1), (1,)]
    tokens = {s["batch_id"]: s["tokens"] for s in eng.steps}
    assert [tokens[b] for b in range(4)] == [256, 256, 88 + 168, 32]
    # The next batch starts when the previous one's last layer ends (one instance).
    steps = tables["steps"]
    for b in (1, 2, 3):
        assert steps[steps.batch_id == b].start_s.min() >= steps[steps.batch_id == b - 1].end_s.max()
    req = tables["requests"].set_index("request_id")
    assert req["completed"].all() and req.loc[1, "prefill_start_s"] == steps[steps.batch_id == 2].start_s.min()
    coll = tables["collectives"]
    last = coll[(coll.batch_id == 2) & (coll.kind == "combine") & (coll.layer == eng.layers - 1)]
    assert req.loc[0, "prefill_end_s"] == last.end_s.iloc[0] == steps[steps.batch_id == 3].start_s.min()


def test_layer_dag_order_on_the_fake(tiny_model):
    """Attention waits for its layer's KV fetch and the previous combine; P2D does not block prefill;
    the first token waits for the last P2D."""
    setup = ServingSetup(ServingConfig(model=tiny_model, kv_block_tokens=BLOCK, prefill_gpus=8, kv_pool="dedicated"),
                         TestbedTopology().graph())
    decode_nics = {setup.layout.gpu_nic[g] for g in setup.layout.decode_gpus}
    slow = FakeFabric(rate_bps=100e9, latency_s=2e-6, host_rates={h: 1e8 for h in decode_nics})
    fab, _, eng = engine_on_fake(tiny_model, fabric=slow, prefill_gpus=8, kv_pool="dedicated")
    blocks = tuple(range(10))
    tables = run(fab, eng, [Request(0, 0.0, 640, 4, blocks), Request(1, 1.0, 700, 4, blocks)])
    flows, steps, coll = tables["flows"], tables["steps"], tables["collectives"]
    fetch = flows[flows.stage == "kv_fetch"]
    assert len(fetch) and set(fetch.batch_id) == {1}  # the second request reuses the first one's prefix
    for (b, layer), grp in steps[steps.kind == "attention"].groupby(["batch_id", "layer"]):
        att = grp.start_s.iloc[0]
        f = fetch[(fetch.batch_id == b) & (fetch.layer == layer)]
        assert (f.end_s <= att + 1e-12).all()
        if layer > 0:
            comb = coll[(coll.batch_id == b) & (coll.layer == layer - 1) & (coll.kind == "combine")]
            assert len(comb) == 1 and comb.end_s.iloc[0] <= att + 1e-12
        disp = coll[(coll.batch_id == b) & (coll.layer == layer) & (coll.kind == "dispatch")]
        assert disp.start_s.iloc[0] >= grp.end_s.iloc[0] - 1e-12
    p2d = flows[flows.stage == "p2d"]
    req = tables["requests"].set_index("request_id")
    for rid, r in req.iterrows():
        mine = p2d[p2d.request_id == rid]
        assert mine.end_s.max() > r.prefill_end_s  # slow decode NICs: P2D ends after the prefill ...
        assert r.first_token_s == mine.end_s.max()  # ... and the first token waits for it
    b0 = steps[steps.batch_id == 0]
    assert b0[(b0.kind == "attention") & (b0.layer == 1)].start_s.iloc[0] < p2d[p2d.layer == 0].end_s.min()


def test_stage_bytes_equal_the_formulas(tiny_model):
    """Dedicated KV store, P2D of the new tokens only."""
    fab, _, eng = engine_on_fake(tiny_model, prefill_gpus=8, max_batched_tokens=512, kv_pool="dedicated",
                                 p2d_history="new")
    blocks = tuple(range(10))
    tables = run(fab, eng, [Request(0, 0.0, 640, 4, blocks), Request(1, 1.0, 700, 4, blocks + (99,))])
    per = eng.model.kv_bytes_per_token_per_layer()
    flows, req = tables["flows"], tables["requests"].set_index("request_id")
    p2d = flows[flows.stage == "p2d"].groupby(["request_id", "layer"])["bytes"].sum()
    fetch = flows[flows.stage == "kv_fetch"].groupby(["request_id", "layer"])["bytes"].sum()
    for rid, r in req.iterrows():
        new = r.input_tokens - r.cached_tokens
        for layer in range(eng.layers):
            assert p2d[(rid, layer)] == new * per
            if r.cached_tokens:
                assert fetch[(rid, layer)] == r.cached_tokens // BLOCK * BLOCK * per
    assert req.loc[1, "cached_tokens"] == 10 * BLOCK and req.loc[0, "cached_tokens"] == 0
    assert set(fetch.index.get_level_values(0)) == {1}


def test_kv_pool_on_the_prefill_instances_and_full_history_p2d(tiny_model):
    """The default KV pool: a reused block is fetched from the GPU of the instance that computed it (the
    first holder), never from the instance's own memory; P2D carries the prefix too (the full history)."""
    fab, _, eng = engine_on_fake(tiny_model, prefill_gpus=16, max_batched_tokens=4096)
    blocks = tuple(range(10))
    reqs = [Request(0, 0.0, 640, 4, blocks),                 # instance 0 computes the prefix
            Request(1, 1.0, 700, 4, blocks + (99,)),         # instance 1 fetches it from instance 0
            Request(2, 2.0, 660, 4, blocks + (98,)),         # instance 0 again: held locally, no fetch
            Request(3, 3.0, 720, 4, blocks + (97,))]         # instance 1 holds it now too: no fetch
    tables = run(fab, eng, reqs)
    per = eng.model.kv_bytes_per_token_per_layer()
    flows, req = tables["flows"], tables["requests"].set_index("request_id")
    assert list(req["instance"]) == [0, 1, 0, 1] and list(req["cached_tokens"]) == [0, 640, 640, 640]
    fetch = flows[flows.stage == "kv_fetch"]
    assert set(fetch["request_id"]) == {1}
    holder = eng.layout.prefill[0].groups[eng.states[0].group][0]
    assert set(fetch["src_gpu"]) == {holder} and (fetch["dst_gpu"] != holder).all()
    assert fetch.groupby("layer")["bytes"].sum().tolist() == [640 * per] * eng.layers
    p2d = flows[flows.stage == "p2d"].groupby(["request_id", "layer"])["bytes"].sum()
    for rid, r in req.iterrows():
        for layer in range(eng.layers):
            assert p2d[(rid, layer)] == r.input_tokens * per  # prefix + new tokens


@pytest.mark.parametrize("policy", ["fair", "sjf", "edf", "karuna", "pias", "mfs"])
def test_policies_classify_every_flow_on_the_fake(tiny_model, policy):
    reqs = [Request(i, 0.001 * i, 300 + 50 * i, 4) for i in range(4)]
    fab, pol, eng = engine_on_fake(tiny_model, policy, prefill_gpus=8,
                                   deadlines={r.id: r.arrival_s + 0.05 for r in reqs})
    tables = run(fab, eng, reqs)
    starts = [(fid, stage, cls) for _, fid, stage, cls, reason in pol.log if reason == "start"]
    assert len(starts) == len(fab.flows) > 0
    for fid, stage, cls in starts:
        assert fab.flows[fid].priority == cls and 1 <= cls <= 7
    net = tables["flows"][tables["flows"].path == "network"]
    assert sorted(net.flow_id) == [f.id for f in fab.flows] and not pol.active
    assert set(net.stage) >= {"p2d", "dispatch", "combine"}
    if policy == "pias":
        assert all(f.demotion == list(pol.params.thresholds_bytes) for f in fab.flows)
    if policy == "karuna":
        deadline_flows = [f for f in fab.flows if f.priority == 1]
        assert deadline_flows and all(f.rate_caps for f in deadline_flows)
    if policy == "mfs":  # stage 2 in its high class; only stages 1 and 3 go elsewhere
        assert {stage for _, stage, cls in starts if cls != 2} <= {"p2d", "kv_fetch"}


def test_the_network_has_every_transport_method():
    members = {m for m in dir(Transport) if not m.startswith("_")}
    assert {"now", "schedule", "start_flow", "set_priority"} <= members
    assert all(hasattr(Network, m) for m in members) and all(hasattr(FakeFabric, m) for m in members)


@pytest.mark.parametrize("lookahead", [1, 2])  # the tiny model has 2 layers
def test_kv_prefetch_lookahead_and_late_fetches_stall_their_layer(tiny_model, lookahead):
    """Fetches run ``kv_prefetch_layers`` layers ahead: the first K at batch start, layer l + K with layer l's
    attention; a layer's attention never starts before its fetch has landed."""
    slow = FakeFabric(rate_bps=1e9, latency_s=2e-6)  # slow enough that fetches are late
    fab, _, eng = engine_on_fake(tiny_model, fabric=slow, prefill_gpus=16, kv_prefetch_layers=lookahead)
    blocks = tuple(range(10))
    tables = run(fab, eng, [Request(0, 0.0, 640, 4, blocks), Request(1, 1.0, 700, 4, blocks + (99,))])
    fetch = tables["flows"][tables["flows"].stage == "kv_fetch"].groupby("layer")
    steps = tables["steps"]
    att = steps[(steps.kind == "attention") & (steps.batch_id == steps.batch_id.max())].set_index("layer")
    batch_start = fetch["start_s"].min()[0]  # layer 0's fetch starts with the batch
    for layer, group in fetch:
        assert att.loc[layer, "start_s"] >= group["end_s"].max()  # a late fetch stalls its layer
        if layer < lookahead:
            assert group["start_s"].min() == pytest.approx(batch_start, abs=1e-9)
        else:
            assert group["start_s"].min() == pytest.approx(att.loc[layer - lookahead, "start_s"], abs=1e-9)


@pytest.mark.parametrize("algorithm", ["direct", "ring"])
def test_vllm_allgather_reducescatter_volumes_per_link(tiny_model, algorithm):
    """Dispatch = all-gather of hidden states (hidden x bytes per token, not top-k), combine = reduce-scatter;
    direct: GPU i sends its buffer to every other GPU; ring: i -> i+1 carries all but the receiver's buffer
    (all-gather) or all but the sender's (reduce-scatter)."""
    fab, _, eng = engine_on_fake(tiny_model, prefill_gpus=8, ep_collective="allgather_reducescatter",
                                 ep_algorithm=algorithm)
    # Request 0 keeps the instance busy, so requests 1 and 2 form one batch (on two GPUs).
    tables = run(fab, eng, [Request(0, 0.0, 64, 2), Request(1, 1e-6, 400, 2), Request(2, 1e-6, 240, 2)])
    hidden = eng.model.hidden_size * eng.model.bytes_per_element
    flows = tables["flows"]
    b0 = next(b for _, _, b, ids in eng.queue_log if 1 in ids)
    owned = dict(zip(eng.layout.prefill[0].gpus, [0] * 8))
    in_b0 = next(ids for _, _, b, ids in eng.queue_log if b == b0)
    assert sorted(in_b0) == [1, 2]
    for rid in in_b0:
        st = eng.states[rid]
        owned[eng.layout.prefill[0].groups[st.group][0]] += st.req.input_tokens * hidden
    gpus, total = eng.layout.prefill[0].gpus, sum(owned.values())
    for kind in ("dispatch", "combine"):
        f = flows[(flows.stage == kind) & (flows.layer == 0) & (flows.batch_id == b0)]
        got = {(r.src_gpu, r.dst_gpu): r.bytes for r in f.itertuples()}
        if algorithm == "direct":
            want = {(i, j): owned[i] if kind == "dispatch" else owned[j] for i in gpus for j in gpus if i != j}
        else:
            nxt = {g: gpus[(k + 1) % len(gpus)] for k, g in enumerate(gpus)}
            want = {(i, nxt[i]): total - (owned[nxt[i]] if kind == "dispatch" else owned[i]) for i in gpus}
        assert got == {k: v for k, v in want.items() if v > 0}


def test_ring_applies_to_allgather_reducescatter_only(tiny_model):
    from ns3_mfs.config import ConfigError

    with pytest.raises(ConfigError, match="serving.ep_algorithm: 'ring' applies to ep_collective"):
        ServingConfig(model=tiny_model, ep_algorithm="ring").validate("serving")
