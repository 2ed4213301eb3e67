"""A small registry of named implementations, each with a typed ``Params`` dataclass.

Flow policies, prefill queue policies, dispatchers, routing models,
placements, decode batching policies and topology kinds all use it: a class
with a ``name`` and a frozen ``Params`` dataclass is added with
``@REGISTRY.register``; :meth:`Registry.params` validates a parameter table
with errors that name the config key.

Installed packages add implementations through entry points: a registry
made with ``group="ns3_mfs.policies"`` (see :data:`GROUPS`) loads every
entry point of that group the first time it is looked up (never at import),
so the CLI, ``config show``, sweep points and Ray workers, each a fresh
process, all see the same kinds. An entry point names a module (importing it
runs its ``@register`` decorators) or a class (registered if it is not yet).
:func:`plugin_distributions` lists the installed distributions that provide
such entry points, with a hash of their files, for the result identity.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, fields
from typing import Any, Generic, Iterator, Mapping, Optional, TypeVar

from .config import ConfigError, did_you_mean, from_dict

T = TypeVar("T", bound=type)

#: The entry-point groups a user's package can add implementations to.
GROUPS = ("ns3_mfs.topologies", "ns3_mfs.policies", "ns3_mfs.queue_policies", "ns3_mfs.dispatchers",
          "ns3_mfs.routing", "ns3_mfs.placements", "ns3_mfs.decode_batching")


@functools.lru_cache(maxsize=None)
def _all_entry_points() -> Any:
    """Every installed entry point, read once per process (each read scans every installed distribution)."""
    from importlib.metadata import entry_points

    return entry_points()


def _entry_points(group: str) -> list[Any]:
    return sorted(_all_entry_points().select(group=group), key=lambda ep: ep.name)


def plugin_distributions() -> list[dict[str, str]]:
    """``[{"name", "version", "sha256"}]`` of the installed distributions with ns3_mfs entry points.

    ``sha256`` hashes the source files (path and content) of the top-level
    packages or modules the distribution's entry points name, found without
    importing them, so an edited plugin is another code version even at the
    same version number (editable installs included).
    """
    dists: dict[str, tuple[str, set[str]]] = {}
    for group in GROUPS:
        for ep in _entry_points(group):
            name = ep.dist.metadata["Name"] if ep.dist is not None else "?"
            version = ep.dist.version if ep.dist is not None else "?"
            dists.setdefault(name, (version, set()))[1].add(ep.value.split(":")[0].split(".")[0].strip())
    return [{"name": name, "version": version, "sha256": _modules_sha256(tuple(sorted(mods)))}
            for name, (version, mods) in sorted(dists.items())]


def _modules_sha256(modules: tuple[str, ...]) -> str:
    import importlib.util
    from pathlib import Path

    h = hashlib.sha256()
    for mod in modules:
        try:
            spec = importlib.util.find_spec(mod)
        except (ImportError, ValueError):
            spec = None
        files: list[Path] = []
        if spec is not None and spec.submodule_search_locations:
            for root in spec.submodule_search_locations:
                files += sorted(p for p in Path(root).rglob("*") if p.is_file() and p.suffix in (".py", ".toml",
                                                                                                 ".json"))
        elif spec is not None and spec.origin and Path(spec.origin).is_file():
            files.append(Path(spec.origin))
        h.update(mod.encode() + b"\0")
        for p in files:
            h.update(p.name.encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


@dataclass(frozen=True)
class NoParams:
    """For implementations without parameters."""


class Registry(Generic[T]):
    """Classes by name (their ``key`` attribute, ``name`` by default); iterating gives the names."""

    def __init__(self, kind: str, key: str = "name", group: Optional[str] = None):
        self.kind, self.key, self.group = kind, key, group
        self._classes: dict[str, T] = {}
        self._loaded = group is None
        #: entry points loaded: ``{entry point name: distribution name}``
        self.plugins: dict[str, str] = {}

    @property
    def classes(self) -> dict[str, T]:
        """Every class by name, the entry points of :attr:`group` loaded first."""
        if not self._loaded:
            self.load_plugins()
        return self._classes

    @classes.setter
    def classes(self, value: dict[str, T]) -> None:
        """Replace the table (tests swap in a copy so that what they register stays in the test)."""
        self._classes = value

    def load_plugins(self) -> None:
        """Load this registry's entry points (once); a broken one is a ConfigError naming it."""
        if self._loaded:
            return
        self._loaded = True
        for ep in _entry_points(self.group):
            try:
                obj = ep.load()
            except Exception as exc:  # a user's package: any error, reported in one line
                dist = ep.dist.metadata["Name"] if ep.dist is not None else "?"
                raise ConfigError(f"entry point {ep.name!r} ({self.group}, from {dist}): cannot load "
                                  f"{ep.value}: {type(exc).__name__}: {exc}") from None
            if isinstance(obj, type) and getattr(obj, self.key, None) and obj not in self._classes.values():
                self.register(obj)
            self.plugins[ep.name] = ep.dist.metadata["Name"] if ep.dist is not None else ""

    def register(self, cls: T) -> T:
        self._classes[getattr(cls, self.key)] = cls
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
