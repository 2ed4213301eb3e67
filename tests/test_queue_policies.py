"""Prefill queue policies (fcfs, kairos, sjf_aging) and engine-level dispatch (round_robin, load_aware)."""

import numpy as np
import pytest

from ns3_mfs.config import ConfigError, from_dict
from ns3_mfs.experiment.run import RunConfig, ServingConfig, run_config_from_dict
from ns3_mfs.fabric import TestbedTopology
from ns3_mfs.serving import dispatch, queueing
from ns3_mfs.serving.dispatch import InstanceView
from ns3_mfs.serving.prefill import ReqState
from ns3_mfs.serving.queueing import QueueContext
from ns3_mfs.serving.requests import Request, WorkloadConfig

from conftest import WL, simulate



def config(servers=4, **serving) -> RunConfig:
    base = dict(model="mixtral-8x7b", gpu="rtx3090", tp=1, ep=8, prefill_gpus=8, decode_gpus=4, ttft_slo_s=1.0)
    base.update(serving)
    return RunConfig(topology=TestbedTopology(servers=servers), workload=from_dict(WorkloadConfig, WL, "workload"),
                     serving=ServingConfig(**base), seed=1)


def state(rid, arrival, remaining):
    return ReqState(Request(rid, arrival, remaining, 10), 0, 0, (), remaining=remaining)


def ids(queue):
    return [st.req.id for st in queue]


# ------------------------------------------------------------ unit: ordering


def ctx(now, deadlines=None, predict=lambda st: 0.0, ahead=0.0):
    return QueueContext(now, 0, deadlines or {}, predict, ahead)


def test_fcfs_keeps_arrival_order():
    q = [state(3, 0.3, 100), state(1, 0.1, 900), state(2, 0.2, 50)]
    assert ids(queueing.make("fcfs").order(q, ctx(1.0))) == [3, 1, 2]


def test_sjf_aging_shortest_first_and_aging_overtakes():
    pol = queueing.make("sjf_aging", {"aging_rate_tokens_per_s": 1000.0})
    q = [state(0, 0.0, 5000), state(1, 0.0, 1000), state(2, 0.0, 3000)]
    assert ids(pol.order(q, ctx(1.0))) == [1, 2, 0]
    # A 5000-token request that waited 3 s longer than a 1000-token one: 5000 - 1000 > 3 * 1000, short first.
    q = [state(0, 0.0, 5000), state(1, 3.0, 1000)]
    assert ids(pol.order(q, ctx(10.0))) == [1, 0]
    # 5 s longer: (5000 - 1000) < 5 * 1000, so aging lets the long one overtake.
    q = [state(0, 0.0, 5000), state(1, 5.0, 1000)]
    assert ids(pol.order(q, ctx(10.0))) == [0, 1]
    scores = {rid: s for _, _, rid, s, _ in pol.log[-2:]}
    assert scores == {0: 5000 - 1000 * 10.0, 1: 1000 - 1000 * 5.0}
    # Without aging it is plain SJF.
    assert ids(queueing.make("sjf_aging", {"aging_rate_tokens_per_s": 0.0}).order(q, ctx(10.0))) == [1, 0]


def test_kairos_least_urgency_first_and_hopeless_last():
    pol = queueing.make("kairos")
    now = 10.0
    pred = {0: 0.6, 1: 0.6, 2: 0.1, 3: 0.2, 4: 0.1}
    deadlines = {0: now + 1.0, 1: now + 1.1, 2: now + 5.0, 3: now - 0.5}
    q = [state(3, 1.0, 100), state(2, 2.0, 100), state(1, 3.0, 100), state(0, 4.0, 100), state(4, 0.5, 100)]
    out = pol.order(q, ctx(now, deadlines, lambda st: pred[st.req.id]))
    # 0 has the least urgency (1.0 - 0.6 = 0.4 < 1.1 - 0.6 = 0.5 < 4.9). Once 0 is ahead, 1 would finish at
    # now + 1.2 > its deadline: hopeless. 2 is next; 4 has no deadline (infinite urgency); the hopeless
    # requests 1 and 3 go last, in arrival order.
    assert ids(out) == [0, 2, 4, 3, 1]
    log = {rid: (round(u, 9), note) for _, _, rid, u, note in pol.log}
    assert log[0] == (0.4, "hopeful") and log[2] == (round(5.0 - 0.6 - 0.1, 9), "hopeful")
    assert log[1][1] == "hopeless" and log[3][1] == "hopeless" and log[4][1] == "hopeful"
    # Work already queued ahead (started requests) counts too: with 0.45 s ahead, request 0 is hopeless
    # (1.0 - 0.45 - 0.6 < 0) and 1 is the least urgent hopeful one (1.1 - 0.45 - 0.6 = 0.05).
    out = pol.order(q[:4], ctx(now, deadlines, lambda st: pred[st.req.id], ahead=0.45))
    assert ids(out) == [1, 2, 3, 0]


# ------------------------------------------------------------ engine: ordering


def engine_order(tiny_model, policy, params=None):
    cfg = config(model=tiny_model, max_batched_tokens=1000, queue_policy=policy, queue_params=params or {})
    # Request 0 starts alone; 1..4 queue behind it and are ordered when its batch ends.
    sizes = {0: 1000, 1: 900, 2: 300, 3: 600, 4: 100}
    reqs = [Request(i, 0.0, n, 10) for i, n in sizes.items()]
    deadlines = {0: 1.0, 1: 0.1, 2: 0.5, 3: 0.3, 4: 1e-9}
    eng, t = simulate(cfg, reqs, deadlines)
    order = []  # requests in the order they first enter a batch (batch order, then position in it)
    for _, _, _, rids in eng.queue_log:
        order += [r for r in rids if r not in order]
    assert t["requests"]["completed"].all()
    return order, eng


