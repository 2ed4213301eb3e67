"""``file``: measured routing frequencies or co-activation counts (NPY or CSV; format in the package doc)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Optional

import numpy as np

from ...config import ConfigError, spec
from ...csvfile import read_matrix
from . import ExpertRouting, register


@dataclass(frozen=True)
class FileParams:
    path: str = spec(doc="NPY or CSV file of expert frequencies or co-activation counts")
    kind: Literal["auto", "frequencies", "coactivation"] = spec(
        "auto", doc="how to read a square (E, E) file when the model has E layers"
    )


def load_matrix(path: Path, key: str) -> np.ndarray:
    """A numeric array from an NPY or comma-separated CSV file (errors name the key and file)."""
    if not path.is_file():
        raise ConfigError(f"{key}: {path}: no such file")
    if path.suffix.lower() == ".npy":
        try:
            arr = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise ConfigError(f"{key}: {path}: not a NumPy .npy file ({exc})") from None
        return np.asarray(arr, dtype=float)
    return read_matrix(path, key)


@register
class FromFile(ExpertRouting):
    """Measured routing frequencies or co-activation counts (format in the module doc)."""

    name = "file"
    Params = FileParams

    def __init__(self, params: FileParams, experts: int, layers: int):
        super().__init__(params, experts, layers)
        key = "serving.routing_params.path"
        arr = load_matrix(Path(params.path), key)
        E, L = experts, layers
        if not np.all(np.isfinite(arr)) or np.any(arr < 0):
            raise ConfigError(f"{key}: {params.path}: frequencies must be finite and >= 0")
        self.coact: Optional[np.ndarray] = None
        square = arr.ndim == 2 and arr.shape == (E, E)
        if arr.ndim == 3 and arr.shape == (L - 1, E, E):
            self.coact = arr
        elif square and (params.kind == "coactivation" or (params.kind == "auto" and L != E)):
            self.coact = np.broadcast_to(arr, (max(L - 1, 1), E, E))
        elif arr.ndim == 1 and arr.shape == (E,):
            self.freq = np.broadcast_to(arr, (L, E))
        elif arr.ndim == 2 and arr.shape in ((1, E), (L, E)):
            self.freq = np.broadcast_to(arr, (L, E))
        else:
            raise ConfigError(
                f"{key}: {params.path}: shape {arr.shape} fits none of (E,)=({E},), (L, E)=({L}, {E}), "
                f"(E, E)=({E}, {E}), (L-1, E, E)=({L - 1}, {E}, {E}) for this model"
            )
        if self.coact is not None:
            sums = self.coact.sum(axis=(1, 2))
            if np.any(sums <= 0):
                raise ConfigError(f"{key}: {params.path}: a co-activation matrix sums to 0")
            self.coact = self.coact / sums[:, None, None]
            rows = self.coact.sum(axis=2)
            self.freq = np.vstack([rows, self.coact[-1].sum(axis=0)[None, :]])[:L]
            if len(self.freq) < L:
                self.freq = np.broadcast_to(self.freq[-1], (L, E))
        sums = self.freq.sum(axis=1)
        if np.any(sums <= 0):
            raise ConfigError(f"{key}: {params.path}: a layer's frequencies sum to 0")
        self.freq = self.freq / sums[:, None]

    def popularity(self, layer: int) -> np.ndarray:
        return np.asarray(self.freq[layer])

    def coactivation(self, layer: int) -> Optional[np.ndarray]:
        if self.coact is None or layer >= len(self.coact) or layer + 1 >= self.layers:
            return None
        return np.asarray(self.coact[layer])
