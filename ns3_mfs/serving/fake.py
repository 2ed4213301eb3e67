"""A pure-Python fabric for testing serving logic and policies without packets.

:class:`FakeFabric` is a :class:`~ns3_mfs.fabric.transport.Clock` and
:class:`~ns3_mfs.fabric.transport.Transport`: an event loop over a heap
(callbacks at one time run in the order they were scheduled, as in ns-3) and
flows that take ``bytes * 8 / rate + latency_s`` each, where ``rate`` is the
slower of the two hosts' rates; flows do not contend. Class changes, rate
caps and demotion thresholds are recorded on the flow (they do not change
its duration). A serving run on it takes milliseconds::

    fab = FakeFabric(rate_bps=100e9, latency_s=2e-6)
    policy = make_policy("mfs", {}, fab)
    engine = ServingSetup(serving_config, graph).engine(fab, policy)
    for r in requests:
        engine.submit(r)
    fab.run()
    tables = engine.tables(fab.result(), slo_of=1.0)
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional

import numpy as np
import pandas as pd

from ..config import ConfigError
from ..fabric.network import FabricConfig
from ..fabric.result import COUNTERS, FabricResult


@dataclass
class FakeFlow:
    """A flow on the fake fabric (``id`` as the transport's flow handle)."""

    id: int
    src: int
    dst: int
    bytes: int
    priority: int               #: class at the start
    start_s: float
    end_s: float
    on_done: Optional[Callable[[Any], None]] = None
    completed: bool = False
    #: (time_s, class) of every set_priority
    class_changes: list[tuple[float, int]] = field(default_factory=list)
    rate_caps: list[tuple[float, float]] = field(default_factory=list)   #: (time_s, bps) of every set_rate_cap
    demotion: Optional[list[int]] = None                                   #: thresholds of set_demotion
    held: bool = False                                                     #: set_hold (no effect on timing)

    @property
    def final_priority(self) -> int:
        return self.class_changes[-1][1] if self.class_changes else self.priority


class FakeFabric:
    """Clock and Transport in pure Python (see the module docstring)."""

    def __init__(self, rate_bps: float = 100e9, latency_s: float = 1e-6,
                 host_rates: Optional[Mapping[int, float]] = None):
        if rate_bps <= 0 or latency_s < 0:
            raise ConfigError(f"rate_bps must be > 0 and latency_s >= 0, got {rate_bps!r}, {latency_s!r}")
        self.rate_bps, self.latency_s = float(rate_bps), float(latency_s)
        self.host_rates = dict(host_rates or {})
        self.flows: list[FakeFlow] = []
        self._now = 0.0
        self._events: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self.wall_s = 0.0

    # ------------------------------------------------------------------ Clock
    @property
    def now(self) -> float:
        return self._now

    def schedule(self, at: float, fn: Callable[[], None]) -> None:
        if at < self._now:
            raise ConfigError(f"schedule: {at} s is before the current time {self._now} s")
        heapq.heappush(self._events, (float(at), next(self._seq), fn))

    def run(self, until: Optional[float] = None) -> None:
        """Run the events in time order until none is left (or until simulated time ``until``)."""
        while self._events and (until is None or self._events[0][0] <= until):
            at, _, fn = heapq.heappop(self._events)
            self._now = at
            fn()
        if until is not None and self._events:
            self._now = float(until)

    @property
    def drained(self) -> bool:
        return not self._events

    # -------------------------------------------------------------- Transport
    def host_rate_bps(self, host: int) -> float:
        return self.host_rates.get(host, self.rate_bps)

    def duration_s(self, src: int, dst: int, nbytes: int) -> float:
        """How long a flow takes: bytes at the slower host's rate, plus the latency."""
        return nbytes * 8 / min(self.host_rate_bps(src), self.host_rate_bps(dst)) + self.latency_s

    def start_flow(self, src: int, dst: int, nbytes: int, priority: int = 0,
                   on_done: Optional[Callable[[Any], None]] = None) -> FakeFlow:
        if src == dst:
            raise ConfigError(f"dst: equals src ({src}); a flow needs two different hosts")
        if nbytes <= 0:
            raise ConfigError(f"bytes: expected an integer > 0, got {nbytes!r}")
        if not 0 <= priority <= 7:
            raise ConfigError(f"priority: expected an integer 0..7, got {priority!r}")
        t0 = self._now
        flow = FakeFlow(len(self.flows), int(src), int(dst), int(nbytes), int(priority), t0,
                        t0 + self.duration_s(src, dst, nbytes), on_done)
        self.flows.append(flow)
        self.schedule(flow.end_s, lambda: self._done(flow))
        return flow

    def _done(self, flow: FakeFlow) -> None:
        flow.completed = True
        if flow.on_done is not None:
            flow.on_done(flow)

    def _flow(self, flow: Any) -> FakeFlow:
        return self.flows[flow if isinstance(flow, (int, np.integer)) else flow.id]

    def set_priority(self, flow: Any, priority: int, atomic: bool = False) -> None:
        if not 0 <= priority <= 7:
            raise ConfigError(f"priority: expected an integer 0..7, got {priority!r}")
        self._flow(flow).class_changes.append((self._now, int(priority)))

    def set_rate_cap(self, flow: Any, bps: float) -> None:
        self._flow(flow).rate_caps.append((self._now, float(bps)))

    def set_demotion(self, flow: Any, thresholds: list[int]) -> None:
        self._flow(flow).demotion = [int(t) for t in thresholds]

    def set_hold(self, flow: Any, held: bool = True) -> None:
        self._flow(flow).held = bool(held)

    def flow_bytes_delivered(self, flow: Any) -> int:
        f = self._flow(flow)
        if f.completed:
            return f.bytes
        return int(f.bytes * min(1.0, max(0.0, (self._now - f.start_s) / (f.end_s - f.start_s))))

    def port_tx_bytes(self, node: int, port: int = 0) -> int:
        return sum(self.flow_bytes_delivered(f) for f in self.flows if f.src == node)

    # ---------------------------------------------------------------- results
    def result(self) -> FabricResult:
        """The flows as a fabric result (no PFC, queues or anomalies on this fabric)."""
        done = [f.completed for f in self.flows]
        flows = pd.DataFrame({
            "flow_id": np.arange(len(self.flows), dtype=np.int64),
            "src": np.array([f.src for f in self.flows], dtype=np.int64),
            "dst": np.array([f.dst for f in self.flows], dtype=np.int64),
            "bytes": np.array([f.bytes for f in self.flows], dtype=np.int64),
            "priority": np.array([f.priority for f in self.flows], dtype=np.int64),
            "start_s": np.array([f.start_s for f in self.flows], dtype=float),
            "end_s": np.array([f.end_s if f.completed else np.nan for f in self.flows], dtype=float),
        })
        flows["fct_s"] = flows["end_s"] - flows["start_s"]
        flows["final_priority"] = np.array([f.final_priority for f in self.flows], dtype=np.int64)
        flows["class_changes"] = np.array([len(f.class_changes) for f in self.flows], dtype=np.int64)
        flows["bytes_delivered"] = np.array([self.flow_bytes_delivered(f) for f in self.flows], dtype=np.int64)
        flows["completed"] = np.array(done, dtype=bool)
        empty = pd.DataFrame()
        return FabricResult(flows=flows, pfc=empty, queues=empty, anomalies=empty,
                            counters=dict.fromkeys(COUNTERS, 0), config=FabricConfig(), sim_s=self._now,
                            wall_s=self.wall_s, drained=self.drained, stop_reason="", longest_pause_s=0.0,
                            memory_estimate_mb=0.0)
