"""The config reference, generated from the ``spec`` metadata of the config dataclasses.

One row model, two renderers: :func:`key_rows` reads every key of a config
dataclass (type, default, allowed values, limits and meaning, from the
fields' types and ``spec(default, doc=..., min=, max=, gt=, choices=)``);
:func:`text_block` renders rows for the terminal (``ns3-mfs config docs
[SECTION]``) and :func:`markdown_table` for the documentation site
(:mod:`ns3_mfs.docs_reference`) and ``--format markdown``. So the reference
cannot drift from what is validated, and both outputs say the same thing.
:func:`sections` lists the sections (``run``, ``fabric``, ``serving``,
``workload``, ``policies.mfs``, ``topology.testbed``, ...).
"""

from __future__ import annotations

import dataclasses
import html
import types
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

FORMATS = ("text", "markdown")


@dataclasses.dataclass(frozen=True)
class KeyRow:
    """One config key, as both renderers show it."""

    key: str
    #: ``int``, ``float``, ``bool``, ``string``, ``list of int``, ``table``, ``string or table``.
    type: str
    #: The default as TOML text (``4096``, ``"dynamic"``, ``[0, 1]``, ``{}``: a table of defaults), or a label
    #: when ``default_is_value`` is false: ``required``, ``unset`` (may be left out: the meaning says what
    #: happens then), ``profile`` (taken from ``fabric.dcqcn_profile``).
    default: str
    default_is_value: bool
    #: The allowed values as TOML text (from a ``Literal`` type or ``choices``); empty: any value of the type.
    choices: tuple[str, ...]
    #: Inclusive unless written ``>``: ``(">= 1", "<= 64")``.
    bounds: tuple[str, ...]
    doc: str


def toml_text(value: Any) -> str:
    """A value as TOML text (``true``, ``"a"``, ``1e10``, ``[1, 2]``, ``{k = 1}``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, float) and value.is_integer() and abs(value) >= 1e6:
        return f"{value:.0e}".replace("e+0", "e").replace("e+", "e")
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{}" if not value else "{" + ", ".join(f"{k} = {toml_text(v)}" for k, v in value.items()) + "}"
    return repr(value)


def _number(value: Any) -> str:
    """A limit: ``0`` rather than ``0.0`` (the type column says whether the key is a float)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e6:
        return str(int(value))
    return toml_text(value)


def _members(tp: Any) -> list[Any]:
    """The types of a union without ``None`` (``[tp]`` for anything else)."""
    if get_origin(tp) in (Union, types.UnionType):
        return [a for a in get_args(tp) if a is not type(None)]
    return [tp]


def table_type(tp: Any) -> type | None:
    """The config dataclass of a field that is a table (``Optional[X]`` too), else ``None``."""
    return next((a for a in _members(tp) if dataclasses.is_dataclass(a)), None)


def type_name(tp: Any) -> str:
    """The TOML-side name of a field type (a ``Literal`` is named by its values' type)."""
    if len(_members(tp)) > 1:
        return " or ".join(type_name(a) for a in _members(tp))
    tp = _members(tp)[0]
    origin = get_origin(tp)
    if origin is Literal:
        kinds = {type_name(type(a)) for a in get_args(tp)}
        return kinds.pop() if len(kinds) == 1 else "value"
    if origin in (list, tuple):
        return f"list of {type_name(get_args(tp)[0])}"
    if tp is dict or origin is dict or dataclasses.is_dataclass(tp):
        return "table"
    if tp is Any:
        return "any"
    return {bool: "bool", int: "int", float: "float", str: "string"}.get(tp, getattr(tp, "__name__", str(tp)))


def _choices(tp: Any, meta: Any) -> tuple[str, ...]:
    out: list[str] = []
    for a in _members(tp):
        inner = get_args(a)[0] if get_origin(a) in (list, tuple) else a  # a list's items
        if get_origin(inner) is Literal:
            out += [toml_text(v) for v in get_args(inner)]
    return tuple(out + [toml_text(c) for c in meta.get("choices", ())])


def _bounds(meta: Any) -> tuple[str, ...]:
    return tuple(f"{op} {_number(meta[rule])}" for rule, op in (("gt", ">"), ("min", ">="), ("max", "<="))
                 if rule in meta)


def _default(f: dataclasses.Field, unset: str) -> tuple[str, bool]:
    if f.default is not dataclasses.MISSING:
        value = f.default
    elif f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        value = f.default_factory()  # type: ignore[misc]
    else:
        return "required", False
    if value is None:
        return unset, False
    if dataclasses.is_dataclass(value):
        return "{}", True  # a table of defaults, as if written `{}`
    return toml_text(value), True


def _unset_labels(cls: type) -> dict[str, str]:
    """Keys whose absent value means more than "unset": the DCQCN keys take their profile's value."""
    from .fabric.cc_profiles import PROFILE_KEYS
    from .fabric.network import FabricConfig

    return {k: "profile" for k in PROFILE_KEYS} if cls is FabricConfig else {}


