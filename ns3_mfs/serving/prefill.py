"""Prefill instances on the fabric: batches as DAGs of compute steps and flows.

Per batch and layer ``l`` (DESIGN.md section 1):

1. **KV fetch** (stage 1): the reused prefix KV of layer ``l`` comes from the
   KV-store NICs holding its blocks; it starts when layer ``l-1``'s attention
   starts (overlapping its compute) and layer ``l``'s attention waits for it.
2. **Attention** compute, then (TP > 1) a ring all-reduce in each TP group.
3. **P2D** (stage 3): the layer's new KV cache goes to the decode instance; it
   does not block prefill, but the first token waits for the last one.
4. MoE layers: **dispatch** all-to-all, **expert** compute, **combine**
   all-to-all (stage 2), then (TP > 1) a second all-reduce. The next layer's
   attention waits for the combine.

Each step starts when its dependencies finish, driven by the fabric's
completion callbacks and timers. Transfers between GPUs of one server do not
enter the network: they take ``bytes / intra_server_gbps`` and are recorded
with ``path = "intra_server"``.

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

from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from ..fabric.network import Network
from ..policies import BatchPlan, BatchRequest, FlowInfo, Policy
from . import dispatch, queueing, routing
from .cluster import Instance, Layout
from .decode import DecodeSetup, DecodeSide
from .dispatch import InstanceView
from .placement import ExpertMap, check_params as check_placement, place
from .queueing import QueueContext
from .requests import Request

STAGES = {"kv_fetch": 1, "dispatch": 2, "combine": 2, "allreduce": 2, "p2d": 3}


def _lru_add(lru: "OrderedDict[int, None]", blocks: tuple[int, ...], capacity: Optional[int]) -> None:
    """Add (or refresh) blocks in an LRU set, evicting the least recently used beyond ``capacity``."""
    for b in blocks:
        lru[b] = None
        lru.move_to_end(b)
    while capacity is not None and len(lru) > capacity:
        lru.popitem(last=False)


class Join:
    """Waits for ``n`` parts; ``then(fn)`` runs fn when all are done (as an event if already done)."""

    def __init__(self, net: Network, n: int):
        self.net, self.n = net, n
        self.fn: Optional[Callable[[], None]] = None

    def then(self, fn: Callable[[], None]) -> None:
        if self.n == 0:
            self.net.schedule(self.net.now, fn)
        else:
            self.fn = fn

    def done(self, *_: object) -> None:
        self.n -= 1
        if self.n == 0 and self.fn is not None:
            self.fn()


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


class PrefillEngine:
    """Runs requests through prefill instances on a :class:`Network`."""

    def __init__(self, net: Network, layout: Layout, model, compute, cfg, policy: Policy,
                 deadlines: Optional[dict[int, float]] = None, decode: Optional[DecodeSetup] = None):
        self.net, self.layout, self.model, self.compute, self.cfg = net, layout, model, compute, cfg
        self.policy = policy
        self.deadlines = deadlines or {}
        self.batch_deadlines: dict[int, list[float]] = {}
        self.intra_bps = (cfg.intra_server_gb_per_s * 8e9 if cfg.intra_server_gb_per_s
                          else compute.gpu.intra_server_bw_bytes_per_s * 8)
        self.queues = [deque() for _ in layout.prefill]
        self.busy = [False] * len(layout.prefill)
        self.states: dict[int, ReqState] = {}
        self.kv_store: "OrderedDict[int, None]" = OrderedDict()  # LRU of computed prefix blocks
        self._setup_routing(cfg)
        self.queue_policy = queueing.make(getattr(cfg, "queue_policy", "fcfs"), getattr(cfg, "queue_params", None))
        self._fcfs = self.queue_policy.name == "fcfs"
        self.dispatcher = dispatch.make(getattr(cfg, "dispatch", "round_robin"), getattr(cfg, "dispatch_params", None))
        self.local_prefix_cache = bool(getattr(cfg, "local_prefix_cache", False))
        n = len(layout.prefill)
        self.kv_capacity_tokens = max(1, compute.max_kv_tokens() * compute.dp)
        self.held: list[OrderedDict[int, None]] = [OrderedDict() for _ in range(n)]  # prefix blocks per instance
        self.session_instance: dict[int, int] = {}
        self.running_tokens = [0] * n      # tokens of the batch an instance is computing
        self.inflight_tokens = [0] * n     # prompt tokens of requests on an instance, not yet prefilled
        #: (time_s, instance, batch_id, request ids in batch order) of every batch formed
        self.queue_log: list[tuple[float, int, int, tuple[int, ...]]] = []
        self.decode_setup = decode or DecodeSetup.build(cfg, model, compute.gpu, layout.decode_gpus)
        self.decode = DecodeSide(net, self.decode_setup)
        self.flow_meta: dict[int, tuple] = {}
        self.intra: list[dict] = []
        self.collectives: list[dict] = []
        self.steps: list[dict] = []
        self.batches = 0
        self._rr = 0
        self.layers = model.layers
        self.moe = {l for l in range(model.layers) if model.is_moe_layer(l)}

    # ------------------------------------------------------------ routing
    def _setup_routing(self, cfg) -> None:
        """GPU-level routing model, or an expert-level model with a placement per instance."""
        name = cfg.routing
        params = getattr(cfg, "routing_params", None)
        self.uniform_routing = name == "uniform"
        self.expert_maps: dict[int, ExpertMap] = {}
        m = self.model
        model = routing.make(name, params, m.experts, m.layers)
        if not isinstance(model, routing.ExpertRouting):
            self._shares = lambda inst, layer: model.shares(len(inst.gpus), layer)
            return
        self.expert_routing = model
        pname = getattr(cfg, "placement", "contiguous")
        pparams = check_placement(pname, getattr(cfg, "placement_params", None))
        ep = self.compute.ep
        for inst in self.layout.prefill:
            gpus = inst.gpus
            per = len(gpus) // ep
            group_gpus = [gpus[g * per:(g + 1) * per] for g in range(ep)]
            groups = place(pname, pparams, self.expert_routing, ep, group_gpus, self.layout.gpu_nic)
            self.expert_maps[inst.index] = ExpertMap(self.expert_routing, groups, len(gpus), ep)
        self._shares = lambda inst, layer: self.expert_maps[inst.index].shares(layer)

    def gpu_tokens(self, batch: "Batch", layer: int) -> np.ndarray:
        """Expert-input tokens (token-expert pairs / top_k x tp) each GPU of the instance receives."""
        inst = batch.instance
        tp = inst.tp
        owned = np.array([batch.group_tokens[i // tp] / tp for i in range(len(inst.gpus))])
        return tp * owned @ self._shares(inst, layer)

    # ---------------------------------------------------------- transfers
    def transfer(self, src_gpu_or_host: tuple[str, int], dst_gpu: int, nbytes: int, stage: str,
                 layer: int, request: int, batch: int, collective: int, on_done: Callable[[], None],
                 instance: int = 0) -> None:
        """Move bytes from a GPU (or a KV-store host) to a GPU: network flow or intra-server copy."""
        kind, src = src_gpu_or_host
        if nbytes <= 0:
            self.net.schedule(self.net.now, on_done)
            return
        if kind == "gpu" and self.layout.same_server(src, dst_gpu):
            t0 = self.net.now
            dt = nbytes * 8 / self.intra_bps
            self.intra.append(dict(stage=stage, layer=layer, request_id=request, batch_id=batch,
                                   collective_id=collective, bytes=nbytes, start_s=t0, end_s=t0 + dt,
                                   src_gpu=src, dst_gpu=dst_gpu))
            self.net.schedule(t0 + dt, on_done)
            return
        src_host = self.layout.gpu_nic[src] if kind == "gpu" else src
        dst_host = self.layout.gpu_nic[dst_gpu]
        info = FlowInfo(src_host, dst_host, int(nbytes), stage, layer, request, batch, instance,
                        deadline_s=self.deadlines.get(request) if stage == "p2d" else None)
        if stage == "p2d" and batch in self.batch_deadlines:
            info.extra["batch_deadlines"] = self.batch_deadlines[batch]
        flow = self.policy.start(info, on_done=lambda _f: on_done())
        self.flow_meta[flow.id] = (stage, layer, request, batch, collective,
                                   src if kind == "gpu" else -1, dst_gpu)

    # ----------------------------------------------------------- requests
    def submit(self, req: Request) -> None:
        self.net.schedule(req.arrival_s, lambda: self._arrive(req))

    def _cached_prefix(self, req: Request) -> tuple[int, ...]:
        blocks = []
        for b in req.block_hashes:
            if b not in self.kv_store:
                break
            self.kv_store.move_to_end(b)  # a hit refreshes the block
            blocks.append(b)
        # At least one token is always computed (the last one produces the first token).
        max_blocks = max(0, (req.input_tokens - 1) // self.cfg.kv_block_tokens)
        return tuple(blocks[:max_blocks])

    def _store(self, blocks: tuple[int, ...]) -> None:
        """Keep a request's prefix blocks in the KV store, evicting the least recently used."""
        _lru_add(self.kv_store, blocks, self.cfg.kv_store_capacity_blocks)

    def _kv_host(self, req: Request, block: int) -> int:
        """KV-store NIC of a block: by block id, or all of a session's blocks together."""
        if self.cfg.kv_placement == "session" and req.block_hashes:
            return self.layout.kv_host_for_block(req.block_hashes[0])
        return self.layout.kv_host_for_block(block)

    def instance_views(self, req: Request) -> list[InstanceView]:
        """What a dispatcher sees of every prefill instance when ``req`` arrives."""
        views = []
        bt = self.cfg.kv_block_tokens
        for i, q in enumerate(self.queues):
            held = self.held[i]
            prefix = 0
            for b in req.block_hashes:
                if b not in held:
                    break
                prefix += 1
            used = len(held) * bt + self.inflight_tokens[i]
            views.append(InstanceView(
                index=i, queued_tokens=sum(st.remaining for st in q) + self.running_tokens[i],
                kv_utilization=min(1.0, used / self.kv_capacity_tokens), prefix_blocks=prefix,
                session_here=req.session is not None and self.session_instance.get(req.session) == i,
                batch_tokens=self.cfg.max_batched_tokens))
        return views

    def _arrive(self, req: Request) -> None:
        inst = self.dispatcher.choose(req, self.instance_views(req), self.net.now)
        blocks = self._cached_prefix(req)
        cached = len(blocks) * self.cfg.kv_block_tokens
        st = ReqState(req, inst, cached, blocks, remaining=req.input_tokens - cached)
        if self.local_prefix_cache:
            st.local_blocks = frozenset(b for b in blocks if b in self.held[inst])
        self.states[req.id] = st
        self.inflight_tokens[inst] += req.input_tokens
        if req.session is not None:
            self.session_instance[req.session] = inst
        self.queues[inst].append(st)
        if not self.busy[inst]:
            self._start_batch(inst)

    def _hold(self, inst: int, blocks: tuple[int, ...]) -> None:
        """The instance now holds these prefix blocks (LRU within its KV capacity)."""
        _lru_add(self.held[inst], blocks, self.kv_capacity_tokens // self.cfg.kv_block_tokens)

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
        ctx = QueueContext(self.net.now, inst_idx, self.deadlines, self.predict_request_s,
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
        budget = self.cfg.max_batched_tokens
        items = []
        while q and budget > 0:
            st = q[0]
            take = min(st.remaining, budget)
            items.append((st, take, st.cached_tokens + st.computed))
            if np.isnan(st.prefill_start_s):
                st.prefill_start_s = self.net.now
                st.decode_group = self.decode.assign(st.req)
            st.remaining -= take
            budget -= take
            if st.remaining == 0:
                q.popleft()
        inst = self.layout.prefill[inst_idx]
        batch = Batch(self.batches, inst, items, start_s=self.net.now)
        self.batches += 1
        self.running_tokens[inst_idx] = batch.tokens
        self.queue_log.append((self.net.now, inst_idx, batch.id, tuple(st.req.id for st, _, _ in items)))
        # Data-parallel attention: a request's first chunk goes to the least loaded TP group.
        for st, take, _ in items:
            if st.computed == 0:
                st.group = int(np.argmin(batch.group_tokens))
            batch.group_tokens[st.group] += take
        self.batch_deadlines[batch.id] = [self.deadlines[st.req.id] for st, _, _ in items
                                          if st.req.id in self.deadlines]
        self.policy.batch_started(self._plan(batch))
        self._start_fetch(batch, 0).then(lambda: self._attention(batch, 0))

    def _plan(self, batch: Batch) -> BatchPlan:
        """What the batch will send to the decode side, and when its compute should end."""
        per_token = self.model.kv_bytes_per_token_per_layer()
        reqs = []
        for st, take, _ in batch.items:
            src = batch.instance.groups[st.group][0]
            targets = self._p2d_targets(st, take * per_token)
            dst = targets[0][0]
            nbytes = sum(int(b) * self.layers for g, b in targets if not self.layout.same_server(src, g))
            reqs.append(BatchRequest(st.req.id, self.deadlines.get(st.req.id), nbytes,
                                     self.layout.gpu_nic[src], self.layout.gpu_nic[dst]))
        return BatchPlan(batch.id, batch.instance.index, self.net.now,
                         self.net.now + self.predict_compute_s(batch), tuple(reqs))

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
            if self.uniform_routing:
                # Per GPU, for the mean group batch (uniform routing spreads tokens evenly over GPUs).
                return self.compute.expert_time_s(batch.tokens / len(batch.group_tokens))
            # Skewed routing: the layer waits for the GPU that receives the most tokens.
            return self.compute.expert_time_s(float(self.gpu_tokens(batch, layer).max()))
        return self.compute.dense_ffn_time_s(max(batch.group_tokens))

    def _start_fetch(self, batch: Batch, layer: int) -> Join:
        """Stage 1 of ``layer``: prefix KV blocks from the KV store, per (request, store host)."""
        per_token = self.model.kv_bytes_per_token_per_layer()
        parts = []
        for st, _take, _ctx in batch.items:
            if st.computed or not st.cached_blocks:
                continue  # only the first chunk of a request needs its prefix
            by_host: dict[int, int] = {}
            for b in st.cached_blocks:
                if b in st.local_blocks:
                    continue  # already in this instance's memory
                h = self._kv_host(st.req, b)
                by_host[h] = by_host.get(h, 0) + 1
            gpu = batch.instance.groups[st.group][0]
            for host, nblocks in sorted(by_host.items()):
                parts.append((host, gpu, nblocks * self.cfg.kv_block_tokens * per_token, st.req.id))
        join = Join(self.net, len(parts))
        batch.fetch[layer] = join
        for host, gpu, nbytes, rid in parts:
            self.transfer(("host", host), gpu, nbytes, "kv_fetch", layer, rid, batch.id, -1, join.done,
                          batch.instance.index)
        return join

    def _attention(self, batch: Batch, layer: int) -> None:
        self.policy.layer_boundary(batch.id, batch.instance.index, layer)
        if layer + 1 < self.layers:
            self._start_fetch(batch, layer + 1)  # overlaps this layer's compute
        self._compute(batch, layer, "attention", self._attention_time(batch),
                      lambda: self._after_attention(batch, layer))

    def _after_attention(self, batch: Batch, layer: int) -> None:
        self._p2d(batch, layer)
        self._allreduce(batch, layer, "attn", lambda: self._ffn(batch, layer))

    def _ffn(self, batch: Batch, layer: int) -> None:
        if layer in self.moe:
            self._all_to_all(batch, layer, "dispatch", lambda: self._experts(batch, layer))
        else:
            self._compute(batch, layer, "dense_ffn", self._ffn_time(batch, layer),
                          lambda: self._allreduce(batch, layer, "ffn", lambda: self._layer_done(batch, layer)))

    def _experts(self, batch: Batch, layer: int) -> None:
        self._compute(
            batch, layer, "experts", self._ffn_time(batch, layer),
            lambda: self._all_to_all(
                batch, layer, "combine",
                lambda: self._allreduce(batch, layer, "ffn", lambda: self._layer_done(batch, layer)),
            ),
        )

    def _layer_done(self, batch: Batch, layer: int) -> None:
        if layer + 1 < self.layers:
            batch.fetch[layer + 1].then(lambda: self._attention(batch, layer + 1))
        else:
            self._batch_done(batch)

    def _batch_done(self, batch: Batch) -> None:
        now = self.net.now
        self.policy.batch_done(batch.id, batch.instance.index)
        for st, take, _ in batch.items:
            st.computed += take
            if st.remaining == 0 and st.computed + st.cached_tokens >= st.req.input_tokens:
                st.prefill_end_s = now
                self._store(st.req.block_hashes)
                self._hold(st.instance, st.req.block_hashes)
                self.inflight_tokens[st.instance] -= st.req.input_tokens
                self._maybe_first_token(st)
        self.running_tokens[batch.instance.index] = 0
        self._start_batch(batch.instance.index)

    def _compute(self, batch: Batch, layer: int, kind: str, dt: float, then: Callable[[], None]) -> None:
        """A compute step of ``dt`` seconds on the instance's GPUs, recorded in ``steps``."""
        t0 = self.net.now
        self.steps.append(dict(batch_id=batch.id, instance=batch.instance.index, layer=layer, kind=kind,
                               start_s=t0, end_s=t0 + dt, tokens=batch.tokens))
        self.net.schedule(t0 + dt, then)

    # ------------------------------------------------------- collectives
    def _collective(self, batch: Batch, layer: int, kind: str, transfers: list, then: Callable[[], None]) -> None:
        cid = len(self.collectives)
        rec = dict(collective_id=cid, batch_id=batch.id, instance=batch.instance.index, layer=layer, kind=kind,
                   start_s=self.net.now, end_s=float("nan"), bytes=int(sum(t[2] for t in transfers)),
                   transfers=len(transfers))
        self.collectives.append(rec)

        def finished() -> None:
            rec["end_s"] = self.net.now
            then()

        join = Join(self.net, len(transfers))
        join.then(finished)
        stage = "allreduce" if kind.startswith("allreduce") else kind
        for src, dst, nbytes in transfers:
            self.transfer(("gpu", src), dst, nbytes, stage, layer, -1, batch.id, cid, join.done,
                          batch.instance.index)

    def _all_to_all(self, batch: Batch, layer: int, kind: str, then: Callable[[], None]) -> None:
        """Dispatch or combine among the instance's G GPUs.

        GPU i owns ``group_tokens / tp`` tokens; the routing model's share
        ``shares[i, j]`` of their expert inputs goes to GPU j (dispatch: i -> j)
        and comes back (combine: j -> i).
        """
        inst = batch.instance
        gpus, tp = inst.gpus, inst.tp
        shares = self._shares(inst, layer)
        per_token = (self.model.dispatch_bytes_per_token() if kind == "dispatch"
                     else self.model.combine_bytes_per_token())
        transfers = []
        for i, gi in enumerate(gpus):
            owned = batch.group_tokens[i // tp] / tp * per_token
            for j, gj in enumerate(gpus):
                nbytes = int(round(owned * shares[i, j]))
                if gj != gi and nbytes:
                    transfers.append((gi, gj, nbytes) if kind == "dispatch" else (gj, gi, nbytes))
        self._collective(batch, layer, kind, transfers, then)

    def _allreduce(self, batch: Batch, layer: int, which: str, then: Callable[[], None]) -> None:
        """Ring all-reduce in every TP group: each GPU sends 2(T-1)/T of the buffer to its successor."""
        inst = batch.instance
        tp = inst.tp
        if tp == 1:
            then()
            return
        transfers = []
        for e, rank in enumerate(inst.groups):
            buf = batch.group_tokens[e] * self.model.tp_allreduce_bytes_per_token()
            nbytes = int(round(buf * 2 * (tp - 1) / tp))
            for t in range(tp):
                if nbytes:
                    transfers.append((rank[t], rank[(t + 1) % tp], nbytes))
        self._collective(batch, layer, f"allreduce_{which}", transfers, then)

    # ----------------------------------------------------------------- P2D
    def _p2d_targets(self, st: ReqState, nbytes: int) -> list[tuple[int, int]]:
        """(decode GPU, bytes) of one layer's P2D: the request's decode group, KV split over its TP ranks."""
        group = self.decode_setup.groups[st.decode_group]
        if len(group) == 1:
            return [(group[0], nbytes)]
        share, extra = divmod(int(nbytes), len(group))
        return [(g, share + (extra if k == 0 else 0)) for k, g in enumerate(group)]

    def _p2d(self, batch: Batch, layer: int) -> None:
        per_token = self.model.kv_bytes_per_token_per_layer()
        for st, take, _ in batch.items:
            src = batch.instance.groups[st.group][0]
            for dst, nbytes in self._p2d_targets(st, take * per_token):
                st.p2d_pending += 1

                def landed(st=st) -> None:
                    st.p2d_pending -= 1
                    st.p2d_end_s = self.net.now
                    self._maybe_first_token(st)

                self.transfer(("gpu", src), dst, nbytes, "p2d", layer, st.req.id, batch.id, -1, landed,
                              batch.instance.index)

    def _maybe_first_token(self, st: ReqState) -> None:
        if not np.isnan(st.prefill_end_s) and st.p2d_pending == 0 and np.isnan(st.first_token_s):
            st.first_token_s = max(st.prefill_end_s, st.p2d_end_s if not np.isnan(st.p2d_end_s) else 0.0)
            self.decode.first_token(st.req.id, st.first_token_s)
