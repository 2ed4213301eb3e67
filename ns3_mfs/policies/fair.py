"""Fair sharing as the MFS paper's baseline: "max-min fairness among flows" (Section 6.3,
docs/explanation/policies.md).

Every data flow in one class; DCQCN (or the switch queues without it) shares
the links among them. Implemented as defined, to the fairness DCQCN gives.
"""

from dataclasses import dataclass

from ..config import spec
from .base import FIRST, LAST, FlowInfo, Policy, register


@register
class Fair(Policy):
    name = "fair"

    @dataclass(frozen=True)
    class Params:
        cls: int = spec(4, min=FIRST, max=LAST, doc="the one class of all data flows")

    def classify(self, info: FlowInfo) -> int:
        return self.params.cls
