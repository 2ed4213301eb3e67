"""Decode instances: continuous batching after the first token.

The decode GPUs (``layout.decode_gpus``) form decode instances of ``G =
max(decode.tp, decode.ep)`` consecutive GPUs, each with ``G / tp``
data-parallel attention groups of ``tp`` GPUs. A request's KV cache lives in
one group: its P2D flows go to that group's GPUs (split evenly over its TP
ranks). ``decode.dispatch`` picks the group when the request's prefill
starts: ``by_id`` (default: group ``request_id mod groups``; with tp = 1 this
is the original mapping ``decode_gpus[id mod n]``) or ``least_kv`` (the
instance with the least KV reserved relative to its capacity, then its least
loaded group).

Decode is pure discrete-event time on the fabric's event loop (no network
traffic): once the first token exists (prefill ended and the last P2D
landed) the request waits at its instance. Each *step* of an instance
produces one token for every request in its batch and takes

``step_s = a + b * batch + c * total_context``

(``total_context``: KV tokens of the batch, prompt plus generated tokens).
``a, b, c`` are given (``step_a_s``, ``step_b_s``, ``step_c_s``), fitted by
least squares to a CSV of measured ``batch,total_context,step_s``
(``calibration_csv``), or by default fitted the same way to the roofline
compute model's decode steps (:meth:`ComputeModel.decode_step_time_s`) for
the decode layout over batches 1..max_batch and contexts up to the KV
capacity. A request with ``output_tokens = n`` needs ``n - 1`` steps (the
first token comes from prefill); ``TPOT = (last token - first token) / (n -
1)``, ``e2e = last token - arrival``.

KV capacity of an instance: ``dp x`` the per-GPU KV tokens left after the
weights in ``memory_utilization`` of the GPU memory
(:meth:`ComputeModel.max_kv_tokens` for the decode TP/EP), or
``kv_capacity_tokens``. A request reserves its final context (prompt +
output tokens) when admitted, so admitted requests are never preempted; when
the reservation does not fit, arrivals wait (a request larger than the whole
cache runs alone). Policies (``decode.policy``, one file each in :mod:`.decode_batching`):

* ``continuous`` (vLLM): at every step boundary, admit waiting requests in
  arrival order while their KV fits (and the batch is under ``max_batch``),
  then step every admitted request.
* ``kairos_slack``: at every step boundary, consider the admitted and the
  waiting requests by fewest remaining output tokens and pack them greedily
  (first fit: a request that does not fit is skipped, shorter ones after it
  may still join) while KV fits and the predicted step time stays within the
  tightest TPOT SLO of the batch: a batch that would break the TPOT SLO is
  not formed. An admitted request left out keeps its KV and waits. If no
  request fits on its own, the shortest runs alone (nothing better exists).

SLOs: ``serving.tpot_slo_s``, or ``serving.tpot_slo_factor x`` the request's
unloaded TPOT (``a + b + c (prompt + output / 2)``, the mean step alone);
``serving.e2e_slo_s``, or TTFT SLO + (output - 1) x TPOT SLO.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any, Literal, Optional

import numpy as np
import pandas as pd

from ..config import ConfigError, spec
from ..csvfile import Column, read_table
from . import decode_batching as batching
from .compute import ComputeModel, load_gpu
from .models import load_model


@dataclass(frozen=True)
class DecodeConfig:
    """``[serving.decode]``: decode instances and their batching (absent: decode is not simulated)."""

    policy: str = spec("continuous", doc="decode batching policy (ns3_mfs.serving.decode_batching)")
    tp: int = spec(1, min=1, max=64, doc="attention tensor parallelism of a decode instance")
    ep: int = spec(1, min=1, max=1024, doc="expert parallelism; a decode instance has max(tp, ep) GPUs")
    dispatch: Literal["by_id", "least_kv"] = spec("by_id", doc="decode group of a request")
    max_batch: int = spec(256, min=1, doc="most requests in one decode step (vLLM max_num_seqs)")
    step_a_s: Optional[float] = spec(None, min=0.0, doc="step model: fixed seconds per step")
    step_b_s: Optional[float] = spec(None, min=0.0, doc="step model: seconds per request in the batch")
    step_c_s: Optional[float] = spec(None, min=0.0, doc="step model: seconds per KV token of the batch")
    calibration_csv: Optional[str] = spec(None, doc="CSV of measured batch,total_context,step_s to fit a, b, c")
    kv_capacity_tokens: Optional[int] = spec(None, min=1, doc="KV tokens per decode instance (default: from memory)")
    memory_utilization: float = spec(0.9, gt=0.0, max=1.0, doc="share of GPU memory for weights + KV")

    def validate(self, path: str = "") -> None:
        batching.REGISTRY.get(self.policy, f"{path + '.' if path else ''}policy")


# --------------------------------------------------------------- step model


@dataclass(frozen=True)
class StepModel:
    """``step_s = a + b * batch + c * total_context``."""

    a: float
    b: float
    c: float

    def time_s(self, batch: int, total_context: float) -> float:
        return self.a + self.b * batch + self.c * total_context


def fit_step_model(rows: np.ndarray) -> StepModel:
    """Non-negative least squares of ``step_s`` on (1, batch, total_context), relative error.

    Rows are ``(batch, total_context, step_s)``; every subset of the three
    terms is solved with ``np.linalg.lstsq`` and the best one whose
    coefficients are all >= 0 is kept (exact NNLS for three unknowns).
    """
    X = np.column_stack([np.ones(len(rows)), rows[:, 0], rows[:, 1]]) / rows[:, 2:3]
    y = np.ones(len(rows))
    best: tuple[float, np.ndarray] = (math.inf, np.zeros(3))
    for k in (3, 2, 1):
        for cols in combinations(range(3), k):
            sol, *_ = np.linalg.lstsq(X[:, cols], y, rcond=None)
            if np.any(sol < 0):
                continue
            coef = np.zeros(3)
            coef[list(cols)] = sol
            err = float(np.sum((X @ coef - y) ** 2))
            if err < best[0] - 1e-15:
                best = (err, coef)
    a, b, c = best[1]
    return StepModel(float(a), float(b), float(c))


def read_step_csv(path: Path, key: str) -> np.ndarray:
    """Rows ``(batch, total_context, step_s)`` of a calibration CSV (errors name the key, file and line)."""
    columns = (Column("batch", gt=0.0, max=1e6), Column("total_context", min=0.0, max=1e12),
               Column("step_s", gt=0.0, max=1e3))
    rows = read_table(path, columns, key=key, min_rows=3)
    return np.asarray([[r["batch"], r["total_context"], r["step_s"]] for r in rows], dtype=float)


def roofline_rows(cm: ComputeModel, capacity_tokens: int, max_batch: int) -> np.ndarray:
    """Roofline decode steps ``(batch, total_context, step_s)`` of one instance over a grid."""
    dp = cm.dp
    rows = []
    batches = sorted({min(max_batch, b) for b in (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)})
    for b in batches:
        for per_seq in (128, 512, 1024, 2048, 4096, 8192):
            ctx = b * per_seq
            if ctx > capacity_tokens:
                continue
            rows.append((b, ctx, cm.decode_step_time_s(max(1.0, b / dp), ctx / dp)))
    if len(rows) < 3:
        rows = [(b, b, cm.decode_step_time_s(max(1.0, b / dp), b / dp)) for b in (1, 2, 3, 4)]
    return np.asarray(rows, dtype=float)


# --------------------------------------------------------------- set-up


@dataclass(frozen=True)
class DecodeSetup:
    """The validated decode side: groups, instances, capacity, step model and SLO rules."""

    enabled: bool
    groups: tuple[tuple[int, ...], ...]          #: flat list of attention groups (GPU tuples)
    instance_of_group: tuple[int, ...]
    instances: int
    capacity_tokens: int
    step: StepModel
    cfg: Optional[DecodeConfig]
    tpot_slo_s: Optional[float] = None
    tpot_slo_factor: float = 3.0
    e2e_slo_s: Optional[float] = None

    @staticmethod
    def build(serving: Any, model: Any, gpu: Any, decode_gpus: tuple[int, ...]) -> "DecodeSetup":
        """From ``ServingConfig``; ConfigError names ``serving.decode.<key>``."""
        cfg: Optional[DecodeConfig] = getattr(serving, "decode", None)
        slo = dict(tpot_slo_s=getattr(serving, "tpot_slo_s", None),
                   tpot_slo_factor=getattr(serving, "tpot_slo_factor", 3.0),
                   e2e_slo_s=getattr(serving, "e2e_slo_s", None))
        if cfg is None:
            groups = tuple((g,) for g in decode_gpus)
            return DecodeSetup(False, groups, tuple(range(len(groups))), len(groups), 0, StepModel(0, 0, 0), None, **slo)
        size = max(cfg.tp, cfg.ep)
        if len(decode_gpus) % size:
            raise ConfigError(f"serving.decode_gpus: {len(decode_gpus)} is not a multiple of the decode instance "
                              f"size max(decode.tp, decode.ep) = {size}")
        try:
            cm = ComputeModel(load_model(model), load_gpu(gpu), tp=cfg.tp, ep=cfg.ep,
                              memory_utilization=cfg.memory_utilization, enforce_memory=False)
        except ConfigError as exc:
            raise ConfigError(f"serving.decode.{exc}") from None
        capacity = cfg.kv_capacity_tokens or cm.max_kv_tokens() * cm.dp
        if capacity <= 0:
            raise ConfigError(
                f"serving.decode.ep: {cm.model.name} needs {cm.weight_bytes_per_gpu() / 1e9:.1f} GB of weights per GPU "
                f"with decode TP={cfg.tp} EP={cfg.ep}, leaving no KV room on {cm.gpu.name} "
                f"({cm.usable_memory_bytes() / 1e9:.1f} GB usable); use more GPUs per decode instance "
                f"(serving.decode.tp/ep) or set serving.decode.kv_capacity_tokens")
        step = DecodeSetup._step_model(cfg, cm, capacity)
        groups, inst_of = [], []
        for i in range(len(decode_gpus) // size):
            base = decode_gpus[i * size:(i + 1) * size]
            for d in range(size // cfg.tp):
                groups.append(tuple(base[d * cfg.tp:(d + 1) * cfg.tp]))
                inst_of.append(i)
        return DecodeSetup(True, tuple(groups), tuple(inst_of), len(decode_gpus) // size, capacity, step, cfg, **slo)

    @staticmethod
    def _step_model(cfg: DecodeConfig, cm: ComputeModel, capacity: int) -> StepModel:
        given = (cfg.step_a_s, cfg.step_b_s, cfg.step_c_s)
        if cfg.calibration_csv is not None:
            if any(v is not None for v in given):
                raise ConfigError("serving.decode.calibration_csv: give a calibration CSV or step_a_s/b/c, not both")
            return fit_step_model(read_step_csv(Path(cfg.calibration_csv), "serving.decode.calibration_csv"))
        fitted = fit_step_model(roofline_rows(cm, capacity, cfg.max_batch))
        return StepModel(*(g if g is not None else f for g, f in zip(given, (fitted.a, fitted.b, fitted.c))))

    # ------------------------------------------------------------- SLOs
    def tpot_slo(self, input_tokens: int, output_tokens: int) -> float:
        """Per-request TPOT SLO (absolute, or factor x unloaded TPOT)."""
        if self.tpot_slo_s is not None:
            return self.tpot_slo_s
        return self.tpot_slo_factor * self.step.time_s(1, input_tokens + output_tokens / 2)

    def e2e_slo(self, ttft_slo: float, input_tokens: int, output_tokens: int) -> float:
        """Per-request end-to-end SLO (absolute, or TTFT SLO + (n-1) x TPOT SLO)."""
        if self.e2e_slo_s is not None:
            return self.e2e_slo_s
        return ttft_slo + max(0, output_tokens - 1) * self.tpot_slo(input_tokens, output_tokens)


# --------------------------------------------------------------- runtime


@dataclass
class DecodeReq:
    id: int
    arrival_s: float
    input_tokens: int
    output_tokens: int
    group: int
    instance: int
    tpot_slo_s: float
    generated: int = 0              #: tokens produced so far (the first comes from prefill)
    first_token_s: float = float("nan")
    decode_start_s: float = float("nan")
    last_token_s: float = float("nan")
    admitted: bool = False
    steps: int = 0

    @property
    def need(self) -> int:
        """KV tokens reserved on admission: the final context."""
        return self.input_tokens + self.output_tokens

    @property
    def context(self) -> int:
        return self.input_tokens + self.generated

    @property
    def left(self) -> int:
        return self.output_tokens - self.generated


@dataclass
class _Instance:
    index: int
    waiting: deque = field(default_factory=deque)
    admitted: list = field(default_factory=list)
    reserved: int = 0       #: KV tokens reserved by admitted requests
    planned: int = 0        #: KV tokens of every request assigned here and not finished (least_kv)
    busy: bool = False


class DecodeSide:
    """Continuous batching on the decode instances, driven by a clock's ``schedule``."""

    def __init__(self, clock: Any, setup: DecodeSetup):
        self.clock = clock
        self.setup = setup
        self.cfg = setup.cfg
        self.step_model = setup.step
        self.insts = [_Instance(i) for i in range(setup.instances)]
        self.batching = batching.REGISTRY[self.cfg.policy]() if self.cfg is not None else None
        self.reqs: dict[int, DecodeReq] = {}
        self.group_load = [0] * len(setup.groups)
        self.steps: list[dict] = []
        #: (time_s, instance, request ids of the step's batch) of every step
        self.log: list[tuple[float, int, tuple[int, ...]]] = []

    # ------------------------------------------------------------ routing
    def assign(self, req: Any) -> int:
        """Decode group of a request (called when its prefill starts)."""
        s = self.setup
        if self.cfg is None or self.cfg.dispatch == "by_id":
            g = req.id % len(s.groups)
        else:
            inst = min(self.insts, key=lambda i: (i.planned / max(1, s.capacity_tokens), i.index)).index
            g = min((k for k in range(len(s.groups)) if s.instance_of_group[k] == inst),
                    key=lambda k: (self.group_load[k], k))
        if s.enabled:
            i = s.instance_of_group[g]
            self.insts[i].planned += req.input_tokens + req.output_tokens
            self.group_load[g] += req.input_tokens + req.output_tokens
            self.reqs[req.id] = DecodeReq(req.id, req.arrival_s, req.input_tokens, req.output_tokens, g, i,
                                          s.tpot_slo(req.input_tokens, req.output_tokens))
        return g

    # ------------------------------------------------------------ events
    def first_token(self, req_id: int, t: float) -> None:
        """The request's first token exists at ``t`` (now): it joins its instance."""
        r = self.reqs.get(req_id)
        if r is None:
            return
        r.first_token_s = r.last_token_s = t
        r.generated = 1
        if r.left <= 0:
            self._finish(r)
            return
        inst = self.insts[r.instance]
        inst.waiting.append(r)
        if not inst.busy:
            self._step(inst)

    def _finish(self, r: DecodeReq) -> None:
        inst = self.insts[r.instance]
        inst.planned -= r.need
        self.group_load[r.group] -= r.need
        if r.admitted:
            inst.reserved -= r.need
            inst.admitted.remove(r)

    def admit(self, inst: _Instance, r: DecodeReq) -> None:
        """Admit a waiting request to its instance (reserving its final context's KV)."""
        inst.waiting.remove(r)
        inst.admitted.append(r)
        inst.reserved += r.need
        r.admitted = True

    def fits(self, inst: _Instance, r: DecodeReq) -> bool:
        """Whether ``r`` can be in the next step: admitted, or its KV fits, or the instance is empty."""
        return r.admitted or inst.reserved + r.need <= self.setup.capacity_tokens or not inst.admitted

    def _step(self, inst: _Instance) -> None:
        batch = self.batching.form(self, inst)
        if not batch:
            inst.busy = False
            return
        inst.busy = True
        t0 = self.clock.now
        ctx = sum(r.context for r in batch)
        dt = self.step_model.time_s(len(batch), ctx)
        for r in batch:
            if math.isnan(r.decode_start_s):
                r.decode_start_s = t0
        self.log.append((t0, inst.index, tuple(r.id for r in batch)))
        self.steps.append(dict(instance=inst.index, start_s=t0, end_s=t0 + dt, batch=len(batch),
                               total_context=ctx, step_s=dt, waiting=len(inst.waiting)))
        self.clock.schedule(t0 + dt, lambda: self._step_done(inst, batch))

    def _step_done(self, inst: _Instance, batch: list[DecodeReq]) -> None:
        now = self.clock.now
        for r in batch:
            r.generated += 1
            r.steps += 1
            r.last_token_s = now
            if r.left <= 0:
                self._finish(r)
        self._step(inst)

    # ------------------------------------------------------------ results
    def request_rows(self) -> dict[int, dict]:
        """Per request: decode columns of ``requests.parquet``."""
        out = {}
        for rid, r in self.reqs.items():
            done = r.generated >= r.output_tokens
            end = r.last_token_s if done else float("nan")
            tpot = (end - r.first_token_s) / (r.output_tokens - 1) if done and r.output_tokens > 1 else float("nan")
            out[rid] = dict(decode_instance=r.instance, decode_group=r.group, decode_start_s=r.decode_start_s,
                            decode_end_s=end, tokens=r.generated, tpot_s=tpot, e2e_s=end - r.arrival_s,
                            tpot_slo_s=r.tpot_slo_s)
        return out


