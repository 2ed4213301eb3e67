"""MFS: Multi-stage Flow Scheduling with a Reverse Multi-Level Queue (arXiv 2603.17456).

Levels are classes 1..7 (class 0 carries ACK/CNP); :data:`LEVEL_TABLE` is the
one table of what each class carries (also in docs/explanation/policies.md):

* **Stage 2** (dispatch, combine, all-reduce): the high level, P2 (P1 is
  reserved for the most urgent P2D flows).
* **Stage 1** (KV fetch for layer ``l_target``): by its Relative Layer Index
  ``RLI = l_target - l_curr``, ``l_curr`` the layer being computed *or
  waiting to be computed* (a fetch the GPU waits for is at RLI 0), class
  ``P(2 + RLI)``, promoted at the layer boundaries as ``l_curr`` advances
  (smallest RLI strictly first).
* **Inter-request order** (``rank``): batches are ranked by their
  Representative Effective Deadline (RED: the requests' deadlines split at the
  largest adjacent gap into a tight and a loose set, ``RED = f D_tight_min +
  (1 - f) D_loose_min``, f the tight fraction). Early-stage flows (stages 1
  and 2) of every batch but the first in RED order get a class offset of one,
  so that among flows of equal RLI the first batch goes first.
* **Stage 3** (P2D, explicit deadline): by Minimal Link Utilization
  ``MLU = remaining / (time_to_deadline x B x (1 - rho))`` of its request:
  the request's own TTFT deadline, all of its remaining P2D bytes, B its
  bottleneck NIC rate and rho the load of *other* traffic on its source NIC
  over ``rho_window_s`` (or a fixed ``rho``). Geometric thresholds ``Q_i = U
  E^-i``: MLU >= Q_1 is level 1 (P1), Q_i <= MLU < Q_(i-1) level i, mapped to
  ``P(i + 1)`` -- one class below the early-stage flows of level i -- and
  capped at P6. A P2D flow starts deferred and is promoted as its laxity
  shrinks: at every layer boundary of its instance and, once its batch's
  compute has ended, every ``reeval_interval_s``. Promotion is monotonic.
* **Infeasible P2D** (MLU > 1, or past its deadline): "an infeasible overload
  state". Its request goes to the scavenger class if the drop budget allows,
  else to the lowest data class (P6); it is never promoted above stage 2.
* **Feasibility check (Algorithm 1)**, when a batch starts and when one
  ends: the pending batches sorted by RED; each batch's per-port load vector
  from its whole traffic matrix (KV fetches, collectives and P2D on every NIC
  port it uses, transmit and receive); worst-case finish = predicted compute
  end + the bottleneck port's load (this batch and the ones ahead of it) /
  its bandwidth, against the batch's loose deadline. While a batch is late,
  the request with the largest load on the bottleneck port u*, from this
  batch or one ahead of it, is pruned, within ``drop_budget`` of all
  requests. A pruned request's fetches and P2D go to the scavenger class P7,
  which carries nothing else.

* **Message atomicity** (``atomic``): a class change takes effect at a
  message boundary: the NIC holds the flow until every packet of it is
  acknowledged, then sends the rest in the new class, so no packet of the flow
  is in a switch queue under the old class (no reordering, no go-back-N
  rewind). Off: the new class applies to the next packet at once.
* **Deferred traffic and ECN** (``deferred_at``): the paper holds deferred
  flows at the host (software queues with submit/permit). With ``"switch"``
  (default) a deferred P2D flow is sent in its low class whenever its NIC has
  nothing of a higher class ready (the NIC serves classes strictly, per
  packet, so only the gaps left by paced or paused higher flows go out) and
  waits in the switches' low bands; with ``"nic"`` it is held at its NIC
  while any flow of a higher class of that NIC has bytes to send, paced or
  paused ones included. Switches mark ECN on dequeue by each band's own
  occupancy (``fabric.ecn_classes`` chooses the marking bands; all by
  default), so a low band that builds up while preempted marks, and DCQCN
  slows the deferred flow, which regains its rate at DCQCN's increase pace
  once promoted. The defaults keep the NIC work-conserving (strict priority
  in the switches already protects the higher classes) and keep low-band
  queues, and the PFC pauses they would cause, short.

Ablation switches, each restoring the earlier behaviour of one part:
``defer`` (off: P2D goes to P2 with the collectives), ``rli`` (off: KV fetches
go to P2), ``red`` (off: batches ranked by their earliest deadline),
``scavenger`` (off: nothing is pruned), ``rank`` (off: all batches share the
early-stage levels), ``own_deadline`` (off: P2D's MLU uses the batch's RED),
``per_request`` (off: MLU of each flow as if alone), ``late_low`` (off: a late
P2D flow follows ``mlu_class(inf)``, i.e. P1), ``waiting_layer`` (off: the
current layer only advances when its compute starts), ``traffic_matrix``
(off: the feasibility check counts P2D bytes only).
"""

