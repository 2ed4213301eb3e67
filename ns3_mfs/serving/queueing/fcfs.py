"""``fcfs``: vLLM's default, first come first served (the queue as it arrived)."""

from __future__ import annotations

from typing import Sequence

from .base import QueueContext, QueuePolicy, Queued, register


@register
class Fcfs(QueuePolicy):
    """Keeps the arrival order: the simulator's behaviour before queue policies existed."""

    name = "fcfs"

    def order(self, waiting: Sequence[Queued], ctx: QueueContext) -> list[Queued]:
        return list(waiting)