# --------------------------------------------------------------- tables

DECODE_COLUMNS = ("decode_instance", "decode_group", "decode_start_s", "decode_end_s", "tokens", "tpot_s", "e2e_s",
                  "tpot_slo_s")


def add_decode_columns(req: pd.DataFrame, side: DecodeSide) -> pd.DataFrame:
    """``requests`` table plus the decode columns and SLO checks (NaN / False without decode).

    ``e2e_slo_s`` follows :meth:`DecodeSetup.e2e_slo` from the request's TTFT
    SLO (``slo_s``); ``tpot_slo_met`` is False for unfinished requests and NaN-free.
    """
    rows = side.request_rows()
    extra = pd.DataFrame([rows.get(int(rid), {}) for rid in req["request_id"]], columns=list(DECODE_COLUMNS),
                         index=req.index, dtype=float)
    for col in ("decode_instance", "decode_group", "tokens"):
        extra[col] = extra[col].astype("Int64")
    req = pd.concat([req, extra], axis=1)
    setup = side.setup
    if setup.enabled:
        req["e2e_slo_s"] = [setup.e2e_slo(float(s), int(i), int(o)) for s, i, o in
                            zip(req["slo_s"], req["input_tokens"], req["output_tokens"])]
    else:
        req["e2e_slo_s"] = float("nan")
    req["tpot_slo_met"] = (req["tpot_s"] <= req["tpot_slo_s"]) | ((req["output_tokens"] <= 1) & req["e2e_s"].notna())
    req["e2e_slo_met"] = req["e2e_s"] <= req["e2e_slo_s"]
    return req


