"""The fabric's results of one run, pulled from C++ once.

:meth:`Network.result` reads every table and counter after a run into a
:class:`FabricResult`; the run summary, the end-of-run checks
(:mod:`.safety`) and the serving result tables all read this one object, so
no table is pulled twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

import pandas as pd

if TYPE_CHECKING:  # pragma: no cover
    from .network import FabricConfig

#: Counters of the native fabric copied into a result (names as ``Network.counter`` takes them).
COUNTERS = ("drops", "drop_bytes", "pause_frames", "resume_frames", "packet_hops", "data_hops", "events",
            "max_queue_bytes", "ecn_marks", "cnps", "buffer_bytes_in_use")


@dataclass(frozen=True)
class FabricResult:
    """Tables, counters and end state of a network after a run."""

    flows: pd.DataFrame        #: one row per network flow (``Network.flows()``)
    pfc: pd.DataFrame          #: PFC events (``Network.pfc()``)
    queues: pd.DataFrame       #: sampled switch queues (``Network.queues()``)
    anomalies: pd.DataFrame    #: deadlocks and pause storms (``Network.anomalies()``)
    counters: Mapping[str, int]
    config: "FabricConfig"
    sim_s: float
    wall_s: float
    drained: bool              #: no event left: the run finished rather than being stopped
    stop_reason: str
    longest_pause_s: float
    memory_estimate_mb: float
    log_truncated: dict[str, int] = field(default_factory=dict)  #: rows each bounded log did not keep

    def counter(self, name: str) -> float:
        """A counter; NaN for one the run's fabric model does not have (the flow model's PFC, ECN, queues)."""
        v = self.counters[name]
        return v if isinstance(v, float) and v != v else int(v)

    def tables(self) -> dict[str, pd.DataFrame]:
        """The fabric's result tables by file name (``flows``, ``pfc``, ``queues``, ``anomalies``)."""
        return {"flows": self.flows, "pfc": self.pfc, "queues": self.queues, "anomalies": self.anomalies}

    def checks(self) -> dict[str, Any]:
        """End-of-run invariants (see :mod:`ns3_mfs.fabric.safety`)."""
        from .safety import run_checks

        return run_checks(self)

    def summary(self) -> dict[str, Any]:
        """Flat run figures (see README, 'Result files')."""
        flows = self.flows
        c = self.counter
        hops = c("packet_hops")
        return {
            "flows": int(len(flows)),
            "completed": int(flows["completed"].sum()),
            "drops": c("drops"),
            "drop_bytes": c("drop_bytes"),
            "pfc_pause_frames": c("pause_frames"),
            "pfc_resume_frames": c("resume_frames"),
            "packet_hops": hops,
            "data_packet_hops": c("data_hops"),
            "events": c("events"),
            "sim_s": self.sim_s,
            "wall_s": self.wall_s,
            "packet_hops_per_s": hops / self.wall_s if self.wall_s > 0 else 0.0,
            **({"fabric_model": "flow", "reallocations": c("reallocations"),
                "reallocated_flows": c("reallocated_flows")} if "reallocations" in self.counters else {}),
            "max_queue_bytes": c("max_queue_bytes"),
            "ecn_marks": c("ecn_marks"),
            "cnps": c("cnps"),
            "bytes_delivered": int(flows["bytes_delivered"].sum()),
            "fct_mean_s": float(flows["fct_s"].mean()) if len(flows) else float("nan"),
            "slowdown_p99": float(flows["slowdown"].quantile(0.99)) if len(flows) else float("nan"),
            "longest_pause_s": self.longest_pause_s,
            **{f"{t}_log_truncated": n for t, n in self.log_truncated.items()},
            "stop_reason": self.stop_reason,
            "memory_estimate_mb": self.memory_estimate_mb,
        }
