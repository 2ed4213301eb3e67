"""A small registry of named implementations, each with a typed ``Params`` dataclass.

Flow policies, prefill queue policies, dispatchers, routing models,
placements, decode batching policies and topology kinds all use it: a class
with a ``name`` and a frozen ``Params`` dataclass is added with
``@REGISTRY.register``; :meth:`Registry.params` validates a parameter table
with errors that name the config key.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Generic, Iterator, Mapping, Optional, TypeVar

from .config import ConfigError, did_you_mean, from_dict

T = TypeVar("T", bound=type)


@dataclass(frozen=True)
class NoParams:
    """For implementations without parameters."""


class Registry(Generic[T]):
    """Classes by name (their ``key`` attribute, ``name`` by default); iterating gives the names."""

    def __init__(self, kind: str, key: str = "name"):
        self.kind, self.key = kind, key
        self.classes: dict[str, T] = {}

    def register(self, cls: T) -> T:
        self.classes[getattr(cls, self.key)] = cls
        return cls

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self.classes

    def __iter__(self) -> Iterator[str]:
        return iter(self.classes)

    def __getitem__(self, name: str) -> T:
        return self.classes[name]

    def items(self):
        return self.classes.items()

    def allowed(self) -> str:
        return ", ".join(sorted(self.classes))

    def get(self, name: Any, key: str) -> T:
        """The class called ``name``; ``key`` is the config key that named it (for the error)."""
        if name not in self:
            hint = did_you_mean(name, self.classes) if isinstance(name, str) else ""
            raise ConfigError(f"{key}: {name!r} is not a {self.kind}; allowed: {self.allowed()}{hint}")
        return self.classes[name]

    def params(self, name: Any, params: Optional[Mapping[str, Any]], key: str, params_key: str) -> Any:
        """Validated ``Params`` of ``name`` from a table (errors name ``params_key.<field>``)."""
        if params is not None and not isinstance(params, Mapping):
            raise ConfigError(f"{params_key}: expected a table, got {params!r}")
        cls = self.get(name, key)
        if params and not fields(cls.Params):
            raise ConfigError(f"{params_key}.{sorted(params)[0]}: unknown key; {self.kind.split()[0]} {name!r} "
                              "takes no parameters")
        return from_dict(cls.Params, dict(params or {}), params_key)
