"""Expert placement: which expert-parallel (EP) group of an instance holds each expert.

An instance of ``G`` GPUs has ``ep`` EP groups of ``G / ep`` consecutive GPUs
(the expert is tensor-parallel inside its group, so its tokens split evenly
over the group's GPUs). Every group holds the same number of experts per
layer as in the contiguous layout, so placements differ only in *which*
experts share a group, layer by layer. ``serving.placement`` names one of:

* ``contiguous`` (default): expert e in group ``e * ep // E`` (e // experts
  per GPU when ep divides E), in every layer.
* ``balanced``: per layer, experts in decreasing popularity go to the group
  (with a free slot) whose NICs would carry the least popularity afterwards,
  then the least loaded group: hot experts are spread over NICs and servers
  (longest-processing-time-first with slots).
* ``affinity``: layer 0 as ``balanced``; then each layer's experts go, in
  decreasing co-activation weight, to the group that holds the previous
  layer's experts they are most often used together with (``C_{l-1}[a, b]``,
  from ``placement_params.coactivation_file`` or else the routing model; see
  :mod:`.routing` for the format), the rest as ``balanced``. Without any
  co-activation it is ``balanced``.

:class:`ExpertMap` combines a routing model and a placement into the
``shares[i, j]`` matrix of an instance's all-to-all.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from ..config import ConfigError, from_dict, spec
from .routing import ExpertRouting, _load_matrix

PLACEMENTS = ("affinity", "balanced", "contiguous")


@dataclass(frozen=True)
class NoParams:
    pass


@dataclass(frozen=True)
class AffinityParams:
    coactivation_file: Optional[str] = spec(
        None, doc="NPY/CSV co-activation counts (E, E) or (L-1, E, E); default: the routing model's"
    )


PARAMS: dict[str, type] = {"contiguous": NoParams, "balanced": NoParams, "affinity": AffinityParams}


def check_params(name: str, params: Optional[Mapping[str, Any]], path: str = "serving") -> Any:
    """Validate ``serving.placement`` and ``[serving.placement_params]``."""
    if name not in PARAMS:
        raise ConfigError(f"{path}.placement: {name!r} is not a placement; allowed: {', '.join(PLACEMENTS)}")
    return from_dict(PARAMS[name], dict(params or {}), f"{path}.placement_params")


def contiguous_groups(experts: int, ep: int) -> np.ndarray:
    """Group of every expert in the contiguous layout: ``e * ep // E``."""
    return np.arange(experts) * ep // experts


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


def place(name: str, params: Any, routing: ExpertRouting, ep: int, group_gpus: Sequence[Sequence[int]],
          gpu_nic: Sequence[int]) -> np.ndarray:
    """``(layers, experts)`` array of EP-group indices for one instance."""
    E, L = routing.experts, routing.layers
    base = contiguous_groups(E, ep)
    if name == "contiguous":
        return np.broadcast_to(base, (L, E)).copy()
    slots = np.bincount(base, minlength=ep)
    nic_of = _nic_share(group_gpus, gpu_nic)
    coact = _coactivation_source(params, routing) if name == "affinity" else None
    out = np.full((L, E), -1, dtype=int)
    for layer in range(L):
        p = routing.popularity(layer)
        groups, free = out[layer], slots.copy()
        nic_load: dict[int, float] = {}
        group_load = np.zeros(ep)
        C = coact(layer - 1) if (coact is not None and layer > 0) else None
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


def _coactivation_source(params: Any, routing: ExpertRouting):
    """``layer -> C_layer`` from the placement's file, else the routing model (may return None)."""
    path = getattr(params, "coactivation_file", None)
    if path is None:
        return routing.coactivation
    E, L = routing.experts, routing.layers
    key = "serving.placement_params.coactivation_file"
    arr = _load_matrix(Path(path), key)
    if arr.shape == (E, E):
        arr = np.broadcast_to(arr, (max(L - 1, 1), E, E))
    elif arr.shape != (L - 1, E, E):
        raise ConfigError(f"{key}: {path}: shape {arr.shape}; expected ({E}, {E}) or ({L - 1}, {E}, {E})")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ConfigError(f"{key}: {path}: counts must be finite and >= 0")
    return lambda layer: np.asarray(arr[layer]) if 0 <= layer < len(arr) else None


class ExpertMap:
    """Routing + placement of one instance: the all-to-all ``shares`` per layer (cached)."""

    def __init__(self, routing: ExpertRouting, groups: np.ndarray, gpus: int, ep: int):
        self.routing, self.groups, self.gpus, self.ep = routing, groups, gpus, ep
        self.per_group = gpus // ep
        self._cache: dict[int, np.ndarray] = {}

    def group_mass(self, p: np.ndarray, layer: int) -> np.ndarray:
        """Popularity summed per EP group."""
        return np.bincount(self.groups[layer], weights=p, minlength=self.ep)

    def shares(self, layer: int) -> np.ndarray:
        """``G x G``: share of GPU i's token-expert pairs that go to GPU j (rows sum to 1)."""
        if layer in self._cache:
            return self._cache[layer]
        p = self.routing.popularity(layer)
        col = self.group_mass(p, layer)
        group_rows = np.broadcast_to(col, (self.ep, self.ep)).copy()
        C = self.routing.coactivation(layer - 1) if layer > 0 else None
        if C is not None:
            prev, cur = self.groups[layer - 1], self.groups[layer]
            joint = np.zeros((self.ep, self.ep))
            np.add.at(joint, (prev[:, None].repeat(len(cur), 1), cur[None, :].repeat(len(prev), 0)), C)
            mass = joint.sum(axis=1)
            held = mass > 0
            group_rows[held] = joint[held] / mass[held, None]
        g = np.arange(self.gpus) // self.per_group
        out = group_rows[g][:, g] / self.per_group
        self._cache[layer] = out
        return out
