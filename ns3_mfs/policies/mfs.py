"""MFS: Multi-stage Flow Scheduling with a Reverse Multi-Level Queue (arXiv 2603.17456).

Levels P1..P7 are classes 1..7 (class 0 carries ACK/CNP). Defer-and-Promote:

* **Stage 2** (dispatch, combine, all-reduce): straight to the high level,
  P2 (P1 is reserved for the most urgent P2D flows).
* **Stage 1** (KV fetch for layer ``l_target``, issued during layer
  ``l_current``): by its Relative Layer Index ``RLI = l_target - l_current``,
  class ``P(2 + RLI)`` capped at P7, promoted step by step at the layer
  boundaries as ``l_current`` advances (smallest RLI strictly first).
* **Stage 3** (P2D, explicit deadline): by Minimal Link Utilization
  ``MLU = remaining / (time_to_deadline x B x (1 - rho))``, B the flow's
  bottleneck NIC rate and rho the measured load of its source NIC (or a
  fixed ``rho``). Geometric thresholds ``Q_i = U E^-i`` (i = 1..6): MLU >= Q_1
  is level 1, Q_i <= MLU < Q_(i-1) level i, below Q_6 level 7. Level 1 maps to
  P1; level i >= 2 to P(i+1), one class below the early-stage flows of the
  same level, so that in every level but P1 early-stage flows outrank P2D.
  A P2D flow starts low (deferred) and is promoted as its laxity shrinks:
  re-evaluated at every layer boundary of its instance and, once its batch's
  compute has ended, every ``reeval_interval_s``. Promotion is monotonic.
* **RED**: the deadline of a batch's P2D flows is the batch's Representative
  Effective Deadline: its requests' deadlines split at the largest adjacent
  gap into a tight and a loose set, ``RED = f D_tight_min + (1 - f)
  D_loose_min`` with f the tight fraction (one deadline per batch, so a batch
  moves as a unit).
* **Feasibility check and scavenger**: when a batch starts, the pending
  batches are sorted by RED and the new batch's worst case is checked: its
  predicted compute end plus the P2D bytes that the batches ahead of it in RED
  order (and itself) still have to push through each of its bottleneck ports
  (source and decode NICs), over that port's bandwidth, against its loose
  deadline. While it is late, the request that adds the most bytes is moved
  to the scavenger class (P7, served when the network is otherwise idle, never
  promoted again). Later, a P2D flow whose MLU exceeds 1 cannot meet its
  deadline even with the link to itself, and its request is scavenged too.
  Both stop once the scavenged requests reach ``drop_budget`` of all requests.

Each part can be switched off (``defer``, ``rli``, ``red``, ``scavenger``) for
ablations: without ``defer`` P2D flows go to P2 with the collectives; without
``rli`` KV fetches go to P2; without ``red`` each request uses its own
deadline; without ``scavenger`` hopeless flows are promoted like the others.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Optional

from ..config import spec
from .base import FIRST, LAST, BatchPlan, FlowInfo, Policy, register

HIGH = FIRST + 1  # P2: stage 2, and stage 1 once its layer is the current one


def split_deadlines(deadlines: list[float]) -> tuple[list[float], list[float]]:
    """Tight and loose sets of a batch's deadlines, split at the largest adjacent gap."""
    d = sorted(deadlines)
    if len(d) == 1:
        return d, d
    gaps = [b - a for a, b in zip(d, d[1:])]
    cut = gaps.index(max(gaps)) + 1
    return d[:cut], d[cut:]


def representative_deadline(deadlines: list[float]) -> float:
    """RED of a batch: ``f D_tight_min + (1 - f) D_loose_min``, f the tight fraction."""
    tight, loose = split_deadlines(deadlines)
    f = len(tight) / len(deadlines)
    return f * tight[0] + (1 - f) * loose[0]


@dataclass
class _Pending:
    """A batch whose P2D bytes are not all delivered yet (for the feasibility check)."""

    plan: BatchPlan
    red: float
    loose: float
    remaining: dict[int, int] = field(default_factory=dict)  # request -> P2D bytes not yet delivered


