"""The built-in demo scenario: MoE-style traffic on the MFS testbed fabric.

Eight servers with two 100G NICs each (the MFS testbed) run one expert-parallel
all-to-all (every NIC sends 2 MB to every other NIC, class 1) while the first
NIC pulls 8 MB KV transfers from four servers (class 3), with PFC on.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .fabric.flowfile import FlowSpec, run_flows
from .fabric.network import FabricConfig
from .fabric.topology import TestbedTopology

DEFAULT_OUT = Path("results") / "demo"


def demo_flows(topology: TestbedTopology) -> list[FlowSpec]:
    hosts = topology.servers * topology.nics_per_server
    flows = [FlowSpec(s, d, 2_000_000, 0.0, 1) for s in range(hosts) for d in range(hosts) if s != d]
    flows += [FlowSpec(2 * s, 0, 8_000_000, 0.0, 3) for s in range(1, 5)]
    return flows


def run_demo(out: Path = DEFAULT_OUT) -> pd.DataFrame:
    topo = TestbedTopology(name="mfs-testbed")
    summary = run_flows(topo, demo_flows(topo), FabricConfig(), out=out, extra_config={"scenario": "demo"})
    flows = pd.read_parquet(Path(out) / "flows.parquet")
    table = (
        flows.assign(kind=flows["priority"].map({1: "all-to-all (class 1)", 3: "KV fetch (class 3)"}))
        .groupby("kind")
        .agg(
            flows=("flow_id", "size"),
            fct_mean_us=("fct_s", lambda s: 1e6 * s.mean()),
            fct_max_us=("fct_s", lambda s: 1e6 * s.max()),
            slowdown_p99=("slowdown", lambda s: s.quantile(0.99)),
        )
    )
    print(table.round(2).to_string())
    print(
        f"\n{summary['completed']}/{summary['flows']} flows done, {summary['drops']} drops, "
        f"{summary['pfc_pause_frames']} PAUSE frames, {summary['packet_hops']:,} packet-hops in "
        f"{summary['wall_s']:.2f} s wall ({summary['packet_hops_per_s'] / 1e3:,.0f} k packet-hops/s), "
        f"{summary['sim_s'] * 1e3:.3f} ms simulated"
    )
    print(f"results: {Path(out).resolve()}")
    return table
