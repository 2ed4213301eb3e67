import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TRACES = ROOT.parent / "shared" / "traces"

#: A two-layer MoE model that simulates in milliseconds.
TINY_MOE = """
name = "tiny-moe"
layers = 2
moe_layers = 2
hidden_size = 1024
intermediate_size = 2048
moe_intermediate_size = 2048
experts = 8
top_k = 2
num_heads = 8
kv_heads = 8
head_dim = 128
vocab_size = 32000
total_params = 0.2
active_params = 0.07
"""

#: A serving run config of a few seconds: 3 requests under MFS on the MFS testbed (``{topo}``: its topology file).
TINY_RUN = """
topology = "{topo}"
policy = "mfs"
[policies.mfs]
E = 4.0
U = 0.5
[serving]
prefill_gpus = 16
decode_gpus = 4
[workload]
kind = "poisson"
rate_per_s = 1.0
num_requests = 3
[workload.input]
kind = "uniform"
low = 100
high = 300
[workload.output]
kind = "fixed"
value = 8
"""

#: A three-request Poisson workload.
WL = {"kind": "poisson", "rate_per_s": 50.0, "num_requests": 3,
      "input": {"kind": "fixed", "value": 300}, "output": {"kind": "fixed", "value": 10}}


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    p = tmp_path_factory.mktemp("models") / "tiny.toml"
    p.write_text(TINY_MOE)
    return str(p)


def simulate(cfg, requests, deadlines=None):
    """Run a serving config on given requests; returns the engine and the result tables."""
    from ns3_mfs.experiment.run import RunSetup, result_tables

    net, eng = RunSetup(cfg).simulate(requests, deadlines)
    tables = result_tables(net, eng, cfg.serving.ttft_slo_s)
    net.close()
    return eng, tables


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None):
    """Run ``python -m ns3_mfs ...`` in a subprocess (``env``: extra variables); returns CompletedProcess."""
    import subprocess

    env = {**os.environ, **(env or {})}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run(
        [sys.executable, "-m", "ns3_mfs", *args],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        env=env,
        timeout=600,
    )