def steps_table(side: DecodeSide) -> pd.DataFrame:
    """One row per decode step: ``instance, start_s, end_s, batch, total_context, step_s, waiting``."""
    return pd.DataFrame(side.steps, columns=["instance", "start_s", "end_s", "batch", "total_context", "step_s",
                                             "waiting"])


def decode_summary(req: pd.DataFrame, steps: Optional[pd.DataFrame]) -> dict[str, float]:
    """``summary.json`` decode keys (NaN when decode is not simulated).

    TPOT attainment counts requests with more than one output token;
    ``decode_tokens_per_s`` is the tokens made by decode steps over the span
    from the first step's start to the last step's end.
    """
    nan = float("nan")
    if steps is None:
        return dict(tpot_slo_attainment=nan, e2e_slo_attainment=nan, decode_tokens_per_s=nan, tpot_mean_s=nan,
                    tpot_p99_s=nan, e2e_mean_s=nan, e2e_p99_s=nan)
    multi = req[req["output_tokens"] > 1]
    tpot, e2e = req["tpot_s"].dropna(), req["e2e_s"].dropna()
    span = float(steps["end_s"].max() - steps["start_s"].min()) if len(steps) else 0.0
    q = lambda s, p: float(s.quantile(p)) if len(s) else nan  # noqa: E731
    return dict(
        tpot_slo_attainment=float(multi["tpot_slo_met"].mean()) if len(multi) else nan,
        e2e_slo_attainment=float(req["e2e_slo_met"].mean()) if len(req) else nan,
        decode_tokens_per_s=float(steps["batch"].sum()) / span if span > 0 else nan,
        tpot_mean_s=float(tpot.mean()) if len(tpot) else nan,
        tpot_p99_s=q(tpot, 0.99),
        e2e_mean_s=float(e2e.mean()) if len(e2e) else nan,
        e2e_p99_s=q(e2e, 0.99),
    )
