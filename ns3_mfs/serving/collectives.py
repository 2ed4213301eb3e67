"""The collectives of a prefill batch: all-to-all (expert routing and placement), ring all-reduce, P2D targets.

* **All-to-all** (stage 2, dispatch and combine) among the G GPUs of an
  instance: GPU i owns ``group_tokens / tp`` tokens; the routing model's
  share ``shares[i, j]`` of their expert inputs goes to GPU j (dispatch:
  i -> j) and comes back (combine: j -> i). With ``instance_gpus =
  "tp_x_ep"`` (ep ranks of tp GPUs, experts tensor-parallel within a rank)
  it is tp all-to-alls in parallel, one among the GPUs of each TP index. GPU-level routing functions or
  an expert-level model with a placement per instance
  (``serving.routing``/``placement``, :mod:`.routing`, :mod:`.placement`)
  give the shares.
  This is ``serving.ep_collective = "all_to_all"`` (direct, top-k routed
  bytes, as DeepEP/pplx). With ``"allgather_reducescatter"`` (vLLM's default
  expert-parallel backend) the dispatch is an all-gather of every GPU's
  hidden states (``hidden_size`` bytes per token, not top-k) over the
  instance's GPUs and the combine a reduce-scatter of the expert outputs
  back to the tokens' owners; ``ep_algorithm`` picks how NCCL moves them:
  ``direct`` (GPU i sends its buffer to every j; reduce-scatter: i sends j
  the partial outputs of j's tokens) or ``ring`` (GPU i sends to i+1 the
  whole gathered volume but the receiver's own buffer, ``total - B[i+1]``;
  reduce-scatter: ``total - B[i]``, the chunks i forwards over N-1 steps).
* **Ring all-reduce** in every TP group: each GPU sends ``2(T-1)/T`` of the
  buffer to its successor.
* **P2D targets** (stage 3): one layer's new KV goes to the request's decode
  group, split over its TP ranks.

A collective finishes when all its transfers did; it is recorded as a row
of ``collectives.parquet``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from . import routing
from .cluster import Instance, Layout
from .decode import DecodeSetup
from .placement import ExpertMap, check_params as check_placement, place
from .recorder import Recorder
from .transport import Clock, Join, Transfers

if TYPE_CHECKING:  # pragma: no cover
    from .engine import Batch, ReqState


def same_tp_index(shares: np.ndarray, tp: int) -> np.ndarray:
    """All-to-all shares between the GPUs of an instance of ``ep`` ranks x ``tp`` GPUs (GPU ``r * tp + t``):
    a token part held by GPU (d, t) goes to GPU (r, t) of the expert's rank, which receives what ``shares``
    spread evenly over rank r's GPUs (rows still sum to 1)."""
    idx = np.arange(len(shares)) % tp
    return np.where(idx[:, None] == idx[None, :], shares * tp, 0.0)


