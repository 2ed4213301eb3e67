"""``affinity``: experts used together in consecutive layers share a group (layer 0 as ``balanced``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from ...config import ConfigError, spec
from ..routing import ExpertRouting
from ..routing.file import load_matrix
from . import register
from .balanced import Balanced


@dataclass(frozen=True)
class AffinityParams:
    coactivation_file: Optional[str] = spec(
        None, doc="NPY/CSV co-activation counts (E, E) or (L-1, E, E); default: the routing model's"
    )


def _coactivation_source(params: "AffinityParams", routing: ExpertRouting):
    """``layer -> C_layer`` from the placement's file, else the routing model (may return None)."""
    path = getattr(params, "coactivation_file", None)
    if path is None:
        return routing.coactivation
    E, L = routing.experts, routing.layers
    key = "serving.placement_params.coactivation_file"
    arr = load_matrix(Path(path), key)
    if arr.shape == (E, E):
        arr = np.broadcast_to(arr, (max(L - 1, 1), E, E))
    elif arr.shape != (L - 1, E, E):
        raise ConfigError(f"{key}: {path}: shape {arr.shape}; expected ({E}, {E}) or ({L - 1}, {E}, {E})")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ConfigError(f"{key}: {path}: counts must be finite and >= 0")
    return lambda layer: np.asarray(arr[layer]) if 0 <= layer < len(arr) else None


@register
class Affinity(Balanced):
    """Each layer's experts go, in decreasing co-activation weight, to the group holding the previous
    layer's experts they are most often used with; the rest as ``balanced``."""

    name = "affinity"
    Params = AffinityParams

    def coactivation(self, routing: ExpertRouting):
        return _coactivation_source(self.params, routing)
