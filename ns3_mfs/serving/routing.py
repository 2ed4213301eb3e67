"""Token routing models: which share of a GPU's expert inputs goes to each GPU.

Two kinds of model, both chosen by ``serving.routing``:

* **GPU-level** functions ``shares(gpus, layer)`` returning a ``G x G``
  matrix whose row ``i`` gives the fraction of GPU i's token-expert pairs
  that land on the experts of GPU j (rows sum to 1). ``uniform`` is one:
  every GPU gets 1/G of every GPU's pairs. Register more with
  :func:`register`.
* **Expert-level** models (:class:`ExpertRouting`) giving per layer the
  popularity ``p_l[e]`` of every expert (the share of token-expert pairs it
  receives; sums to 1) and optionally the co-activation ``C_l[a, b]`` (the
  joint frequency of expert a at layer l and expert b at layer l+1; sums to
  1, marginals p_l and p_{l+1}). With an expert *placement*
  (:mod:`.placement`) they give the GPU matrix: ``shares[i, j] = sum of p_l
  over the experts on GPU j``. With a co-activation, tokens are assumed to be
  dispatched from where their previous layer's expert ran (the ExFlow model
  of inter-layer affinity): ``shares[i, j] = sum_{a on i, b on j} C_{l-1}[a,
  b] / sum_{a on i} p_{l-1}[a]``, so co-locating experts used together keeps
  tokens local. Without one (independent layers) every row is the same.
  Registered: ``zipf`` (:class:`Zipf`) and ``file`` (:class:`FromFile`), with
  typed parameters in ``[serving.routing_params]``.

The all-to-all traffic matrix follows: dispatch bytes i -> j = tokens_i x
dispatch_bytes_per_token x shares[i, j]; the expert compute of a layer
follows the GPU receiving most pairs (``max_j sum_i tokens_i shares[i, j]``).

Routing-frequency files (``routing = "file"``, ``routing_params.path``):
NPY (``numpy.save``) or CSV (comma-separated numbers, no header, ``#``
comments). Shapes: ``(E,)`` or ``(1, E)`` expert frequencies for every
layer; ``(L, E)`` per-layer frequencies; ``(E, E)`` a co-activation matrix
between every pair of consecutive layers (row: expert at layer l, column:
expert at layer l+1); ``(L-1, E, E)`` (NPY only) one per pair of layers.
Counts or probabilities: each is normalised. ``routing_params.kind``
(``auto``, ``frequencies``, ``coactivation``) settles a square ``(E, E)``
file when L = E.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ClassVar, Literal, Mapping, Optional

import numpy as np

from ..csvfile import read_matrix
from ..config import ConfigError, from_dict, spec

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


# ------------------------------------------------------------ expert level


class ExpertRouting:
    """Per-layer expert popularity and (optionally) inter-layer co-activation."""

    name: ClassVar[str] = ""
    Params: ClassVar[type] = type(None)

    def __init__(self, params: Any, experts: int, layers: int):
        self.params, self.experts, self.layers = params, experts, layers

    def popularity(self, layer: int) -> np.ndarray:
        """``p_l[e]``: share of the layer's token-expert pairs that expert e receives (sums to 1)."""
        raise NotImplementedError

    def coactivation(self, layer: int) -> Optional[np.ndarray]:
        """``C_l[a, b]``: joint frequency of a at ``layer`` and b at ``layer + 1``; None if independent."""
        return None


EXPERT_MODELS: dict[str, type[ExpertRouting]] = {}


def register_expert(cls: type[ExpertRouting]) -> type[ExpertRouting]:
    EXPERT_MODELS[cls.name] = cls
    return cls


@dataclass(frozen=True)
class ZipfParams:
    exponent: float = spec(1.0, min=0.0, doc="Zipf exponent s: the rank-r expert gets a share ~ 1 / r^s")
    seed: int = spec(0, min=0, doc="seed of the per-layer order of experts by popularity")
    same_order: bool = spec(False, doc="the same experts are hot in every layer (else a random order per layer)")
    affinity: float = spec(
        0.0, min=0.0, max=1.0,
        doc="probability that a token's next-layer expert is the partner (same popularity rank) of this one",
    )


@register_expert
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


@dataclass(frozen=True)
class FileParams:
    path: str = spec(doc="NPY or CSV file of expert frequencies or co-activation counts")
    kind: Literal["auto", "frequencies", "coactivation"] = spec(
        "auto", doc="how to read a square (E, E) file when the model has E layers"
    )


def _load_matrix(path: Path, key: str) -> np.ndarray:
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


@register_expert
class FromFile(ExpertRouting):
    """Measured routing frequencies or co-activation counts (format in the module doc)."""

    name = "file"
    Params = FileParams

    def __init__(self, params: FileParams, experts: int, layers: int):
        super().__init__(params, experts, layers)
        key = "serving.routing_params.path"
        arr = _load_matrix(Path(params.path), key)
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


# ---------------------------------------------------------------- lookup


def get(name: str) -> RoutingModel | type[ExpertRouting]:
    """A GPU-level routing function or an expert-level model class, by name."""
    if name in _REGISTRY:
        return _REGISTRY[name]
    if name in EXPERT_MODELS:
        return EXPERT_MODELS[name]
    raise ConfigError(f"serving.routing: {name!r} is not a routing model; allowed: {', '.join(names())}") from None


def names() -> list[str]:
    return sorted(set(_REGISTRY) | set(EXPERT_MODELS))


def is_expert_level(name: str) -> bool:
    return name in EXPERT_MODELS and name not in _REGISTRY


def check_params(name: str, params: Optional[Mapping[str, Any]], path: str = "serving") -> Any:
    """Validate the routing name and ``[serving.routing_params]`` (GPU-level models take none)."""
    get(name)
    if not is_expert_level(name):
        if params:
            raise ConfigError(f"{path}.routing_params.{sorted(params)[0]}: unknown key; routing {name!r} takes no parameters")
        return None
    return from_dict(EXPERT_MODELS[name].Params, dict(params or {}), f"{path}.routing_params")


def make_expert(name: str, params: Optional[Mapping[str, Any]], experts: int, layers: int) -> ExpertRouting:
    """An expert-level routing model with validated parameters."""
    return EXPERT_MODELS[name](check_params(name, params), experts, layers)
