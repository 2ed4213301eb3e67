"""``ring``: switches in a ring with hosts on each (PFC deadlock studies)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ...config import spec
from . import Graph, Link, Topology, register


@register
@dataclass(frozen=True)
class RingTopology(Topology):
    """Switches in a ring, hosts on every switch (PFC deadlock studies)."""

    kind: Literal["ring"] = "ring"
    switches: int = spec(5, min=3, max=256, doc="switches in the ring")
    hosts_per_switch: int = spec(1, min=1, max=64, doc="NIC ports on each switch")
    link_rate_gbps: float = spec(100.0, min=0.001, max=3200.0, doc="rate of every link (Gbit/s)")

    def network(self) -> Graph:
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
