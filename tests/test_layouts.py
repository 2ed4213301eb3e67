"""Instances and batches as the MFS paper runs them (issue 14.6): tp x ep instances and per-DP-rank batches."""

from __future__ import annotations

import pytest

from ns3_mfs.config import ConfigError
from ns3_mfs.fabric.topology import TestbedTopology
from ns3_mfs.policies import make_policy
from ns3_mfs.serving.compute import ComputeModel
from ns3_mfs.serving.config import ServingConfig
from ns3_mfs.serving.engine import ServingSetup
from ns3_mfs.serving.fake import FakeFabric
from ns3_mfs.serving.models import load_model
from ns3_mfs.serving.requests import Request


def engine(tiny_model, servers=8, **serving):
    cfg = ServingConfig(model=tiny_model, **{"kv_block_tokens": 64, "decode_gpus": 4, **serving})
    setup = ServingSetup(cfg, TestbedTopology(servers=servers).graph())
    fab = FakeFabric(rate_bps=100e9, latency_s=2e-6)
    return fab, setup, setup.engine(fab, make_policy("fair", {}, fab))


def run(fab, eng, requests):
    for r in requests:
        eng.submit(r)
    fab.run()
    return eng.tables(fab.result(), 1.0)


def test_tp_x_ep_instances_have_tp_times_ep_gpus(tiny_model):
    cm = ComputeModel(load_model(tiny_model), "a100", tp=2, ep=4, instance_gpus="tp_x_ep")
    assert (cm.gpus, cm.dp) == (8, 4)
    assert (ComputeModel(load_model(tiny_model), "a100", tp=2, ep=4).gpus, ) == (4,)
    # The MFS paper's DBRX TP2/EP16 instance: 32 GPUs (16 with max(tp, ep)).
    _, setup, _ = engine(tiny_model, tp=2, ep=4, instance_gpus="tp_x_ep", prefill_gpus=16)
    inst = setup.layout.prefill[0]
    assert inst.gpus == tuple(range(8)) and inst.groups == ((0, 1), (2, 3), (4, 5), (6, 7))
    with pytest.raises(ConfigError, match=r"serving.prefill_gpus: 12 is not a multiple of tp x ep = 8"):
        engine(tiny_model, tp=2, ep=4, instance_gpus="tp_x_ep", prefill_gpus=12)
    with pytest.raises(ConfigError, match=r"serving.instance_gpus: expected one of 'max', 'tp_x_ep'"):
        from ns3_mfs.config import from_dict
        from_dict(ServingConfig, {"instance_gpus": "product"}, "serving")


def test_tp_x_ep_all_to_all_runs_between_gpus_of_equal_tp_index(tiny_model):
    """Uniform routing over 4 expert ranks of 2 GPUs: GPU (d, t) sends its half of group d's tokens, a quarter
    to GPU (r, t) of each rank r; nothing crosses TP indices."""
    fab, setup, eng = engine(tiny_model, tp=2, ep=4, instance_gpus="tp_x_ep", prefill_gpus=8,
                             max_batched_tokens=4096)
    tables = run(fab, eng, [Request(0, 0.0, 512, 1), Request(1, 0.0, 512, 1), Request(2, 0.0, 512, 1)])
    flows = tables["flows"]
    # Batch 0 is request 0 alone in attention group 0 (GPUs 0 and 1, 256 tokens each); batch 1 has the
    # other two in groups 0 and 1 (GPUs 0-3).
    per_token = setup.model.dispatch_bytes_per_token()
    for batch, senders in ((0, {0, 1}), (1, {0, 1, 2, 3})):
        a2a = flows[(flows.stage == "dispatch") & (flows.batch_id == batch) & (flows.layer == 0)]
        assert ((a2a.src_gpu % 2) == (a2a.dst_gpu % 2)).all() and set(a2a.src_gpu) == senders
        assert len(a2a) == 3 * len(senders)  # to the 3 other GPUs of its TP index
        assert a2a["bytes"].tolist() == pytest.approx([256 * per_token / 4] * len(a2a), rel=1e-6)


def test_dp_rank_batches_take_max_batched_tokens_per_rank(tiny_model):
    """vLLM DP + EP: each of the 8 ranks of a TP1/EP8 instance schedules its own 256 tokens; the instance
    batch holds up to 8 x 256; a started request stays on its rank."""
    reqs = [Request(i, 0.0, 300, 1) for i in range(3)]
    fab, _, eng = engine(tiny_model, ep=8, prefill_gpus=8, max_batched_tokens=256, batch_scope="dp_rank")
    run(fab, eng, reqs)
    tokens = {s["batch_id"]: s["tokens"] for s in eng.steps}
    # Request 0 starts a batch alone on arrival; then its last 44 tokens on rank 0 beside 256 of each of the
    # others on ranks 1 and 2; then their last 44 each.
    assert [rids for *_, rids in eng.queue_log] == [(0,), (0, 1, 2), (1, 2)]
    assert [tokens[b] for b in range(3)] == [256, 44 + 2 * 256, 2 * 44]
    assert [eng.states[i].group for i in range(3)] == [0, 1, 2]
    # Per instance (today's default): 256 tokens in all per batch.
    fab, _, eng = engine(tiny_model, ep=8, prefill_gpus=8, max_batched_tokens=256)
    run(fab, eng, reqs)
    assert [s["tokens"] for s in eng.steps if s["batch_id"] == 1 and s["kind"] == "attention"][0] == 256


def test_a_full_rank_does_not_block_the_others(tiny_model):
    """A long request fills rank 0's budget; the next request still gets another rank in the same batch."""
    fab, _, eng = engine(tiny_model, tp=1, ep=2, prefill_gpus=2, max_batched_tokens=128, batch_scope="dp_rank")
    run(fab, eng, [Request(0, 0.0, 1000, 1), Request(1, 0.0, 100, 1), Request(2, 0.0, 100, 1)])
    # Request 0 keeps rank 0 busy chunk after chunk; rank 1 takes request 1 and the first 28 tokens of request 2
    # in the next batch, then the rest of request 2.
    assert [rids for *_, rids in eng.queue_log][:3] == [(0,), (0, 1, 2), (0, 2)]
    assert (eng.states[0].group, eng.states[1].group, eng.states[2].group) == (0, 1, 1)
