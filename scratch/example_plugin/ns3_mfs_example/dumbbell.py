"""``dumbbell``: two switches joined by one bottleneck link, ``hosts`` NICs on each side."""

from dataclasses import dataclass
from typing import Literal

from ns3_mfs.config import spec
from ns3_mfs.fabric.topology import Graph, Link, Topology


@dataclass(frozen=True)
class DumbbellTopology(Topology):
    """Registered by the entry point (no decorator needed)."""

    kind: Literal["dumbbell"] = "dumbbell"
    hosts: int = spec(2, min=1, max=256, doc="NICs on each side (one NIC per server)")
    link_rate_gbps: float = spec(100.0, min=0.001, max=3200.0, doc="every link's rate (Gbit/s)")

    def graph(self) -> Graph:
        n, rate, delay = 2 * self.hosts, self.link_rate_gbps * 1e9, self.link_delay_us * 1e-6
        links = [Link(h, n + h // self.hosts, rate, delay) for h in range(n)] + [Link(n, n + 1, rate, delay)]
        return Graph(self.name or "dumbbell", n, ("left", "right"), tuple(links), tuple(range(n)),
                     self.gpus_per_server)
