"""A request's traffic matrix in a batch, per NIC port, for the flow policies (MFS's Algorithm 1).

Every byte the request will put on the network while its batch runs: its KV
fetches (the holder GPU's or store NIC's transmit, its group's NIC receive), its share of the
all-to-alls (the tokens it owns, dispatched to and combined from the other
GPUs of the instance by the routing model's shares), its TP all-reduce share
and its P2D (its group's NIC transmit, the decode NICs receive). Transfers
inside a server do not count. Ports are ``(host, "tx" | "rx")``.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from .engine import Batch, ReqState, ServingEngine


def request_ports(eng: "ServingEngine", batch: "Batch", st: "ReqState",
                  take: int) -> tuple[tuple[tuple[int, str], float], ...]:
    """The request's bytes per NIC port over the whole batch (all layers)."""
    lay, m = eng.layout, eng.model
    nic = lay.gpu_nic
    load: dict[tuple[int, str], float] = defaultdict(float)

    def add(src_gpu_or_host: int, dst_gpu: int, nbytes: float, src_is_host: bool = False) -> None:
        if nbytes <= 0 or (not src_is_host and lay.off_fabric(src_gpu_or_host, dst_gpu)):
            return
        load[(src_gpu_or_host if src_is_host else nic[src_gpu_or_host], "tx")] += nbytes
        load[(nic[dst_gpu], "rx")] += nbytes

    inst = batch.instance
    group = inst.groups[st.group]
    lead = group[0]
    per_token = m.kv_bytes_per_token_per_layer()
    # Stage 1: the prefix blocks it fetches (from their holder GPU or a store NIC), every layer (first chunk).
    if not st.computed and st.cached_blocks:
        for b in st.cached_blocks:
            if b not in st.local_blocks:
                kind, where = eng.kv.source(st.req, b)
                add(where, lead, eng.kv.block_tokens * per_token * eng.layers, kind == "host")
    # Stage 2: its tokens' dispatch and combine, and its all-reduce share.
    gpus, tp = inst.gpus, inst.tp
    index = {g: i for i, g in enumerate(gpus)}
    gather = eng.coll.ep_collective == "allgather_reducescatter"
    for layer in eng.moe:
        shares = eng.coll.shares(inst, layer)
        for g in group:
            i = index[g]
            for j, gj in enumerate(gpus):
                if gather:  # its hidden states to every GPU, its tokens' partial outputs back (direct)
                    add(g, gj, take / tp * m.tp_allreduce_bytes_per_token())
                    add(gj, g, take / tp * m.tp_allreduce_bytes_per_token())
                    continue
                frac = take / tp * shares[i, j]
                add(g, gj, frac * m.dispatch_bytes_per_token())
                add(gj, g, frac * m.combine_bytes_per_token())
    if tp > 1:
        ring = take * m.tp_allreduce_bytes_per_token() * 2 * (tp - 1) / tp * 2 * eng.layers
        for t in range(tp):
            add(group[t], group[(t + 1) % tp], ring)
    # Stage 3: its KV to the decode side (with the reused prefix under p2d_history = "full").
    for dst, nbytes in eng.coll.p2d_targets(st, eng.p2d_tokens(st, take) * per_token):
        add(lead, dst, nbytes * eng.layers)
    return tuple(sorted(load.items()))
