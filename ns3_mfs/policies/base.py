"""Flow-scheduling policies: the interface, the registry and the flow record.

A policy decides the class (0 highest) of every flow the serving engine
starts, and may change it later (promotion), cap its rate or let the NIC
demote it by bytes sent. Per-packet work stays in C++: a policy acts per flow
start, per layer boundary, per batch end and on its own timers.

Classes: 0 carries ACK/NACK/CNP; data flows use 1..7 (``FIRST`` .. ``LAST``).

To add a policy: subclass :class:`Policy` in a new file of this package, give
it a ``name`` and a frozen ``Params`` dataclass (validated from the run
config's ``[policies.<name>]`` table), decorate it with ``@register`` and
import the file in ``__init__.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Optional

from ..fabric.transport import Transport
from ..registry import NoParams, Registry

FIRST, LAST = 1, 7
STAGE_OF = {"kv_fetch": 1, "dispatch": 2, "combine": 2, "allreduce": 2, "p2d": 3, "kv_upload": 0}


@dataclass
class FlowInfo:
    """What a policy knows about a flow."""

    src: int                      #: source host (NIC)
    dst: int                      #: destination host (NIC)
    bytes: int
    stage: str                    #: kv_fetch, dispatch, combine, allreduce, p2d, kv_upload (0: background)
    layer: int = 0                #: layer the flow serves
    request_id: int = -1          #: -1 for collectives (shared by a batch)
    batch_id: int = -1
    instance: int = 0
    deadline_s: Optional[float] = None  #: absolute deadline (P2D: arrival + TTFT SLO)
    flow: Any = None              #: the transport's flow handle, set once started
    cls: int = LAST               #: current class
    start_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def stage_num(self) -> int:
        return STAGE_OF[self.stage]


@dataclass(frozen=True)
class BatchRequest:
    """One request of a batch as the network sees it."""

    request_id: int
    deadline_s: Optional[float]   #: absolute TTFT deadline
    p2d_bytes: int                #: network bytes of its P2D transfers in this batch (all layers)
    src: int                      #: source NIC of its P2D flows
    dst: int                      #: destination (decode) NIC
    #: the request's whole traffic matrix in this batch as ((host, "tx" | "rx"), bytes) pairs: KV
    #: fetches, its share of the collectives and its P2D on every NIC port (empty: P2D only)
    ports: tuple[tuple[tuple[int, str], float], ...] = ()


@dataclass(frozen=True)
class BatchPlan:
    """A batch when its prefill starts: what it will send to the decode side and when its compute ends."""

    batch_id: int
    instance: int
    start_s: float
    compute_end_s: float          #: predicted by the compute model (network time excluded)
    requests: tuple[BatchRequest, ...]


class Policy:
    """Base class: subclasses implement :meth:`classify` and may override the hooks."""

    name: ClassVar[str] = ""
    #: class changes take effect at message boundaries (the transport holds the flow until none of
    #: its packets is in flight), so a flow is never reordered by its own re-classing
    atomic: bool = False
    Params: ClassVar[type] = NoParams

    def __init__(self, params: Any, transport: Transport):
        self.params = params
        self.transport = transport  #: the fabric the policy acts on (also its clock)
        self.active: dict[int, FlowInfo] = {}
        #: (time_s, flow_id, stage, class, reason) for every class decision
        self.log: list[tuple[float, int, str, int, str]] = []
        #: absolute deadline of every flow started with one, by flow id (diagnostics)
        self.deadlines: dict[int, float] = {}

    # ------------------------------------------------------------- decisions
    def classify(self, info: FlowInfo) -> int:
        """Class of a new flow."""
        raise NotImplementedError

    def started(self, info: FlowInfo) -> None:
        """After the flow started (set rate caps, demotion thresholds...)."""

    def batch_started(self, plan: BatchPlan) -> None:
        """A batch was formed and starts its prefill."""

    def layer_boundary(self, batch_id: int, instance: int, layer: int) -> None:
        """Layer ``layer`` of a batch starts its compute."""

    def layer_waiting(self, batch_id: int, instance: int, layer: int) -> None:
        """The GPU finished the layer before ``layer`` and waits for ``layer``'s KV fetch."""

    def batch_done(self, batch_id: int, instance: int) -> None:
        """A batch finished its last layer (its P2D flows may still run)."""

    def finished(self, info: FlowInfo) -> None:
        """The flow delivered its last byte."""

    def stats(self) -> dict[str, float]:
        """Policy counters for ``summary.json`` (as ``policy_<name>`` keys)."""
        return {}

    # --------------------------------------------------------------- helpers
    @property
    def net(self) -> Transport:
        """The transport (the name earlier policies used)."""
        return self.transport

    def start(self, info: FlowInfo, on_done=None) -> Any:
        """Classify and start a flow on the transport; keeps track of it while it runs."""
        info.cls = self.classify(info)
        info.start_s = self.transport.now

        def done(flow: Any) -> None:
            self.active.pop(flow.id, None)
            self.finished(info)
            if on_done is not None:
                on_done(flow)

        info.flow = self.transport.start_flow(info.src, info.dst, info.bytes, info.cls, on_done=done)
        self.active[info.flow.id] = info
        if info.deadline_s is not None:
            self.deadlines[info.flow.id] = info.deadline_s
        self._record(info, info.cls, "start")
        self.started(info)
        return info.flow

    def promote(self, info: FlowInfo, cls: int, reason: str) -> None:
        """Raise a running flow's class (never lower it)."""
        if info.flow is None or cls >= info.cls:
            return
        self.reclass(info, cls, reason)

    def reclass(self, info: FlowInfo, cls: int, reason: str) -> None:
        """Move a running flow to class ``cls``, up or down (e.g. to a scavenger class)."""
        if info.flow is None or cls == info.cls:
            return
        info.cls = cls
        if self.atomic:
            self.transport.set_priority(info.flow, cls, atomic=True)
        else:
            self.transport.set_priority(info.flow, cls)
        self._record(info, cls, reason)

    def _record(self, info: FlowInfo, cls: int, reason: str) -> None:
        fid = info.flow.id if info.flow is not None else -1
        self.log.append((self.transport.now, fid, info.stage, cls, reason))


REGISTRY: Registry[type[Policy]] = Registry("policy", group="ns3_mfs.policies")
register = REGISTRY.register


def check_params(name: str, params: Optional[dict[str, Any]]) -> Any:
    """Validate a policy name and its parameters (errors name ``policies.<name>.<key>``)."""
    return REGISTRY.params(name, params, "policy", f"policies.{name}")


def make_policy(name: str, params: Optional[dict[str, Any]], transport: Transport) -> Policy:
    """Build a registered policy with validated parameters, acting on ``transport`` (e.g. a Network)."""
    p = check_params(name, params)
    return REGISTRY[name](p, transport)
