"""SJF as the MFS paper's baseline: "strictly smaller flows first" (Section 6.3, docs/explanation/policies.md).

A flow's class by its size, known when it starts (smaller flows higher):
strict priority over ``len(thresholds_bytes) + 1`` size buckets, which is as
strict as seven classes allow. Implemented as defined.
"""

from bisect import bisect_right
from dataclasses import dataclass

from ..config import ConfigError, spec
from .base import FIRST, LAST, FlowInfo, Policy, register


@register
class Sjf(Policy):
    name = "sjf"

    @dataclass(frozen=True)
    class Params:
        thresholds_bytes: list[int] = spec(
            [64 << 10, 256 << 10, 1 << 20, 4 << 20, 16 << 20, 64 << 20], min=1,
            doc="size limits of classes 1..6 (increasing); larger flows get class 7",
        )

        def validate(self, path: str) -> None:
            t = self.thresholds_bytes
            if list(t) != sorted(t) or len(t) > LAST - FIRST:
                raise ConfigError(f"{path}.thresholds_bytes: must be increasing, at most {LAST - FIRST} values")

    def classify(self, info: FlowInfo) -> int:
        return min(LAST, FIRST + bisect_right(self.params.thresholds_bytes, info.bytes - 1))