_TOPOLOGY = ("string or table", "path of a topology TOML (relative to the run config) or an inline [topology] "
             "table; see [topology.<kind>]")


def key_rows(cls: type, table: str = "") -> list[KeyRow]:
    """One row per init field of config dataclass ``cls``; ``table`` is its dotted name (``""``: top level)."""
    from .experiment.run import RunConfig

    hints = get_type_hints(cls)
    labels = _unset_labels(cls)
    rows = []
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        tp = hints[f.name]
        doc = str(f.metadata.get("doc", ""))
        type_text = type_name(tp)
        if table_type(tp) is not None:
            sub = f"[{table}.{f.name}]" if table else f"[{f.name}]"
            doc = doc if sub in doc else (doc + "; " if doc else "") + f"see {sub}"
        elif cls is RunConfig and f.name == "topology":
            type_text, doc = _TOPOLOGY
        elif not doc and f.name == "kind":
            doc = "selects this kind"
        default, is_value = _default(f, labels.get(f.name, "unset"))
        rows.append(KeyRow(f.name, type_text, default, is_value, _choices(tp, f.metadata), _bounds(f.metadata),
                           doc))
    return rows


def md_cell(text: str) -> str:
    """Text safe inside a Markdown table cell (no raw HTML, no column breaks, one line)."""
    return html.escape(" ".join(str(text).split()), quote=False).replace("|", "\\|")


def markdown_table(rows: list[KeyRow]) -> list[str]:
    """Rows as a Markdown table (key, type, default, limits, meaning); values in code, labels in italics."""
    out = ["| key | type | default | limits | meaning |", "|---|---|---|---|---|"]
    for r in rows:
        default = f"`{r.default}`" if r.default_is_value else f"*{r.default}*"
        limits = ([("one of " + ", ".join(f"`{c}`" for c in r.choices))] if r.choices else []) + list(r.bounds)
        out.append(f"| `{r.key}` | {r.type} | {default} | {', '.join(limits)} | {md_cell(r.doc)} |")
    return out


def text_block(title: str, rows: list[KeyRow]) -> str:
    """Rows as terminal text: ``key  type, default D; one of ...; >= 1`` and the meaning below."""
    width = max((len(r.key) for r in rows), default=0)
    lines = [title]
    for r in rows:
        limits = ([("one of " + ", ".join(r.choices))] if r.choices else []) + list(r.bounds)
        lines.append(f"  {r.key:<{width}}  {r.type}, default {r.default}"
                     + (f"; {', '.join(limits)}" if limits else ""))
        if r.doc:
            lines.append(f"  {'':<{width}}    {r.doc}")
    return "\n".join(lines) + "\n"


def nested_tables(cls: type, table: str) -> list[tuple[str, type]]:
    """``(dotted name, dataclass)`` of the tables inside config dataclass ``cls`` (named ``table``), depth first."""
    out = []
    hints = get_type_hints(cls)
    for f in dataclasses.fields(cls):
        inner = table_type(hints[f.name])
        if inner is not None:
            name = f"{table}.{f.name}" if table else f.name
            out += [(name, inner), *nested_tables(inner, name)]
    return out


def sections() -> dict[str, type]:
    """Section name (a run config's dotted table) -> its config dataclass, in reading order."""
    from .experiment.run import RunConfig
    from .fabric.topology import REGISTRY as TOPOLOGIES
    from .fabric.topology import Topology
    from .policies import REGISTRY as POLICIES

    out: dict[str, type] = {"run": RunConfig, **dict(nested_tables(RunConfig, ""))}
    for kind, cls in sorted(TOPOLOGIES.items()):
        out[f"topology.{kind}"] = cls
    out.update(nested_tables(Topology, "topology"))  # tables every kind has ([topology.host])
    for name, cls in sorted(POLICIES.items()):
        if dataclasses.fields(cls.Params):
            out[f"policies.{name}"] = cls.Params
    return out


def section_docs(section: str, fmt: str = "text") -> str:
    """One section of the config reference as plain text or a Markdown table."""
    from .config import ConfigError, did_you_mean

    if fmt not in FORMATS:
        raise ConfigError(f"format: {fmt!r} is not a format; allowed: {', '.join(FORMATS)}")
    table = sections()
    if section not in table:
        raise ConfigError(f"config docs: {section!r} is not a section; allowed: {', '.join(table)}"
                          f"{did_you_mean(section, table)}")
    rows = key_rows(table[section], "" if section == "run" else section)
    if fmt == "markdown":
        title = "### run config (top level)" if section == "run" else f"### `[{section}]`"
        return "\n".join([title, "", *markdown_table(rows)]) + "\n"
    return text_block("top level of a run config" if section == "run" else f"[{section}]", rows)


def config_docs(section: str | None = None, fmt: str = "text") -> str:
    """The whole reference (every section), or one section."""
    if section is not None:
        return section_docs(section, fmt)
    return "\n".join(section_docs(name, fmt) for name in sections())
