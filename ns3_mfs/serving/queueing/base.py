"""Prefill queue policies: the interface and the registry.

A queue policy orders the *waiting* requests of one prefill instance each time
the instance forms a batch (vLLM's scheduler step). Requests whose prefill has
already started (a chunk of them was computed in an earlier batch) are not
handed to the policy: they keep going first, in the order they started, as
vLLM's chunked prefill does (a running sequence is never preempted by a
waiting one). The engine then fills the batch from the front of the ordered
queue up to ``max_batched_tokens``.

To add a policy: subclass :class:`QueuePolicy` in a new file of this package,
give it a ``name`` and a frozen ``Params`` dataclass (validated from the run
config's ``[serving.queue_params]`` table), decorate it with ``@register`` and
import the file in ``__init__.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Mapping, Optional, Protocol, Sequence

from ...registry import NoParams, Registry


class Queued(Protocol):
    """What a policy reads of a queued request (``engine.ReqState`` has these)."""

    remaining: int          #: prompt tokens still to compute
    cached_tokens: int
    computed: int

    @property
    def req(self) -> Any: ...  # ``requests.Request``: id, arrival_s, input_tokens, ...


@dataclass(frozen=True)
class QueueContext:
    """The instance's situation when it forms a batch."""

    now: float                                  #: simulated time (s)
    instance: int                               #: prefill instance index
    deadlines: Mapping[int, float]              #: absolute TTFT deadline per request id
    predict_s: Callable[[Any], float]           #: predicted prefill compute time of a request's remaining tokens
    ahead_s: float = 0.0                        #: predicted compute of the started requests that run first


class QueuePolicy:
    """Base class: subclasses implement :meth:`order`."""

    name: ClassVar[str] = ""
    Params: ClassVar[type] = NoParams

    def __init__(self, params: Any):
        self.params = params
        #: (time_s, instance, request_id, score, note) for every ordering decision
        self.log: list[tuple[float, int, int, float, str]] = []

    def order(self, waiting: Sequence[Queued], ctx: QueueContext) -> list[Queued]:
        """The waiting requests in the order they should be admitted."""
        raise NotImplementedError

    def _record(self, ctx: QueueContext, st: Queued, score: float, note: str = "") -> None:
        self.log.append((ctx.now, ctx.instance, st.req.id, float(score), note))


REGISTRY: Registry[type[QueuePolicy]] = Registry("queue policy", group="ns3_mfs.queue_policies")
register = REGISTRY.register


def check_params(name: str, params: Optional[Mapping[str, Any]], path: str = "serving") -> Any:
    """Validate a queue policy name and its parameters (errors name ``serving.queue_params.<key>``)."""
    return REGISTRY.params(name, params, f"{path}.queue_policy", f"{path}.queue_params")


def make(name: str, params: Optional[Mapping[str, Any]] = None) -> QueuePolicy:
    """A registered queue policy with validated parameters."""
    p = check_params(name, params)
    return REGISTRY[name](p)


def by_arrival(st: Queued) -> tuple[float, int]:
    """FCFS key: arrival time, then request id."""
    return (st.req.arrival_s, st.req.id)
