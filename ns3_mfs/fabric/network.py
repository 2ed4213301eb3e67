"""The packet-level RoCE network, driven from Python per flow.

:class:`Network` builds the C++ fabric for a topology and a
:class:`FabricConfig`, starts flows, calls ``on_done`` callbacks at their
simulated completion time and returns results as tidy pandas tables.
Per-packet work never leaves C++: Python is entered once per completed flow
(if it asked to be told) and once per timer.
"""

from __future__ import annotations

import re
import time
import weakref
from dataclasses import dataclass, replace
from typing import Any, Callable, Literal, Optional

import numpy as np
import pandas as pd

from .. import _ns
from ..config import ConfigError, spec
from . import safety
from .cc_profiles import DEFAULT_PROFILE, PROFILE_KEYS, PROFILES
from .result import COUNTERS, FabricResult
from .topology import Graph, Topology

#: The latest simulated time (s) a run accepts: flow starts, timers, ``until``
#: and every duration in a FabricConfig must be finite and at most this.
#: ns-3 keeps time in 2^63 ps (about 9.2e6 s); the C++ binding refuses the
#: same range (kMaxSimSeconds in native/helper/mfs-time.h).
MAX_SIM_S = 1e6

#: The shortest queue sampling period (us) a FabricConfig accepts (besides 0 = off).
MIN_QUEUE_SAMPLE_US = 0.1


def check_sim_time(name: str, value: Any, now: float = 0.0) -> float:
    """A simulated time given from outside as a float; ConfigError naming ``name`` and the limit otherwise."""
    try:
        t = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: expected a time in seconds, got {value!r}") from None
    if not np.isfinite(t) or not 0.0 <= t <= MAX_SIM_S:
        raise ConfigError(f"{name}: {value!r} s is outside the simulated-time range; allowed: 0..{MAX_SIM_S:g} s "
                          "(ns3_mfs.fabric.network.MAX_SIM_S)")
    if t < now:
        raise ConfigError(f"{name}: {value!r} is before the current time {now} s")
    return t


