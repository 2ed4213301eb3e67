"""Decode instances: continuous batching, the step model, KV capacity, TPOT/e2e metrics."""

import numpy as np
import pytest

from ns3_mfs.config import ConfigError, from_dict
from ns3_mfs.experiment.run import RunConfig, RunSetup, ServingConfig, run, run_config_from_dict
from ns3_mfs.fabric import TestbedTopology
from ns3_mfs.serving.decode import DecodeConfig, fit_step_model, read_step_csv
from ns3_mfs.serving.requests import Request, WorkloadConfig

from conftest import WL, simulate

A, B, C = 0.01, 0.002, 1e-6




def config(model, decode=None, **serving) -> RunConfig:
    base = dict(model=model, gpu="rtx3090", tp=1, ep=8, prefill_gpus=8, decode_gpus=4, ttft_slo_s=1.0,
                decode=DecodeConfig(**decode) if decode is not None else None)
    base.update(serving)
    return RunConfig(topology=TestbedTopology(servers=4), workload=from_dict(WorkloadConfig, WL, "workload"),
                     serving=ServingConfig(**base), seed=1)


STEP = dict(step_a_s=A, step_b_s=B, step_c_s=C)


def test_single_request_tpot_equals_the_step_model(tiny_model):
    eng, t = simulate(config(tiny_model, STEP), [Request(0, 0.0, 500, 11)])
    r = t["requests"].iloc[0]
    # 10 decode steps, step k (k = 1..10) holds 500 + k context tokens.
    expected = np.mean([A + B + C * (500 + k) for k in range(1, 11)])
    assert r["tpot_s"] == pytest.approx(expected, rel=1e-9)
    assert r["tokens"] == 11 and r["decode_start_s"] == pytest.approx(r["first_token_s"])
    assert r["decode_end_s"] == pytest.approx(r["first_token_s"] + 10 * expected)
    assert r["e2e_s"] == pytest.approx(r["decode_end_s"] - r["arrival_s"])
    steps = t["decode_steps"]
    assert len(steps) == 10 and (steps["batch"] == 1).all()
    assert list(steps["total_context"]) == list(range(501, 511))


def test_p2d_goes_to_the_decode_group_of_the_request(tiny_model):
    # decode.tp = 2: two instances of 2 GPUs; KV split over the group's two ranks.
    reqs = [Request(i, 0.0, 300, 4) for i in range(3)]
    eng, t = simulate(config(tiny_model, dict(STEP, tp=2)), reqs)
    p2d = t["flows"][t["flows"].stage == "p2d"]
    gpus = p2d.groupby("request_id")["dst_gpu"].apply(lambda s: sorted(set(s)))
    decode = RunSetup(config(tiny_model, dict(STEP, tp=2))).layout.decode_gpus
    assert gpus[0] == list(decode[0:2]) and gpus[1] == list(decode[2:4]) and gpus[2] == list(decode[0:2])
    assert list(t["requests"]["decode_instance"]) == [0, 1, 0]
    assert t["requests"]["completed"].all() and (t["requests"]["tokens"] == 4).all()


def test_continuous_batches_and_kairos_slack_refuses_a_slow_batch(tiny_model):
    reqs = [Request(0, 0.0, 200, 6), Request(1, 0.0, 200, 6)]
    step = dict(step_a_s=0.01, step_b_s=0.01, step_c_s=0.0, tp=1)
    # decode.ep = 4: one decode instance of the 4 decode GPUs holds both requests.
    eng, t = simulate(config(tiny_model, dict(step, policy="continuous", ep=4)), reqs)
    sizes = {len(b) for _, _, b in eng.decode.log}
    assert 2 in sizes  # joined into one batch of 2: step 0.03 s
    # TPOT SLO 0.025 s: a batch of 2 (0.03 s) would break it, a batch of 1 (0.02 s) does not.
    eng, t = simulate(config(tiny_model, dict(step, policy="kairos_slack", ep=4), tpot_slo_s=0.025), reqs)
    assert {len(b) for _, _, b in eng.decode.log} == {1}
    assert (t["decode_steps"]["step_s"] <= 0.025 + 1e-12).all()
    r = t["requests"].set_index("request_id")
    assert (r["tokens"] == 6).all() and r.loc[0, "tpot_s"] == pytest.approx(0.02)
    # Request 1 waited for request 0's five steps: its TPOT counts the wait (and misses the SLO).
    assert r.loc[1, "tpot_s"] == pytest.approx(0.04, rel=0.01) and not r.loc[1, "tpot_slo_met"]
    # kairos_slack packs the request with fewer output tokens left first.
    reqs = [Request(0, 0.0, 200, 9), Request(1, 0.0, 200, 3)]
    eng, t = simulate(config(tiny_model, dict(step, policy="kairos_slack", ep=4), tpot_slo_s=0.025), reqs)
    r = t["requests"].set_index("request_id")
    assert r.loc[1, "decode_end_s"] < r.loc[0, "decode_end_s"]


def test_a_full_instance_queues_arrivals(tiny_model):
    reqs = [Request(0, 0.0, 300, 20), Request(1, 0.0, 300, 20)]
    # Room for one request's final context (320 tokens) only.
    eng, t = simulate(config(tiny_model, dict(STEP, ep=4, kv_capacity_tokens=400)), reqs)
    r = t["requests"].set_index("request_id")
    first, second = sorted([0, 1], key=lambda i: r.loc[i, "decode_start_s"])
    assert r.loc[second, "decode_start_s"] >= r.loc[first, "decode_end_s"] - 1e-12
    assert (t["decode_steps"]["batch"] == 1).all()
    eng, t = simulate(config(tiny_model, dict(STEP, ep=4)), reqs)  # memory-derived capacity: both fit
    assert t["decode_steps"]["batch"].max() == 2


