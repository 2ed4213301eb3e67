"""Run safety: a memory guard before building, and the invariants checked after every run.

The guard estimates a network's memory from its hosts, ports and switch
buffers (constants measured on the ns3 3.44 wheel: about 260 MB for the
process with the native module loaded, 18 KB per port, 8 B per switch route
entry, 400 B per frame a full switch buffer would hold) and refuses a network
above the budget (``FabricConfig.max_memory_mb``, default 80 % of the memory
available now) with the estimate in the message.

The checks (:func:`run_checks`) are cheap counters read from C++ at the end of
a run; each gives ``ok`` (``None`` when it does not apply) and a message:

* ``byte_conservation``: for every flow, payload bytes sent (resends included)
  = bytes that reached the receiver + bytes dropped by switches, once the
  event queue has drained (before that the difference is in flight);
* ``lossless``: no drop when PFC is on, whatever the headroom (a headroom
  below ``headroom_factor`` 2, a round trip of data at line rate, can drop;
  then the run fails this check rather than reporting ``complete``); ``None``
  with PFC off;
* ``flows_finished``: every started flow completed, or is listed with its
  state when the run was stopped early or at a time limit. Flows that no
  event can move any more (e.g. their last packet was dropped and no
  retransmission timer is set) do not keep the run alive: the periodic
  monitors stop, the run drains, and this check fails naming each stuck flow
  (id, hosts, bytes delivered of total);
* ``buffers_empty``: switch buffer accounting returns to zero once drained.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional

from ..config import ConfigError
from ..errors import CheckFailed, RunStopped

if TYPE_CHECKING:  # pragma: no cover
    from .network import FabricConfig, Network
    from .result import FabricResult
    from .topology import Graph

BASE_MB = 260.0
PORT_KB = 18.0
ROUTE_BYTES = 8.0
FRAME_BYTES = 400.0
#: Peak memory per row of a record log (pfc, queues) while it is built and turned into a table (measured).
LOG_ROW_BYTES = 200.0
LOSSLESS_HEADROOM_FACTOR = 2.0


#: Flow model: bytes per directed link (rate, delay, flow list) and per switch route entry (offset + port).
FLOW_LINK_BYTES = 160.0
FLOW_ROUTE_BYTES = 6.0


def estimate_memory_mb(graph: "Graph", cfg: "FabricConfig") -> float:
    """Memory of a built network before any traffic, plus every switch buffer full (MB).

    The flow model (``cfg.model == "flow"``) has no devices, queues or buffers: the process, its
    directed links and its route tables."""
    switches = len(graph.switch_names)
    ports = 2 * len(graph.links)
    if getattr(cfg, "model", "packet") == "flow":
        return BASE_MB + (ports * FLOW_LINK_BYTES + switches * graph.num_hosts * FLOW_ROUTE_BYTES) / 2**20
    routes = switches * graph.num_hosts * ROUTE_BYTES
    frames = switches * cfg.buffer_bytes / cfg.mtu * FRAME_BYTES
    return BASE_MB + ports * PORT_KB / 1024 + (routes + frames) / 2**20


def estimate_log_mb(cfg: "FabricConfig") -> float:
    """Most memory the periodic logs can take: ``max_log_rows`` rows of each enabled log (PFC events, queue
    samples); 0 when the logs are unbounded (``max_log_rows = 0``: then the guard cannot bound them)."""
    if getattr(cfg, "model", "packet") == "flow":
        return 0.0  # the flow model keeps no PFC or queue log
    logs = int(cfg.pfc_log) + int(cfg.queue_sample_interval_us > 0)
    return logs * cfg.max_log_rows * LOG_ROW_BYTES / 2**20


def available_memory_mb() -> Optional[float]:
    """MemAvailable of this machine (Linux), or None where unknown."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def check_memory(graph: "Graph", cfg: "FabricConfig") -> float:
    """Refuse a network whose estimate (the network with full buffers, plus the bounded logs at their
    bound) exceeds the budget; returns the estimate (MB)."""
    net_mb, log_mb = estimate_memory_mb(graph, cfg), estimate_log_mb(cfg)
    est = net_mb + log_mb
    budget = cfg.max_memory_mb
    source = "fabric.max_memory_mb"
    if budget is None:
        avail = available_memory_mb()
        if avail is None:
            return est
        budget, source = 0.8 * avail, "80% of the available memory"
    if est > budget:
        raise ConfigError(
            f"{graph.name}: estimated memory {est:,.0f} MB ({2 * len(graph.links)} ports, "
            f"{len(graph.switch_names)} switches with {cfg.buffer_bytes / 2**20:g} MB buffers: {net_mb:,.0f} MB; "
            f"logs of up to fabric.max_log_rows = {cfg.max_log_rows:,} rows: {log_mb:,.0f} MB) exceeds the "
            f"budget of {budget:,.0f} MB ({source}); use a smaller topology, fewer log rows, or raise "
            "fabric.max_memory_mb"
        )
    return est


