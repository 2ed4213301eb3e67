"""The serving engine: prefill instances run batches as DAGs of compute steps and flows; decode follows.

Per batch and layer ``l`` (docs/explanation/policies.md):

1. **KV fetch** (stage 1): the reused prefix KV of layer ``l`` comes from the
   KV-store NICs holding its blocks; it starts when layer ``l-1``'s attention
   starts (overlapping its compute) and layer ``l``'s attention waits for it.
2. **Attention** compute, then (TP > 1) a ring all-reduce in each TP group.
3. **P2D** (stage 3): the layer's new KV cache goes to the decode instance; it
   does not block prefill, but the first token waits for the last one.
4. MoE layers: **dispatch** all-to-all, **expert** compute, **combine**
   all-to-all (stage 2), then (TP > 1) a second all-reduce. The next layer's
   attention waits for the combine.

Each step starts when its dependencies finish, driven by the transport's
completion callbacks and the clock's timers (:mod:`.transport`). Transfers
between GPUs of one server do not enter the network: they take
``bytes / intra_server_gbps`` and are recorded with ``path = "intra_server"``.
The parts: :mod:`.kv_cache` (KV store and per-instance prefix caches),
:mod:`.transport` (moving bytes), :mod:`.collectives` (all-to-all, all-reduce,
P2D targets), :mod:`.recorder` (flow records and result tables).

Above the network (issue 7):

* **Dispatch** (``serving.dispatch``, :mod:`.dispatch`): the prefill instance
  of an arriving request (``round_robin`` or ``load_aware``). Every instance
  keeps an LRU of the prefix blocks it computed (capacity: its free KV
  memory); with ``serving.local_prefix_cache`` those blocks are not fetched
  from the KV store again.
* **Queue policy** (``serving.queue_policy``, :mod:`.queueing`): the order of
  the waiting requests when a batch is formed; started (chunked) requests
  keep going first.
* **Expert routing and placement** (``serving.routing``/``placement``,
  :mod:`.routing`, :mod:`.placement`): the all-to-all matrix per instance and
  layer; expert compute follows the GPU receiving the most tokens.
* **Decode** (``[serving.decode]``, :mod:`.decode`): P2D goes to the
  request's decode group; after the first token the request joins continuous
  batching on its decode instance.
"""


from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

import numpy as np
import pandas as pd

from ..fabric.result import FabricResult
from ..policies import BatchPlan, BatchRequest, Policy
from . import dispatch, queueing
from .cluster import Instance, Layout, build_layout
from .collectives import Collectives
from .config import ServingConfig
from .decode import DecodeSetup, DecodeSide
from .diagnostics import add_flow_columns
from .dispatch import InstanceView
from .kv_cache import KvCache
from .queueing import QueueContext
from .recorder import STAGES, Recorder
from .requests import Request
from .traffic import request_ports
from .transport import Clock, IntraServerTransport, Join, Transfers

__all__ = ["STAGES", "Batch", "PrefillEngine", "ReqState", "ServingEngine", "ServingSetup"]


@dataclass
class ReqState:
    req: Request
    instance: int
    cached_tokens: int
    cached_blocks: tuple[int, ...]
    remaining: int
    computed: int = 0
    prefill_start_s: float = float("nan")
    prefill_end_s: float = float("nan")
    p2d_pending: int = 0
    p2d_end_s: float = float("nan")
    group: int = 0
    first_token_s: float = float("nan")
    local_blocks: frozenset = frozenset()   #: cached blocks the instance holds itself (not fetched)
    decode_group: int = -1                  #: decode attention group (set when prefill starts)
    prefetch: Optional[Join] = None         #: kv_prefetch_queued: the fetch of all layers while queued
    upload_pending: int = 0                 #: dedicated KV store: uploads of its new blocks in flight
    stored: bool = False                    #: its blocks are in the dedicated KV store


