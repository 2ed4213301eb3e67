"""Decode batching policies (``serving.decode.policy``): which requests an instance steps next.

A policy is a class in its own module of this package with a ``name``, a
frozen ``Params`` dataclass (none take parameters yet) and ``form(side,
inst)``, which admits requests (``side.admit``, ``side.fits``) and returns
the batch of the next step (empty: the instance idles until a request
arrives); decorated with ``@register`` (the shared
:class:`~ns3_mfs.registry.Registry`). ``continuous.py`` is vLLM's.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ...registry import NoParams, Registry


class DecodeBatching:
    """Forms the batch of a decode instance's next step."""

    name: ClassVar[str] = ""
    Params: ClassVar[type] = NoParams

    def form(self, side: Any, inst: Any) -> list:
        """The requests of ``inst``'s next step (admitting the new ones through ``side.admit``)."""
        raise NotImplementedError


REGISTRY: Registry[type[DecodeBatching]] = Registry("decode batching policy", group="ns3_mfs.decode_batching")
register = REGISTRY.register

from . import continuous, kairos_slack  # noqa: E402  (the built-in policies register themselves)

__all__ = ["REGISTRY", "DecodeBatching", "register"]