class Collectives:
    """Builds and runs the collectives of batches on prefill instances."""

    def __init__(self, clock: Clock, cfg: Any, model: Any, compute: Any, layout: Layout, decode: DecodeSetup,
                 transfers: Transfers, recorder: Recorder):
        self.clock, self.model, self.compute, self.layout = clock, model, compute, layout
        self.decode_setup, self.transfers, self.recorder = decode, transfers, recorder
        self.ep_collective = getattr(cfg, "ep_collective", "all_to_all")
        self.ep_algorithm = getattr(cfg, "ep_algorithm", "direct")
        self._setup_routing(cfg)

    # ------------------------------------------------------------ routing
    def _setup_routing(self, cfg: Any) -> None:
        """GPU-level routing model, or an expert-level model with a placement per instance; with
        ``instance_gpus = "tp_x_ep"`` the shares are kept between GPUs of equal TP index."""
        self._routing_shares(cfg)
        tp = self.compute.tp
        if getattr(cfg, "instance_gpus", "max") == "tp_x_ep" and tp > 1:
            shares = self.shares
            self.shares = lambda inst, layer: same_tp_index(shares(inst, layer), tp)

    def _routing_shares(self, cfg: Any) -> None:
        name = cfg.routing
        params = getattr(cfg, "routing_params", None)
        self.uniform_routing = name == "uniform"
        self.expert_maps: dict[int, ExpertMap] = {}
        m = self.model
        model = routing.make(name, params, m.experts, m.layers)
        if not isinstance(model, routing.ExpertRouting):
            self.shares = lambda inst, layer: model.shares(len(inst.gpus), layer)
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
        self.shares = lambda inst, layer: self.expert_maps[inst.index].shares(layer)

    def gpu_tokens(self, batch: "Batch", layer: int) -> np.ndarray:
        """Expert-input tokens (token-expert pairs / top_k x tp) each GPU of the instance receives."""
        inst = batch.instance
        tp = inst.tp
        owned = np.array([batch.group_tokens[i // tp] / tp for i in range(len(inst.gpus))])
        return tp * owned @ self.shares(inst, layer)

    # ------------------------------------------------------------ running
    def run(self, batch: "Batch", layer: int, kind: str, transfers: list, then: Callable[[], None]) -> None:
        """Start a collective's transfers ``(src GPU, dst GPU, bytes)``; ``then()`` when all arrived."""
        rec = self.recorder.collective(batch.id, batch.instance.index, layer, kind, self.clock.now,
                                       int(sum(t[2] for t in transfers)), len(transfers))

        def finished() -> None:
            rec["end_s"] = self.clock.now
            then()

        join = Join(self.clock, len(transfers))
        join.then(finished)
        stage = "allreduce" if kind.startswith("allreduce") else kind
        for src, dst, nbytes in transfers:
            self.transfers.send(("gpu", src), dst, nbytes, stage, layer, -1, batch.id, rec["collective_id"],
                                join.done, batch.instance.index)

    def all_to_all(self, batch: "Batch", layer: int, kind: str, then: Callable[[], None]) -> None:
        """Dispatch or combine among the instance's GPUs (see the module docstring)."""
        if self.ep_collective == "allgather_reducescatter":
            transfers = self.gather_scatter_transfers(batch, kind)
        else:
            transfers = self.all_to_all_transfers(batch, layer, kind)
        self.run(batch, layer, kind, transfers, then)

    def gather_scatter_transfers(self, batch: "Batch", kind: str) -> list[tuple[int, int, int]]:
        """Dispatch as an all-gather, combine as a reduce-scatter of hidden states (direct or ring)."""
        inst: Instance = batch.instance
        gpus, tp, n = inst.gpus, inst.tp, len(inst.gpus)
        per_token = self.model.tp_allreduce_bytes_per_token()  # one hidden state: hidden_size x bytes
        owned = [batch.group_tokens[i // tp] / tp * per_token for i in range(n)]
        total = sum(owned)
        transfers = []
        if self.ep_algorithm == "ring":
            for i in range(n):
                nbytes = total - (owned[(i + 1) % n] if kind == "dispatch" else owned[i])
                transfers.append((gpus[i], gpus[(i + 1) % n], int(round(nbytes))))
        else:
            for i in range(n):
                for j in range(n):
                    if i != j:
                        nbytes = owned[i] if kind == "dispatch" else owned[j]
                        transfers.append((gpus[i], gpus[j], int(round(nbytes))))
        return [t for t in transfers if t[2] > 0]

    def all_to_all_transfers(self, batch: "Batch", layer: int, kind: str) -> list[tuple[int, int, int]]:
        inst: Instance = batch.instance
        gpus, tp = inst.gpus, inst.tp
        shares = self.shares(inst, layer)
        per_token = (self.model.dispatch_bytes_per_token() if kind == "dispatch"
                     else self.model.combine_bytes_per_token())
        transfers = []
        for i, gi in enumerate(gpus):
            owned = batch.group_tokens[i // tp] / tp * per_token
            for j, gj in enumerate(gpus):
                nbytes = int(round(owned * shares[i, j]))
                if gj != gi and nbytes:
                    transfers.append((gi, gj, nbytes) if kind == "dispatch" else (gj, gi, nbytes))
        return transfers

    def allreduce(self, batch: "Batch", layer: int, which: str, then: Callable[[], None]) -> None:
        """Ring all-reduce in every TP group (``then()`` at once with TP = 1)."""
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
        self.run(batch, layer, f"allreduce_{which}", transfers, then)

    # ----------------------------------------------------------------- P2D
    def p2d_targets(self, st: "ReqState", nbytes: int) -> list[tuple[int, int]]:
        """(decode GPU, bytes) of one layer's P2D: the request's decode group, KV split over its TP ranks."""
        group = self.decode_setup.groups[st.decode_group]
        if len(group) == 1:
            return [(group[0], nbytes)]
        share, extra = divmod(int(nbytes), len(group))
        return [(g, share + (extra if k == 0 else 0)) for k, g in enumerate(group)]
