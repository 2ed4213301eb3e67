"""Engine-level dispatch: which prefill instance a new request joins.

A dispatcher sees one :class:`InstanceView` per prefill instance when a
request arrives and returns the instance index. ``round_robin`` (the default)
is the simulator's original behaviour. ``load_aware`` scores each instance by

``load = queue_weight * queued_tokens / max_batched_tokens + kv_weight * kv_utilization``

(``queued_tokens``: prompt tokens waiting or being computed there;
``kv_utilization``: KV memory held by its prefix cache and in-flight prompts
over its capacity) and prefers the *sticky* instance: the one holding the
longest run of the request's leading prefix blocks (``block_hashes``), else
the instance that served the request's session last. Stickiness wins unless
the sticky instance's load exceeds the least load among the others by more
than ``margin``; otherwise (or with no sticky instance) the least loaded
instance wins, ties broken round-robin.

To add a dispatcher: subclass :class:`Dispatcher`, give it ``name`` and a
frozen ``Params`` dataclass (validated from ``[serving.dispatch_params]``),
decorate it with :func:`register`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Mapping, Optional, Sequence

from ..config import spec
from ..registry import NoParams, Registry


@dataclass(frozen=True)
class InstanceView:
    """One prefill instance as the dispatcher sees it when a request arrives."""

    index: int
    queued_tokens: int         #: prompt tokens queued or in the running batch
    kv_utilization: float      #: (held prefix blocks + in-flight prompt tokens) / KV capacity, in [0, 1]
    prefix_blocks: int         #: leading blocks of the arriving request this instance holds
    session_here: bool         #: the request's session was last served here
    batch_tokens: int          #: max_batched_tokens (normalises queued_tokens)


class Dispatcher:
    """Base class: subclasses implement :meth:`choose`."""

    name: ClassVar[str] = ""
    Params: ClassVar[type] = NoParams

    def __init__(self, params: Any):
        self.params = params
        self._rr = 0
        #: (time_s, request_id, instance, reason) for every decision
        self.log: list[tuple[float, int, int, str]] = []

    def choose(self, req: Any, views: Sequence[InstanceView], now: float) -> int:
        raise NotImplementedError

    def _decide(self, now: float, req: Any, inst: int, reason: str) -> int:
        self.log.append((now, req.id, inst, reason))
        return inst


REGISTRY: Registry[type[Dispatcher]] = Registry("dispatcher", group="ns3_mfs.dispatchers")
register = REGISTRY.register


@register
class RoundRobin(Dispatcher):
    """Instance ``k mod N`` for the k-th request (the original behaviour)."""

    name = "round_robin"

    def choose(self, req: Any, views: Sequence[InstanceView], now: float) -> int:
        inst = self._rr % len(views)
        self._rr += 1
        return self._decide(now, req, inst, "round_robin")


@dataclass(frozen=True)
class LoadAwareParams:
    queue_weight: float = spec(1.0, min=0.0, doc="weight of queued prompt tokens (in batches of max_batched_tokens)")
    kv_weight: float = spec(1.0, min=0.0, doc="weight of KV-cache utilisation (0..1)")
    margin: float = spec(0.5, min=0.0, doc="stickiness holds while the sticky load <= others' minimum + margin")
    sticky: bool = spec(True, doc="prefer the instance holding the request's prefix or session")


@register
class LoadAware(Dispatcher):
    """Least load, unless a sticky instance (holding the prefix) is within ``margin``."""

    name = "load_aware"
    Params = LoadAwareParams

    def load(self, v: InstanceView) -> float:
        p = self.params
        return p.queue_weight * v.queued_tokens / max(1, v.batch_tokens) + p.kv_weight * v.kv_utilization

    def sticky_instance(self, views: Sequence[InstanceView]) -> Optional[int]:
        """The instance holding most leading prefix blocks, else the session's last instance."""
        best = max(views, key=lambda v: (v.prefix_blocks, -self.load(v), -v.index))
        if best.prefix_blocks > 0:
            return best.index
        for v in views:
            if v.session_here:
                return v.index
        return None

    def least_loaded(self, views: Sequence[InstanceView], loads: Sequence[float]) -> int:
        """Least load; ties go to the first tied instance at or after the round-robin pointer."""
        low = min(loads)
        n = len(views)
        for k in range(n):
            i = (self._rr + k) % n
            if loads[i] <= low + 1e-12:
                self._rr = i + 1
                return i
        return int(min(range(n), key=lambda i: loads[i]))  # unreachable

    def choose(self, req: Any, views: Sequence[InstanceView], now: float) -> int:
        loads = [self.load(v) for v in views]
        sticky = self.sticky_instance(views) if self.params.sticky else None
        if sticky is not None:
            others = [loads[i] for i in range(len(views)) if i != sticky]
            if not others or loads[sticky] <= min(others) + self.params.margin:
                return self._decide(now, req, sticky, "sticky")
            return self._decide(now, req, self.least_loaded(views, loads), "sticky_overloaded")
        return self._decide(now, req, self.least_loaded(views, loads), "least_loaded")


def check_params(name: str, params: Optional[Mapping[str, Any]], path: str = "serving") -> Any:
    """Validate a dispatcher name and its parameters (errors name ``serving.dispatch_params.<key>``)."""
    return REGISTRY.params(name, params, f"{path}.dispatch", f"{path}.dispatch_params")


def make(name: str, params: Optional[Mapping[str, Any]] = None) -> Dispatcher:
    """A registered dispatcher with validated parameters."""
    p = check_params(name, params)
    return REGISTRY[name](p)
