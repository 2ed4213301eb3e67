"""How the serving engine moves bytes: network flows through the policy, copies inside a server.

The engine sees the fabric only through the :class:`Clock` and
:class:`Transport` protocols (defined with the fabric,
:mod:`ns3_mfs.fabric.transport`): the packet-level ``Network`` satisfies
them, and so does :class:`ns3_mfs.serving.fake.FakeFabric`. Network flows
are started by the flow policy (which classifies them); transfers between
GPUs of one server do not enter the network: they take
``bytes * 8 / intra_server_bps`` on the clock and are recorded with
``path = "intra_server"``.

PXN (rail-optimised topologies with ``pxn = true``) is applied here, where
a flow's source NIC is chosen: a GPU-to-GPU transfer between servers whose
NICs are on different rails first copies to the source server's GPU on the
destination's rail (an ``intra_server`` record, same stage, layer and
request, ``dst_gpu`` = that GPU), then starts its network flow from that
GPU's NIC (``src_gpu`` = that GPU), so it crosses one rail switch.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from ..fabric.transport import Clock, Transport
from ..policies import FlowInfo, Policy
from .cluster import Layout
from .recorder import INTRA_SERVER, FlowRecord, Recorder

__all__ = ["Clock", "IntraServerTransport", "Join", "Transfers", "Transport"]


class Join:
    """Waits for ``n`` parts; ``then(fn)`` runs fn when all are done (as an event if already done; several
    ``fn`` run in the order they were given)."""

    def __init__(self, clock: Clock, n: int):
        self.clock, self.n = clock, n
        self.fns: list[Callable[[], None]] = []

    def then(self, fn: Callable[[], None]) -> None:
        if self.n == 0:
            self.clock.schedule(self.clock.now, fn)
        else:
            self.fns.append(fn)

    def done(self, *_: object) -> None:
        self.n -= 1
        if self.n == 0:
            for fn in self.fns:
                fn()


class IntraServerTransport:
    """Copies between GPUs of one server at a fixed bandwidth (no contention)."""

    def __init__(self, clock: Clock, bps: float):
        self.clock, self.bps = clock, bps

    def copy(self, nbytes: int, on_done: Callable[[], None]) -> tuple[float, float]:
        """Start a copy now; ``on_done()`` runs when it ends. Returns (start, end) times."""
        t0 = self.clock.now
        t1 = t0 + nbytes * 8 / self.bps
        self.clock.schedule(t1, on_done)
        return t0, t1


class Transfers:
    """Moves bytes from a GPU (or a KV-store host) to a GPU, recording each transfer as a :class:`FlowRecord`."""

    def __init__(self, clock: Clock, policy: Policy, layout: Layout, intra: IntraServerTransport,
                 recorder: Recorder, stages: Optional[set[str]] = None):
        self.clock, self.policy, self.layout, self.intra, self.recorder = clock, policy, layout, intra, recorder
        #: flow stages whose bytes are moved (``serving.traffic``); the others arrive at once, unrecorded
        self.stages = stages
        self._routes: dict[tuple[int, ...], str] = {}  #: route names by node path

    def send(self, src: tuple[str, int], dst_gpu: int, nbytes: int, stage: str, layer: int, request: int,
             batch: int, collective: int, on_done: Callable[[], None], instance: int = 0,
             deadline_s: Optional[float] = None, extra: Optional[dict[str, Any]] = None,
             dst_host: Optional[int] = None) -> None:
        """``src`` is ``("gpu", index)`` or ``("host", kv_store_host)``; the destination is GPU ``dst_gpu``, or
        the fabric host ``dst_host`` when given (a KV-store upload); ``on_done()`` runs when the bytes arrived."""
        kind, where = src
        if nbytes <= 0 or (self.stages is not None and stage not in self.stages):
            self.clock.schedule(self.clock.now, on_done)
            return
        rec = FlowRecord(stage, layer, request, batch, collective, where if kind == "gpu" else -1,
                         dst_gpu if dst_host is None else -1, nbytes, self.clock.now)
        if kind == "gpu" and dst_host is None and self.layout.off_fabric(where, dst_gpu):
            rec.path = INTRA_SERVER
            rec.start_s, rec.end_s = self.intra.copy(nbytes, on_done)
            self.recorder.flow(rec)
            return
        if kind == "gpu" and dst_host is None and (proxy := self.layout.pxn_proxy(where, dst_gpu)) != where:
            hop = FlowRecord(stage, layer, request, batch, collective, where, proxy, nbytes, self.clock.now,
                             path=INTRA_SERVER)
            hop.start_s, hop.end_s = self.intra.copy(nbytes, lambda: self.send(
                ("gpu", proxy), dst_gpu, nbytes, stage, layer, request, batch, collective, on_done, instance,
                deadline_s, extra))
            self.recorder.flow(hop)
            return
        src_host = self.layout.gpu_nic[where] if kind == "gpu" else where
        info = FlowInfo(src_host, self.layout.gpu_nic[dst_gpu] if dst_host is None else dst_host, int(nbytes),
                        stage, layer, request, batch, instance, deadline_s=deadline_s)
        if extra:
            info.extra.update(extra)
        flow = self.policy.start(info, on_done=lambda _f: on_done())
        rec.flow_id = flow.id
        if kind == "gpu" and dst_host is None and self.layout.same_server(where, dst_gpu):  # host path, in a server
            rec.path = INTRA_SERVER
            rec.route = self._route(flow)
        self.recorder.flow(rec)

    def _route(self, flow: Any) -> str:
        """The nodes a fabric flow crosses, by name (empty where the transport cannot tell); one string per
        distinct path, shared by the records of the flows that take it."""
        net = getattr(self.policy, "transport", None)
        if not hasattr(net, "flow_path") or not hasattr(net, "graph"):
            return ""
        path = tuple(net.flow_path(flow))
        name = self._routes.get(path)
        if name is None:
            name = self._routes[path] = ">".join(net.graph.node_name(n) for n in path)
        return name
