"""``fat_tree``: the k-ary fat-tree (Al-Fares et al.), full bisection."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ...config import ConfigError, spec
from . import Graph, Link, Topology, register


@register
@dataclass(frozen=True)
class FatTreeTopology(Topology):
    """k-ary fat-tree (Al-Fares et al.), full bisection bandwidth."""

    kind: Literal["fat_tree"] = "fat_tree"
    k: int = spec(4, min=2, max=64, doc="switch radix (even)")
    nics_per_server: int = spec(1, min=1, max=16, doc="NIC ports per server")
    link_rate_gbps: float = spec(100.0, min=0.001, max=3200.0, doc="rate of every link (Gbit/s)")

    def validate(self, path: str) -> None:
        p = path + "." if path else ""
        if self.k % 2:
            raise ConfigError(f"{p}k: must be even, got {self.k}")
        if (self.k // 2) % self.nics_per_server:
            raise ConfigError(f"{p}nics_per_server: must divide k/2 = {self.k // 2}, got {self.nics_per_server}")

    def network(self) -> Graph:
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
