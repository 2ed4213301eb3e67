"""``kairos``: least urgency first, hopeless requests last (Kairos's prefill queue).

``urgency = deadline - now - predicted completion``, where ``deadline`` is the
request's absolute TTFT deadline (arrival + TTFT SLO) and the predicted
completion is the compute model's prefill time of the request's remaining
tokens (:meth:`ServingEngine.predict_request_s`) plus the predicted work
queued ahead of it on the instance: the started requests that keep going first
(``ctx.ahead_s``) and the requests this policy already put in front of it.
The order is built greedily: the hopeful request (urgency >= 0) with the least
urgency goes next and its predicted time joins the work ahead, so a request
can become hopeless (urgency < 0) as the queue in front of it grows. Hopeless
requests, which cannot meet their SLO anyway, go behind every hopeful one in
arrival order. A request without a deadline has infinite urgency.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from ...config import spec
from .base import QueueContext, QueuePolicy, Queued, by_arrival, register


@dataclass(frozen=True)
class KairosParams:
    prediction_scale: float = spec(1.0, gt=0.0, doc="multiplies the predicted prefill time (over/under-estimation)")


@register
class Kairos(QueuePolicy):
    """Least urgency (slack to the TTFT deadline) first; past-hope requests last."""

    name = "kairos"
    Params = KairosParams

    def urgency(self, st: Queued, ctx: QueueContext, ahead_s: float, pred_s: float) -> float:
        """``deadline - now - (ahead_s + pred_s)`` (inf without a deadline)."""
        deadline = ctx.deadlines.get(st.req.id)
        if deadline is None:
            return math.inf
        return deadline - ctx.now - ahead_s - pred_s

    def order(self, waiting: Sequence[Queued], ctx: QueueContext) -> list[Queued]:
        scale = self.params.prediction_scale
        pred = {st.req.id: scale * ctx.predict_s(st) for st in waiting}
        left = list(waiting)
        out: list[Queued] = []
        ahead = scale * ctx.ahead_s
        while left:
            scored = [(self.urgency(st, ctx, ahead, pred[st.req.id]), by_arrival(st), st) for st in left]
            hopeful = [s for s in scored if s[0] >= 0]
            if not hopeful:
                break
            u, _, best = min(hopeful, key=lambda s: (s[0], s[1]))
            self._record(ctx, best, u, "hopeful")
            out.append(best)
            left.remove(best)
            ahead += pred[best.req.id]
        for st in sorted(left, key=by_arrival):
            self._record(ctx, st, self.urgency(st, ctx, ahead, pred[st.req.id]), "hopeless")
            out.append(st)
        return out
