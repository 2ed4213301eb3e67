"""``sjf_aging``: shortest remaining prompt first, with priority aging.

``score = remaining_tokens - aging_rate_tokens_per_s * (now - arrival)``;
the smallest score goes first (ties: arrival, then id). Every waiting request
ages at the same rate, so a long request that arrived ``dt`` seconds before a
short one overtakes it once ``dt > (long - short) / aging_rate``: short
requests go first, but a long one is not starved forever. With
``aging_rate_tokens_per_s = 0`` this is plain SJF.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from ...config import spec
from .base import QueueContext, QueuePolicy, Queued, by_arrival, register


@dataclass(frozen=True)
class SjfAgingParams:
    aging_rate_tokens_per_s: float = spec(
        1000.0, min=0.0, doc="priority gained per second of waiting, in prompt tokens"
    )


@register
class SjfAging(QueuePolicy):
    """Shortest remaining input first; waiting time lowers the score."""

    name = "sjf_aging"
    Params = SjfAgingParams

    def score(self, st: Queued, now: float) -> float:
        """``remaining - aging_rate * wait``."""
        return st.remaining - self.params.aging_rate_tokens_per_s * (now - st.req.arrival_s)

    def order(self, waiting: Sequence[Queued], ctx: QueueContext) -> list[Queued]:
        scored = sorted(((self.score(st, ctx.now), by_arrival(st), st) for st in waiting),
                        key=lambda s: (s[0], s[1]))
        for s, _, st in scored:
            self._record(ctx, st, s)
        return [st for _, _, st in scored]
