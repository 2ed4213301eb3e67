"""``balanced``: hot experts spread over NICs and groups, layer by layer (LPT with slots)."""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from ..routing import ExpertRouting
from . import Placement, contiguous_groups, register


def _nic_share(group_gpus: Sequence[Sequence[int]], gpu_nic: Sequence[int]) -> list[dict[int, float]]:
    """Per group: the fraction of its tokens that lands on each NIC."""
    out = []
    for gpus in group_gpus:
        d: dict[int, float] = {}
        for g in gpus:
            d[gpu_nic[g]] = d.get(gpu_nic[g], 0.0) + 1.0 / len(gpus)
        out.append(d)
    return out


def _balanced_fill(p: np.ndarray, groups: np.ndarray, free: np.ndarray, nic_of: list[dict[int, float]],
                   nic_load: dict[int, float], group_load: np.ndarray) -> None:
    """Place the still unplaced experts (``groups == -1``), hottest first, on the least loaded NICs/group."""
    for e in np.argsort(-p, kind="stable"):
        if groups[e] >= 0:
            continue

        def cost(g: int) -> tuple[float, float, int]:
            peak = max(nic_load.get(n, 0.0) + p[e] * f for n, f in nic_of[g].items())
            return (round(peak, 12), round(group_load[g] + p[e], 12), g)

        g = min((g for g in range(len(free)) if free[g] > 0), key=cost)
        _put(e, g, p, groups, free, nic_of, nic_load, group_load)


def _put(e: int, g: int, p: np.ndarray, groups: np.ndarray, free: np.ndarray, nic_of: list[dict[int, float]],
         nic_load: dict[int, float], group_load: np.ndarray) -> None:
    groups[e] = g
    free[g] -= 1
    group_load[g] += p[e]
    for n, f in nic_of[g].items():
        nic_load[n] = nic_load.get(n, 0.0) + p[e] * f


@register
class Balanced(Placement):
    """Per layer, experts in decreasing popularity go to the group (with a free slot) whose NICs would
    carry the least popularity afterwards, then the least loaded group."""

    name = "balanced"

    def coactivation(self, routing: ExpertRouting):
        """``layer -> C_layer`` that pulls experts towards the previous layer's groups (None: none)."""
        return None

    def groups(self, routing: ExpertRouting, ep: int, group_gpus: Sequence[Sequence[int]],
               gpu_nic: Sequence[int]) -> np.ndarray:
        E, L = routing.experts, routing.layers
        slots = np.bincount(contiguous_groups(E, ep), minlength=ep)
        nic_of = _nic_share(group_gpus, gpu_nic)
        coact = self.coactivation(routing)
        out = np.full((L, E), -1, dtype=int)
        for layer in range(L):
            p = routing.popularity(layer)
            groups, free = out[layer], slots.copy()
            nic_load: dict[int, float] = {}
            group_load = np.zeros(ep)
            C: Optional[np.ndarray] = coact(layer - 1) if (coact is not None and layer > 0) else None
            if C is not None:
                prev = out[layer - 1]
                pull = np.zeros((E, ep))  # pull[b, g]: co-activation of b with the experts group g held before
                for a in range(E):
                    pull[:, prev[a]] += C[a]
                for flat in np.argsort(-pull, axis=None, kind="stable"):
                    b, g = divmod(int(flat), ep)
                    if pull[b, g] <= 0:
                        break
                    if groups[b] < 0 and free[g] > 0:
                        _put(b, g, p, groups, free, nic_of, nic_load, group_load)
            _balanced_fill(p, groups, free, nic_of, nic_load, group_load)
        return out
