"""Flow model vs packet model on every shipped topology and every policy (the table of
docs/explanation/flow-model.md).

For each of topologies/testbed.toml, leaf_spine.toml and fat_tree.toml, a small serving
run (a two-layer MoE, twelve Mooncake requests at 40 req/s, cc = none, PFC on; the
configuration of tests/test_golden.py) is validated with ``ns3-mfs validate`` for the six
policies; the per-metric errors and wall times are gathered into one table.
Usage: python scratch/validate_scenarios.py OUT_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
TRACE = ROOT.parent / "shared" / "traces" / "mooncake_conversation.jsonl"
POLICIES = "fair,sjf,edf,karuna,pias,mfs"
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
RUN = """
topology = "{topo}"
seed = 3
[serving]
model = "{model}"
prefill_gpus = 16
decode_gpus = 4
[workload]
kind = "trace"
trace = "{trace}"
num_requests = 12
rate_per_s = 40.0
[fabric]
cc = "none"
"""


def main() -> None:
    from ns3_mfs.cli import main as cli

    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    model = out / "tiny.toml"
    model.write_text(TINY_MOE)
    tables = []
    for topo in ("testbed", "leaf_spine", "fat_tree"):
        cfg = out / f"{topo}.toml"
        cfg.write_text(RUN.format(topo=ROOT / "topologies" / f"{topo}.toml", model=model, trace=TRACE))
        cli(["validate", str(cfg), "--out", str(out / topo), "--policies", POLICIES])
        t = pd.read_csv(out / topo / "validation.csv")
        t.insert(0, "topology", topo)
        tables.append(t)
    table = pd.concat(tables, ignore_index=True)
    table.to_csv(out / "all.csv", index=False)
    keep = table[table["metric"].isin(["flow_fct", "cct_dispatch", "cct_combine", "ttft", "slo_attainment",
                                       "wall_s"])]
    cols = ["topology", "policy", "metric", "pairs", "packet_mean", "flow_mean", "mean_rel_err",
            "median_abs_rel_err", "p99_abs_rel_err", "ks"]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for row in keep[cols].itertuples(index=False):
        print("| " + " | ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in row) + " |")


if __name__ == "__main__":
    main()
