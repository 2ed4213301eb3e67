"""Token routing models: which share of a GPU's expert inputs goes to each GPU.

Two kinds of model, both chosen by ``serving.routing``:

* **GPU-level** functions ``shares(gpus, layer)`` returning a ``G x G``
  matrix whose row ``i`` gives the fraction of GPU i's token-expert pairs
  that land on the experts of GPU j (rows sum to 1). ``uniform`` is one:
  every GPU gets 1/G of every GPU's pairs.
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

Every model is a class in its own module of this package, with a ``name``
and a frozen ``Params`` dataclass, subclassing :class:`GpuRouting` or
:class:`ExpertRouting` and decorated with ``@register`` (the shared
:class:`~ns3_mfs.registry.Registry`); ``uniform.py`` is the smallest.

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

from typing import Any, ClassVar, Mapping, Optional

import numpy as np

from ...registry import NoParams, Registry


class RoutingModel:
    """A routing model of an instance's tokens; built once per run with its validated ``Params``."""

    name: ClassVar[str] = ""
    Params: ClassVar[type] = NoParams

    def __init__(self, params: Any, experts: int, layers: int):
        self.params, self.experts, self.layers = params, experts, layers


class GpuRouting(RoutingModel):
    """A GPU-level model: the share matrix directly, without experts or a placement."""

    def shares(self, gpus: int, layer: int) -> np.ndarray:
        """``G x G``: row i is the fraction of GPU i's token-expert pairs landing on GPU j (rows sum to 1)."""
        raise NotImplementedError


class ExpertRouting(RoutingModel):
    """Per-layer expert popularity and (optionally) inter-layer co-activation."""

    def popularity(self, layer: int) -> np.ndarray:
        """``p_l[e]``: share of the layer's token-expert pairs that expert e receives (sums to 1)."""
        raise NotImplementedError

    def coactivation(self, layer: int) -> Optional[np.ndarray]:
        """``C_l[a, b]``: joint frequency of a at ``layer`` and b at ``layer + 1``; None if independent."""
        return None


REGISTRY: Registry[type[RoutingModel]] = Registry("routing model", group="ns3_mfs.routing")
register = REGISTRY.register


def check_params(name: str, params: Optional[Mapping[str, Any]], path: str = "serving") -> Any:
    """Validate ``serving.routing`` and ``[serving.routing_params]``."""
    return REGISTRY.params(name, params, f"{path}.routing", f"{path}.routing_params")


def is_expert_level(name: str) -> bool:
    """Whether the model needs a placement (expert-level) or gives GPU shares itself."""
    return issubclass(REGISTRY.get(name, "serving.routing"), ExpertRouting)


def make(name: str, params: Optional[Mapping[str, Any]], experts: int, layers: int) -> RoutingModel:
    """A routing model with validated parameters."""
    return REGISTRY[name](check_params(name, params), experts, layers)


from . import file, uniform, zipf  # noqa: E402  (the built-in models register themselves)
from .file import FromFile  # noqa: E402
from .zipf import Zipf  # noqa: E402

__all__ = ["REGISTRY", "ExpertRouting", "FromFile", "GpuRouting", "RoutingModel", "Zipf", "check_params",
           "is_expert_level", "make", "register"]