@dataclass(frozen=True)
class Check:
    ok: Optional[bool]
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "message": self.message}


def _result(run: "FabricResult | Network") -> "FabricResult":
    """A network's result (pulled once), or the result itself."""
    return run.result() if hasattr(run, "result") else run


def run_checks(run: "FabricResult | Network") -> dict[str, Any]:
    """The end-of-run invariants of a run (see the module docstring) as a ``checks`` table."""
    res = _result(run)
    flows = res.flows
    drained = res.drained
    cfg = res.config
    checks: dict[str, Check] = {}

    lost = flows["bytes_sent"] - flows["bytes_received"] - flows["bytes_dropped"]
    bad = flows[lost != 0] if drained else flows[lost < 0]
    if len(bad):
        r = bad.iloc[0]
        checks["byte_conservation"] = Check(False, (
            f"{len(bad)} flows: sent != received + dropped; e.g. flow {int(r.flow_id)}: sent {int(r.bytes_sent)}, "
            f"received {int(r.bytes_received)}, dropped {int(r.bytes_dropped)}"))
    else:
        checks["byte_conservation"] = Check(True, (
            f"{len(flows)} flows: bytes sent = received + dropped" if drained
            else f"{int(lost.sum())} bytes in flight when the run stopped"))

    drops = res.counter("drops")
    flow_model = getattr(cfg, "model", "packet") == "flow"
    if flow_model:
        checks["lossless"] = Check(None, "the flow model has no frames to drop (fabric.model = 'flow')")
    elif cfg.pfc:
        hint = (f" (headroom_factor {cfg.headroom_factor:g} < {LOSSLESS_HEADROOM_FACTOR:g}: less than a round trip "
                "of data at line rate)" if drops and cfg.headroom_factor < LOSSLESS_HEADROOM_FACTOR else "")
        checks["lossless"] = Check(drops == 0, f"{drops} frames dropped with PFC on{hint}{_drop_places(res)}")
    else:
        checks["lossless"] = Check(None, f"not a lossless configuration; {drops} frames dropped")

    unfinished = flows[~flows["completed"]]
    if len(unfinished) == 0:
        checks["flows_finished"] = Check(True, f"all {len(flows)} flows completed")
    else:
        checks["flows_finished"] = Check(False if drained else None, (
            f"{len(unfinished)} of {len(flows)} flows unfinished"
            + (" although no event is left (stuck flows): " + stuck_flows(unfinished) if drained else "")))

    used = res.counter("buffer_bytes_in_use")
    if flow_model:
        checks["buffers_empty"] = Check(None, "the flow model has no switch buffers (fabric.model = 'flow')")
    elif drained:
        checks["buffers_empty"] = Check(used == 0, f"{used} bytes still accounted in switch buffers")
    else:
        checks["buffers_empty"] = Check(None, f"{used} bytes in switch buffers when the run stopped")

    out: dict[str, Any] = {name: c.as_dict() for name, c in checks.items()}
    out["ok"] = all(c.ok is not False for c in checks.values())
    out["unfinished_flows"] = unfinished_state(unfinished)
    return out


