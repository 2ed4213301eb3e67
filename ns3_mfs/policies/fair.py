"""Fair sharing: every flow in one class; DCQCN shares the links."""

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
