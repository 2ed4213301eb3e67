"""``ns3-mfs trace``: a run as a Chrome/Perfetto timeline (``trace.json``).

Reads one run directory and writes the Chrome trace event format (a JSON
object with ``traceEvents``; open it in https://ui.perfetto.dev or
chrome://tracing). Every span is a complete event (``ph = "X"``, ``ts`` and
``dur`` in microseconds of simulated time); each group below is one
*process* of the viewer, and spans that overlap in time are spread over as
few *threads* (lanes) as needed, so none hides another:

* ``prefill instance I``: its compute steps (``steps.parquet``: attention and
  expert steps of each layer, per batch) and collectives
  (``collectives.parquet``: dispatch, combine, all-reduce), so the
  layer-by-layer pipeline and the overlap of compute and communication show;
* ``decode instance I``: decode steps (``decode_steps.parquet``, with decode on);
* ``flows: <stage>``: every flow of the stage (``flows.parquet``), from its
  start to its end (unfinished flows to the end of the run), stages in
  pipeline order;
* ``requests``: each request from arrival to first token (``requests.parquet``);
* ``PFC pauses``: one lane per (switch, port, class), a span from each PAUSE
  it sent to the RESUME (``pfc.parquet``), named as in the plots
  (:mod:`.ports`).

Each event's ``args`` hold the row's identifiers and sizes (batch, layer,
bytes, request, GPUs, class). Tables a run does not have are skipped; a
directory with none of them is an error.
"""

from __future__ import annotations

import heapq
import json
import math
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

US = 1e6  #: trace timestamps are microseconds

#: Sort order of the viewer's processes (lower first).
_ORDER = {"prefill": 0, "decode": 1, "flows": 2, "requests": 3, "pfc": 4}
STAGE_ORDER = ("kv_fetch", "dispatch", "combine", "allreduce", "p2d")


def lanes(starts: Iterable[float], ends: Iterable[float]) -> list[int]:
    """A lane per interval such that intervals in one lane never overlap, using as few lanes as
    possible (greedy by start time); intervals are given in any order."""
    items = sorted(enumerate(zip(starts, ends)), key=lambda x: (x[1][0], x[1][1]))
    free: list[tuple[float, int]] = []  # (end of the lane's last interval, lane)
    out = [0] * len(items)
    count = 0
    for i, (s, e) in items:
        if free and free[0][0] <= s:
            _, lane = heapq.heappop(free)
        else:
            lane, count = count, count + 1
        out[i] = lane
        heapq.heappush(free, (max(e, s), lane))
    return out


class _Trace:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.pids: dict[str, int] = {}
        self.threads: set[tuple[int, int]] = set()

    def pid(self, name: str, group: str, index: int = 0) -> int:
        if name not in self.pids:
            pid = self.pids[name] = len(self.pids) + 1
            self.events.append(dict(ph="M", name="process_name", pid=pid, tid=0, args=dict(name=name)))
            self.events.append(dict(ph="M", name="process_sort_index", pid=pid, tid=0,
                                    args=dict(sort_index=_ORDER[group] * 10000 + index)))
        return self.pids[name]

    def thread(self, pid: int, tid: int, name: str) -> None:
        if (pid, tid) not in self.threads:
            self.threads.add((pid, tid))
            self.events.append(dict(ph="M", name="thread_name", pid=pid, tid=tid, args=dict(name=name)))
            self.events.append(dict(ph="M", name="thread_sort_index", pid=pid, tid=tid, args=dict(sort_index=tid)))

    def spans(self, pid: int, lane_name: str, df: pd.DataFrame, name: pd.Series, cat: str,
              args: list[str], tid0: int = 0) -> int:
        """One X event per row (``start_s``, ``end_s``) on non-overlapping lanes from ``tid0``; returns
        the first free tid."""
        if not len(df):
            return tid0
        starts, ends = df["start_s"].to_numpy(float), df["end_s"].to_numpy(float)
        lane = lanes(starts, ends)
        cols = {a: df[a].tolist() for a in args}
        for i, (s, e, n, ln) in enumerate(zip(starts, ends, name.tolist(), lane)):
            tid = tid0 + ln
            self.thread(pid, tid, lane_name if ln == 0 else f"{lane_name} ({ln + 1})")
            self.events.append(dict(ph="X", name=n, cat=cat, pid=pid, tid=tid, ts=s * US,
                                    dur=max(e - s, 0.0) * US, args={a: _plain(cols[a][i]) for a in args}))
        return tid0 + max(lane) + 1


def _plain(v: Any) -> Any:
    """A JSON-safe scalar (NaN -> None, numpy -> Python)."""
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
        return None
    if hasattr(v, "item"):
        v = v.item()
        if isinstance(v, float) and math.isnan(v):
            return None
    return v


def _read(root: Path, table: str) -> pd.DataFrame | None:
    f = root / f"{table}.parquet"
    return pd.read_parquet(f) if f.exists() else None


def _end_of_run(tables: dict[str, pd.DataFrame]) -> float:
    ends = [float(t[c].max()) for t in tables.values() for c in ("end_s", "time_s", "first_token_s")
            if c in t.columns and len(t) and pd.notna(t[c].max())]
    return max(ends) if ends else 0.0


