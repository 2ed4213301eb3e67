"""``continuous`` (vLLM): admit waiting requests in arrival order while their KV fits, then step them all."""

from __future__ import annotations

from typing import Any

from . import DecodeBatching, register


@register
class Continuous(DecodeBatching):
    """At every step boundary, admit waiting requests FCFS (under ``max_batch``) while their KV fits."""

    name = "continuous"

    def form(self, side: Any, inst: Any) -> list:
        while inst.waiting and len(inst.admitted) < side.cfg.max_batch and side.fits(inst, inst.waiting[0]):
            side.admit(inst, inst.waiting[0])
        return list(inst.admitted)