@dataclass(frozen=True)
class FabricConfig:
    """Settings of the lossless RoCE fabric (defaults: docs/explanation/fabric.md).

    ``dcqcn_profile`` names a set of defaults (:mod:`ns3_mfs.fabric.cc_profiles`)
    for ``cnp_interval_us``, ``ecn_kmin_bytes``, ``ecn_kmax_bytes``, ``ecn_pmax``
    and the ``dcqcn_*`` keys: a key left unset takes the profile's value, a key
    given explicitly keeps its own. The fields hold the resolved values once the
    config is built (``config show`` prints them). ``dataclasses.replace`` treats
    every resolved value as explicit; use :meth:`with_profile` to switch profiles.
    """

    model: Literal["packet", "flow"] = spec(
        "packet", doc="fabric model: packet (ns-3 frames, PFC, ECN, DCQCN) or flow (rates by strict priority and "
        "max-min fairness, recomputed at flow events; docs/explanation/flow-model.md)")
    pfc: bool = spec(True, doc="lossless mode: PFC PAUSE instead of drops")
    mtu: int = spec(4096, choices=(1024, 2048, 4096), doc="RoCE payload MTU (bytes)")
    num_classes: int = spec(8, min=1, max=8, doc="strict-priority bands K per egress port")
    buffer_bytes: int = spec(32 * 2**20, min=1, doc="shared packet buffer per switch (bytes)")
    reserve_bytes: int = spec(4096, min=0, doc="guaranteed bytes per (ingress port, class)")
    resume_offset_bytes: int = spec(3072, min=0, doc="XON = XOFF - resume offset (bytes)")
    xoff: Literal["dynamic", "static"] = spec("dynamic", doc="PFC XOFF threshold kind")
    alpha: float = spec(0.125, gt=0.0, max=64.0, doc="dynamic threshold: XOFF = alpha x free shared buffer")
    static_xoff_bytes: int = spec(256 * 1024, min=1, doc="static XOFF threshold per queue (bytes)")
    headroom_factor: float = spec(
        3.0, min=0.0, max=100.0, doc="PFC headroom = factor x rate x delay (+2 MTU); from factor 2 on, at least a "
        "round trip at line rate + 3 frames")
    pause_quanta: int = spec(65535, min=1, max=65535, doc="pause time per PAUSE frame (512-bit quanta)")
    ack_interval: int = spec(1, min=1, max=1024, doc="receiver ACKs every N in-order packets")
    retx_timeout_us: Optional[float] = spec(
        None, min=0.0, doc="go-back-N timeout (us); default 1000 with PFC off, off (0) with PFC on"
    )
    nack_interval_us: float = spec(20.0, min=0.0, doc="minimum time between NACKs for one gap (us)")
    control_class: int = spec(0, min=0, max=7, doc="class of ACK/NACK/CNP frames")
    queue_sample_interval_us: float = spec(10.0, min=0.0, doc="switch queue sampling period (us); 0 = off, else >= 0.1")
    pfc_log: bool = spec(True, doc="keep every PFC event for pfc.parquet")
    max_log_rows: int = spec(
        5_000_000, min=0, doc="rows each log (pfc, queues, tx_log, deliveries, anomalies) keeps; "
        "0 = no bound (then the memory guard cannot count them)")
    cc: Literal["dcqcn", "none"] = spec("dcqcn", doc="sender congestion control")
    dcqcn_profile: Literal["connectx", "hpcc", "paper"] = spec(
        DEFAULT_PROFILE, doc="named defaults of the cnp_interval_us, ecn_k*/ecn_pmax and dcqcn_* keys "
        "(ns3_mfs.fabric.cc_profiles); a key given explicitly wins over the profile"
    )
    ecn: bool = spec(True, doc="RED ECN marking at switch egress (per band)")
    ecn_kmin_bytes: Optional[int] = spec(None, min=0, doc="RED Kmin at 100G (bytes; scaled with port rate); "
                                         "default from dcqcn_profile")
    ecn_kmax_bytes: Optional[int] = spec(None, min=1, doc="RED Kmax at 100G (bytes; scaled with port rate); "
                                         "default from dcqcn_profile")
    ecn_pmax: Optional[float] = spec(None, min=0.0, max=1.0, doc="RED marking probability at Kmax; "
                                     "default from dcqcn_profile")
    ecn_classes: list[int] = spec([0, 1, 2, 3, 4, 5, 6, 7], min=0, max=7, doc="classes (bands) that mark")
    scale_with_rate: bool = spec(True, doc="scale ECN thresholds and DCQCN steps (given for 100G) with port rate")
    cnp_interval_us: Optional[float] = spec(None, min=0.0, doc="at most one CNP per flow per interval (us); "
                                            "default from dcqcn_profile")
    dcqcn_g: Optional[float] = spec(None, gt=0.0, max=1.0, doc="DCQCN alpha gain g")
    dcqcn_rai_mbps: Optional[float] = spec(None, gt=0.0, doc="additive increase at 100G (Mbit/s)")
    dcqcn_rhai_mbps: Optional[float] = spec(None, gt=0.0, doc="hyper increase at 100G (Mbit/s)")
    dcqcn_alpha_update_us: Optional[float] = spec(None, gt=0.0, doc="alpha update interval (us)")
    dcqcn_rate_decrease_interval_us: Optional[float] = spec(None, min=0.0, doc="minimum time between rate cuts (us)")
    dcqcn_increase_timer_us: Optional[float] = spec(None, gt=0.0, doc="rate increase timer (us)")
    dcqcn_byte_counter_bytes: Optional[int] = spec(None, min=1, doc="byte counter per increase stage (bytes)")
    dcqcn_fast_recovery_stages: Optional[int] = spec(None, min=0, max=1000, doc="F, fast recovery stages")
    dcqcn_min_rate_mbps: Optional[float] = spec(None, gt=0.0, doc="lowest DCQCN rate (Mbit/s)")
    dcqcn_initial_alpha: Optional[float] = spec(None, min=0.0, max=1.0, doc="alpha of a new flow")
    dcqcn_min_decrease_factor: Optional[float] = spec(
        None, min=0.0, max=1.0, doc="a rate cut keeps at least this fraction of the rate (0 = no bound)"
    )
    dcqcn_alpha_per_window: Optional[bool] = spec(
        None, doc="alpha updated once per alpha_update window from whether a CNP came (ConnectX) "
        "instead of at each CNP"
    )
    dcqcn_clamp_target_rate: Optional[bool] = spec(None, doc="target rate <- current rate at every cut")
    dcqcn_clamp_target_after_timer: Optional[bool] = spec(
        None, doc="without clamp_target_rate: clamp at a cut only after a timer increase"
    )
    dcqcn_alpha_at_first_cnp: Optional[bool] = spec(
        None, doc="alpha takes dcqcn_initial_alpha at the first CNP since the flow last ran at line rate "
        "(ConnectX rate limiter) instead of at the flow's start"
    )
    scheduler: Literal["QuadHeapScheduler", "PriorityQueueScheduler", "MapScheduler", "CalendarScheduler",
                       "ListScheduler"] = spec(
        "QuadHeapScheduler", doc="ns-3 event scheduler (results do not depend on it)"
    )
    # Run safety (ns3_mfs.fabric.safety)
    pfc_watch_interval_us: float = spec(1000.0, min=0.0, doc="PFC deadlock / pause-storm check period (us); 0 = off")
    pause_storm_ms: float = spec(50.0, gt=0.0, doc="a (port, class) paused longer than this is a pause storm (ms)")
    stop_on_pause_storm: bool = spec(True, doc="stop the run at the first pause storm (a deadlock always stops it)")
    max_wall_s: Optional[float] = spec(
        None, gt=0.0, doc="stop a run after this much wall-clock time (s; time the process is stopped counts)"
    )
    stall_wall_s: float = spec(
        60.0, min=0.0, doc="stop if simulated time does not advance while the process uses this much CPU time "
        "(s; time stopped, e.g. SIGSTOP or suspend, does not count); 0 = off"
    )
    max_memory_mb: Optional[float] = spec(
        None, gt=0.0, doc="refuse a network whose memory estimate exceeds this (MB); default 80% of available memory"
    )

    def __post_init__(self) -> None:
        # Fill the keys left unset from the profile; remember which were explicit
        # (with_profile() re-resolves those that were not).
        profile = PROFILES[self.dcqcn_profile]
        explicit = []
        for name in PROFILE_KEYS:
            if getattr(self, name) is None:
                object.__setattr__(self, name, profile[name])
            else:
                explicit.append(name)
        object.__setattr__(self, "_explicit", frozenset(explicit))

    def with_profile(self, profile: str) -> "FabricConfig":
        """This config with another DCQCN profile; keys given explicitly keep their values."""
        if profile not in PROFILES:
            raise ConfigError(f"dcqcn_profile: {profile!r} is not allowed; allowed: "
                              f"{', '.join(repr(p) for p in PROFILES)}")
        unset = {name: None for name in PROFILE_KEYS if name not in self._explicit}
        return replace(self, dcqcn_profile=profile, **unset)

    def validate(self, path: str) -> None:
        self.check_limits(path)
        if self.ecn and self.ecn_kmax_bytes <= self.ecn_kmin_bytes:
            raise ConfigError(
                f"{path + '.' if path else ''}ecn_kmax_bytes: must be > ecn_kmin_bytes "
                f"({self.ecn_kmin_bytes}), got {self.ecn_kmax_bytes}"
            )

    def check_limits(self, path: str = "fabric") -> None:
        """Refuse durations outside the simulated-time range and a queue sampling period below the floor."""
        pre = path + "." if path else ""
        q = self.queue_sample_interval_us
        if 0 < q < MIN_QUEUE_SAMPLE_US:
            raise ConfigError(f"{pre}queue_sample_interval_us: {q:g} us is below the floor of "
                              f"{MIN_QUEUE_SAMPLE_US:g} us (every sample is a row of the queues log); "
                              "use 0 to turn sampling off")
        for key, scale in (("retx_timeout_us", 1e-6), ("nack_interval_us", 1e-6), ("queue_sample_interval_us", 1e-6),
                           ("cnp_interval_us", 1e-6), ("dcqcn_alpha_update_us", 1e-6),
                           ("dcqcn_rate_decrease_interval_us", 1e-6), ("dcqcn_increase_timer_us", 1e-6),
                           ("pfc_watch_interval_us", 1e-6), ("pause_storm_ms", 1e-3)):
            v = getattr(self, key)
            if v is not None and not (np.isfinite(v) and v * scale <= MAX_SIM_S):
                raise ConfigError(f"{pre}{key}: {v!r} is outside the simulated-time range; allowed: up to "
                                  f"{MAX_SIM_S / scale:g} ({MAX_SIM_S:g} s)")
        # DCQCN paces a frame at the minimum rate: that gap must stay within the range too.
        if not self.dcqcn_min_rate_mbps * 1e6 >= 65536 * 8 / MAX_SIM_S:
            raise ConfigError(f"{pre}dcqcn_min_rate_mbps: {self.dcqcn_min_rate_mbps!r} paces frames further apart "
                              f"than {MAX_SIM_S:g} s; allowed: >= {65536 * 8 / MAX_SIM_S / 1e6:g}")

    def retx_timeout_s(self) -> float:
        if self.retx_timeout_us is not None:
            return self.retx_timeout_us * 1e-6
        return 0.0 if self.pfc else 1e-3

    def attributes(self) -> list[tuple[str, str, str]]:
        """(object type, attribute, value) for the C++ objects."""
        return [
            ("RoceNetDevice", "Mtu", str(self.mtu)),
            ("RmlqQueueDisc", "NumBands", str(self.num_classes)),
            ("SwitchBufferManager", "PfcEnabled", str(self.pfc).lower()),
            ("SwitchBufferManager", "BufferSize", str(self.buffer_bytes)),
            ("SwitchBufferManager", "ReservePerQueue", str(self.reserve_bytes)),
            ("SwitchBufferManager", "ResumeOffset", str(self.resume_offset_bytes)),
            ("SwitchBufferManager", "Dynamic", str(self.xoff == "dynamic").lower()),
            ("SwitchBufferManager", "Alpha", repr(self.alpha)),
            ("SwitchBufferManager", "StaticXoff", str(self.static_xoff_bytes)),
            ("SwitchBufferManager", "HeadroomFactor", repr(self.headroom_factor)),
            ("SwitchBufferManager", "PauseQuanta", str(self.pause_quanta)),
            ("RdmaNic", "AckInterval", str(self.ack_interval)),
            ("RdmaNic", "RetxTimeout", _ps(self.retx_timeout_s() * 1e6)),
            ("RdmaNic", "NackInterval", _ps(self.nack_interval_us)),
            ("RdmaNic", "ControlClass", str(self.control_class)),
            ("RmlqQueueDisc", "EcnMarking", str(self.ecn).lower()),
            ("RmlqQueueDisc", "EcnKmin", str(self.ecn_kmin_bytes)),
            ("RmlqQueueDisc", "EcnKmax", str(self.ecn_kmax_bytes)),
            ("RmlqQueueDisc", "EcnPmax", repr(self.ecn_pmax)),
            ("RmlqQueueDisc", "EcnBandMask", str(sum(1 << c for c in set(self.ecn_classes)))),
            ("RdmaNic", "Dcqcn", str(self.cc == "dcqcn").lower()),
            ("RdmaNic", "CnpInterval", _ps(self.cnp_interval_us)),
            ("RdmaNic", "DcqcnG", repr(self.dcqcn_g)),
            ("RdmaNic", "RateAi", f"{round(self.dcqcn_rai_mbps * 1e6)}bps"),
            ("RdmaNic", "RateHai", f"{round(self.dcqcn_rhai_mbps * 1e6)}bps"),
            ("RdmaNic", "AlphaUpdateInterval", _ps(self.dcqcn_alpha_update_us)),
            ("RdmaNic", "RateDecreaseInterval", _ps(self.dcqcn_rate_decrease_interval_us)),
            ("RdmaNic", "IncreaseTimer", _ps(self.dcqcn_increase_timer_us)),
            ("RdmaNic", "ByteCounter", str(self.dcqcn_byte_counter_bytes)),
            ("RdmaNic", "FastRecoveryStages", str(self.dcqcn_fast_recovery_stages)),
            ("RdmaNic", "MinRate", f"{round(self.dcqcn_min_rate_mbps * 1e6)}bps"),
            ("RdmaNic", "InitialAlpha", repr(self.dcqcn_initial_alpha)),
            ("RdmaNic", "MinDecreaseFactor", repr(self.dcqcn_min_decrease_factor)),
            ("RdmaNic", "AlphaPerWindow", str(self.dcqcn_alpha_per_window).lower()),
            ("RdmaNic", "ClampTargetRate", str(self.dcqcn_clamp_target_rate).lower()),
            ("RdmaNic", "ClampTargetAfterTimeIncrease", str(self.dcqcn_clamp_target_after_timer).lower()),
            ("RdmaNic", "InitialAlphaAtFirstCnp", str(self.dcqcn_alpha_at_first_cnp).lower()),
        ]