@register
class Mfs(Policy):
    name = "mfs"

    @dataclass(frozen=True)
    class Params:
        E: float = spec(4.0, gt=1.0, doc="ratio of adjacent MLU thresholds")
        U: float = spec(0.5, gt=0.0, doc="MLU threshold of level 1 is U / E")
        reeval_interval_s: float = spec(50e-6, gt=0.0, doc="re-evaluation period after a batch's compute ends")
        rho: Optional[float] = spec(None, min=0.0, max=0.95, doc="fixed load; default: measured on the source NIC")
        defer: bool = spec(True, doc="defer P2D flows and promote them by MLU")
        rli: bool = spec(True, doc="order KV fetches by relative layer index")
        red: bool = spec(True, doc="one representative deadline per batch")
        scavenger: bool = spec(True, doc="move hopeless requests to the scavenger class")
        drop_budget: float = spec(0.1, min=0.0, max=1.0, doc="largest fraction of requests scavenged")

    def __init__(self, params, transport):
        super().__init__(params, transport)
        self.current_layer: dict[int, int] = {}
        self.requests_seen: set[int] = set()
        self.scavenged: set[int] = set()
        self._load: dict[int, tuple[float, int, float]] = {}  # host -> (time, tx bytes, rho)
        self._ticking: set[int] = set()
        self.pending: dict[int, _Pending] = {}
        #: (time_s, request_id, batch_id, reason) of every scavenging decision
        self.scavenge_log: list[tuple[float, int, int, str]] = []

    # ----------------------------------------------------------------- levels
    def thresholds(self) -> list[float]:
        p = self.params
        return [p.U * p.E ** -i for i in range(1, LAST)]

    def mlu_class(self, mlu: float) -> int:
        level = 1
        for q in self.thresholds():
            if mlu >= q:
                break
            level += 1
        return FIRST if level == 1 else min(LAST, level + 1)

    def _rho(self, host: int, rate: float) -> float:
        if self.params.rho is not None:
            return self.params.rho
        now = self.transport.now
        tx = self.transport.port_tx_bytes(host)
        t0, b0, rho = self._load.get(host, (now, tx, 0.0))
        if now - t0 >= self.params.reeval_interval_s:
            rho = min(0.95, max(0.0, (tx - b0) * 8 / ((now - t0) * rate)))
            self._load[host] = (now, tx, rho)
        elif host not in self._load:
            self._load[host] = (now, tx, 0.0)
        return rho

    def mlu(self, info: FlowInfo) -> float:
        deadline = info.extra.get("red", info.deadline_s) if self.params.red else info.deadline_s
        ttd = deadline - self.transport.now
        remaining = info.bytes - (self.transport.flow_bytes_delivered(info.flow) if info.flow is not None else 0)
        if ttd <= 0:
            return math.inf
        t = self.transport
        rate = min(t.host_rate_bps(info.src), t.host_rate_bps(info.dst))
        return remaining * 8 / (ttd * rate * (1 - self._rho(info.src, rate)))

    # --------------------------------------------------------------- classes
    def classify(self, info: FlowInfo) -> int:
        if info.stage == "p2d":
            if info.deadline_s is not None and "batch_deadlines" in info.extra:
                info.extra["red"] = representative_deadline(info.extra["batch_deadlines"])
            self.requests_seen.add(info.request_id)
            return self._p2d_class(info)
        if info.stage == "kv_fetch":
            return self._fetch_class(info)
        return HIGH

    def _fetch_class(self, info: FlowInfo) -> int:
        if not self.params.rli:
            return HIGH
        rli = max(0, info.layer - self.current_layer.get(info.batch_id, 0))
        return min(LAST, HIGH + rli)

    def _p2d_class(self, info: FlowInfo) -> int:
        if not self.params.defer or info.deadline_s is None:
            return HIGH
        if info.request_id in self.scavenged:
            return LAST
        mlu = self.mlu(info)
        if self.params.scavenger and mlu > 1.0 and self._scavenge(info.request_id, info.batch_id, "mlu > 1"):
            return LAST
        return self.mlu_class(mlu)

    def _scavenge(self, request_id: int, batch_id: int, reason: str) -> bool:
        """Move a request to the scavenger class if the drop budget allows it."""
        if len(self.scavenged) + 1 > self.params.drop_budget * max(1, len(self.requests_seen)):
            return False
        self.scavenged.add(request_id)
        self.scavenge_log.append((self.transport.now, request_id, batch_id, reason))
        return True

    def stats(self) -> dict[str, float]:
        reasons = [r for *_, r in self.scavenge_log]
        return {"scavenged_requests": len(self.scavenged),
                "scavenged_infeasible_batch": reasons.count("infeasible batch"),
                "scavenged_mlu": reasons.count("mlu > 1")}

    # ------------------------------------------------------- feasibility
    def batch_started(self, plan: BatchPlan) -> None:
        self.requests_seen.update(r.request_id for r in plan.requests)
        deadlines = [r.deadline_s for r in plan.requests if r.deadline_s is not None]
        if not self.params.defer or not deadlines:
            return
        _, loose = split_deadlines(deadlines)
        pend = _Pending(plan, representative_deadline(deadlines), loose[0])
        for r in plan.requests:
            pend.remaining[r.request_id] = pend.remaining.get(r.request_id, 0) + r.p2d_bytes
        if not any(pend.remaining.values()):
            return  # all P2D stays inside servers
        self.pending[plan.batch_id] = pend
        if self.params.scavenger:
            self._check(pend)

    def _check(self, new: _Pending) -> None:
        """Worst-case check of a new batch behind the pending batches of earlier (or equal) RED."""
        rate_of = self.transport.host_rate_bps
        load: dict[int, float] = defaultdict(float)  # port -> bytes ahead of the new batch
        for p in self.pending.values():
            if p is not new and (p.red, p.plan.batch_id) <= (new.red, new.plan.batch_id):
                for r in p.plan.requests:
                    if r.request_id not in self.scavenged:
                        left = p.remaining.get(r.request_id, 0)
                        load[r.src] += left
                        load[r.dst] += left
        live = {r.request_id: r for r in new.plan.requests if r.request_id not in self.scavenged and r.p2d_bytes}

        def finish() -> float:
            own: dict[int, float] = defaultdict(float)
            for r in live.values():
                own[r.src] += r.p2d_bytes
                own[r.dst] += r.p2d_bytes
            worst = max(((load[h] + b) * 8 / rate_of(h) for h, b in own.items()), default=0.0)
            return max(new.plan.compute_end_s, self.transport.now) + worst

        while live and finish() > new.loose:
            heavy = max(live.values(), key=lambda r: (r.p2d_bytes, r.request_id))
            if not self._scavenge(heavy.request_id, new.plan.batch_id, "infeasible batch"):
                break
            del live[heavy.request_id]

    def finished(self, info: FlowInfo) -> None:
        p = self.pending.get(info.batch_id)
        if info.stage != "p2d" or p is None:
            return
        p.remaining[info.request_id] = p.remaining.get(info.request_id, 0) - info.bytes
        if all(b <= 0 for b in p.remaining.values()):
            del self.pending[info.batch_id]

    def _reevaluate(self, info: FlowInfo, reason: str) -> None:
        if info.stage == "p2d":
            if info.request_id in self.scavenged:
                return
            cls = self._p2d_class(info)  # promote() never lowers a class
        elif info.stage == "kv_fetch":
            cls = self._fetch_class(info)
        else:
            return
        self.promote(info, cls, reason)

    # ----------------------------------------------------------------- hooks
    def layer_boundary(self, batch_id: int, instance: int, layer: int) -> None:
        self.current_layer[batch_id] = layer
        for info in list(self.active.values()):
            if (info.stage == "kv_fetch" and info.batch_id == batch_id) or (
                info.stage == "p2d" and info.instance == instance
            ):
                self._reevaluate(info, f"layer {layer}")

    def batch_done(self, batch_id: int, instance: int) -> None:
        self.current_layer.pop(batch_id, None)
        if self.params.defer and batch_id not in self._ticking:
            self._ticking.add(batch_id)
            self.transport.schedule(self.transport.now, lambda: self._tick(batch_id))

    def _tick(self, batch_id: int) -> None:
        left = [i for i in self.active.values() if i.stage == "p2d" and i.batch_id == batch_id]
        for info in left:
            self._reevaluate(info, "periodic")
        if left:
            self.transport.schedule(self.transport.now + self.params.reeval_interval_s, lambda: self._tick(batch_id))
        else:
            self._ticking.discard(batch_id)
