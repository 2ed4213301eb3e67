"""Golden outputs: a restructuring must not change what a run produces.

The demo and one small serving run of each flow policy are simulated and
their ``requests``, ``flows`` and ``collectives`` tables compared, cell by
cell and exactly, with the reference tables stored under ``tests/golden/``.

A change that is *meant* to change results regenerates them, and its commit
says why::

    NS3_MFS_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_golden.py

The per-policy runs use a two-layer MoE on the MFS testbed with twelve
Mooncake requests (real block hashes, so stage-1 KV fetches happen) and
decode on, so every stage and the decode side are exercised.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from conftest import ROOT, TINY_MOE, TRACES

GOLDEN = Path(__file__).resolve().parent / "golden"
TABLES = ("requests", "flows", "collectives")
UPDATE = os.environ.get("NS3_MFS_UPDATE_GOLDEN") == "1"
POLICIES = ("fair", "sjf", "edf", "karuna", "pias", "mfs")
TRACE = TRACES / "mooncake_conversation.jsonl"

SMALL = """
topology = "{topo}"
policy = "{policy}"
seed = 3
[serving]
model = "{model}"
prefill_gpus = 16
decode_gpus = 4
[serving.decode]
policy = "continuous"
[workload]
kind = "trace"
trace = "{trace}"
num_requests = 12
rate_per_s = 40.0
"""


def _compare(name: str, out: Path) -> None:
    ref = GOLDEN / name
    if UPDATE:
        ref.mkdir(parents=True, exist_ok=True)
        for t in TABLES:
            pd.read_parquet(out / f"{t}.parquet").to_parquet(ref / f"{t}.parquet", index=False,
                                                             compression="zstd")
        return
    assert ref.is_dir(), f"no golden outputs for {name}: generate them (see this file's docstring)"
    for t in TABLES:
        got = pd.read_parquet(out / f"{t}.parquet")
        want = pd.read_parquet(ref / f"{t}.parquet")
        assert list(got.columns) == list(want.columns), f"{name}/{t}: columns differ"
        pd.testing.assert_frame_equal(got, want, check_exact=True, obj=f"{name}/{t}")


def test_demo_is_unchanged(tmp_path):
    from ns3_mfs.demo import demo_config
    from ns3_mfs.experiment.run import run

    run(demo_config(), out=tmp_path)
    _compare("demo", tmp_path)


@pytest.mark.skipif(not TRACE.exists(), reason="shared traces not present")
@pytest.mark.parametrize("policy", POLICIES)
def test_small_serving_run_is_unchanged(policy, tmp_path):
    from ns3_mfs.experiment.run import load_run_config, run

    model = tmp_path / "tiny.toml"
    model.write_text(TINY_MOE)
    cfg = tmp_path / "run.toml"
    cfg.write_text(SMALL.format(topo=ROOT / "topologies" / "testbed.toml", policy=policy, model=model,
                                trace=TRACE))
    run(load_run_config(cfg), out=tmp_path / "out")
    _compare(f"small-{policy}", tmp_path / "out")


# The "hpcc" DCQCN profile (the defaults before "connectx") keeps goldens of its own. When
# "connectx" became the default they were the tables of the code before it, and the "hpcc"
# profile reproduced them exactly; changes to the serving traffic and the policies made
# after (KV pool, full-history P2D, the paper's MFS) regenerated them with the rest.


def _compare_hpcc(name: str, out: Path) -> None:
    _compare(f"hpcc-profile/{name}", out)


def test_hpcc_profile_reproduces_the_tables_from_before_the_connectx_default(tmp_path):
    import dataclasses

    from ns3_mfs.demo import demo_config
    from ns3_mfs.experiment.run import run

    cfg = demo_config()
    run(dataclasses.replace(cfg, fabric=cfg.fabric.with_profile("hpcc")), out=tmp_path)
    _compare_hpcc("demo", tmp_path)


@pytest.mark.skipif(not TRACE.exists(), reason="shared traces not present")
def test_hpcc_profile_reproduces_a_serving_run_from_before_the_connectx_default(tmp_path):
    from ns3_mfs.experiment.run import load_run_config, run

    model = tmp_path / "tiny.toml"
    model.write_text(TINY_MOE)
    cfg = tmp_path / "run.toml"
    cfg.write_text(SMALL.format(topo=ROOT / "topologies" / "testbed.toml", policy="mfs", model=model,
                                trace=TRACE) + '[fabric]\ndcqcn_profile = "hpcc"\n')
    run(load_run_config(cfg), out=tmp_path / "out")
    _compare_hpcc("small-mfs", tmp_path / "out")