def _ps(us: float) -> str:
    return f"{round(us * 1e6)}ps"


@dataclass(frozen=True, slots=True)
class Flow:
    """Handle of a flow started on a :class:`Network`."""

    id: int
    src: int
    dst: int
    bytes: int
    priority: int
    start_s: float


def _fid(flow: "Flow | int") -> int:
    return flow.id if isinstance(flow, Flow) else int(flow)


def _labels(codes: np.ndarray, labels: list[str]) -> pd.Series:
    """Codes of a label column as an object column of their names."""
    return pd.Series(np.array(labels, dtype=object)[codes] if len(codes) else [], dtype=object)


@dataclass(frozen=True)
class _ColumnInfo:
    """One column of a native record table's schema (a line of ``TableSchema``)."""

    name: str
    type: str  #: f64, i64, bool, label or derived
    labels: tuple[str, ...]


def _schema(fabric: Any, table: str) -> list[_ColumnInfo]:
    """A native table's columns, from the flat text of ``TableSchema`` (cppyy compiles no proxy for it)."""
    out = []
    for line in str(fabric.TableSchema(table)).splitlines():
        name, kind, *labels = line.split("\t")
        out.append(_ColumnInfo(name, kind, tuple(labels)))
    return out


def _column(fabric: Any, table: str, info: _ColumnInfo, rows: int) -> Any:
    """One column of a native record table, typed by its schema entry, copied into a new array."""
    # The array of the other kind is left untouched; cppyy takes no empty array for a pointer, so it has one element.
    real = np.empty(rows if info.type == "f64" else 1, dtype=np.float64)
    count = np.empty(1 if info.type == "f64" else rows, dtype=np.uint64)
    if rows:
        fabric.CopyColumn(table, info.name, real, count)
    if info.type == "f64":
        return real
    codes = count.astype(np.int64)
    if info.type == "bool":
        return codes.astype(bool)
    if info.type == "label":
        return _labels(codes, list(info.labels))
    return codes