def stuck_flows(unfinished, limit: int = 10) -> str:
    """Up to ``limit`` unfinished flows as ``flow ID (SRC->DST): DELIVERED of BYTES bytes delivered``."""
    text = ", ".join(f"flow {int(r.flow_id)} ({int(r.src)}->{int(r.dst)}): {int(r.bytes_delivered)} of "
                     f"{int(r.bytes)} bytes delivered" for r in unfinished.head(limit).itertuples())
    return text + (f" and {len(unfinished) - limit} more" if len(unfinished) > limit else "")


def unfinished_state(unfinished, limit: int = 20) -> list[dict[str, Any]]:
    """The state of up to ``limit`` unfinished flows (all of them are in the flows table)."""
    cols = ["flow_id", "src", "dst", "bytes", "bytes_sent", "bytes_delivered", "final_priority", "start_s"]
    return [{k: (float(v) if k == "start_s" else int(v)) for k, v in row.items()}
            for row in unfinished[cols].head(limit).to_dict("records")]


def failed(checks: dict[str, Any]) -> list[str]:
    """Messages of the checks that failed."""
    return [f"{name}: {c['message']}" for name, c in checks.items()
            if isinstance(c, dict) and c.get("ok") is False]



EARLY_STOPS = {
    "deadlock": "PFC deadlock (a cycle of paused switch queues that made no progress)",
    "pause_storm": "pause storm (a port class paused longer than fabric.pause_storm_ms)",
    "max_wall": "wall-clock limit fabric.max_wall_s reached",
    "stalled": "simulated time stopped advancing for fabric.stall_wall_s of wall clock",
}


def conclude(run: "FabricResult | Network", summary: dict[str, Any]) -> dict[str, Any]:
    """Add the checks, the stop reason and the status (complete, partial, invalid) to a run summary."""
    res = _result(run)
    checks = run_checks(res)
    reason = res.stop_reason or ("" if res.drained else "time_limit")
    status = "partial" if reason else ("complete" if checks["ok"] else "invalid")
    summary.update(status=status, stop_reason=reason, checks_ok=checks["ok"], checks=checks)
    return summary


def _drop_places(res: Any) -> str:
    """Where a lossless fabric dropped frames (the ``drop`` rows of the anomalies log), for the check's message."""
    an = res.anomalies
    drops = an[an["kind"] == "drop"] if len(an) else an
    if not len(drops):
        return ""
    where = drops.groupby(["node_name", "port", "priority"]).size().sort_values(ascending=False)
    return " (at " + ", ".join(f"{n} ingress port {p} class {c}: {k}" for (n, p, c), k in where.head(4).items()) + \
        "; anomalies.parquet lists each)"


def raise_for_status(run: "FabricResult | Network", summary: dict[str, Any], out: Any = None) -> None:
    """Raise :class:`RunStopped` or :class:`CheckFailed` for a run that must not pass silently."""
    where = f"; results in {out} are marked {summary['status']}" if out is not None else ""
    reason = summary["stop_reason"]
    if reason in EARLY_STOPS:
        detail = ""
        res = _result(run)
        an = res.anomalies
        first = an[an["kind"] == reason]
        if len(first):
            detail = ": " + ", ".join(
                f"{r.node_name} port {r.port} class {r.priority}" for r in first.head(8).itertuples())
        raise RunStopped(f"run stopped at {res.sim_s:.6f} s simulated: {EARLY_STOPS[reason]}{detail}{where}")
    if not summary["checks_ok"]:
        raise CheckFailed("invariant violated: " + "; ".join(failed(summary["checks"])) + where)
