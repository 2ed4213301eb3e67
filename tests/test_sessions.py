"""Workloads like the paper's: generated sessions, the Qwen-Bailian trace format, warm-up requests."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ns3_mfs.config import ConfigError, from_dict
from ns3_mfs.serving.requests import WorkloadConfig, generate, load_bailian, load_trace
from ns3_mfs.serving.sessions import TARGETS, reuse_ratio


def sessions(preset: str, n: int = 5000, **extra) -> WorkloadConfig:
    return from_dict(WorkloadConfig, {"kind": "sessions", "rate_per_s": 16.0, "num_requests": n,
                                      "sessions": {"preset": preset, **extra}}, "workload")


@pytest.mark.parametrize("preset", sorted(TARGETS))
@pytest.mark.parametrize("seed", [1, 2])
def test_presets_hit_the_papers_prompt_length_and_reuse(preset, seed):
    reqs = generate(sessions(preset), seed)
    mean, reuse = np.mean([r.input_tokens for r in reqs]), reuse_ratio(reqs, 16)
    want_mean, want_reuse = TARGETS[preset]
    assert abs(mean / want_mean - 1) < 0.05, (mean, want_mean)
    assert abs(reuse / want_reuse - 1) < 0.05, (reuse, want_reuse)
    assert all(r.block_tokens == 16 for r in reqs) and [r.id for r in reqs] == list(range(5000))


def test_a_next_turn_extends_its_sessions_previous_prompt_and_answer():
    reqs = generate(sessions("qwena_conv", 400), 3)
    by_session: dict[int, list] = {}
    for r in reqs:
        by_session.setdefault(r.session, []).append(r)
    multi = [s for s in by_session.values() if len(s) > 1]
    assert multi
    for turns in multi:
        for prev, nxt in zip(turns, turns[1:]):
            full = prev.input_tokens // 16
            assert nxt.block_hashes[:full] == prev.block_hashes[:full]  # the whole previous prompt is reused
            assert nxt.input_tokens > prev.input_tokens + prev.output_tokens  # + its answer + a new message
    # Sessions share system prompts: first turns of different sessions start with the same blocks.
    firsts = {s[0].block_hashes[:3] for s in by_session.values()}
    assert len(firsts) <= 8


def test_session_config_errors_name_the_key():
    with pytest.raises(ConfigError, match="workload.sessions: a \\[workload.sessions\\] table is required"):
        from_dict(WorkloadConfig, {"kind": "sessions", "rate_per_s": 1.0, "num_requests": 3}, "workload")
    with pytest.raises(ConfigError, match="workload.sessions.user_tokens: required without a preset"):
        from_dict(WorkloadConfig, {"kind": "sessions", "rate_per_s": 1.0, "num_requests": 3,
                                   "sessions": {"system_prompt_tokens": 10, "system_prompts": 1}}, "workload")
    with pytest.raises(ConfigError, match="workload.input: not used when kind = 'sessions'"):
        from_dict(WorkloadConfig, {"kind": "sessions", "rate_per_s": 1.0, "num_requests": 3,
                                   "sessions": {"preset": "qwenb_agent"},
                                   "input": {"kind": "fixed", "value": 5}}, "workload")


BAILIAN = [
    {"chat_id": 7, "parent_chat_id": -1, "timestamp": 2.5, "input_length": 40, "output_length": 9, "type": "text",
     "turn": 1, "hash_ids": [1, 2, 3]},
    {"chat_id": 3, "parent_chat_id": -1, "timestamp": 1.0, "input_length": 20, "output_length": 4, "type": "search",
     "turn": 1, "hash_ids": [8, 9]},
    {"chat_id": 11, "parent_chat_id": 7, "timestamp": 4.0, "input_length": 70, "output_length": 5, "type": "text",
     "turn": 2, "hash_ids": [1, 2, 3, 4, 5]},
    {"chat_id": 12, "parent_chat_id": 11, "timestamp": 6.25, "input_length": 90, "output_length": 1,
     "type": "file", "turn": 3, "hash_ids": [1, 2, 3, 4, 5, 6]},
    {"chat_id": 20, "parent_chat_id": 99, "timestamp": 7.0, "input_length": 16, "output_length": 2, "type": "image",
     "turn": 4, "hash_ids": [30]},
]


def test_qwen_bailian_loader_on_a_hand_written_file(tmp_path):
    p = tmp_path / "qwen_traceA_blksz_16.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in BAILIAN))
    for reqs in (load_bailian(p), load_trace(p)):
        assert [r.arrival_s for r in reqs] == [0.0, 1.5, 3.0, 5.25, 6.0]  # seconds, sorted, re-based
        assert [r.input_tokens for r in reqs] == [20, 40, 70, 90, 16]
        assert [r.session for r in reqs] == [3, 7, 7, 7, 99]  # root of each parent chain
        assert reqs[3].block_hashes == (1, 2, 3, 4, 5, 6) and all(r.block_tokens == 16 for r in reqs)
    bad = dict(BAILIAN[0], chat_id="seven")
    p.write_text(json.dumps(bad) + "\n")
    with pytest.raises(ConfigError, match=r"line 1: chat_id: expected an integer chat id"):
        load_bailian(p)


def test_warmup_requests_are_left_out_of_every_metric(tmp_path):
    from conftest import TINY_MOE
    from ns3_mfs.experiment.run import load_run_config, run

    model = tmp_path / "tiny.toml"
    model.write_text(TINY_MOE)
    cfg = tmp_path / "run.toml"
    cfg.write_text(f'''topology = {{ kind = "testbed" }}
policy = "fair"
[serving]
model = "{model}"
ttft_slo_s = 0.05
[workload]
kind = "sessions"
rate_per_s = 50.0
num_requests = 12
warmup_requests = 4
[workload.sessions]
preset = "qwenb_agent"
''')
    summary = run(load_run_config(cfg), out=tmp_path / "out")
    import pandas as pd

    req = pd.read_parquet(tmp_path / "out" / "requests.parquet")
    assert list(req["warmup"]) == [True] * 4 + [False] * 8
    measured = req[~req["warmup"]]
    assert summary["requests"] == 8 and summary["warmup_requests"] == 4
    assert summary["ttft_mean_s"] == pytest.approx(measured["ttft_s"].mean())
    assert summary["ttft_slo_attainment"] == pytest.approx(measured["slo_met"].mean())
    coll = pd.read_parquet(tmp_path / "out" / "collectives.parquet")
    assert summary["collectives"] == int(coll["measured"].sum()) < len(coll)


def test_slo_baseline_replayed_with_the_cache_state(tmp_path):
    """A later turn's unloaded TTFT, replayed with its cached prefix, is below that of a cold prompt of the same
    length; the global scope gives one SLO."""
    from conftest import TINY_MOE
    from ns3_mfs.experiment.run import RunSetup, load_run_config, ttft_slo, workload_requests

    model = tmp_path / "tiny.toml"
    model.write_text(TINY_MOE)
    cfg = tmp_path / "run.toml"
    body = f'''topology = {{ kind = "testbed" }}
[serving]
model = "{model}"
prefill_gpus = 8
ttft_slo_baseline = "BASE"
ttft_slo_scope = "SCOPE"
[workload]
kind = "sessions"
rate_per_s = 50.0
num_requests = 10
[workload.sessions]
preset = "qwenb_agent"
'''
    slos = {}
    for base, scope in (("length", "request"), ("replay", "request"), ("replay", "global")):
        cfg.write_text(body.replace("BASE", base).replace("SCOPE", scope))
        c = load_run_config(cfg)
        reqs = workload_requests(c)
        slos[base, scope] = ttft_slo(RunSetup(c), reqs)
    from ns3_mfs.serving.sessions import reuse_ratio

    cached = [i for i, r in enumerate(reqs) if i and reuse_ratio(reqs[: i + 1], 16) > 0 and r.session in
              {q.session for q in reqs[:i]}]
    assert cached
    assert all(slos["replay", "request"][i] < slos["length", "request"][i] for i in cached)
    assert np.isscalar(slos["replay", "global"])
    assert slos["replay", "global"] == pytest.approx(np.mean(slos["replay", "request"]))
