"""``testbed``: one switch and multi-NIC servers (the MFS testbed)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ...config import spec
from . import Graph, Link, Topology, register


@register
@dataclass(frozen=True)
class TestbedTopology(Topology):
    """One switch and a few multi-NIC servers: the MFS testbed."""

    __test__ = False  # not a pytest class
    kind: Literal["testbed"] = "testbed"
    servers: int = spec(8, min=1, max=512, doc="servers")
    nics_per_server: int = spec(2, min=1, max=16, doc="NIC ports per server")
    link_rate_gbps: float = spec(100.0, min=0.001, max=3200.0, doc="NIC link rate (Gbit/s)")

    def network(self) -> Graph:
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
