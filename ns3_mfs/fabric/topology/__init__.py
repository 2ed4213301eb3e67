"""Topologies: small TOML files that expand into a graph of hosts and switches.

A *host* is one NIC port (an RDMA NIC with one link); hosts are numbered
0..N-1 server by server, so on the testbed server ``s`` has NICs ``2s`` and
``2s+1``. Switches follow the hosts in node numbering. Every kind records which
server each host belongs to and how many GPUs a server has, for the serving
layer above.

Kinds (``kind = ...`` in the file), one module each in this package:

* ``testbed``: one switch, ``servers`` servers with ``nics_per_server`` NICs
  each (the MFS testbed: 8 servers x 4 GPUs x 2 x 100G).
* ``leaf_spine``: two tiers; ``hosts_per_leaf`` NICs on each of ``leaves``
  leaves, every leaf linked to every spine. Oversubscription =
  hosts_per_leaf x host_rate / (spines x spine_rate).
* ``fat_tree``: the k-ary fat-tree (k pods of k/2 edge and k/2 aggregation
  switches, (k/2)^2 cores, k^3/4 hosts), full bisection.
* ``ring``: ``switches`` switches in a ring, ``hosts_per_switch`` NICs on
  each. Shortest-path routing around a ring of 5 or more switches creates a
  cyclic buffer dependency: the classic topology for PFC deadlock studies.
* ``rail``: rail-optimised two tiers: NIC ``r`` of every server on rail
  switch ``r``, every rail switch linked to every spine; optional NCCL PXN.
* ``file``: any graph, given as nodes with roles and links (TOML or JSON),
  with the GPU-to-NIC map.

Kinds from installed packages join through the ``ns3_mfs.topologies``
entry-point group (:mod:`ns3_mfs.registry`).

Every kind takes a ``[topology.host]`` table (:mod:`.host_path`): with
``model = "pcie"`` or ``"nvswitch"`` each server's GPUs, PCIe switches,
root complexes and host memory become nodes and links of the fabric, and
the hosts are GPUs and host memory instead of NIC ports.

A new kind is a frozen dataclass subclass of :class:`Topology` with a
``kind: Literal["name"] = "name"`` field, its parameters as ``spec(...)``
fields and a ``network()`` method (one host per NIC port), decorated with
``@register`` (see ``ring.py`` for a small one).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from ...config import ConfigError, from_dict, load_toml, spec, to_dict
from ...registry import Registry
from .host_path import HostPath, expand


@dataclass(frozen=True)
class Link:
    """A full-duplex link between two node indices."""

    a: int
    b: int
    rate_bps: float
    delay_s: float


def adjacency(links: Iterable[Link]) -> dict[int, list[int]]:
    """The neighbours of every node of ``links`` (both directions, in link order)."""
    adj: dict[int, list[int]] = {}
    for link in links:
        adj.setdefault(link.a, []).append(link.b)
        adj.setdefault(link.b, []).append(link.a)
    return adj


def hop_distances(adj: dict[int, list[int]], sources: Iterable[int]) -> dict[int, int]:
    """Links from the nearest of ``sources`` to every node they reach (breadth first)."""
    dist = {s: 0 for s in sources}
    frontier = list(dist)
    while frontier:
        nxt = []
        for u in frontier:
            for v in adj.get(u, ()):
                if v not in dist:
                    dist[v] = dist[u] + 1
                    nxt.append(v)
        frontier = nxt
    return dist


@dataclass(frozen=True)
class Graph:
    """A topology expanded into nodes and links (hosts first)."""

    name: str
    num_hosts: int
    switch_names: tuple[str, ...]
    links: tuple[Link, ...]
    host_server: tuple[int, ...]  #: server of each host
    gpus_per_server: int
    #: names of the hosts (empty: ``nic<i>``)
    host_names: tuple[str, ...] = ()
    #: host (NIC) of every GPU (GPU ``server * gpus_per_server + local``); empty: ``serving.gpus_per_nic`` decides
    gpu_nic: tuple[int, ...] = ()
    #: rail of every host (rail-optimised kinds; empty: no rails)
    host_rail: tuple[int, ...] = ()
    #: NCCL PXN: a cross-rail transfer first moves inside the source server to the GPU on the destination's rail
    pxn: bool = False
    #: with a host path (:mod:`.host_path`): the host of every GPU (server by server), each server's host-memory
    #: hosts, and the GPUs sharing a NIC; empty (0) when hosts are NIC ports
    gpu_host: tuple[int, ...] = ()
    mem_hosts: tuple[tuple[int, ...], ...] = ()
    gpus_per_nic: int = 0

    @property
    def host_path(self) -> bool:
        """Whether GPUs are the hosts (a server's inside is part of the fabric)."""
        return bool(self.gpu_host)

    @property
    def num_nodes(self) -> int:
        return self.num_hosts + len(self.switch_names)

    @property
    def num_servers(self) -> int:
        return max(self.host_server) + 1

    def node_name(self, node: int) -> str:
        if node < self.num_hosts:
            return self.host_names[node] if self.host_names else f"nic{node}"
        return self.switch_names[node - self.num_hosts]

    @property
    def diameter_links(self) -> int:
        """Links on the longest shortest path between two hosts (hop count of the farthest pair)."""
        adj = adjacency(self.links)
        far = 0
        for src in {0, self.num_hosts - 1}:  # hosts are symmetric in every built-in kind
            dist = hop_distances(adj, [src])
            far = max([far, *(d for n, d in dist.items() if n < self.num_hosts)])
        return max(far, 1)

    def host_rate_bps(self, host: int) -> float:
        for link in self.links:
            if host in (link.a, link.b):
                return link.rate_bps
        raise KeyError(host)


@dataclass(frozen=True)
class Topology:
    """Base of every topology kind: the parameters all kinds share."""

    name: str = spec("", doc="free-form name shown in results")
    link_delay_us: float = spec(1.0, min=0.0, max=1e6, doc="one-way propagation delay of every link (us)")
    gpus_per_server: int = spec(4, min=1, max=64, doc="GPUs per server (for the serving layer)")
    host: HostPath = spec(HostPath(), doc="the inside of each server ([topology.host]; model = none: hosts are "
                          "NIC ports)")

    def graph(self) -> Graph:
        """The expanded graph: the kind's network, plus each server's inside when ``host.model`` is set."""
        return expand(self.network(), self.host)

    def network(self) -> Graph:  # pragma: no cover - every kind overrides it
        """The kind's network with one host per NIC port."""
        raise NotImplementedError


#: Topology kinds by their ``kind`` value.
REGISTRY: Registry[type[Topology]] = Registry("topology kind", key="kind", group="ns3_mfs.topologies")
register = REGISTRY.register


def topology_from_dict(data: dict[str, Any], path: str = "topology") -> Topology:
    """Build a topology from a table with a ``kind`` key."""
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a table, got {data!r}")
    kind = data.get("kind")
    if not isinstance(kind, str) or kind not in REGISTRY:
        raise ConfigError(
            f"{path}.kind: {'missing' if kind is None else repr(kind)}; allowed: {', '.join(REGISTRY)}"
        )
    return from_dict(REGISTRY[kind], data, path)


def load_topology(path: str | Path) -> Topology:
    """Read a topology TOML file, or a JSON file holding the same table (see ``topologies/``)."""
    p = Path(path)
    if p.suffix.lower() == ".json":
        import json

        from ...csvfile import read_text

        try:
            data = json.loads(read_text(p, "JSON"))
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{p}: invalid JSON (line {exc.lineno} column {exc.colno}: {exc.msg})") from None
    else:
        data = load_toml(p)
    return topology_from_dict(data, f"{path}: topology")


def topology_to_dict(topo: Topology) -> dict[str, Any]:
    return to_dict(topo)


# The built-in kinds register themselves (import order = order of ``allowed``).
from .testbed import TestbedTopology  # noqa: E402
from .leaf_spine import LeafSpineTopology  # noqa: E402
from .fat_tree import FatTreeTopology  # noqa: E402
from .ring import RingTopology  # noqa: E402
from .rail import RailTopology  # noqa: E402
from .file import FileTopology  # noqa: E402

__all__ = [
    "REGISTRY",
    "FatTreeTopology",
    "FileTopology",
    "Graph",
    "HostPath",
    "LeafSpineTopology",
    "Link",
    "RailTopology",
    "RingTopology",
    "TestbedTopology",
    "Topology",
    "load_topology",
    "register",
    "topology_from_dict",
    "topology_to_dict",
]
