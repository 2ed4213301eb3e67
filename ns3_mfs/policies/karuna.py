"""Karuna as the MFS paper's baseline: "the minimum required bandwidth for deadline flows; the remaining
flows by SJF" (Section 6.3, docs/explanation/policies.md; Chen et al., SIGCOMM 2016).

* **Deadline flows** (P2D) in the top class, paced at their minimum required
  rate ``remaining / time_to_deadline x (1 + margin)`` (Karuna's MCP handles
  deadline flows with as little bandwidth as possible), recomputed at every
  layer boundary of their instance.
* **The rest** below them: by default by SJF on their size, known when the
  flow starts (Karuna's scheme for flows of known size), classes 2.. by
  ``size_thresholds_bytes``; ``rest = "pias"`` keeps the earlier variant, in
  class 2 and demoted in the NIC each time bytes sent cross
  ``thresholds_bytes`` (Karuna's scheme for flows of unknown size).
* **Late deadline flows** (past their deadline, or started after it): no
  minimum rate exists, so the pacing is removed; with ``late = "rest"``
  (default) a flow starting late is scheduled as a flow without a deadline
  (Karuna gives the bandwidth to the flows that can still use it), with
  ``late = "top"`` it stays in the top class at line rate.
"""

from bisect import bisect_right
from dataclasses import dataclass
from typing import Literal

from ..config import ConfigError, spec
from .base import FIRST, LAST, FlowInfo, Policy, register
from .pias import WEB_SEARCH_PACKETS


@register
class Karuna(Policy):
    name = "karuna"

    @dataclass(frozen=True)
    class Params:
        margin: float = spec(0.1, min=0.0, max=10.0, doc="head room over the minimum required rate")
        rest: Literal["sjf", "pias"] = spec("sjf", doc="flows without a deadline: SJF on their size, or PIAS")
        size_thresholds_bytes: list[int] = spec(
            [64 << 10, 256 << 10, 1 << 20, 4 << 20, 16 << 20], min=1,
            doc="SJF size limits of classes 2.. (increasing); larger flows get the last class",
        )
        thresholds_bytes: list[int] = spec(
            [p * 1460 for p in WEB_SEARCH_PACKETS], min=1, doc="PIAS demotion thresholds (rest = pias)"
        )
        late: Literal["rest", "top"] = spec("rest", doc="a deadline flow starting past its deadline: "
                                                        "as the rest, or in the top class unpaced")

        def validate(self, path: str) -> None:
            t = self.size_thresholds_bytes
            if list(t) != sorted(t) or len(t) > LAST - FIRST - 1:
                raise ConfigError(
                    f"{path}.size_thresholds_bytes: must be increasing, at most {LAST - FIRST - 1} values")

    def _late(self, info: FlowInfo) -> bool:
        return info.deadline_s is not None and info.deadline_s <= self.transport.now

    def classify(self, info: FlowInfo) -> int:
        if info.deadline_s is not None and not (self._late(info) and self.params.late == "rest"):
            return FIRST
        if self.params.rest == "pias":
            return FIRST + 1
        return min(LAST, FIRST + 1 + bisect_right(self.params.size_thresholds_bytes, info.bytes - 1))

    def started(self, info: FlowInfo) -> None:
        if info.cls != FIRST:
            if self.params.rest == "pias":
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
            if info.deadline_s is not None and info.cls == FIRST and info.instance == instance:
                self._cap(info)
