"""Topologies: small TOML files that expand into a graph of hosts and switches.

A *host* is one NIC port (an RDMA NIC with one link); hosts are numbered
0..N-1 server by server, so on the testbed server ``s`` has NICs ``2s`` and
``2s+1``. Switches follow the hosts in node numbering. Every kind records which
server each host belongs to and how many GPUs a server has, for the serving
layer above.

Kinds (``kind = ...`` in the file):

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
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ..config import ConfigError, from_dict, load_toml, spec, to_dict


@dataclass(frozen=True)
class Link:
    """A full-duplex link between two node indices."""

    a: int
    b: int
    rate_bps: float
    delay_s: float


@dataclass(frozen=True)
class Graph:
    """A topology expanded into nodes and links (hosts first)."""

    name: str
    num_hosts: int
    switch_names: tuple[str, ...]
    links: tuple[Link, ...]
    host_server: tuple[int, ...]  #: server of each host
    gpus_per_server: int

    @property
    def num_nodes(self) -> int:
        return self.num_hosts + len(self.switch_names)

    @property
    def num_servers(self) -> int:
        return max(self.host_server) + 1

    def node_name(self, node: int) -> str:
        return f"nic{node}" if node < self.num_hosts else self.switch_names[node - self.num_hosts]

    def host_rate_bps(self, host: int) -> float:
        for link in self.links:
            if host in (link.a, link.b):
                return link.rate_bps
        raise KeyError(host)


@dataclass(frozen=True)
class _Common:
    name: str = spec("", doc="free-form name shown in results")
    link_delay_us: float = spec(1.0, min=0.0, max=1e6, doc="one-way propagation delay of every link (us)")
    gpus_per_server: int = spec(4, min=1, max=64, doc="GPUs per server (for the serving layer)")


@dataclass(frozen=True)
class TestbedTopology(_Common):
    """One switch and a few multi-NIC servers: the MFS testbed."""

    __test__ = False  # not a pytest class
    kind: Literal["testbed"] = "testbed"
    servers: int = spec(8, min=1, max=512, doc="servers")
    nics_per_server: int = spec(2, min=1, max=16, doc="NIC ports per server")
    link_rate_gbps: float = spec(100.0, gt=0.0, max=3200.0, doc="NIC link rate (Gbit/s)")

    def graph(self) -> Graph:
        hosts = self.servers * self.nics_per_server
        rate, delay = self.link_rate_gbps * 1e9, self.link_delay_us * 1e-6
        links = tuple(Link(h, hosts, rate, delay) for h in range(hosts))
        return Graph(
            self.name or "testbed",
            hosts,
            ("switch",),
            links,
            tuple(h // self.nics_per_server for h in range(hosts)),
            self.gpus_per_server,
        )


@dataclass(frozen=True)
class LeafSpineTopology(_Common):
    """Two-tier Clos: leaves (ToRs) and spines."""

    kind: Literal["leaf_spine"] = "leaf_spine"
    leaves: int = spec(4, min=1, max=1024, doc="leaf (ToR) switches")
    spines: int = spec(4, min=1, max=1024, doc="spine switches")
    hosts_per_leaf: int = spec(8, min=1, max=1024, doc="NIC ports under each leaf")
    nics_per_server: int = spec(1, min=1, max=16, doc="NIC ports per server")
    host_rate_gbps: float = spec(100.0, gt=0.0, max=3200.0, doc="host-leaf link rate (Gbit/s)")
    spine_rate_gbps: float = spec(100.0, gt=0.0, max=3200.0, doc="leaf-spine link rate (Gbit/s)")

    def validate(self, path: str) -> None:
        if self.hosts_per_leaf % self.nics_per_server:
            raise ConfigError(
                f"{path + '.' if path else ''}hosts_per_leaf: {self.hosts_per_leaf} is not a "
                f"multiple of nics_per_server ({self.nics_per_server}); a server sits under one leaf"
            )

    @property
    def oversubscription(self) -> float:
        return self.hosts_per_leaf * self.host_rate_gbps / (self.spines * self.spine_rate_gbps)

    def graph(self) -> Graph:
        hosts = self.leaves * self.hosts_per_leaf
        delay = self.link_delay_us * 1e-6
        leaf0, spine0 = hosts, hosts + self.leaves
        links = [Link(h, leaf0 + h // self.hosts_per_leaf, self.host_rate_gbps * 1e9, delay) for h in range(hosts)]
        links += [
            Link(leaf0 + l, spine0 + s, self.spine_rate_gbps * 1e9, delay)
            for l in range(self.leaves)
            for s in range(self.spines)
        ]
        names = tuple(f"leaf{i}" for i in range(self.leaves)) + tuple(f"spine{i}" for i in range(self.spines))
        return Graph(
            self.name or "leaf_spine",
            hosts,
            names,
            tuple(links),
            tuple(h // self.nics_per_server for h in range(hosts)),
            self.gpus_per_server,
        )


@dataclass(frozen=True)
class FatTreeTopology(_Common):
    """k-ary fat-tree (Al-Fares et al.), full bisection bandwidth."""

    kind: Literal["fat_tree"] = "fat_tree"
    k: int = spec(4, min=2, max=64, doc="switch radix (even)")
    nics_per_server: int = spec(1, min=1, max=16, doc="NIC ports per server")
    link_rate_gbps: float = spec(100.0, gt=0.0, max=3200.0, doc="rate of every link (Gbit/s)")

    def validate(self, path: str) -> None:
        p = path + "." if path else ""
        if self.k % 2:
            raise ConfigError(f"{p}k: must be even, got {self.k}")
        if (self.k // 2) % self.nics_per_server:
            raise ConfigError(f"{p}nics_per_server: must divide k/2 = {self.k // 2}, got {self.nics_per_server}")

    def graph(self) -> Graph:
        k, half = self.k, self.k // 2
        hosts = k * half * half
        rate, delay = self.link_rate_gbps * 1e9, self.link_delay_us * 1e-6
        edge0 = hosts
        agg0 = edge0 + k * half
        core0 = agg0 + k * half
        links = [Link(h, edge0 + h // half, rate, delay) for h in range(hosts)]
        for pod in range(k):
            for e in range(half):
                for a in range(half):
                    links.append(Link(edge0 + pod * half + e, agg0 + pod * half + a, rate, delay))
            for a in range(half):
                for c in range(half):
                    links.append(Link(agg0 + pod * half + a, core0 + a * half + c, rate, delay))
        names = (
            tuple(f"edge{p}_{e}" for p in range(k) for e in range(half))
            + tuple(f"agg{p}_{a}" for p in range(k) for a in range(half))
            + tuple(f"core{c}" for c in range(half * half))
        )
        return Graph(
            self.name or f"fat_tree_k{k}",
            hosts,
            names,
            tuple(links),
            tuple(h // self.nics_per_server for h in range(hosts)),
            self.gpus_per_server,
        )


@dataclass(frozen=True)
class RingTopology(_Common):
    """Switches in a ring, hosts on every switch (PFC deadlock studies)."""

    kind: Literal["ring"] = "ring"
    switches: int = spec(5, min=3, max=256, doc="switches in the ring")
    hosts_per_switch: int = spec(1, min=1, max=64, doc="NIC ports on each switch")
    link_rate_gbps: float = spec(100.0, gt=0.0, max=3200.0, doc="rate of every link (Gbit/s)")

    def graph(self) -> Graph:
        hosts = self.switches * self.hosts_per_switch
        rate, delay = self.link_rate_gbps * 1e9, self.link_delay_us * 1e-6
        links = [Link(h, hosts + h // self.hosts_per_switch, rate, delay) for h in range(hosts)]
        links += [Link(hosts + s, hosts + (s + 1) % self.switches, rate, delay) for s in range(self.switches)]
        return Graph(
            self.name or f"ring{self.switches}",
            hosts,
            tuple(f"ring{s}" for s in range(self.switches)),
            tuple(links),
            tuple(range(hosts)),
            self.gpus_per_server,
        )


Topology = TestbedTopology | LeafSpineTopology | FatTreeTopology | RingTopology
KINDS: dict[str, type] = {
    "testbed": TestbedTopology,
    "leaf_spine": LeafSpineTopology,
    "fat_tree": FatTreeTopology,
    "ring": RingTopology,
}


def topology_from_dict(data: dict[str, Any], path: str = "topology") -> Topology:
    """Build a topology from a table with a ``kind`` key."""
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a table, got {data!r}")
    kind = data.get("kind")
    if not isinstance(kind, str) or kind not in KINDS:
        raise ConfigError(
            f"{path}.kind: {'missing' if kind is None else repr(kind)}; allowed: {', '.join(KINDS)}"
        )
    return from_dict(KINDS[kind], data, path)


def load_topology(path: str | Path) -> Topology:
    """Read a topology TOML file (see ``topologies/`` for one of each kind)."""
    data = load_toml(path)
    return topology_from_dict(data, str(path))


def topology_to_dict(topo: Topology) -> dict[str, Any]:
    return to_dict(topo)


__all__ = [
    "FatTreeTopology",
    "Graph",
    "LeafSpineTopology",
    "Link",
    "RingTopology",
    "TestbedTopology",
    "Topology",
    "load_topology",
    "topology_from_dict",
    "topology_to_dict",
]
