"""``kairos_slack``: pack the requests with the fewest tokens left while the step keeps the TPOT SLO."""

from __future__ import annotations

import math
from typing import Any

from . import DecodeBatching, register


@register
class KairosSlack(DecodeBatching):
    """Admitted and waiting requests by fewest remaining output tokens, packed greedily (first fit)
    while KV fits and the predicted step time stays within the batch's tightest TPOT SLO; if none fits
    on its own, the shortest runs alone."""

    name = "kairos_slack"

    def form(self, side: Any, inst: Any) -> list:
        cands = sorted([*inst.admitted, *inst.waiting], key=lambda r: (r.left, r.first_token_s, r.id))
        batch: list = []
        ctx, slo, extra = 0, math.inf, 0
        capacity = side.setup.capacity_tokens
        for r in cands:
            if len(batch) >= side.cfg.max_batch:
                break
            if not r.admitted and inst.reserved + extra + r.need > capacity and (inst.admitted or batch):
                continue
            tight = min(slo, r.tpot_slo_s)
            if side.step_model.time_s(len(batch) + 1, ctx + r.context) > tight:
                continue  # would break the TPOT SLO: not in this batch
            batch.append(r)
            ctx += r.context
            slo = tight
            extra += 0 if r.admitted else r.need
        if not batch and cands:
            batch = [next((r for r in cands if side.fits(inst, r)), cands[0])]
        for r in batch:
            if not r.admitted:
                side.admit(inst, r)
        return batch