# Columns a native table declares as "derived": computed here from the others.
_DERIVED: dict[str, Callable[["Network", dict[str, Any]], Any]] = {
    "fct_s": lambda net, c: c["end_s"] - c["start_s"],
    "slowdown": lambda net, c: c["fct_s"] / c["ideal_fct_s"],
    "node_name": lambda net, c: net._named_nodes(c["node"]),
}


_current: Optional[weakref.ref] = None

#: Timer tokens start above every flow id (a uint32), so one callback tells timers from flows.
_FIRST_TIMER_TOKEN = 1 << 32


def _native_event(value: int) -> None:
    """The C++ callback of every Network of the process, for the one alive: a flow id or a timer token.

    cppyy compiles a wrapper per Python callable handed to a ``std::function`` (0.1-0.2 s of CPU each);
    one module-level callable makes that once per process, not twice per Network (a serving run builds
    one Network per unloaded-TTFT probe).
    """
    net = _current() if _current is not None else None
    if net is not None:
        net._native_event(value)


#: Columns of the packet model's logs, which the flow model leaves empty (it models no PFC, queue or frame).
PACKET_ONLY_TABLES: dict[str, dict[str, str]] = {
    "pfc": {"time_s": "float64", "node": "int64", "node_name": "object", "port": "int64", "priority": "int64",
            "kind": "object"},
    "queues": {"time_s": "float64", "node": "int64", "node_name": "object", "port": "int64", "priority": "int64",
               "bytes": "int64"},
    "tx_log": {"time_s": "float64", "node": "int64", "port": "int64", "priority": "int64", "type": "object",
               "bytes": "int64", "flow": "int64"},
    "deliveries": {"time_s": "float64", "flow": "int64", "delivered_bytes": "int64"},
    "anomalies": {"time_s": "float64", "kind": "object", "node": "int64", "node_name": "object", "port": "int64",
                  "priority": "int64", "paused_since_s": "float64", "queued_bytes": "int64", "flow": "int64"},
}