def _instances(tr: _Trace, steps: pd.DataFrame | None, coll: pd.DataFrame | None, kind: str) -> None:
    insts = sorted((set(steps["instance"]) if steps is not None else set())
                   | (set(coll["instance"]) if coll is not None else set()))
    for inst in insts:
        pid = tr.pid(f"{kind} instance {int(inst)}", kind, int(inst))
        tid = 0
        if steps is not None:
            s = steps[steps["instance"] == inst]
            layer = ("L" + s["layer"].astype(str) + " ") if "layer" in s.columns else ""
            name = (layer + s["kind"].astype(str) if "kind" in s.columns
                    else "decode step, batch " + s["batch"].astype(str) if "batch" in s.columns
                    else pd.Series("step", index=s.index))
            args = [c for c in ("batch_id", "layer", "kind", "tokens", "batch", "total_context", "waiting")
                    if c in s.columns]
            tid = tr.spans(pid, "compute", s, name, "compute", args, tid)
        if coll is not None:
            c = coll[coll["instance"] == inst]
            tr.spans(pid, "collectives", c, "L" + c["layer"].astype(str) + " " + c["kind"].astype(str),
                     "collective", ["collective_id", "batch_id", "layer", "kind", "bytes", "transfers"], tid)


def build_trace(root: str | Path) -> dict[str, Any]:
    """The Chrome trace (a dict ready for ``json.dump``) of one run directory."""
    from ..config import ConfigError
    from .ports import paused_intervals, port_peers

    root = Path(root)
    if not root.is_dir():
        raise ConfigError(f"{root}: not a directory")
    names = ("steps", "collectives", "decode_steps", "flows", "requests", "pfc")
    tables = {n: t for n in names if (t := _read(root, n)) is not None}
    if not tables:
        raise ConfigError(f"{root}: no run tables ({', '.join(f'{n}.parquet' for n in names)}); "
                          "give one run directory (e.g. DIR/runs/<run_id>)")
    end = _end_of_run(tables)
    tr = _Trace()
    _instances(tr, tables.get("steps"), tables.get("collectives"), "prefill")
    if (dec := tables.get("decode_steps")) is not None and {"start_s", "end_s", "instance"} <= set(dec.columns):
        _instances(tr, dec, None, "decode")
    if (flows := tables.get("flows")) is not None and len(flows):
        flows = flows.assign(end_s=flows["end_s"].fillna(end))
        for c in ("flow_id", "src", "dst", "priority", "final_priority"):
            if c in flows.columns:
                flows[c] = flows[c].astype("Int64")
        stage = flows["stage"].astype(str) if "stage" in flows.columns else pd.Series("", index=flows.index)
        known = [s for s in STAGE_ORDER if s in set(stage)] + sorted(set(stage) - set(STAGE_ORDER))
        for i, st in enumerate(known):
            f = flows[stage == st]
            pid = tr.pid(f"flows: {st}" if st else "flows", "flows", i)
            if {"src_gpu", "dst_gpu"} <= set(f.columns):
                src = f["src_gpu"].map(lambda g: "store" if pd.isna(g) or g < 0 else f"gpu{int(g)}")
                label = src + "→gpu" + f["dst_gpu"].astype("Int64").astype(str)
            else:
                label = "nic" + f["src"].astype("Int64").astype(str) + "→nic" + f["dst"].astype("Int64").astype(str)
            if "layer" in f.columns:
                label = "L" + f["layer"].astype(str) + " " + label
            args = [c for c in ("flow_id", "request_id", "batch_id", "layer", "bytes", "priority", "final_priority",
                                "fct_s", "slowdown", "path", "completed") if c in f.columns]
            tr.spans(pid, st or "flows", f, label, f"flow.{st}" if st else "flow", args)
    if (req := tables.get("requests")) is not None and len(req) and "arrival_s" in req.columns:
        r = req.assign(start_s=req["arrival_s"], end_s=req["first_token_s"].fillna(end))
        tr.spans(tr.pid("requests", "requests"), "requests", r, "request " + r["request_id"].astype(str),
                 "request", [c for c in ("request_id", "input_tokens", "instance", "ttft_s", "slo_met")
                             if c in r.columns])
    if (pfc := tables.get("pfc")) is not None and len(pfc):
        spans = paused_intervals(pfc, port_peers(root))
        if len(spans):
            pid = tr.pid("PFC pauses", "pfc")
            for tid, (queue, s) in enumerate(spans.groupby("queue", sort=False)):
                tr.thread(pid, tid, queue)
                for a, b in zip(s["start_s"], s["end_s"]):
                    tr.events.append(dict(ph="X", name="paused", cat="pfc", pid=pid, tid=tid, ts=a * US,
                                          dur=(b - a) * US, args=dict(queue=queue)))
    return dict(traceEvents=tr.events, displayTimeUnit="ns",
                otherData=dict(source=str(root.resolve()), time="simulated time, microseconds"))


def write_trace(root: str | Path, out: str | Path | None = None) -> Path:
    """``ns3-mfs trace``: write ``trace.json`` (default ``DIR/trace.json``); returns its path."""
    from ..store import write_atomic

    trace = build_trace(root)
    path = Path(out) if out is not None else Path(root) / "trace.json"
    write_atomic(path, json.dumps(trace, separators=(",", ":"), allow_nan=False).encode())
    return path