from __future__ import annotations

import math
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Literal, Optional

from ..config import spec
from .base import FIRST, LAST, BatchPlan, FlowInfo, Policy, register

HIGH = FIRST + 1       # P2: stage 2, and stage-1 fetches at RLI 0
SCAVENGER = LAST       # P7: pruned requests only
LOWEST = LAST - 1      # P6: the lowest class of every other data flow

#: What each class carries under MFS (docs/explanation/policies.md shows this table).
LEVEL_TABLE: dict[int, str] = {
    1: "P2D at MLU level 1 (MLU >= Q1 = U/E, feasible): the most urgent P2D",
    2: "stage 2 (collectives) and stage-1 fetches at RLI 0, of the first batch in RED order",
    3: "early-stage flows at RLI 1 (or RLI 0 of later batches); P2D at MLU level 2",
    4: "early-stage flows at RLI 2 (+1 for later batches); P2D at MLU level 3",
    5: "early-stage flows at RLI 3 (+1 for later batches); P2D at MLU level 4",
    6: "early-stage flows at RLI >= 4; P2D at MLU level >= 5; infeasible P2D when the drop budget is spent",
    7: "scavenger: the fetches and P2D of pruned requests, served only when the network is otherwise idle",
}


def early_class(rli: int, rank: int = 0) -> int:
    """Class of a stage-1/2 flow at relative layer index ``rli`` of a batch at RED rank ``rank``."""
    return min(LOWEST, HIGH + max(0, rli) + (1 if rank > 0 else 0))


def p2d_level_class(level: int) -> int:
    """Class of a feasible P2D flow at MLU level ``level`` (1 = most urgent)."""
    return FIRST if level <= 1 else min(LOWEST, level + 1)


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


Port = tuple[int, str]  # (host, "tx" | "rx")


@dataclass
class _Pending:
    """A batch whose P2D bytes are not all delivered yet (for the feasibility check and the ranks)."""

    plan: BatchPlan
    key: float                      #: rank key: RED (or the earliest deadline without ``red``)
    loose: float                    #: loose deadline (min of the loose set)
    compute_end_s: float
    p2d: dict[int, int] = field(default_factory=dict)         #: request -> P2D bytes not yet delivered (finished flows)
    load: dict[int, dict[Port, float]] = field(default_factory=dict)  #: request -> port -> bytes left
    computing: bool = True

    def order(self) -> tuple[float, int]:
        return (self.key, self.plan.batch_id)


class _Window:
    """Byte counter samples over a sliding window (the load estimate cannot ratchet on one sample)."""

    def __init__(self) -> None:
        self.samples: deque[tuple[float, float]] = deque()

    def over(self, now: float, value: float, window: float) -> float:
        """Bytes counted over the last ``window`` seconds (from the oldest sample inside it)."""
        self.samples.append((now, value))
        while len(self.samples) > 1 and self.samples[1][0] <= now - window:
            self.samples.popleft()
        return value - self.samples[0][1]


