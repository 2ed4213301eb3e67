"""The congestion-control workloads of the DCQCN profile table (docs/explanation/dcqcn.md).

Used by ``scratch/dcqcn_profiles.py`` (the table) and the tests. 100G links,
MTU 4096 (the config's), every flow starts at t = 0:

- ``incast2``: two 20 MB flows into one host (TestbedTopology, one switch);
- ``incast7``: seven 20 MB flows into one host (same);
- ``perm32``: 32 hosts on a leaf-spine (4 leaves x 8 hosts, 8 spines, ECMP),
  host h sends 10 MB to host (h + 8) mod 32.
"""

from __future__ import annotations

from typing import Any

from .network import FabricConfig, Network
from .topology import LeafSpineTopology, TestbedTopology

WORKLOADS = ("incast2", "incast7", "perm32")

#: Payload line rate at 100G: 4096-byte payloads with 82 bytes of RoCEv2 headers, preamble and IFG.
PAYLOAD_BPS = 100e9 * 4096 / (4096 + 82)


def run_cc_workload(workload: str, cfg: FabricConfig) -> dict[str, Any]:
    """Run one workload; utilisation (incasts) = payload delivered / (makespan x PAYLOAD_BPS)."""
    if workload == "perm32":
        net = Network(LeafSpineTopology(leaves=4, spines=8, hosts_per_leaf=8), cfg)
        for h in range(32):
            net.start_flow(h, (h + 8) % 32, 10_000_000)
    elif workload in ("incast2", "incast7"):
        n = 2 if workload == "incast2" else 7
        net = Network(TestbedTopology(servers=n + 1, nics_per_server=1), cfg)
        for s in range(1, n + 1):
            net.start_flow(s, 0, 20_000_000)
    else:
        raise ValueError(f"workload: {workload!r}; allowed: {', '.join(WORKLOADS)}")
    net.run()
    f = net.flows()
    s = net.summary()
    makespan = float(f["end_s"].max())
    out = {
        "workload": workload, "completed": bool(f["completed"].all()), "drops": s["drops"],
        "makespan_s": makespan, "fct_ratio": float(f["fct_s"].max() / f["fct_s"].min()),
        "utilisation": (float(f["bytes"].sum()) * 8 / (makespan * PAYLOAD_BPS)) if workload != "perm32" else None,
        "pause_frames": s["pfc_pause_frames"], "cnps": s["cnps"], "wall_s": net.wall_s,
    }
    net.close()
    return out
