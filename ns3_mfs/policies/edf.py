"""EDF as the MFS paper's baseline: "flows with explicit deadlines first (earliest deadline first); fair
sharing for flows with implicit deadlines" (Section 6.3, docs/explanation/policies.md).

Every flow with a deadline (P2D) is in a class above every flow without one:
deadline flows take classes 1 .. ``others_cls - 1`` by their time to deadline
(the classes' upper limits are ``thresholds_s``; closer deadline, higher
class; a flow with more time to go than the last limit, or one past its
deadline, still stays above the rest), and they are promoted as their
deadline nears (at every layer boundary of their instance). The flows without
a deadline share ``others_cls`` (the lowest data class by default), where
DCQCN shares the links fairly. Strict priority queues approximate "earliest
deadline first" by these buckets.
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
            [0.001, 0.004, 0.016, 0.064, 0.256], min=0.0,
            doc="time-to-deadline limits of the deadline classes 1.. (increasing)",
        )
        others_cls: int = spec(LAST, min=FIRST + 1, max=LAST, doc="class of flows without a deadline (below all deadline flows)")

        def validate(self, path: str) -> None:
            t = self.thresholds_s
            if list(t) != sorted(t) or len(t) > LAST - FIRST:
                raise ConfigError(f"{path}.thresholds_s: must be increasing, at most {LAST - FIRST} values")

    def classify(self, info: FlowInfo) -> int:
        if info.deadline_s is None:
            return self.params.others_cls
        ttd = max(0.0, info.deadline_s - self.transport.now)
        return min(self.params.others_cls - 1, FIRST + bisect_right(self.params.thresholds_s, ttd))

    def layer_boundary(self, batch_id: int, instance: int, layer: int) -> None:
        for info in list(self.active.values()):
            if info.deadline_s is not None and info.instance == instance:
                self.promote(info, self.classify(info), f"layer {layer}")