@register
class Mfs(Policy):
    name = "mfs"

    @dataclass(frozen=True)
    class Params:
        E: float = spec(4.0, gt=1.0, doc="ratio of adjacent MLU thresholds")
        U: float = spec(0.5, gt=0.0, doc="MLU threshold of level 1 is U / E")
        reeval_interval_s: float = spec(50e-6, gt=0.0, doc="re-evaluation period after a batch's compute ends")
        rho: Optional[float] = spec(None, min=0.0, max=0.95, doc="fixed load; default: measured on the source NIC")
        rho_window_s: float = spec(1e-3, gt=0.0, max=10.0, doc="window of the measured load of other traffic")
        defer: bool = spec(True, doc="defer P2D flows and promote them by MLU")
        rli: bool = spec(True, doc="order KV fetches by relative layer index")
        red: bool = spec(True, doc="rank batches by RED (off: by their earliest deadline)")
        rank: bool = spec(True, doc="early-stage flows of later batches in RED order one class lower")
        own_deadline: bool = spec(True, doc="P2D's MLU uses its request's deadline (off: the batch's RED)")
        per_request: bool = spec(True, doc="MLU of the request's remaining P2D bytes (off: each flow alone)")
        late_low: bool = spec(True, doc="infeasible P2D to the scavenger or the lowest data class (off: P1)")
        waiting_layer: bool = spec(True, doc="a fetch the GPU waits for is at RLI 0")
        traffic_matrix: bool = spec(True, doc="feasibility check on fetch, collective and P2D bytes (off: P2D)")
        atomic: bool = spec(True, doc="class changes at message boundaries (no packet in flight)")
        deferred_at: Literal["switch", "nic"] = spec(
            "switch", doc="deferred P2D waits in the switches' low bands, or is held at its NIC while a "
                          "higher class of the NIC has bytes to send")
        scavenger: bool = spec(True, doc="move hopeless requests to the scavenger class")
        drop_budget: float = spec(0.1, min=0.0, max=1.0, doc="largest fraction of requests scavenged")

    def __init__(self, params, transport):
        super().__init__(params, transport)
        self.atomic = params.atomic
        self.current_layer: dict[int, int] = {}
        self.requests_seen: set[int] = set()
        self.scavenged: set[int] = set()
        self._tx: dict[int, _Window] = {}
        self._own: dict[int, _Window] = {}
        self._p2d_done: dict[int, int] = defaultdict(int)  # request -> P2D bytes of its finished flows
        self._p2d_running: dict[int, dict[int, FlowInfo]] = defaultdict(dict)  # request -> flow id -> P2D flow
        self._ticking: set[int] = set()
        self.pending: dict[int, _Pending] = {}
        #: (time_s, request_id, batch_id, reason) of every scavenging decision
        self.scavenge_log: list[tuple[float, int, int, str]] = []

    # ----------------------------------------------------------------- levels
    def thresholds(self) -> list[float]:
        p = self.params
        return [p.U * p.E ** -i for i in range(1, LAST)]

    def mlu_level(self, mlu: float) -> int:
        level = 1
        for q in self.thresholds():
            if mlu >= q:
                break
            level += 1
        return level

    def mlu_class(self, mlu: float) -> int:
        """Class of a P2D flow at this MLU when it is feasible (an infeasible one: see :meth:`_p2d_class`)."""
        return p2d_level_class(self.mlu_level(mlu))

    def rank_of(self, batch_id: int) -> int:
        """Position of a batch among the computing batches in RED order (0 first; unknown batches 0)."""
        me = self.pending.get(batch_id)
        if me is None or not self.params.rank:
            return 0
        return sum(1 for p in self.pending.values() if p.computing and p.order() < me.order())

    # ------------------------------------------------------------------- MLU
    def _rho(self, info: FlowInfo, rate: float) -> float:
        """Load of the source port from traffic other than this request's P2D, over the window."""
        if self.params.rho is not None:
            return self.params.rho
        now, w = self.transport.now, self.params.rho_window_s
        tx = self._tx.setdefault(info.src, _Window()).over(now, self.transport.port_tx_bytes(info.src), w)
        own = self._own.setdefault(info.request_id, _Window()).over(now, self._own_delivered(info.request_id), w)
        return min(0.95, max(0.0, (tx - own) * 8 / (w * rate)))

    def _active_p2d(self, request_id: int) -> list[FlowInfo]:
        return list(self._p2d_running.get(request_id, {}).values())

    def _own_delivered(self, request_id: int) -> int:
        t = self.transport
        return self._p2d_done[request_id] + sum(t.flow_bytes_delivered(i.flow) for i in self._active_p2d(request_id)
                                                if i.flow is not None)

    def _remaining(self, info: FlowInfo) -> float:
        t = self.transport
        alone = info.bytes - (t.flow_bytes_delivered(info.flow) if info.flow is not None else 0)
        pend = self.pending.get(info.batch_id)
        if not self.params.per_request or pend is None or info.request_id not in pend.p2d:
            return alone
        running = [i for i in self._active_p2d(info.request_id) if i.batch_id == info.batch_id]
        if info not in running:
            running.append(info)
        left = pend.p2d[info.request_id] - sum(
            t.flow_bytes_delivered(i.flow) for i in running if i.flow is not None)
        return max(left, alone)

    def deadline(self, info: FlowInfo) -> float:
        if not self.params.own_deadline and self.params.red and "batch_deadlines" in info.extra:
            return representative_deadline(info.extra["batch_deadlines"])
        return info.deadline_s

    def mlu(self, info: FlowInfo) -> float:
        ttd = self.deadline(info) - self.transport.now
        if ttd <= 0:
            return math.inf
        t = self.transport
        rate = min(t.host_rate_bps(info.src), t.host_rate_bps(info.dst))
        return self._remaining(info) * 8 / (ttd * rate * (1 - self._rho(info, rate)))

    # --------------------------------------------------------------- classes
    def classify(self, info: FlowInfo) -> int:
        if info.stage == "p2d":
            self.requests_seen.add(info.request_id)
            return self._p2d_class(info)
        if info.stage == "kv_fetch":
            return self._fetch_class(info)
        if info.stage == "kv_upload":
            return LOWEST  # background: nothing waits for it
        return early_class(0, self.rank_of(info.batch_id))

    def started(self, info: FlowInfo) -> None:
        if info.stage != "p2d":
            return
        self._p2d_running[info.request_id][info.flow.id] = info
        if self.params.deferred_at == "nic" and info.deadline_s is not None:
            self.transport.set_hold(info.flow, True)

    def _fetch_class(self, info: FlowInfo) -> int:
        if self.params.scavenger and info.request_id in self.scavenged:
            return SCAVENGER
        if info.batch_id < 0:
            return LOWEST  # a queued request's prefetch: no batch needs it yet
        if not self.params.rli:
            return early_class(0, self.rank_of(info.batch_id))
        rli = info.layer - self.current_layer.get(info.batch_id, 0)
        return early_class(rli, self.rank_of(info.batch_id))

    def _p2d_class(self, info: FlowInfo) -> int:
        if not self.params.defer or info.deadline_s is None:
            return HIGH
        if info.request_id in self.scavenged:
            return SCAVENGER
        mlu = self.mlu(info)
        if mlu > 1.0:
            if self.params.scavenger and self._scavenge(info.request_id, info.batch_id, "mlu > 1"):
                return SCAVENGER
            if self.params.late_low:
                return LOWEST
        return self.mlu_class(mlu)

    def _scavenge(self, request_id: int, batch_id: int, reason: str) -> bool:
        """Move a request to the scavenger class if the drop budget allows it."""
        if request_id in self.scavenged:
            return True
        if len(self.scavenged) + 1 > self.params.drop_budget * max(1, len(self.requests_seen)):
            return False
        self.scavenged.add(request_id)
        self.scavenge_log.append((self.transport.now, request_id, batch_id, reason))
        for info in list(self.active.values()):  # its running fetches and P2D follow
            if info.request_id == request_id and info.stage in ("kv_fetch", "p2d"):
                self.reclass(info, SCAVENGER, "scavenged")
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
        if not deadlines:
            return
        _, loose = split_deadlines(deadlines)
        key = representative_deadline(deadlines) if self.params.red else min(deadlines)
        pend = _Pending(plan, key, loose[0], plan.compute_end_s)
        for r in plan.requests:
            pend.p2d[r.request_id] = pend.p2d.get(r.request_id, 0) + r.p2d_bytes
            ports = pend.load.setdefault(r.request_id, defaultdict(float))
            if self.params.traffic_matrix and r.ports:
                for port, b in r.ports:
                    ports[port] += b
            else:
                ports[(r.src, "tx")] += r.p2d_bytes
                ports[(r.dst, "rx")] += r.p2d_bytes
        self.pending[plan.batch_id] = pend
        if self.params.defer and self.params.scavenger:
            self.check()

    def check(self) -> None:
        """Algorithm 1 over the pending batches in RED order; prunes requests within the drop budget."""
        rate = self.transport.host_rate_bps
        now = self.transport.now
        order = sorted(self.pending.values(), key=_Pending.order)
        cum: dict[Port, float] = defaultdict(float)
        for k, p in enumerate(order):
            for rid, ports in p.load.items():
                if rid not in self.scavenged:
                    for u, b in ports.items():
                        cum[u] += b
            while True:
                ports = [(b * 8 / rate(u[0]), u) for u, b in cum.items() if b > 0]
                if not ports:
                    break
                worst, u_star = max(ports)
                if max(p.compute_end_s, now) + worst <= p.loose:
                    break
                # The largest load on u*, here or ahead; on a tie the lower-priority batch's request.
                cands = [(q.load[rid].get(u_star, 0.0), j, rid) for j, q in enumerate(order[:k + 1])
                         for rid in q.load if rid not in self.scavenged and q.load[rid].get(u_star, 0.0) > 0]
                if not cands:
                    break
                _, _, rid = max(cands)
                if not self._scavenge(rid, p.plan.batch_id, "infeasible batch"):
                    return
                for qq in order[:k + 1]:
                    for u, b in qq.load.get(rid, {}).items():
                        cum[u] -= b

    def _account(self, info: FlowInfo) -> None:
        """Take a finished flow's bytes off its request's port loads."""
        p = self.pending.get(info.batch_id)
        if p is None or info.request_id not in p.load:
            return
        ports = p.load[info.request_id]
        for port in ((info.src, "tx"), (info.dst, "rx")):
            if port in ports:
                ports[port] = max(0.0, ports[port] - info.bytes)

    def finished(self, info: FlowInfo) -> None:
        if info.stage == "p2d":
            self._p2d_done[info.request_id] += info.bytes
            running = self._p2d_running.get(info.request_id, {})
            running.pop(info.flow.id, None)
            if not running:
                self._p2d_running.pop(info.request_id, None)
        self._account(info)
        p = self.pending.get(info.batch_id)
        if info.stage != "p2d" or p is None:
            return
        p.p2d[info.request_id] = p.p2d.get(info.request_id, 0) - info.bytes
        if not p.computing and all(b <= 0 for b in p.p2d.values()):
            del self.pending[info.batch_id]

    def reevaluate(self, info: FlowInfo, reason: str) -> None:
        if info.request_id in self.scavenged and info.stage in ("p2d", "kv_fetch") and self.params.scavenger:
            return
        if info.stage == "p2d":
            cls = self._p2d_class(info)  # promote() never lowers a class
        elif info.stage == "kv_fetch":
            cls = self._fetch_class(info)
        elif info.stage == "kv_upload":
            return
        else:
            cls = early_class(0, self.rank_of(info.batch_id))
        self.promote(info, cls, reason)

    # ----------------------------------------------------------------- hooks
    def layer_boundary(self, batch_id: int, instance: int, layer: int) -> None:
        self.current_layer[batch_id] = layer
        for info in list(self.active.values()):
            if (info.stage == "kv_fetch" and info.batch_id == batch_id) or (
                info.stage == "p2d" and info.instance == instance
            ):
                self.reevaluate(info, f"layer {layer}")

    def layer_waiting(self, batch_id: int, instance: int, layer: int) -> None:
        """The GPU waits for layer ``layer``'s fetch: that layer is the current one (RLI 0)."""
        if not self.params.waiting_layer:
            return
        self.current_layer[batch_id] = layer
        for info in list(self.active.values()):
            if info.stage == "kv_fetch" and info.batch_id == batch_id:
                self.reevaluate(info, f"waiting {layer}")

    def batch_done(self, batch_id: int, instance: int) -> None:
        self.current_layer.pop(batch_id, None)
        p = self.pending.get(batch_id)
        if p is not None:
            p.computing = False
            p.compute_end_s = self.transport.now
            for ports in p.load.values():  # fetches and collectives are over
                for u in list(ports):
                    ports[u] = 0.0
            for r in p.plan.requests:
                left = p.p2d.get(r.request_id, 0) - sum(
                    self.transport.flow_bytes_delivered(i.flow) for i in self._active_p2d(r.request_id)
                    if i.batch_id == batch_id and i.flow is not None)
                ports = p.load[r.request_id]
                ports[(r.src, "tx")] = max(0.0, left)
                ports[(r.dst, "rx")] = max(0.0, left)
            if all(b <= 0 for b in p.p2d.values()):
                del self.pending[batch_id]
            # The next batch in RED order may now lead: its early-stage flows move up.
            for info in list(self.active.values()):
                if info.stage != "p2d" and info.batch_id != batch_id:
                    self.reevaluate(info, "rank")
            if self.params.defer and self.params.scavenger:
                self.check()
        if self.params.defer and batch_id not in self._ticking:
            self._ticking.add(batch_id)
            self.transport.schedule(self.transport.now, lambda: self._tick(batch_id))

    def _tick(self, batch_id: int) -> None:
        left = [i for i in self.active.values() if i.stage == "p2d" and i.batch_id == batch_id]
        for info in left:
            self.reevaluate(info, "periodic")
        if left:
            self.transport.schedule(self.transport.now + self.params.reeval_interval_s, lambda: self._tick(batch_id))
        else:
            self._ticking.discard(batch_id)
