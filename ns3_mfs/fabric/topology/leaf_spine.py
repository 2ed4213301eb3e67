"""``leaf_spine``: a two-tier Clos of leaves (ToRs) and spines."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ...config import ConfigError, spec
from . import Graph, Link, Topology, register


@register
@dataclass(frozen=True)
class LeafSpineTopology(Topology):
    """Two-tier Clos: leaves (ToRs) and spines."""

    kind: Literal["leaf_spine"] = "leaf_spine"
    leaves: int = spec(4, min=1, max=1024, doc="leaf (ToR) switches")
    spines: int = spec(4, min=1, max=1024, doc="spine switches")
    hosts_per_leaf: int = spec(8, min=1, max=1024, doc="NIC ports under each leaf")
    nics_per_server: int = spec(1, min=1, max=16, doc="NIC ports per server")
    host_rate_gbps: float = spec(100.0, min=0.001, max=3200.0, doc="host-leaf link rate (Gbit/s)")
    spine_rate_gbps: float = spec(100.0, min=0.001, max=3200.0, doc="leaf-spine link rate (Gbit/s)")

    def validate(self, path: str) -> None:
        if self.hosts_per_leaf % self.nics_per_server:
            raise ConfigError(
                f"{path + '.' if path else ''}hosts_per_leaf: {self.hosts_per_leaf} is not a "
                f"multiple of nics_per_server ({self.nics_per_server}); a server sits under one leaf"
            )

    @property
    def oversubscription(self) -> float:
        return self.hosts_per_leaf * self.host_rate_gbps / (self.spines * self.spine_rate_gbps)

    def network(self) -> Graph:
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