def test_engine_applies_the_queue_policy(tiny_model):
    order, eng = engine_order(tiny_model, "fcfs")
    assert order == [0, 1, 2, 3, 4]
    order, eng = engine_order(tiny_model, "sjf_aging", {"aging_rate_tokens_per_s": 0.0})
    assert order == [0, 4, 2, 3, 1]
    order, eng = engine_order(tiny_model, "kairos")
    assert order == [0, 1, 3, 2, 4]  # least urgency first; 4's deadline has passed: last
    assert [note for *_, rid, _, note in eng.queue_policy.log if rid == 4][0] == "hopeless"
    # A request partially computed keeps going first: each batch starts with the one cut by the previous.
    log = eng.queue_log
    for (_, _, _, prev), (_, _, _, nxt) in zip(log, log[1:]):
        assert nxt[0] == prev[-1] or prev[-1] not in nxt


# ------------------------------------------------------------ dispatch


def view(i, queued=0, kv=0.0, prefix=0, session=False):
    return InstanceView(i, queued, kv, prefix, session, 8192)


def test_load_aware_stickiness_and_margin():
    d = dispatch.make("load_aware", {"margin": 0.5})
    req = Request(7, 0.0, 100, 1, block_hashes=(1, 2))
    # Instance 1 holds the prefix and is within the margin: sticky.
    assert d.choose(req, [view(0), view(1, queued=4096, prefix=2)], 0.0) == 1
    # Its load exceeds the others' minimum by more than the margin: least loaded instead.
    assert d.choose(req, [view(0), view(1, queued=8192, prefix=2)], 0.0) == 0
    # Session stickiness when no prefix block is held.
    assert d.choose(req, [view(0, queued=100), view(1, queued=2000, session=True)], 0.0) == 1
    # No stickiness: least loaded (queued tokens and KV utilisation), ties round-robin.
    assert d.choose(req, [view(0, kv=0.5), view(1)], 0.0) == 1
    picks = [d.choose(req, [view(0), view(1)], 0.0) for _ in range(4)]
    assert sorted(picks) == [0, 0, 1, 1]
    assert [reason for *_, reason in d.log[:3]] == ["sticky", "sticky_overloaded", "sticky"]


def test_load_aware_sends_a_cached_prefix_to_its_instance():
    reqs = [Request(0, 0.0, 1600, 10, block_hashes=(1, 2, 3)),
            Request(1, 0.5, 1600, 10, block_hashes=(1, 2, 3, 7))]
    res = {}
    for name in ("round_robin", "load_aware"):
        eng, t = simulate(config(servers=6, prefill_gpus=16, dispatch=name, local_prefix_cache=True), reqs)
        f = t["flows"]
        res[name] = (list(t["requests"]["instance"]), int(f[f.stage == "kv_fetch"]["bytes"].sum()))
    assert res["round_robin"][0] == [0, 1]
    assert res["round_robin"][1] > 0            # instance 1 fetches the prefix from the KV store
    assert res["load_aware"] == ([0, 0], 0)     # instance 0 holds it: no fetch at all


def test_load_aware_leaves_an_overloaded_sticky_instance():
    # Request 1 (8000 tokens, request 0's prefix) sticks to instance 0; request 2 arrives while
    # instance 0 computes it: sticky again unless instance 0's load exceeds the margin.
    reqs = [Request(0, 0.0, 1600, 10, block_hashes=(1, 2, 3)),
            Request(1, 0.5, 8000, 10, block_hashes=(1, 2, 3, 4)),
            Request(2, 0.52, 1600, 10, block_hashes=(1, 2, 3, 9))]
    got = {}
    for margin in (0.5, 2.0):
        eng, t = simulate(config(servers=6, prefill_gpus=16, dispatch="load_aware",
                                 dispatch_params={"margin": margin}), reqs)
        got[margin] = list(t["requests"]["instance"])
        reasons = [reason for *_, reason in eng.dispatcher.log]
    assert got[2.0] == [0, 0, 0] and reasons[2] == "sticky"
    assert got[0.5] == [0, 0, 1]


def test_config_errors_name_the_key():
    base = {"topology": {"kind": "testbed"}, "workload": WL}
    cases = [
        ({"queue_policy": "lifo"}, "serving.queue_policy: 'lifo' is not a queue policy; allowed: fcfs, kairos, sjf_aging"),
        ({"queue_policy": "sjf_aging", "queue_params": {"aging_rate": 1}}, "serving.queue_params.aging_rate: unknown key"),
        ({"queue_policy": "sjf_aging", "queue_params": {"aging_rate_tokens_per_s": -1}},
         "serving.queue_params.aging_rate_tokens_per_s: must be >= 0.0"),
        ({"queue_policy": "kairos", "queue_params": {"prediction_scale": "x"}},
         "serving.queue_params.prediction_scale: expected a number"),
        ({"dispatch": "random"}, "serving.dispatch: 'random' is not a dispatcher; allowed: load_aware, round_robin"),
        ({"dispatch": "load_aware", "dispatch_params": {"margin": -1.0}}, "serving.dispatch_params.margin: must be >= 0.0"),
        ({"dispatch": "load_aware", "dispatch_params": {"sticky": 1}}, "serving.dispatch_params.sticky: expected true or false"),
    ]
    for serving, needle in cases:
        with pytest.raises(ConfigError) as exc:
            run_config_from_dict({**base, "serving": serving})
        assert needle in str(exc.value), str(exc.value)
    cfg = run_config_from_dict({**base, "serving": {"queue_policy": "kairos", "dispatch": "load_aware"}})
    assert cfg.serving.queue_policy == "kairos" and np.isclose(
        queueing.check_params("kairos", cfg.serving.queue_params).prediction_scale, 1.0)
