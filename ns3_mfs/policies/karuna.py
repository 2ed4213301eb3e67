"""Karuna: deadline flows in the top class at their minimum required rate;
the rest PIAS-style, demoted by bytes sent below them.

A deadline flow is paced at ``remaining / time_to_deadline x (1 + margin)``
(recomputed at every layer boundary), so it leaves bandwidth to the others
while still meeting its deadline; past its deadline it is not capped.
"""

from dataclasses import dataclass

from ..config import spec
from .base import FIRST, FlowInfo, Policy, register
from .pias import WEB_SEARCH_PACKETS


@register
class Karuna(Policy):
    name = "karuna"

    @dataclass(frozen=True)
    class Params:
        margin: float = spec(0.1, min=0.0, max=10.0, doc="head room over the minimum required rate")
        thresholds_bytes: list[int] = spec(
            [p * 1460 for p in WEB_SEARCH_PACKETS], min=1, doc="demotion thresholds of non-deadline flows"
        )

    def classify(self, info: FlowInfo) -> int:
        return FIRST if info.deadline_s is not None else FIRST + 1

    def started(self, info: FlowInfo) -> None:
        if info.deadline_s is None:
            self.transport.set_demotion(info.flow, self.params.thresholds_bytes)
        else:
            self._cap(info)

    def _cap(self, info: FlowInfo) -> None:
        ttd = info.deadline_s - self.transport.now
        remaining = info.bytes - self.transport.flow_bytes_delivered(info.flow)
        rate = remaining * 8 / ttd * (1 + self.params.margin) if ttd > 0 else 0.0
        self.transport.set_rate_cap(info.flow, rate)

    def layer_boundary(self, batch_id: int, instance: int, layer: int) -> None:
        for info in list(self.active.values()):
            if info.deadline_s is not None and info.instance == instance:
                self._cap(info)
