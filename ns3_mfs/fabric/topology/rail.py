"""``rail``: rail-optimised two tiers (rail switches and spines), with NCCL's PXN as an option.

Server ``s`` has ``rails`` NICs; NIC ``r`` of every server (host ``s x rails
+ r``) is on rail switch ``r``, and every rail switch is linked to every
spine. GPU ``g`` of a server uses NIC ``g // (gpus_per_server / rails)``, so
GPU ``i`` of every server sits on rail ``i`` when there is one NIC per GPU.
Traffic between same-rail NICs crosses one switch; cross-rail traffic goes
up to a spine and down another rail.

``pxn = true`` is NCCL's PXN (PCI x NVLink): a transfer from GPU ``a`` to
a GPU ``b`` on another rail first moves inside ``a``'s server to the GPU of
that server on ``b``'s rail (an intra-server copy, recorded with ``path =
"intra_server"``), then leaves through that GPU's NIC and crosses only
``b``'s rail switch. The serving layer applies it where a flow's source NIC
is chosen (:mod:`ns3_mfs.serving.transport`); transfers from KV-store hosts
are not GPU transfers and go direct.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ...config import ConfigError, spec
from . import Graph, Link, Topology, register


@register
@dataclass(frozen=True)
class RailTopology(Topology):
    """Rail-optimised two tiers: one rail switch per NIC index, spines above."""

    kind: Literal["rail"] = "rail"
    servers: int = spec(4, min=1, max=1024, doc="servers")
    rails: int = spec(4, min=1, max=64, doc="NICs per server = rail switches (NIC r of every server on rail r)")
    spines: int = spec(2, min=1, max=1024, doc="spine switches (every rail switch linked to every spine)")
    host_rate_gbps: float = spec(100.0, min=0.001, max=3200.0, doc="NIC-rail link rate (Gbit/s)")
    spine_rate_gbps: float = spec(100.0, min=0.001, max=3200.0, doc="rail-spine link rate (Gbit/s)")
    pxn: bool = spec(False, doc="NCCL PXN: cross-rail transfers hop inside the source server to the GPU on the "
                     "destination's rail first, then cross one rail switch")

    def validate(self, path: str) -> None:
        if self.gpus_per_server % self.rails:
            raise ConfigError(f"{path + '.' if path else ''}gpus_per_server: {self.gpus_per_server} is not a "
                              f"multiple of rails ({self.rails}); each rail serves the same number of GPUs")

    @property
    def oversubscription(self) -> float:
        return self.servers * self.host_rate_gbps / (self.spines * self.spine_rate_gbps)

    def network(self) -> Graph:
        hosts = self.servers * self.rails
        delay = self.link_delay_us * 1e-6
        rail0, spine0 = hosts, hosts + self.rails
        links = [Link(h, rail0 + h % self.rails, self.host_rate_gbps * 1e9, delay) for h in range(hosts)]
        links += [Link(rail0 + r, spine0 + s, self.spine_rate_gbps * 1e9, delay)
                  for r in range(self.rails) for s in range(self.spines)]
        names = tuple(f"rail{r}" for r in range(self.rails)) + tuple(f"spine{s}" for s in range(self.spines))
        per_nic = self.gpus_per_server // self.rails
        gpu_nic = tuple(s * self.rails + g // per_nic for s in range(self.servers) for g in range(self.gpus_per_server))
        return Graph(
            self.name or "rail",
            hosts,
            names,
            tuple(links),
            tuple(h // self.rails for h in range(hosts)),
            self.gpus_per_server,
            gpu_nic=gpu_nic,
            host_rail=tuple(h % self.rails for h in range(hosts)),
            pxn=self.pxn,
        )