#: Counters the flow model does not have (PFC, ECN, DCQCN, queues, packets): NaN in its results, not 0.
#: It drops nothing and buffers nothing, so ``drops``, ``drop_bytes`` and ``buffer_bytes_in_use`` are 0.
PACKET_ONLY_COUNTERS = ("pause_frames", "resume_frames", "packet_hops", "data_hops", "max_queue_bytes",
                        "ecn_marks", "cnps")

#: The logs bounded by ``FabricConfig.max_log_rows``; the summary's ``<name>_log_truncated``
#: counts the records each did not keep.
LOG_TABLES = ("pfc", "queues", "tx_log", "deliveries", "anomalies")


class Network:
    """A built fabric: hosts, switches, links; start flows and run.

    Only one Network is alive per process (ns-3's simulator is global):
    creating a new one closes the previous one.
    """

    def __init__(self, topology: Topology | Graph, config: FabricConfig | None = None, seed: int = 1):
        global _current
        if _current is not None and (old := _current()) is not None:
            old.close()
        self.config = config or FabricConfig()
        self.graph: Graph = topology if isinstance(topology, Graph) else topology.graph()
        self.seed = seed
        self.config.check_limits()
        self.memory_estimate_mb = safety.check_memory(self.graph, self.config)
        self.stop_reason = ""
        ns = _ns.native()
        _current = weakref.ref(self)
        if self.config.model == "flow":
            self._f = ns.FlowLevelFabric()
            self._build_flow_model()
        else:
            self._f = ns.Fabric()
            self._build_packet_model()
        #: handle and callback of each flow that has a callback, until it is called (no per-flow list is kept
        #: for the whole run: a large run starts millions of flows)
        self._on_done: dict[int, tuple[Flow, Callable[[Flow], None]]] = {}
        self._timers: dict[int, Callable[[], None]] = {}
        self._next_token = _FIRST_TIMER_TOKEN
        self._error: Optional[BaseException] = None
        # The module's _native_event is the flow-done and the timer callback, handed over at the first flow
        # with a callback and at the first timer, so a run with neither (a flow list) compiles no wrapper.
        # Without it the C++ side calls nothing.
        self._cb_given = {"flow": False, "timer": False}
        self.wall_s = 0.0

    @property
    def model(self) -> str:
        """The fabric model: ``packet`` or ``flow`` (``FabricConfig.model``)."""
        return self.config.model

    def _build_flow_model(self) -> None:
        f, c = self._f, self.config
        try:
            f.SetScheduler(c.scheduler)
            f.SetSeed(self.seed)
            f.SetMtu(c.mtu)
            f.SetAckInterval(c.ack_interval)
            self._add_graph(f)
            f.SetWatchdog(c.max_wall_s or 0.0, c.stall_wall_s)
            f.Build()
        except Exception as exc:  # C++ std::exception from the native side
            self.close()
            raise ConfigError(f"{self.graph.name}: {_what(exc)}") from None

    def _add_graph(self, f: Any) -> None:
        """The topology's hosts, switches and links, in node order, on either model's native fabric."""
        for _ in range(self.graph.num_hosts):
            f.AddHost()
        for _ in self.graph.switch_names:
            f.AddSwitch()
        for link in self.graph.links:
            f.AddLink(link.a, link.b, link.rate_bps, link.delay_s)

    def _build_packet_model(self) -> None:
        f = self._f
        try:
            f.SetScheduler(self.config.scheduler)
            f.SetSeed(self.seed)
            f.SetRateScaling(self.config.scale_with_rate)
            for obj, name, value in self.config.attributes():
                f.SetAttribute(obj, name, value)
            self._add_graph(f)
            f.SetQueueSampleInterval(self.config.queue_sample_interval_us * 1e-6)
            f.SetPfcLog(self.config.pfc_log)
            f.SetMaxLogRows(self.config.max_log_rows)
            c = self.config
            f.SetPfcWatch(c.pfc_watch_interval_us * 1e-6 if c.pfc else 0.0, c.pause_storm_ms * 1e-3,
                          c.stop_on_pause_storm)
            f.SetWatchdog(c.max_wall_s or 0.0, c.stall_wall_s)
            f.Build()
        except Exception as exc:  # C++ std::exception from the native side
            self.close()
            raise ConfigError(f"{self.graph.name}: {_what(exc)}") from None

    # ------------------------------------------------------------ lifecycle
    def close(self) -> None:
        """Destroy the C++ fabric (and ns-3's simulator state)."""
        f = getattr(self, "_f", None)
        if f is not None:
            self._f = None
            f.__destruct__()

    def _fabric(self) -> Any:
        if self._f is None:
            raise RuntimeError("this Network was closed (only one Network can be alive at a time)")
        return self._f

    # ---------------------------------------------------------------- flows
    @property
    def num_hosts(self) -> int:
        return self.graph.num_hosts

    @property
    def now(self) -> float:
        """Simulated time in seconds."""
        return float(self._fabric().Now())

    def start_flow(
        self,
        src: int,
        dst: int,
        nbytes: int,
        priority: int = 0,
        on_done: Optional[Callable[[Flow], None]] = None,
        at: Optional[float] = None,
    ) -> Flow:
        """Start a flow of ``nbytes`` from host ``src`` to host ``dst``.

        ``at`` is the absolute start time (default: now). ``on_done(flow)`` is
        called at the simulated time its last byte is delivered; it may start
        more flows.
        """
        n = self.graph.num_hosts
        for name, v in (("src", src), ("dst", dst)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 0 <= v < n:
                raise ConfigError(f"{name}: {v!r} is not a host; allowed: 0..{n - 1}")
        if src == dst:
            raise ConfigError(f"dst: equals src ({src}); a flow needs two different hosts")
        if isinstance(nbytes, bool) or not isinstance(nbytes, (int, np.integer)) or nbytes <= 0:
            raise ConfigError(f"bytes: expected an integer > 0, got {nbytes!r}")
        if isinstance(priority, bool) or not isinstance(priority, (int, np.integer)) or not 0 <= priority <= 7:
            raise ConfigError(f"priority: expected an integer 0..7, got {priority!r}")
        start = self.now if at is None else check_sim_time("start_s", at, self.now)
        try:
            fid = int(self._fabric().AddFlow(int(src), int(dst), int(nbytes), int(priority), start,
                                             on_done is not None))
        except Exception as exc:  # C++ std::invalid_argument
            raise ConfigError(_what(exc)) from None
        flow = Flow(fid, int(src), int(dst), int(nbytes), int(priority), start)
        if on_done is not None:
            self._on_done[fid] = (flow, on_done)
            self._give_callback("flow")
        return flow

    def set_priority(self, flow: Flow | int, priority: int, atomic: bool = False) -> None:
        """Move a running flow to another class from its next packet on; ``atomic``: at a message
        boundary, once none of its packets is in flight (the NIC holds the flow until then)."""
        fid = _fid(flow)
        if not 0 <= priority <= 7:
            raise ConfigError(f"priority: expected an integer 0..7, got {priority!r}")
        self._fabric().SetPriority(fid, int(priority), bool(atomic))

    def set_rate_cap(self, flow: Flow | int, bps: float) -> None:
        """Pace a flow at no more than ``bps`` (0 removes the cap)."""
        try:
            self._fabric().SetRateCap(_fid(flow), float(bps))
        except Exception as exc:  # C++ std::invalid_argument
            raise ConfigError(f"rate cap: {_what(exc)}") from None

    def set_demotion(self, flow: Flow | int, thresholds: list[int]) -> None:
        """PIAS: the flow's class goes one down each time its bytes sent cross a threshold (in C++)."""
        self._fabric().SetDemotion(_fid(flow), [int(t) for t in thresholds])

    def set_hold(self, flow: Flow | int, held: bool = True) -> None:
        """Hold a flow at its NIC while a higher-class flow of that NIC has bytes to send."""
        self._fabric().SetHold(_fid(flow), bool(held))

    def flow_priority(self, flow: Flow | int) -> int:
        return int(self._fabric().FlowPriority(_fid(flow)))

    def flow_bytes_delivered(self, flow: Flow | int) -> int:
        return int(self._fabric().FlowBytesDelivered(_fid(flow)))

    def host_rate_bps(self, host: int) -> float:
        """Line rate of a host's port (bit/s)."""
        rates = self.__dict__.get("_host_rates")
        if rates is None:
            # Graph.host_rate_bps scans the links; policies ask per flow (MFS: per P2D flow and check),
            # which on 2,048 hosts dominated a flow-model run. One pass, first link of each host, as it.
            rates = {}
            for link in self.graph.links:
                for node in (link.a, link.b):
                    if node < self.graph.num_hosts:
                        rates.setdefault(node, link.rate_bps)
            self._host_rates = rates
        if host not in rates:
            return self.graph.host_rate_bps(host)  # raises as the graph does
        return rates[host]

    def port_tx_bytes(self, node: int, port: int = 0) -> int:
        """Bytes that left a port so far (frames with preamble and IFG)."""
        return int(self._fabric().PortTxBytes(int(node), int(port)))

    def schedule(self, at: float, fn: Callable[[], None]) -> None:
        """Call ``fn()`` at absolute simulated time ``at`` (at most :data:`MAX_SIM_S`)."""
        at = check_sim_time("timer time", at, self.now)
        token = self._next_token
        self._next_token += 1
        self._timers[token] = fn
        self._give_callback("timer")
        try:
            self._fabric().ScheduleTimer(at, token)
        except Exception as exc:  # C++ std::invalid_argument
            del self._timers[token]
            raise ConfigError(_what(exc)) from None

    def _give_callback(self, kind: str) -> None:
        if not self._cb_given[kind]:
            f = self._fabric()
            (f.SetFlowDoneCallback if kind == "flow" else f.SetTimerCallback)(_native_event)
            self._cb_given[kind] = True

    def _native_event(self, value: int) -> None:
        """A flow id (below 2^32) or a timer token (from 2^32) from C++."""
        if value >= _FIRST_TIMER_TOKEN:
            self._timer_fired(value)
        else:
            self._flow_done(value)

    def _flow_done(self, fid: int) -> None:
        if self._progress is not None:
            self._tick()
        entry = self._on_done.pop(int(fid), None)
        if entry is None or self._error is not None:
            return
        flow, cb = entry
        try:
            cb(flow)
        except BaseException as exc:  # surfaced by run()
            self._error = exc
            self._f.Stop()

    def _timer_fired(self, token: int) -> None:
        if self._progress is not None:
            self._tick()
        fn = self._timers.pop(int(token))
        if self._error is not None:
            return
        try:
            fn()
        except BaseException as exc:
            self._error = exc
            self._f.Stop()

    _progress: Optional[Callable[[float], None]] = None
    _next_tick = 0.0

    def _tick(self) -> None:
        """Report the simulated time to the progress callback, at most once per wall second."""
        t = time.perf_counter()
        if t >= self._next_tick:
            self._next_tick = t + 1.0
            self._progress(self.now)

    def run(self, until: Optional[float] = None, progress: Optional[Callable[[float], None]] = None) -> None:
        """Run until no event is left (or until simulated time ``until``).

        ``progress(sim_s)`` is called at most once per wall-clock second (from
        flow completions and timers; it does not change the simulation).
        """
        self._progress = progress
        if until is not None:
            until = check_sim_time("until", until)
            if until <= self.now:
                raise ConfigError(f"until: {until} s is not after the current time {self.now} s")
        t0 = time.perf_counter()
        self._fabric().Run(0.0 if until is None else float(until))
        self.wall_s += time.perf_counter() - t0
        self.stop_reason = str(self._fabric().StopReason())
        if self._error is not None:
            err, self._error = self._error, None
            raise err

    def enable_tx_log(self, node: int, port: int = 0) -> None:
        """Record every frame that starts on one port (see :meth:`tx_log`)."""
        self._packet_only("enable_tx_log")
        self._fabric().EnableTxLog(int(node), int(port))

    def enable_delivery_log(self, flow: Flow | int) -> None:
        """Record every in-order delivery of a flow (see :meth:`deliveries`)."""
        self._packet_only("enable_delivery_log")
        self._fabric().EnableDeliveryLog(_fid(flow))

    def deliveries(self) -> pd.DataFrame:
        """In-order deliveries of logged flows: time_s, flow, delivered_bytes (cumulative)."""
        return self._table("deliveries")

    def flow_path(self, flow: Flow | int) -> list[int]:
        return [int(x) for x in self._fabric().FlowPath(_fid(flow))]

    def path_of(self, src: int, dst: int, flow_id: int) -> list[int]:
        """Flow model: the nodes a flow from host ``src`` to ``dst`` with id ``flow_id`` crosses (the routes and
        ECMP hash both models use; no such flow need exist, e.g. one of another run on this topology)."""
        if self.model != "flow":
            raise ConfigError("path_of: only the flow model recomputes paths; use fabric.model = 'flow'")
        try:
            return [int(x) for x in self._fabric().PathOf(int(src), int(dst), int(flow_id))]
        except Exception as exc:  # C++ std::invalid_argument
            raise ConfigError(_what(exc)) from None

    @property
    def drained(self) -> bool:
        """True when no event is left: the run finished rather than being stopped."""
        return bool(self._fabric().Drained())

    def counter(self, name: str) -> float:
        """A fabric-wide counter (see ``Fabric::Counter``); NaN for one the flow model does not have."""
        if self.model == "flow" and name in PACKET_ONLY_COUNTERS:
            return float("nan")
        return int(self._fabric().Counter(name))

    def headroom_bytes(self, node: int, port: int) -> int:
        self._packet_only("headroom_bytes")
        return int(self._fabric().PortHeadroom(node, port))

    def _packet_only(self, what: str) -> None:
        if self.model != "packet":
            raise ConfigError(f"{what}: the flow model has no frames, queues or buffers; use fabric.model = 'packet'")

    def flow_rate_bps(self, flow: Flow | int) -> float:
        """Flow model: a flow's current rate (wire bit/s, payload plus RoCE framing)."""
        if self.model != "flow":
            raise ConfigError("flow_rate_bps: only the flow model has a rate per flow; use fabric.model = 'flow'")
        return float(self._fabric().FlowRate(_fid(flow)))

    # -------------------------------------------------------------- results
    def _table(self, name: str) -> pd.DataFrame:
        """A native record table as a DataFrame, built from its C++ schema (columns, order, types)."""
        f = self._fabric()
        if self.model == "flow" and name in PACKET_ONLY_TABLES:
            return pd.DataFrame({c: pd.Series([], dtype=t) for c, t in PACKET_ONLY_TABLES[name].items()})
        schema = _schema(f, name)
        rows = int(f.TableRows(name))
        cols: dict[str, Any] = {}
        for info in schema:
            if info.type != "derived":
                cols[info.name] = _column(f, name, info, rows)
        for info in schema:
            if info.type == "derived":
                cols[info.name] = _DERIVED[info.name](self, cols)
        return pd.DataFrame({info.name: cols[info.name] for info in schema})

    def flows(self) -> pd.DataFrame:
        """One row per flow (times in s; NaN end for unfinished flows)."""
        return self._table("flows")

    def _named_nodes(self, nodes: np.ndarray) -> pd.Series:
        names = np.array([self.graph.node_name(i) for i in range(self.graph.num_nodes)], dtype=object)
        return pd.Series(names[nodes] if len(nodes) else np.empty(0, dtype=object), dtype=object)

    def pfc(self) -> pd.DataFrame:
        """One row per PFC event: PAUSE/RESUME sent by a switch port, and their receipt."""
        return self._table("pfc")

    def queues(self) -> pd.DataFrame:
        """Switch egress queues sampled every ``queue_sample_interval_us`` while flows run.

        Only non-empty (port, class) queues are listed: a missing row means 0 bytes.
        """
        return self._table("queues")

    def anomalies(self) -> pd.DataFrame:
        """PFC deadlock cycle members and pause storms found by the PFC watch."""
        return self._table("anomalies")

    def checks(self) -> dict[str, Any]:
        """End-of-run invariants (see :mod:`ns3_mfs.fabric.safety`); from :meth:`result`."""
        return self.result().checks()

    def tx_log(self) -> pd.DataFrame:
        """Frames that started on ports with :meth:`enable_tx_log`."""
        return self._table("tx_log")

    def result(self) -> FabricResult:
        """Every result table and counter of the run, pulled from C++ once."""
        return FabricResult(
            flows=self.flows(), pfc=self.pfc(), queues=self.queues(), anomalies=self.anomalies(),
            counters={name: self.counter(name)
                      for name in COUNTERS + (("reallocations", "reallocated_flows") if self.model == "flow" else ())},
            config=self.config,
            sim_s=self.now, wall_s=self.wall_s, drained=self.drained, stop_reason=self.stop_reason,
            longest_pause_s=(float("nan") if self.model == "flow" else float(self._fabric().LongestPauseS())),
            memory_estimate_mb=self.memory_estimate_mb,
            log_truncated={t: (0 if self.model == "flow" else int(self._fabric().LogRowsDropped(t)))
                           for t in LOG_TABLES},
        )

    def summary(self) -> dict[str, Any]:
        """Flat run figures (see README, 'Result files'); from :meth:`result`."""
        return self.result().summary()


def _what(exc: BaseException) -> str:
    """The message of a C++ exception raised through cppyy."""
    msg = str(exc)
    m = re.search(r"(?:invalid_argument|runtime_error|logic_error|out_of_range):\s*(.*)", msg, re.S)
    return (m.group(1) if m else msg).strip()
