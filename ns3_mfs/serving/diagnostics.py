"""Per-stage diagnostics of a run's flow scheduling, for every policy (issue 15).

Flow columns (``flows.parquet``): ``late_p1`` (a P2D flow the policy put in
class 1 after its deadline had passed) and ``scavenged`` (a flow of a request
the policy moved to a scavenger class). Summary keys (``summary.json``): per
stage n (1 KV fetch, 2 collectives, 3 P2D), ``stage<n>_class<c>_flows`` (the
network flows of the stage that ended in class c), ``stage<n>_rewinds``
(go-back-N rewinds), and ``p2d_p1_after_deadline``, ``scavenged_requests``,
``scavenged_bytes``.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..policies.base import FIRST, LAST, Policy

STAGE_NUMS = (1, 2, 3)


def late_p1_flows(policy: Policy) -> set[int]:
    """Ids of the P2D flows put in class 1 after their deadline."""
    return {fid for (t, fid, stage, cls, _r) in policy.log
            if stage == "p2d" and cls == FIRST and fid in policy.deadlines and t > policy.deadlines[fid]}


def add_flow_columns(flows: pd.DataFrame, policy: Policy) -> pd.DataFrame:
    """Add ``late_p1`` and ``scavenged`` to the flows table (in place; returned)."""
    late = late_p1_flows(policy)
    scav = getattr(policy, "scavenged", set())
    net = flows["path"] == "network"
    flows["late_p1"] = net & flows["flow_id"].isin(late)
    flows["scavenged"] = (net & flows["stage"].isin(["kv_fetch", "p2d"])
                          & flows["request_id"].isin(sorted(scav)))
    return flows


def stage_summary(flows: pd.DataFrame, policy: Policy) -> dict[str, Any]:
    """The summary keys of the module docstring."""
    net = flows[flows["path"] == "network"]
    out: dict[str, Any] = {}
    for n in STAGE_NUMS:
        f = net[net["stage_num"] == n]
        cls = f["final_priority"] if "final_priority" in f else pd.Series([], dtype=int)
        for c in range(FIRST, LAST + 1):
            out[f"stage{n}_class{c}_flows"] = int((cls == c).sum())
        out[f"stage{n}_rewinds"] = int(f["rewinds"].sum()) if "rewinds" in f else 0
    out["p2d_p1_after_deadline"] = int(net["late_p1"].sum()) if "late_p1" in net else len(late_p1_flows(policy))
    scav = net[net["scavenged"]] if "scavenged" in net else net.iloc[:0]
    out["scavenged_requests"] = len(getattr(policy, "scavenged", ()))
    out["scavenged_bytes"] = int(scav["bytes"].sum())
    return out
