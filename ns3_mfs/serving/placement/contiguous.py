"""``contiguous``: expert e in group ``e * ep // E`` in every layer (the default)."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..routing import ExpertRouting
from . import Placement, contiguous_groups, register


@register
class Contiguous(Placement):
    """Experts in index order, the same in every layer."""

    name = "contiguous"

    def groups(self, routing: ExpertRouting, ep: int, group_gpus: Sequence[Sequence[int]],
               gpu_nic: Sequence[int]) -> np.ndarray:
        return np.broadcast_to(contiguous_groups(routing.experts, ep), (routing.layers, routing.experts)).copy()
