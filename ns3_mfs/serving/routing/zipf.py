"""``zipf``: Zipf-skewed expert popularity with optional inter-layer affinity."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from ...config import spec
from . import ExpertRouting, register


@dataclass(frozen=True)
class ZipfParams:
    exponent: float = spec(1.0, min=0.0, doc="Zipf exponent s: the rank-r expert gets a share ~ 1 / r^s")
    seed: int = spec(0, min=0, doc="seed of the per-layer order of experts by popularity")
    same_order: bool = spec(False, doc="the same experts are hot in every layer (else a random order per layer)")
    affinity: float = spec(
        0.0, min=0.0, max=1.0,
        doc="probability that a token's next-layer expert is the partner (same popularity rank) of this one",
    )


@register
class Zipf(ExpertRouting):
    """Zipf-skewed popularity: ``p[rank r] = r^-s / sum_k k^-s`` (r = 1..E).

    Which expert has which rank is a random permutation per layer (seeded),
    or the identity with ``same_order``. With ``affinity = alpha`` a token at
    expert a of layer l picks the expert of the same rank at layer l+1 with
    probability alpha and otherwise follows the next layer's popularity, so
    ``C_l[a, b] = p_l[a] ((1 - alpha) p_{l+1}[b] + alpha [rank(b) = rank(a)])``
    (marginals are kept).
    """

    name = "zipf"
    Params = ZipfParams

    def __init__(self, params: ZipfParams, experts: int, layers: int):
        super().__init__(params, experts, layers)
        ranks = np.arange(1, experts + 1, dtype=float)
        self.weights = ranks ** -params.exponent
        self.weights /= self.weights.sum()
        rng = np.random.default_rng(params.seed)
        self.order = [np.arange(experts) if params.same_order else rng.permutation(experts)
                      for _ in range(layers)]  # order[l][r] = expert of rank r

    def popularity(self, layer: int) -> np.ndarray:
        p = np.empty(self.experts)
        p[self.order[layer]] = self.weights
        return p

    def coactivation(self, layer: int) -> Optional[np.ndarray]:
        a = self.params.affinity
        if a == 0.0 or layer + 1 >= self.layers:
            return None
        p, q = self.popularity(layer), self.popularity(layer + 1)
        partner = np.zeros((self.experts, self.experts))
        partner[self.order[layer], self.order[layer + 1]] = 1.0
        return p[:, None] * ((1.0 - a) * q[None, :] + a * partner)