def test_step_model_fit_from_csv(tmp_path):
    rows = [(b, ctx, A + B * b + C * ctx) for b in (1, 4, 16, 64) for ctx in (1000, 20000, 80000)]
    csv = tmp_path / "steps.csv"
    csv.write_text("batch,total_context,step_s\n" + "".join(f"{b},{c},{s}\n" for b, c, s in rows))
    m = fit_step_model(read_step_csv(csv, "k"))
    assert (m.a, m.b, m.c) == pytest.approx((A, B, C), rel=1e-6)
    setup = RunSetup(_mixtral_decode(calibration_csv=str(csv)))
    assert (setup.decode.step.a, setup.decode.step.c) == pytest.approx((A, C), rel=1e-6)
    bad = tmp_path / "bad.csv"
    bad.write_text("batch,step_s\n1,0.1\n")
    with pytest.raises(ConfigError, match="serving.decode.calibration_csv: .*missing column 'total_context'"):
        RunSetup(_mixtral_decode(calibration_csv=str(bad)))


def _mixtral_decode(**decode):
    return RunConfig(topology=TestbedTopology(servers=8), workload=from_dict(WorkloadConfig, WL, "workload"),
                     serving=ServingConfig(prefill_gpus=16, decode_gpus=8, decode=DecodeConfig(ep=8, **decode)), seed=1)


def test_default_step_model_follows_the_roofline():
    setup = RunSetup(_mixtral_decode())
    cm_step = setup.decode.step
    assert cm_step.a > 0 and cm_step.c > 0
    assert setup.decode.capacity_tokens > 100_000  # 8 x 3090 hold Mixtral with room for KV
    # A step of 8 requests with 8k tokens each is within 25 % of the roofline it was fitted to.
    from ns3_mfs.serving.compute import ComputeModel

    cm = ComputeModel("mixtral-8x7b", "rtx3090", tp=1, ep=8, enforce_memory=False)
    roof = cm.decode_step_time_s(1, 8192)
    assert cm_step.time_s(8, 8 * 8192) == pytest.approx(roof, rel=0.25)


def test_run_summary_and_requests_columns(tiny_model):
    cfg = config(tiny_model, STEP, tpot_slo_s=0.05)
    s = run(cfg)
    for key in ("tpot_slo_attainment", "e2e_slo_attainment", "decode_tokens_per_s", "tpot_mean_s", "tpot_p99_s"):
        assert key in s and np.isfinite(s[key]), key
    assert s["tpot_slo_attainment"] == 1.0 and s["decode_tokens_per_s"] > 0
    # Without [serving.decode] the keys are there but NaN, and results are the original ones.
    cfg0 = config(tiny_model, tpot_slo_s=0.05, decode=None)
    s0 = run(cfg0)
    assert np.isnan(s0["tpot_slo_attainment"]) and s0["ttft_mean_s"] == pytest.approx(s["ttft_mean_s"], rel=1e-12)


def test_decode_config_errors_name_the_key():
    base = {"topology": {"kind": "testbed"}, "workload": WL}
    with pytest.raises(ConfigError, match="serving.decode.policy: 'greedy' is not a decode batching policy; allowed: continuous, kairos_slack"):
        run_config_from_dict({**base, "serving": {"decode": {"policy": "greedy"}}})
    with pytest.raises(ConfigError, match="serving.decode.max_batch: must be >= 1"):
        run_config_from_dict({**base, "serving": {"decode": {"max_batch": 0}}})
    with pytest.raises(ConfigError, match="serving.decode.ep: .*leaving no KV room"):
        RunSetup(run_config_from_dict({**base, "serving": {"decode": {}}}))
    with pytest.raises(ConfigError, match="serving.decode_gpus: 4 is not a multiple of the decode instance size"):
        RunSetup(run_config_from_dict({**base, "serving": {"decode": {"ep": 8}}}))
    with pytest.raises(ConfigError, match="serving.tpot_slo_s: must be > 0.0"):
        run_config_from_dict({**base, "serving": {"tpot_slo_s": 0.0}})


def test_least_kv_decode_dispatch_balances_reserved_kv(tiny_model):
    # Two decode instances of 2 GPUs (ep = 2); request 0 is long, so the next ones go to the other instance
    # until its reserved KV catches up.
    reqs = [Request(0, 0.0, 3000, 50), Request(1, 0.0, 300, 5), Request(2, 0.0, 300, 5), Request(3, 0.0, 300, 5)]
    eng, t = simulate(config(tiny_model, dict(STEP, ep=2, dispatch="least_kv")), reqs)
    r = t["requests"].set_index("request_id")
    assert r.loc[0, "decode_instance"] != r.loc[1, "decode_instance"]
    assert (r.loc[[1, 2, 3], "decode_instance"] == r.loc[1, "decode_instance"]).all()
    # Inside an instance, the least loaded attention group: 1, 2, 3 alternate between its two GPUs.
    assert r.loc[1, "decode_group"] != r.loc[2, "decode_group"]
    p2d = t["flows"][t["flows"].stage == "p2d"].groupby("request_id")["dst_gpu"].first()
    groups = eng.decode_setup.groups
    assert all(p2d[i] == groups[r.loc[i, "decode_group"]][0] for i in range(4))
    assert r["completed"].all() and (r["tokens"] == r["output_tokens"]).all()
