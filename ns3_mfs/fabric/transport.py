"""What the serving engine and the flow policies see of a fabric (docs/explanation/architecture.md).

A :class:`Clock` gives the simulated time and runs callbacks at a time; a
:class:`Transport` also starts flows between hosts, changes their class or
rate cap, and calls ``on_done(flow)`` when a flow's last byte arrives. The
packet-level :class:`~ns3_mfs.fabric.network.Network` is one; a flow-level
fabric or the pure-Python :mod:`ns3_mfs.serving.fake` fabric are others, so
serving logic and policies run on any of them unchanged.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """Simulated time."""

    @property
    def now(self) -> float:
        """Current simulated time (s)."""
        ...

    def schedule(self, at: float, fn: Callable[[], None]) -> None:
        """Call ``fn()`` at absolute simulated time ``at`` (callbacks at one time run in scheduling order)."""
        ...


@runtime_checkable
class Transport(Clock, Protocol):
    """Flows between hosts. A flow handle has an integer ``id``, unique per transport."""

    def start_flow(self, src: int, dst: int, nbytes: int, priority: int = 0,
                   on_done: Optional[Callable[[Any], None]] = None) -> Any:
        """Start ``nbytes`` from host ``src`` to host ``dst`` in class ``priority`` (0 highest);
        ``on_done(flow)`` is called when its last byte is delivered."""
        ...

    def set_priority(self, flow: Any, priority: int, atomic: bool = False) -> None:
        """Move a running flow to another class (``atomic``: once none of its packets is in flight)."""
        ...

    def set_rate_cap(self, flow: Any, bps: float) -> None:
        """Pace a flow at no more than ``bps`` (0 removes the cap)."""
        ...

    def set_demotion(self, flow: Any, thresholds: list[int]) -> None:
        """Move the flow one class down each time its bytes sent cross a threshold."""
        ...

    def set_hold(self, flow: Any, held: bool = True) -> None:
        """Hold the flow at its NIC while a higher-class flow of that NIC has bytes to send."""
        ...

    def flow_bytes_delivered(self, flow: Any) -> int:
        """Bytes of a flow delivered so far."""
        ...

    def port_tx_bytes(self, node: int, port: int = 0) -> int:
        """Bytes that left a host's port so far."""
        ...

    def host_rate_bps(self, host: int) -> float:
        """Line rate of a host's port (bit/s)."""
        ...
