"""``ns3-mfs topology show``: a topology's switches and tiers, where a run's GPUs sit, and a drawing."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import pandas as pd

from ..fabric.topology import Graph
from ..fabric.topology.describe import summary, switch_table, tiers
from ..serving.cluster import Layout


def placement_table(graph: Graph, layout: Layout) -> pd.DataFrame:
    """One row per GPU of the layout: ``role, instance, gpu, server, local_gpu, nic, rail, switch``."""
    first_switch: dict[int, str] = {}
    for link in graph.links:
        for host, other in ((link.a, link.b), (link.b, link.a)):
            if host < graph.num_hosts and other >= graph.num_hosts:
                first_switch.setdefault(host, graph.node_name(other))
    roles: list[tuple[str, int, int]] = [("prefill", inst.index, g) for inst in layout.prefill for g in inst.gpus]
    roles += [("decode", -1, g) for g in layout.decode_gpus]
    rows = []
    for role, inst, gpu in roles:
        nic = layout.gpu_nic[gpu]
        rows.append(dict(role=role, instance=inst, gpu=gpu, server=layout.server_of(gpu),
                         local_gpu=gpu % layout.gpus_per_server, host=nic, nic=graph.node_name(nic),
                         rail=graph.host_rail[nic] if graph.host_rail else -1, switch=first_switch.get(nic, "")))
    for host in layout.kv_store_hosts:
        rows.append(dict(role="kv_store", instance=-1, gpu=-1, server=graph.host_server[host], local_gpu=-1,
                         host=host, nic=graph.node_name(host), rail=graph.host_rail[host] if graph.host_rail else -1,
                         switch=first_switch.get(host, "")))
    return pd.DataFrame(rows)


def format_show(graph: Graph, layout: Optional[Layout] = None) -> str:
    s = summary(graph)
    lines = [f"{s['name']}: {s['hosts']} NICs on {s['servers']} servers ({s['gpus']} GPUs), {s['switches']} "
             f"switches, {s['links']} links" + (", PXN on" if s["pxn"] else "")]
    for t, info in s["tiers"].items():
        over = f"{info['oversubscription']:.2f}:1" if info["oversubscription"] is not None else "- (top tier)"
        lines.append(f"  tier {t}: {info['switches']} switches, {info['ports']} ports, oversubscription {over}")
    with pd.option_context("display.width", 200, "display.max_rows", 500):
        lines.append(switch_table(graph).to_string(index=False, float_format=lambda x: f"{x:g}"))
        if layout is not None:
            lines.append(placement_table(graph, layout).to_string(index=False))
    return "\n".join(lines)


def plot_topology(graph: Graph, out: Path, layout: Optional[Layout] = None) -> list[Path]:
    """Nodes in rows by tier (NICs at the bottom, coloured by server), links as lines; PNG and PDF."""
    from .plots import _save, _sns

    plt, _ = _sns()
    tier = tiers(graph)
    rows: dict[int, list[int]] = {}
    for n in range(graph.num_nodes):
        rows.setdefault(tier[n], []).append(n)
    width = max(len(v) for v in rows.values())
    pos = {n: ((i + 0.5) * width / len(v), t) for t, v in rows.items() for i, n in enumerate(v)}
    fig, ax = plt.subplots(figsize=(min(16, 2 + width * 0.35), 1.5 + 1.2 * len(rows)))
    for link in graph.links:
        (x0, y0), (x1, y1) = pos[link.a], pos[link.b]
        ax.plot([x0, x1], [y0, y1], color="0.7", lw=0.6, zorder=1)
    cmap = plt.get_cmap("tab20")
    hx, hy = zip(*(pos[h] for h in range(graph.num_hosts)))
    ax.scatter(hx, hy, c=[cmap(graph.host_server[h] % 20) for h in range(graph.num_hosts)], s=30, zorder=2,
               label="NIC (colour: server)")
    if graph.num_nodes > graph.num_hosts:
        sx, sy = zip(*(pos[s] for s in range(graph.num_hosts, graph.num_nodes)))
        ax.scatter(sx, sy, marker="s", color="0.3", s=50, zorder=2, label="switch")
        if graph.num_nodes - graph.num_hosts <= 40:
            for s in range(graph.num_hosts, graph.num_nodes):
                ax.annotate(graph.node_name(s), pos[s], xytext=(0, 6), textcoords="offset points", ha="center",
                            fontsize=6)
    if layout is not None:
        pt = placement_table(graph, layout)
        for role, marker in (("prefill", "^"), ("decode", "v")):
            hosts = sorted(set(pt[pt["role"] == role]["host"].astype(int)))
            if hosts:
                ax.scatter([pos[h][0] for h in hosts], [pos[h][1] - 0.25 for h in hosts], marker=marker, s=18,
                           label=f"{role} GPUs' NIC")
    ax.set_yticks(sorted(rows))
    ax.set_yticklabels(["NICs" if t == 0 else f"tier {t}" for t in sorted(rows)])
    ax.set_xticks([])
    ax.set_title(graph.name, fontsize=9)
    ax.legend(fontsize=6, loc="upper right")
    out.parent.mkdir(parents=True, exist_ok=True)
    paths = _save(fig, out.parent, out.name)
    plt.close(fig)
    return paths
