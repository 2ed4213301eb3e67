"""Typed, frozen configuration dataclasses loaded from TOML with clear errors.

Every config class in the package is a frozen dataclass whose fields carry
their constraints in ``field(metadata=...)``: ``min``/``max`` (inclusive),
``gt`` (exclusive lower bound), ``choices`` and ``doc``. :func:`from_dict`
builds one from a mapping, refusing unknown keys, wrong types and values out
of range with a :class:`ConfigError` that names the key path, the bad value
and what is allowed. Nothing here touches ns-3 or the file system except
:func:`load_toml`.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
import types
import typing
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

T = TypeVar("T")


class ConfigError(ValueError):
    """Invalid user input: the message names the field and what is allowed."""


def spec(default: Any = dataclasses.MISSING, *, doc: str = "", **rules: Any) -> Any:
    """A dataclass field with validation rules (min, max, gt, choices)."""
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata={"doc": doc, **rules})
    return dataclasses.field(default=default, metadata={"doc": doc, **rules})


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in get_args(tp) if a is not type(None)) + " (or absent)"
    if origin in (list, tuple):
        return f"a list of {_type_name(get_args(tp)[0])}"
    names = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}
    if dataclasses.is_dataclass(tp):
        return "a table"
    return names.get(tp, getattr(tp, "__name__", str(tp)))


def _convert(value: Any, tp: Any, path: str) -> Any:
    if tp is Any:
        return value
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return _convert(value, args[0], path)
    if origin is Literal:
        if not any(value == a and type(value) is type(a) for a in get_args(tp)):
            raise ConfigError(f"{path}: expected {_type_name(tp)}, got {value!r}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{path}: expected {_type_name(tp)}, got {value!r}")
        (item,) = get_args(tp)[:1]
        out = [_convert(v, item, f"{path}[{i}]") for i, v in enumerate(value)]
        return tuple(out) if origin is tuple else out
    if tp is dict or origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected a table, got {value!r}")
        return value
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected a table, got {value!r}")
        return from_dict(tp, value, path)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{path}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
                return int(value)
            raise ConfigError(f"{path}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{path}: expected a number, got {value!r}")
        if not math.isfinite(value):
            raise ConfigError(f"{path}: expected a finite number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{path}: expected a string, got {value!r}")
        return value
    raise TypeError(f"unsupported config type {tp!r} at {path}")  # a bug, not user input


def check_rules(value: Any, meta: typing.Mapping[str, Any], path: str) -> None:
    """Apply min/max/gt/choices rules of a field to a converted value."""
    if value is None:
        return
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            check_rules(v, meta, f"{path}[{i}]")
        return
    v = value
    if "choices" in meta and v not in meta["choices"]:
        allowed = ", ".join(repr(c) for c in meta["choices"])
        raise ConfigError(f"{path}: {v!r} is not allowed; allowed: {allowed}")
    if "gt" in meta and not v > meta["gt"]:
        raise ConfigError(f"{path}: must be > {meta['gt']}, got {v!r}")
    if "min" in meta and v < meta["min"]:
        raise ConfigError(f"{path}: must be >= {meta['min']}, got {v!r}")
    if "max" in meta and v > meta["max"]:
        raise ConfigError(f"{path}: must be <= {meta['max']}, got {v!r}")


def did_you_mean(name: str, choices: typing.Iterable[str]) -> str:
    """``"; did you mean 'mtu'?"`` for the closest choice to a misspelt name, or ``""``."""
    import difflib

    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def from_dict(cls: type[T], data: typing.Mapping[str, Any], path: str = "") -> T:
    """Build dataclass ``cls`` from ``data``, validating every key."""
    if not isinstance(data, dict):
        raise ConfigError(f"{path or 'config'}: expected a table, got {data!r}")
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    prefix = f"{path}." if path else ""
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"{prefix}{unknown[0]}: unknown key; allowed keys: {', '.join(sorted(fields))}"
                          f"{did_you_mean(str(unknown[0]), fields)}")
    kwargs = {}
    for name, f in fields.items():
        key = prefix + name
        if name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ConfigError(f"{key}: missing; expected {_type_name(hints[name])}")
            continue
        value = _convert(data[name], hints[name], key)
        check_rules(value, f.metadata, key)
        kwargs[name] = value
    obj = cls(**kwargs)
    validate = getattr(obj, "validate", None)
    if validate is not None:
        validate(path)
    return obj


def to_dict(obj: Any) -> dict[str, Any]:
    """A dataclass as plain TOML-compatible data (None values left out)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        if v is None:
            continue
        if dataclasses.is_dataclass(v):
            v = to_dict(v)
        elif isinstance(v, tuple):
            v = list(v)
        out[f.name] = v
    return out


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML file, turning I/O and syntax problems into ConfigError."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read file ({exc.strerror or exc})") from None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{p}: not a text (UTF-8) TOML file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: invalid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{p}: invalid TOML: nested too deeply") from None


def parse_assignments(items: typing.Iterable[str], flag: str = "--set") -> dict[str, Any]:
    """``["fabric.mtu=1024", "policy=mfs"]`` as ``{"fabric.mtu": 1024, "policy": "mfs"}``.

    A value is read as a TOML value (``1024``, ``2.5``, ``true``, ``"text"``,
    ``[1, 2]``, ``{E = 4.0}``); anything that is not valid TOML is taken as a
    plain string (``policy=mfs``).
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key or any(not part.strip() for part in key.split(".")):
            raise ConfigError(f"{flag}: expected KEY=VALUE with a dotted config key (e.g. fabric.mtu=1024), "
                              f"got {item!r}")
        text = text.strip()
        try:
            value = tomllib.loads(f"v = {text}")["v"]
        except tomllib.TOMLDecodeError:
            value = text
        out[key] = value
    return out
