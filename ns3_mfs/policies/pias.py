"""PIAS (not in the MFS paper's set; Bai et al., NSDI 2015): "demotion by bytes sent" (docs/explanation/policies.md).

Every flow starts in the top class and is demoted in the NIC each time its
bytes sent cross a threshold (flow sizes unknown). Implemented as defined.

Default thresholds: the published web-search ones, in 1460-byte packets
(46, 1084, 1717, 1943, 1989, 1999, 2001), converted to bytes.
"""

from dataclasses import dataclass

from ..config import ConfigError, spec
from .base import FIRST, FlowInfo, Policy, register

WEB_SEARCH_PACKETS = [46, 1084, 1717, 1943, 1989, 1999, 2001]


@register
class Pias(Policy):
    name = "pias"

    @dataclass(frozen=True)
    class Params:
        thresholds_bytes: list[int] = spec(
            [p * 1460 for p in WEB_SEARCH_PACKETS], min=1, doc="bytes sent at which a flow moves one class down"
        )

        def validate(self, path: str) -> None:
            t = self.thresholds_bytes
            if list(t) != sorted(t):
                raise ConfigError(f"{path}.thresholds_bytes: must be increasing")

    def classify(self, info: FlowInfo) -> int:
        return FIRST

    def started(self, info: FlowInfo) -> None:
        self.transport.set_demotion(info.flow, self.params.thresholds_bytes)
