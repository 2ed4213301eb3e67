"""Token routing models: which share of a GPU's expert inputs goes to each GPU.

A routing model answers ``shares(gpus, layer)``: a ``G x G`` matrix whose row
``i`` gives the fraction of GPU i's token-expert pairs that land on the
experts of GPU j (rows sum to 1). The all-to-all traffic matrix follows:
dispatch bytes i -> j = tokens_i x dispatch_bytes_per_token x shares[i, j].
Register a new model with :func:`register`.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..config import ConfigError

RoutingModel = Callable[[int, int], np.ndarray]
_REGISTRY: dict[str, RoutingModel] = {}


def register(name: str) -> Callable[[RoutingModel], RoutingModel]:
    def deco(fn: RoutingModel) -> RoutingModel:
        _REGISTRY[name] = fn
        return fn

    return deco


@register("uniform")
def uniform(gpus: int, layer: int) -> np.ndarray:
    """Every token picks its experts uniformly: each GPU gets 1/G of every GPU's pairs."""
    return np.full((gpus, gpus), 1.0 / gpus)


def get(name: str) -> RoutingModel:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(f"serving.routing: {name!r} is not a routing model; allowed: {', '.join(sorted(_REGISTRY))}") from None


def names() -> list[str]:
    return sorted(_REGISTRY)
