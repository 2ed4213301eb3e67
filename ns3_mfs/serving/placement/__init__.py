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

Each placement is a class in its own module of this package with a ``name``,
a frozen ``Params`` dataclass and a ``groups()`` method, decorated with
``@register`` (the shared :class:`~ns3_mfs.registry.Registry`).
"""

from __future__ import annotations

from typing import Any, ClassVar, Mapping, Optional, Sequence

import numpy as np

from ...registry import NoParams, Registry
from ..routing import ExpertRouting


class Placement:
    """Assigns every expert of every layer to an EP group of one instance."""

    name: ClassVar[str] = ""
    Params: ClassVar[type] = NoParams

    def __init__(self, params: Any):
        self.params = params

    def groups(self, routing: ExpertRouting, ep: int, group_gpus: Sequence[Sequence[int]],
               gpu_nic: Sequence[int]) -> np.ndarray:
        """``(layers, experts)`` array of EP-group indices."""
        raise NotImplementedError


REGISTRY: Registry[type[Placement]] = Registry("placement", group="ns3_mfs.placements")
register = REGISTRY.register


def check_params(name: str, params: Optional[Mapping[str, Any]], path: str = "serving") -> Any:
    """Validate ``serving.placement`` and ``[serving.placement_params]``."""
    return REGISTRY.params(name, params, f"{path}.placement", f"{path}.placement_params")


def contiguous_groups(experts: int, ep: int) -> np.ndarray:
    """Group of every expert in the contiguous layout: ``e * ep // E``."""
    return np.arange(experts) * ep // experts


def place(name: str, params: Any, routing: ExpertRouting, ep: int, group_gpus: Sequence[Sequence[int]],
          gpu_nic: Sequence[int]) -> np.ndarray:
    """``(layers, experts)`` array of EP-group indices for one instance (``params`` validated)."""
    return REGISTRY[name](params).groups(routing, ep, group_gpus, gpu_nic)


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


from . import affinity, balanced, contiguous  # noqa: E402  (the built-in placements register themselves)

__all__ = ["REGISTRY", "ExpertMap", "Placement", "check_params", "contiguous_groups", "place", "register"]