@dataclass
class Batch:
    id: int
    instance: Instance
    items: list[tuple[ReqState, int, int]]  # (request, tokens in this chunk, context before it)
    fetch: dict[int, Join] = field(default_factory=dict)
    start_s: float = 0.0
    group_tokens: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.group_tokens = [0] * len(self.instance.groups)

    @property
    def tokens(self) -> int:
        return sum(t for _, t, _ in self.items)


class ServingEngine:
    """Runs requests through the prefill instances and the decode side on a :class:`Clock`.

    Network flows go through ``policy`` (which starts them on its
    :class:`~ns3_mfs.fabric.transport.Transport`); the engine itself only
    reads the time and schedules callbacks on ``clock``.
    """

    def __init__(self, clock: Clock, layout: Layout, model, compute, cfg: ServingConfig, policy: Policy,
                 deadlines: Optional[dict[int, float]] = None, decode: Optional[DecodeSetup] = None,
                 block_tokens: Optional[int] = None):
        self.clock, self.layout, self.model, self.compute, self.cfg = clock, layout, model, compute, cfg
        self.policy = policy
        self.deadlines = deadlines or {}
        self.batch_deadlines: dict[int, list[float]] = {}
        intra_bps = (cfg.intra_server_gb_per_s * 8e9 if cfg.intra_server_gb_per_s
                     else compute.gpu.intra_server_bw_bytes_per_s * 8)
        self.queues = [deque() for _ in layout.prefill]
        self.busy = [False] * len(layout.prefill)
        self.states: dict[int, ReqState] = {}
        self.queue_policy = queueing.make(getattr(cfg, "queue_policy", "fcfs"), getattr(cfg, "queue_params", None))
        self._fcfs = self.queue_policy.name == "fcfs"
        self.dispatcher = dispatch.make(getattr(cfg, "dispatch", "round_robin"), getattr(cfg, "dispatch_params", None))
        n = len(layout.prefill)
        self.kv_capacity_tokens = max(1, compute.max_kv_tokens() * compute.dp)
        self.kv = KvCache(cfg, layout, self.kv_capacity_tokens, block_tokens)
        #: layers whose KV fetch runs ahead of the compute (1: the next layer's, during this layer's attention)
        self.prefetch_layers = int(getattr(cfg, "kv_prefetch_layers", 1))
        self.local_prefix_cache = bool(getattr(cfg, "local_prefix_cache", False)) or self.kv.pooled
        self.dp_rank_batches = getattr(cfg, "batch_scope", "instance") == "dp_rank"
        self.session_instance: dict[int, int] = {}
        self.running_tokens = [0] * n      # tokens of the batch an instance is computing
        self.inflight_tokens = [0] * n     # prompt tokens of requests on an instance, not yet prefilled
        #: (time_s, instance, batch_id, request ids in batch order) of every batch formed
        self.queue_log: list[tuple[float, int, int, tuple[int, ...]]] = []
        self.decode_setup = decode or DecodeSetup.build(cfg, model, compute.gpu, layout.decode_gpus)
        self.decode = DecodeSide(clock, self.decode_setup)
        self.recorder = Recorder()
        traffic = set(getattr(cfg, "traffic", TRAFFIC))
        stages = None if traffic == set(TRAFFIC) else {s for s, group in STAGE_TRAFFIC.items() if group in traffic}
        self.transfers = Transfers(clock, policy, layout, IntraServerTransport(clock, intra_bps), self.recorder,
                                   stages)
        self.coll = Collectives(clock, cfg, model, compute, layout, self.decode_setup, self.transfers, self.recorder)
        self.batches = 0
        self.layers = model.layers
        self.moe = {l for l in range(model.layers) if model.is_moe_layer(l)}

    # ------------------------------------------------------ records, views
    @property
    def expert_maps(self):
        """Expert placement of each instance (expert-level routing models)."""
        return self.coll.expert_maps

    @property
    def collectives(self) -> list[dict]:
        return self.recorder.collectives

    @property
    def steps(self) -> list[dict]:
        return self.recorder.steps

    @property
    def flow_meta(self) -> dict[int, tuple]:
        """Serving columns of the network flows by flow id (see :class:`.recorder.FlowRecord`)."""
        return self.recorder.flow_meta()

    def tables(self, fab: FabricResult, slo_of: np.ndarray | float) -> dict[str, pd.DataFrame]:
        """The run's result tables from the fabric's result and this engine's records."""
        tables = self.recorder.tables(fab, self.states, self.decode, slo_of)
        add_flow_columns(tables["flows"], self.policy)
        return tables

    def gpu_tokens(self, batch: Batch, layer: int) -> np.ndarray:
        return self.coll.gpu_tokens(batch, layer)

    # ----------------------------------------------------------- requests
    def submit(self, req: Request) -> None:
        self.clock.schedule(req.arrival_s, lambda: self._arrive(req))

    def instance_views(self, req: Request) -> list[InstanceView]:
        """What a dispatcher sees of every prefill instance when ``req`` arrives."""
        views = []
        for i, q in enumerate(self.queues):
            used = self.kv.held_tokens(i) + self.inflight_tokens[i]
            views.append(InstanceView(
                index=i, queued_tokens=sum(st.remaining for st in q) + self.running_tokens[i],
                kv_utilization=min(1.0, used / self.kv_capacity_tokens), prefix_blocks=self.kv.held_prefix(i, req),
                session_here=req.session is not None and self.session_instance.get(req.session) == i,
                batch_tokens=self.cfg.max_batched_tokens))
        return views

    def _arrive(self, req: Request) -> None:
        inst = self.dispatcher.choose(req, self.instance_views(req), self.clock.now)
        blocks = self.kv.cached_prefix(req)
        cached = len(blocks) * self.kv.block_tokens
        st = ReqState(req, inst, cached, blocks, remaining=req.input_tokens - cached)
        if self.local_prefix_cache:
            st.local_blocks = self.kv.local_blocks(inst, blocks)
        self.states[req.id] = st
        self.inflight_tokens[inst] += req.input_tokens
        if req.session is not None:
            self.session_instance[req.session] = inst
        self.queues[inst].append(st)
        if not self.busy[inst]:
            self._start_batch(inst)
        elif getattr(self.cfg, "kv_prefetch_queued", False):
            self._prefetch(st)

    def _prefetch(self, st: ReqState) -> None:
        """``kv_prefetch_queued``: while the request waits, its reused blocks of every layer come to the GPU of
        its instance's first attention group (one flow per source, at the lowest stage-1 level); its batch
        then finds them local, or waits for what is still in flight."""
        gpu = self.layout.prefill[st.instance].groups[0][0]
        parts = self._fetch_parts(st, gpu, self.layers)
        if not parts:
            return
        st.prefetch = join = Join(self.clock, len(parts))
        for src, dst, nbytes, rid in parts:
            self.transfers.send(src, dst, nbytes, "kv_fetch", 0, rid, -1, -1, join.done, st.instance)

    # ------------------------------------------------------- queue policy
    def predict_request_s(self, st: ReqState) -> float:
        """Predicted compute time of a request's remaining prefill alone, chunk by chunk."""
        left, ctx, total = st.remaining, st.cached_tokens + st.computed, 0.0
        inst = self.layout.prefill[st.instance]
        while left > 0:
            take = min(left, self.cfg.max_batched_tokens)
            b = Batch(-1, inst, [(st, take, ctx)])
            b.group_tokens[st.group] = take
            total += self.predict_compute_s(b)
            left -= take
            ctx += take
        return total

    def _order_queue(self, inst_idx: int) -> None:
        """Started (chunked) requests first, in their order; the waiting ones as the queue policy says."""
        q = self.queues[inst_idx]
        started = [st for st in q if not np.isnan(st.prefill_start_s)]
        waiting = [st for st in q if np.isnan(st.prefill_start_s)]
        ctx = QueueContext(self.clock.now, inst_idx, self.deadlines, self.predict_request_s,
                           ahead_s=sum(self.predict_request_s(st) for st in started))
        q.clear()
        q.extend(started + self.queue_policy.order(waiting, ctx))

    # ------------------------------------------------------------ batches
    def _start_batch(self, inst_idx: int) -> None:
        q = self.queues[inst_idx]
        if not q:
            self.busy[inst_idx] = False
            return
        self.busy[inst_idx] = True
        if not self._fcfs and len(q) > 1:
            self._order_queue(inst_idx)
        now = self.clock.now
        inst = self.layout.prefill[inst_idx]
        items = self._take_dp_ranks(q, len(inst.groups)) if self.dp_rank_batches else self._take(q)
        for st, _, _ in items:
            if np.isnan(st.prefill_start_s):
                st.prefill_start_s = now
                st.decode_group = self.decode.assign(st.req)
        batch = Batch(self.batches, inst, items, start_s=now)
        self.batches += 1
        self.queue_log.append((now, inst_idx, batch.id, tuple(st.req.id for st, _, _ in items)))
        # Data-parallel attention: a request's first chunk goes to the least loaded TP group.
        for st, take, _ in items:
            if st.computed == 0 and not self.dp_rank_batches:
                st.group = int(np.argmin(batch.group_tokens))
            batch.group_tokens[st.group] += take
        self.running_tokens[inst_idx] = batch.tokens
        self.batch_deadlines[batch.id] = [self.deadlines[st.req.id] for st, _, _ in items
                                          if st.req.id in self.deadlines]
        self.policy.batch_started(self._plan(batch))
        first = self._start_fetch(batch, 0)
        for layer in range(1, min(self.prefetch_layers, self.layers)):
            self._start_fetch(batch, layer)  # lookahead: the next layers' prefixes are on their way too
        first.then(lambda: self._attention(batch, 0))

    def _take(self, q: deque) -> list[tuple[ReqState, int, int]]:
        """One batch of the instance: ``max_batched_tokens`` from the head of its queue (chunked prefill)."""
        budget, items = self.cfg.max_batched_tokens, []
        while q and budget > 0:
            st = q[0]
            take = min(st.remaining, budget)
            items.append((st, take, st.cached_tokens + st.computed))
            st.remaining -= take
            budget -= take
            if st.remaining == 0:
                q.popleft()
        return items

    def _take_dp_ranks(self, q: deque, ranks: int) -> list[tuple[ReqState, int, int]]:
        """``batch_scope = "dp_rank"``: every data-parallel attention rank schedules ``max_batched_tokens`` of
        its own (vLLM DP + EP); a started request stays on its rank, a new one goes to the rank with the most
        room; the ranks' batches run their MoE layers in lock step as one instance batch."""
        room, items = [self.cfg.max_batched_tokens] * ranks, []
        for st in list(q):
            if max(room) <= 0:
                break
            rank = st.group if st.computed else int(np.argmax(room))
            if room[rank] <= 0:
                continue
            st.group = rank
            take = min(st.remaining, room[rank])
            items.append((st, take, st.cached_tokens + st.computed))
            st.remaining -= take
            room[rank] -= take
            if st.remaining == 0:
                q.remove(st)
        return items

    def _plan(self, batch: Batch) -> BatchPlan:
        """What the batch will send to the decode side, and when its compute should end."""
        per_token = self.model.kv_bytes_per_token_per_layer()
        reqs = []
        for st, take, _ in batch.items:
            src = batch.instance.groups[st.group][0]
            targets = self.coll.p2d_targets(st, self.p2d_tokens(st, take) * per_token)
            dst = targets[0][0]
            nbytes = sum(int(b) * self.layers for g, b in targets if not self.layout.off_fabric(src, g))
            reqs.append(BatchRequest(st.req.id, self.deadlines.get(st.req.id), nbytes,
                                     self.layout.gpu_nic[src], self.layout.gpu_nic[dst],
                                     request_ports(self, batch, st, take)))
        now = self.clock.now
        return BatchPlan(batch.id, batch.instance.index, now, now + self.predict_compute_s(batch), tuple(reqs))

    def predict_compute_s(self, batch: Batch) -> float:
        """Compute time of a batch over all layers by the compute model (no network time)."""
        att = self._attention_time(batch)
        return sum(att + self._ffn_time(batch, layer) for layer in range(self.layers))

    def _attention_time(self, batch: Batch) -> float:
        # Each group's tokens attend on average to the context before them plus
        # half of their own chunk (causal mask).
        dt = 0.0
        for g, tokens in enumerate(batch.group_tokens):
            items = [(t, c) for st, t, c in batch.items if st.group == g]
            if tokens:
                ctx = sum(t * (c + t / 2) for t, c in items) / tokens
                kv = sum(c + t for t, c in items)
                dt = max(dt, self.compute.attention_time_s(tokens, ctx, kv))
        return dt

    def _ffn_time(self, batch: Batch, layer: int) -> float:
        if layer in self.moe:
            if self.coll.uniform_routing:
                # Per GPU, for the mean group batch (uniform routing spreads tokens evenly over GPUs).
                return self.compute.expert_time_s(batch.tokens / len(batch.group_tokens))
            # Skewed routing: the layer waits for the GPU that receives the most tokens.
            return self.compute.expert_time_s(float(self.coll.gpu_tokens(batch, layer).max()))
        return self.compute.dense_ffn_time_s(max(batch.group_tokens))

    def _start_fetch(self, batch: Batch, layer: int) -> Join:
        """Stage 1 of ``layer``: prefix KV blocks from where they live (the GPU of the prefill instance that
        computed them, or a KV-store server), one flow per (request, source)."""
        parts, waits = [], []
        for st, _take, _ctx in batch.items:
            if st.computed or not st.cached_blocks:
                continue  # only the first chunk of a request needs its prefix
            if st.prefetch is not None:  # fetched while queued: wait for what is still in flight
                if st.prefetch.n:
                    waits.append(st.prefetch)
                continue
            parts += self._fetch_parts(st, batch.instance.groups[st.group][0], 1)
        join = Join(self.clock, len(parts) + len(waits))
        batch.fetch[layer] = join
        for src, gpu, nbytes, rid in parts:
            self.transfers.send(src, gpu, nbytes, "kv_fetch", layer, rid, batch.id, -1, join.done,
                                batch.instance.index)
        for w in waits:
            w.then(join.done)
        return join

    def _fetch_parts(self, st: ReqState, gpu: int, layers: int) -> list[tuple[tuple[str, int], int, int, int]]:
        """(source, GPU, bytes, request) of the reused blocks a request fetches for ``layers`` layers, one per
        source; the blocks its instance holds itself are not fetched."""
        per_token = self.model.kv_bytes_per_token_per_layer()
        by_source: dict[tuple[str, int], int] = {}
        for b in st.cached_blocks:
            if b in st.local_blocks:
                continue  # already in this instance's memory
            src = self.kv.source(st.req, b)
            by_source[src] = by_source.get(src, 0) + 1
        return [(src, gpu, n * self.kv.block_tokens * per_token * layers, st.req.id)
                for src, n in sorted(by_source.items())]

    def _attention(self, batch: Batch, layer: int) -> None:
        self.policy.layer_boundary(batch.id, batch.instance.index, layer)
        if layer + self.prefetch_layers < self.layers:
            self._start_fetch(batch, layer + self.prefetch_layers)  # overlaps this layer's compute
        self._compute(batch, layer, "attention", self._attention_time(batch),
                      lambda: self._after_attention(batch, layer))

    def _after_attention(self, batch: Batch, layer: int) -> None:
        self._p2d(batch, layer)
        if not self.kv.pooled:
            self._upload(batch, layer)
        self.coll.allreduce(batch, layer, "attn", lambda: self._ffn(batch, layer))

    def _ffn(self, batch: Batch, layer: int) -> None:
        if layer in self.moe:
            self.coll.all_to_all(batch, layer, "dispatch", lambda: self._experts(batch, layer))
        else:
            self._compute(batch, layer, "dense_ffn", self._ffn_time(batch, layer),
                          lambda: self.coll.allreduce(batch, layer, "ffn", lambda: self._layer_done(batch, layer)))

    def _experts(self, batch: Batch, layer: int) -> None:
        self._compute(
            batch, layer, "experts", self._ffn_time(batch, layer),
            lambda: self.coll.all_to_all(
                batch, layer, "combine",
                lambda: self.coll.allreduce(batch, layer, "ffn", lambda: self._layer_done(batch, layer)),
            ),
        )

    def _layer_done(self, batch: Batch, layer: int) -> None:
        if layer + 1 < self.layers:
            if batch.fetch[layer + 1].n:  # the GPU waits for the next layer's KV fetch
                self.policy.layer_waiting(batch.id, batch.instance.index, layer + 1)
            batch.fetch[layer + 1].then(lambda: self._attention(batch, layer + 1))
        else:
            self._batch_done(batch)

    def _batch_done(self, batch: Batch) -> None:
        now = self.clock.now
        self.policy.batch_done(batch.id, batch.instance.index)
        for st, take, _ in batch.items:
            st.computed += take
            if st.remaining == 0 and st.computed + st.cached_tokens >= st.req.input_tokens:
                st.prefill_end_s = now
                self._maybe_stored(st)
                self.kv.hold(st.instance, st.req.block_hashes, batch.instance.groups[st.group][0])
                self.inflight_tokens[st.instance] -= st.req.input_tokens
                self._maybe_first_token(st)
        self.running_tokens[batch.instance.index] = 0
        self._start_batch(batch.instance.index)

    def _compute(self, batch: Batch, layer: int, kind: str, dt: float, then: Callable[[], None]) -> None:
        """A compute step of ``dt`` seconds on the instance's GPUs, recorded in ``steps``."""
        t0 = self.clock.now
        self.recorder.step(batch.id, batch.instance.index, layer, kind, t0, t0 + dt, batch.tokens)
        self.clock.schedule(t0 + dt, then)

    # ------------------------------------------------------- KV-store uploads
    def _upload(self, batch: Batch, layer: int) -> None:
        """Dedicated KV store: this layer's KV of the blocks each chunk completes goes from the GPU to the
        store servers that will hold them (stage ``kv_upload``, in the background: nothing waits for it)."""
        per_token, bt = self.model.kv_bytes_per_token_per_layer(), self.kv.block_tokens
        for st, take, ctx in batch.items:
            hashes = st.req.block_hashes
            by_host: dict[int, int] = {}
            for b in hashes[max(len(st.cached_blocks), ctx // bt):min(len(hashes), (ctx + take) // bt)]:
                host = self.kv.source(st.req, b)[1]
                by_host[host] = by_host.get(host, 0) + 1
            gpu = batch.instance.groups[st.group][0]
            for host, n in sorted(by_host.items()):
                st.upload_pending += 1

                def landed(st=st) -> None:
                    st.upload_pending -= 1
                    self._maybe_stored(st)

                self.transfers.send(("gpu", gpu), -1, n * bt * per_token, "kv_upload", layer, st.req.id, batch.id,
                                    -1, landed, batch.instance.index, dst_host=host)

    def _maybe_stored(self, st: ReqState) -> None:
        """The request's blocks enter a dedicated KV store when its prefill is over and its uploads landed."""
        if not np.isnan(st.prefill_end_s) and st.upload_pending == 0 and not st.stored:
            st.stored = True
            self.kv.store(st.req.block_hashes)

    # ----------------------------------------------------------------- P2D
    def _p2d(self, batch: Batch, layer: int) -> None:
        """Stage 3 of ``layer``: each request's KV of this chunk to its decode group; with ``p2d_history =
        "full"`` the first chunk also carries the reused prefix's KV (the decode side gets the full history)."""
        per_token = self.model.kv_bytes_per_token_per_layer()
        for st, take, _ in batch.items:
            src = batch.instance.groups[st.group][0]
            rid = st.req.id
            extra = {"batch_deadlines": self.batch_deadlines[batch.id]} if batch.id in self.batch_deadlines else None
            for dst, nbytes in self.coll.p2d_targets(st, self.p2d_tokens(st, take) * per_token):
                st.p2d_pending += 1

                def landed(st=st) -> None:
                    st.p2d_pending -= 1
                    st.p2d_end_s = self.clock.now
                    self._maybe_first_token(st)

                self.transfers.send(("gpu", src), dst, nbytes, "p2d", layer, rid, batch.id, -1, landed,
                                    batch.instance.index, deadline_s=self.deadlines.get(rid), extra=extra)

    def p2d_tokens(self, st: ReqState, take: int) -> int:
        """Tokens whose KV a chunk of ``take`` tokens sends per layer: its own, plus the reused prefix on the
        first chunk with ``p2d_history = "full"``."""
        full = getattr(self.cfg, "p2d_history", "new") == "full"
        return take + (st.cached_tokens if full and st.computed == 0 else 0)

    def _maybe_first_token(self, st: ReqState) -> None:
        if not np.isnan(st.prefill_end_s) and st.p2d_pending == 0 and np.isnan(st.first_token_s):
            st.first_token_s = max(st.prefill_end_s, st.p2d_end_s if not np.isnan(st.p2d_end_s) else 0.0)
            self.decode.first_token(st.req.id, st.first_token_s)


#: The name of the engine before decode moved in with it.
PrefillEngine = ServingEngine


#: The traffic groups of ``serving.traffic`` and the flow stages of each.
TRAFFIC = ("kv_fetch", "collectives", "p2d", "kv_upload")
STAGE_TRAFFIC = {"kv_fetch": "kv_fetch", "dispatch": "collectives", "combine": "collectives",
                 "allreduce": "collectives", "p2d": "p2d", "kv_upload": "kv_upload"}

#: Tokens per KV block when neither the config nor the trace says (Mooncake's).
DEFAULT_BLOCK_TOKENS = 512


class ServingSetup:
    """The serving side of a run that does not depend on the requests, validated before simulating:
    the compute model, the cluster layout and the decode side (from a :class:`ServingConfig` and a graph)."""

    def __init__(self, cfg: ServingConfig, graph: Any):
        cfg.validate("serving")
        self.cfg = cfg
        self.compute = cfg.compute()
        self.model = self.compute.model
        self.layout = build_layout(
            graph, tp=cfg.tp, ep=cfg.ep, prefill_gpus=cfg.prefill_gpus, decode_gpus=cfg.decode_gpus,
            kv_store_servers=cfg.kv_store_servers if cfg.kv_pool == "dedicated" else 0,
            gpus_per_nic=cfg.gpus_per_nic, instance_gpus=cfg.instance_gpus,
        )
        self.decode = DecodeSetup.build(cfg, self.model, self.compute.gpu, self.layout.decode_gpus)

    def engine(self, clock: Clock, policy: Policy, deadlines: Optional[dict[int, float]] = None,
               requests: Sequence[Request] = ()) -> ServingEngine:
        """A new engine on ``clock`` (the policy's transport, usually); ``requests`` (optional) give the
        block size of their trace when ``serving.kv_block_tokens`` is not set."""
        return ServingEngine(clock, self.layout, self.model, self.compute, self.cfg, policy, deadlines,
                             decode=self.decode, block_tokens=block_tokens_of(self.cfg, requests))


def block_tokens_of(cfg: ServingConfig, requests: Sequence[Request]) -> int:
    """Tokens per KV block: ``serving.kv_block_tokens``, else the requests' trace's, else 512."""
    if cfg.kv_block_tokens is not None:
        return cfg.kv_block_tokens
    return next((r.block_tokens for r in requests if r.block_tokens), DEFAULT_BLOCK_TOKENS)
