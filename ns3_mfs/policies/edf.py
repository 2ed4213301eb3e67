"""Earliest deadline first for flows with a deadline (P2D); fair sharing for the rest.

A deadline flow's class follows its time to deadline at start, in buckets
(closer deadline, higher class); flows without a deadline share one class.
"""

from bisect import bisect_right
from dataclasses import dataclass

from ..config import ConfigError, spec
from .base import FIRST, LAST, FlowInfo, Policy, register


@register
class Edf(Policy):
    name = "edf"

    @dataclass(frozen=True)
    class Params:
        thresholds_s: list[float] = spec(
            [0.001, 0.004, 0.016, 0.064, 0.256, 1.024], min=0.0,
            doc="time-to-deadline limits of classes 1..6 (increasing)",
        )
        others_cls: int = spec(4, min=FIRST, max=LAST, doc="class of flows without a deadline")

        def validate(self, path: str) -> None:
            t = self.thresholds_s
            if list(t) != sorted(t) or len(t) > LAST - FIRST:
                raise ConfigError(f"{path}.thresholds_s: must be increasing, at most {LAST - FIRST} values")

    def classify(self, info: FlowInfo) -> int:
        if info.deadline_s is None:
            return self.params.others_cls
        ttd = info.deadline_s - self.transport.now
        return min(LAST, FIRST + bisect_right(self.params.thresholds_s, ttd))
