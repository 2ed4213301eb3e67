"""The config reference, generated from the ``spec`` metadata of the config dataclasses.

One source for ``ns3-mfs config docs [SECTION]`` and the documentation site:
:func:`section_docs` renders one section (``fabric``, ``serving``,
``workload``, ``policies.mfs``, ...) as a Markdown table or plain text;
:func:`sections` lists them. Every key, its type, default, allowed values and
meaning come from the dataclass fields (``spec(default, doc=..., min=, max=,
gt=, choices=)``), so the reference cannot drift from what is validated.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

FORMATS = ("text", "markdown")


def sections() -> dict[str, type]:
    """Section name (a run config's dotted table) -> its config dataclass, in reading order."""
    from .experiment.run import RunConfig
    from .fabric.topology import REGISTRY as TOPOLOGIES
    from .policies import REGISTRY as POLICIES

    out: dict[str, type] = {}

    def walk(name: str, cls: type) -> None:
        out[name] = cls
        hints = get_type_hints(cls)
        for f in dataclasses.fields(cls):
            inner = _dataclass_of(hints[f.name])
            if inner is not None:
                walk(f"{name}.{f.name}" if name != "run" else f.name, inner)

    walk("run", RunConfig)
    for kind, cls in sorted(TOPOLOGIES.items()):
        out[f"topology.{kind}"] = cls
    for name, cls in sorted(POLICIES.items()):
        if dataclasses.fields(cls.Params):
            out[f"policies.{name}"] = cls.Params
    return out


def _dataclass_of(tp: Any) -> type | None:
    if dataclasses.is_dataclass(tp):
        return tp
    if get_origin(tp) in (Union, types.UnionType):
        for a in get_args(tp):
            if dataclasses.is_dataclass(a):
                return a
    return None


def _type(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return "string" if all(isinstance(a, str) for a in get_args(tp)) else "value"
    if origin in (Union, types.UnionType):
        return " or ".join(_type(a) for a in get_args(tp) if a is not type(None))
    if origin in (list, tuple):
        return f"list of {_type(get_args(tp)[0])}"
    if dataclasses.is_dataclass(tp):
        return "table"
    return {int: "integer", float: "number", bool: "boolean", str: "string", dict: "table"}.get(tp, str(tp))


def _allowed(tp: Any, meta: typing.Mapping[str, Any]) -> str:
    parts = []
    args = [a for a in get_args(tp) if a is not type(None)] if get_origin(tp) in (Union, types.UnionType) else [tp]
    for a in args:
        inner = get_args(a)[0] if get_origin(a) in (list, tuple) else a
        if get_origin(inner) is Literal:
            parts.append(", ".join(repr(v) for v in get_args(inner)))
    if "choices" in meta:
        parts.append(", ".join(repr(v) for v in meta["choices"]))
    if "gt" in meta:
        parts.append(f"> {meta['gt']:g}")
    if "min" in meta:
        parts.append(f">= {meta['min']:g}")
    if "max" in meta:
        parts.append(f"<= {meta['max']:g}")
    return "; ".join(parts)


def _default(f: dataclasses.Field) -> str:
    if f.default is not dataclasses.MISSING:
        v = f.default
    elif f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        v = f.default_factory()  # type: ignore[misc]
    else:
        return "required"
    if v is None:
        return "unset"
    if dataclasses.is_dataclass(v):
        return "(table)"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, float):
        return f"{v:g}"
    return str(list(v) if isinstance(v, tuple) else v)


def rows(section: str) -> list[dict[str, str]]:
    """``key, type, default, allowed, doc`` of every field of a section."""
    from .config import ConfigError, did_you_mean

    table = sections()
    if section not in table:
        raise ConfigError(f"config docs: {section!r} is not a section; allowed: {', '.join(table)}"
                          f"{did_you_mean(section, table)}")
    cls = table[section]
    hints = get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        tp = hints[f.name]
        doc = f.metadata.get("doc", "")
        if _dataclass_of(tp) is not None:
            sub = f"{section}.{f.name}" if section != "run" else f.name
            doc = (doc + "; " if doc else "") + f"see section {sub}"
        if section == "run" and f.name == "topology":
            doc = "topology file path (relative to the run config) or an inline [topology] table; see topology.<kind>"
        out.append({"key": f.name, "type": _type(tp), "default": _default(f), "allowed": _allowed(tp, f.metadata),
                    "doc": doc})
    return out


def section_docs(section: str, fmt: str = "text") -> str:
    """One section of the config reference as plain text or a Markdown table."""
    from .config import ConfigError

    if fmt not in FORMATS:
        raise ConfigError(f"format: {fmt!r} is not a format; allowed: {', '.join(FORMATS)}")
    rs = rows(section)
    title = "top level of a run config" if section == "run" else f"[{section}]"
    if fmt == "markdown":
        lines = [f"### `{section}`" if section != "run" else "### run config (top level)", "",
                 "| key | type | default | allowed | meaning |", "|---|---|---|---|---|"]
        esc = lambda t: t.replace("|", "\\|")  # noqa: E731
        lines += [f"| `{r['key']}` | {r['type']} | `{esc(r['default'])}` | {esc(r['allowed'])} | {esc(r['doc'])} |"
                  for r in rs]
        return "\n".join(lines) + "\n"
    width = max((len(r["key"]) for r in rs), default=0)
    lines = [title]
    for r in rs:
        extra = f"; allowed: {r['allowed']}" if r["allowed"] else ""
        lines.append(f"  {r['key']:<{width}}  {r['type']}, default {r['default']}{extra}")
        if r["doc"]:
            lines.append(f"  {'':<{width}}    {r['doc']}")
    return "\n".join(lines) + "\n"


def config_docs(section: str | None = None, fmt: str = "text") -> str:
    """The whole reference (every section), or one section."""
    if section is not None:
        return section_docs(section, fmt)
    return "\n".join(section_docs(name, fmt) for name in sections())
