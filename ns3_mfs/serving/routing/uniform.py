"""``uniform``: every token picks its experts uniformly, so each GPU gets 1/G of every GPU's pairs."""

from __future__ import annotations

import numpy as np

from . import GpuRouting, register


@register
class Uniform(GpuRouting):
    """Uniform routing (the default)."""

    name = "uniform"

    def shares(self, gpus: int, layer: int) -> np.ndarray:
        return np.full((gpus, gpus), 1.0 / gpus)
