"""Switch ports of a run: what is behind each one, one name per (switch, port, class), and pauses.

Every plot and the timeline trace name a switch queue the same way::

    switch:3→nic3 (GPU 6-7) c3

(switch ``switch``, its port 3, which faces NIC 3 that carries GPUs 6 and 7;
traffic class 3). The peer of each port comes from the run's topology (the
``[topology]`` table of ``config.toml``: ports are numbered in link order, as
the fabric builder numbers them) and the GPUs behind a NIC from the run's
flows (``src``/``src_gpu``, ``dst``/``dst_gpu`` pairs). A run without them
names ports without a peer (``switch:3 c3``).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pandas as pd

PAUSE_COLUMNS = ["node", "port", "priority", "queue", "start_s", "end_s"]


def _graph(root: Path):
    from ..config import ConfigError
    from ..fabric.topology import topology_from_dict

    try:
        data = tomllib.loads((root / "config.toml").read_text())
        return topology_from_dict(data["topology"]).graph()
    except (OSError, ValueError, KeyError, TypeError, ConfigError):
        return None


def _gpu_ranges(gpus: list[int]) -> str:
    """``6-7`` or ``1,4``: the GPUs behind a NIC, short."""
    gpus = sorted(set(gpus))
    if len(gpus) > 1 and gpus[-1] - gpus[0] == len(gpus) - 1:
        return f"{gpus[0]}-{gpus[-1]}"
    return ",".join(map(str, gpus))


def nic_gpus(root: Path) -> dict[int, list[int]]:
    """NIC (host index) -> the GPUs whose flows it carried in this run (empty without a flows table)."""
    f = root / "flows.parquet"
    if not f.exists():
        return {}
    cols = ["src", "dst", "src_gpu", "dst_gpu"]
    try:
        flows = pd.read_parquet(f, columns=cols)
    except (KeyError, ValueError, OSError):  # a fabric run: no GPU columns
        return {}
    flows = flows[flows["src"].notna()]
    pairs = pd.concat([flows[["src", "src_gpu"]].set_axis(["nic", "gpu"], axis=1),
                       flows[["dst", "dst_gpu"]].set_axis(["nic", "gpu"], axis=1)])
    pairs = pairs[(pairs["gpu"] >= 0) & pairs["nic"].notna()].drop_duplicates()
    out: dict[int, list[int]] = {}
    for nic, gpu in zip(pairs["nic"].astype(int), pairs["gpu"].astype(int)):
        out.setdefault(nic, []).append(gpu)
    return {k: sorted(v) for k, v in out.items()}


def port_peers(root: str | Path) -> dict[tuple[int, int], str]:
    """(node, port) -> what the port faces: ``nic3 (GPU 6-7)``, ``nic3`` or a switch's name."""
    root = Path(root)
    graph = _graph(root)
    if graph is None:
        return {}
    gpus = nic_gpus(root)
    ports: dict[int, int] = {}
    peers: dict[tuple[int, int], str] = {}
    for link in graph.links:
        for here, there in ((link.a, link.b), (link.b, link.a)):
            port = ports.get(here, 0)
            ports[here] = port + 1
            name = graph.node_name(there)
            if there < graph.num_hosts and there in gpus:
                name += f" (GPU {_gpu_ranges(gpus[there])})"
            peers[(here, port)] = name
    return peers


def queue_name(node_name: str, port: int, priority: int, peer: str | None = None) -> str:
    """The one name of a switch queue: ``switch:3→nic3 (GPU 6-7) c3``."""
    face = f"→{peer}" if peer else ""
    return f"{node_name}:{int(port)}{face} c{int(priority)}"


def name_queues(df: pd.DataFrame, peers: dict[tuple[int, int], str]) -> pd.Series:
    """:func:`queue_name` of every row of a table with ``node``, ``node_name``, ``port``, ``priority``."""
    return pd.Series([queue_name(n, p, c, peers.get((int(node), int(p))))
                      for node, n, p, c in zip(df["node"], df["node_name"], df["port"], df["priority"])],
                     index=df.index, dtype=object)


def paused_intervals(pfc: pd.DataFrame, peers: dict[tuple[int, int], str] | None = None) -> pd.DataFrame:
    """One row per pause a switch port sent: from each PAUSE to the next RESUME of the same (switch,
    port, class); a pause still on at the end of the log ends at the last event. Columns
    ``node, port, priority, queue, start_s, end_s``, sorted by queue then time."""
    sent = pfc[pfc["kind"].isin(["pause", "resume"])]
    if not len(sent):
        return pd.DataFrame(columns=PAUSE_COLUMNS)
    sent = sent.sort_values(["node", "port", "priority", "time_s"], kind="stable")
    t_end = float(pfc["time_s"].max())
    rows = []
    for (node, port, prio), g in sent.groupby(["node", "port", "priority"], sort=True):
        name = queue_name(g["node_name"].iloc[0], port, prio, (peers or {}).get((int(node), int(port))))
        start = None
        for t, kind in zip(g["time_s"].to_numpy(), g["kind"].to_numpy()):
            if kind == "pause" and start is None:
                start = t
            elif kind == "resume" and start is not None:
                rows.append((node, port, prio, name, start, t))
                start = None
        if start is not None:
            rows.append((node, port, prio, name, start, t_end))
    return pd.DataFrame(rows, columns=PAUSE_COLUMNS)
