"""``stage_order``: one fixed class per flow stage, earlier stages first.

KV fetches (stage 1) in class ``first``, collectives (stage 2) in
``first + 1``, P2D (stage 3) in ``first + 2``: a stage-aware but
laxity-blind order, a baseline between fair sharing and MFS.
"""

from dataclasses import dataclass

from ns3_mfs.config import spec
from ns3_mfs.policies.base import FIRST, LAST, FlowInfo, Policy, register


@register
class StageOrder(Policy):
    name = "stage_order"

    @dataclass(frozen=True)
    class Params:
        first: int = spec(2, min=FIRST, max=LAST - 2, doc="class of stage-1 flows (stage n: first + n - 1)")

    def classify(self, info: FlowInfo) -> int:
        return self.params.first + info.stage_num - 1
