"""What a topology is made of: switches by tier, their ports, oversubscription per tier.

A switch's *tier* is its distance in links from the nearest host (1 = the
switches hosts plug into: ToR, leaf, rail switch). A switch's *downlinks*
go to hosts or lower-tier switches, its *uplinks* to higher-tier switches
(links within a tier, as in a ring, are neither). Its oversubscription is
downlink capacity / uplink capacity; a tier's is the largest of its switches'
(none for the top tier).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from . import Graph, adjacency, hop_distances


def tiers(graph: Graph) -> list[int]:
    """Tier of every node (hosts 0)."""
    dist = hop_distances(adjacency(graph.links), range(graph.num_hosts))
    return [dist.get(n, -1) for n in range(graph.num_nodes)]


def switch_table(graph: Graph) -> pd.DataFrame:
    """One row per switch: ``switch, tier, ports, down_ports, up_ports, down_gbps, up_gbps, oversubscription``."""
    tier = tiers(graph)
    rows = {s: dict(switch=graph.node_name(s), tier=tier[s], ports=0, down_ports=0, up_ports=0, down_gbps=0.0,
                    up_gbps=0.0) for s in range(graph.num_hosts, graph.num_nodes)}
    for link in graph.links:
        for me, other in ((link.a, link.b), (link.b, link.a)):
            if me not in rows:
                continue
            r = rows[me]
            r["ports"] += 1
            if tier[other] < tier[me]:
                r["down_ports"] += 1
                r["down_gbps"] += link.rate_bps / 1e9
            elif tier[other] > tier[me]:
                r["up_ports"] += 1
                r["up_gbps"] += link.rate_bps / 1e9
    df = pd.DataFrame(list(rows.values()))
    df["oversubscription"] = [d / u if u > 0 else float("nan") for d, u in zip(df["down_gbps"], df["up_gbps"])]
    return df


def summary(graph: Graph) -> dict[str, Any]:
    """Counts and per-tier oversubscription (largest over the tier's switches)."""
    sw = switch_table(graph)
    out: dict[str, Any] = {"name": graph.name, "hosts": graph.num_hosts, "servers": graph.num_servers,
                           "gpus": graph.num_servers * graph.gpus_per_server, "switches": len(sw),
                           "links": len(graph.links), "pxn": graph.pxn, "tiers": {}}
    for t, g in sw.groupby("tier"):
        over = g["oversubscription"].dropna()
        out["tiers"][int(t)] = {"switches": int(len(g)), "ports": int(g["ports"].sum()),
                                "oversubscription": float(over.max()) if len(over) else None}
    return out
