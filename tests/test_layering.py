"""Lower layers never import higher ones (docs/explanation/architecture.md).

Every ``import``/``from ... import`` of ``ns3_mfs`` in the package is parsed
with :mod:`ast` (at module level, inside functions and under
``TYPE_CHECKING`` alike; relative imports resolved) and its layer checked
against the allowed directions:

* **base** (``config``, ``errors``, ``registry``, ``_build``, ``_ns``, ``store``, ``identity``,
  ``csvfile``): only each other;
* **fabric** -> base; it is the only layer that loads ns-3 (``_ns``);
* **policies** -> base, and the fabric only through its protocols
  (``ns3_mfs.fabric.transport``: Clock, Transport);
* **serving** -> base (not ``_ns``), fabric, policies;
* **experiment** -> base, fabric, policies, serving (not analysis, cli, demo);
* **analysis** -> base, fabric, policies, serving: it reads result directories through ``store``'s
  format, never ``experiment`` (and ``experiment`` never imports ``analysis``: the CLI draws the plots);
* **top** (the package ``__init__``, ``__main__``, ``cli``, ``demo``, ``docs_reference``) may import anything;
  no layer imports a top module.

Imports within one layer are free. :data:`KNOWN` lists today's violations in
files this test's author does not own; each must still exist (remove it when
fixed), so the list only shrinks.
"""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "ns3_mfs"
BASE = {"config", "errors", "registry", "_build", "_ns", "store", "identity", "csvfile"}
TOP = {"ns3_mfs", "__main__", "cli", "demo", "docs_reference", "config_docs"}
ALLOWED = {
    "base": BASE,
    "fabric": BASE | {"fabric"},
    "policies": (BASE - {"_ns"}) | {"policies", "ns3_mfs.fabric.transport"},
    "serving": (BASE - {"_ns"}) | {"serving", "fabric", "policies"},
    "experiment": (BASE - {"_ns"}) | {"experiment", "fabric", "policies", "serving"},
    "analysis": (BASE - {"_ns"}) | {"analysis", "fabric", "policies", "serving"},
}

#: (importing module, imported module): violations to be fixed by the owners of these files.
KNOWN: set[tuple[str, str]] = set()


def _module_name(path: Path) -> tuple[str, str]:
    """(module, package its relative imports start from)."""
    parts = ("ns3_mfs",) + path.relative_to(PKG).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
        return ".".join(parts), ".".join(parts)
    return ".".join(parts), ".".join(parts[:-1])


def imports(path: Path) -> set[str]:
    """The ``ns3_mfs`` modules a file imports (``from a import b`` counts as ``a.b`` when b is a module)."""
    _, pkg = _module_name(path)
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.split(".")[0] == "ns3_mfs")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")[: len(pkg.split(".")) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.split(".")[0] != "ns3_mfs":
                continue
            for a in node.names:
                sub = f"{mod}.{a.name}"
                as_module = PKG.joinpath(*sub.split(".")[1:])
                out.add(sub if as_module.with_suffix(".py").exists() or as_module.is_dir() else mod)
    return out


def layer(module: str) -> str:
    parts = module.split(".")
    name = parts[1] if len(parts) > 1 else "ns3_mfs"
    if name in TOP:
        return "top"
    return "base" if name in BASE else name


def allowed(src: str, dst: str) -> bool:
    a, b = layer(src), layer(dst)
    if a == "top":
        return True
    if b == "top":
        return False
    rules = ALLOWED[a]
    name = dst.split(".")[1] if "." in dst else dst
    return a == b or name in rules or b in rules or any(dst == r or dst.startswith(r + ".") for r in rules)


def all_imports() -> list[tuple[str, str]]:
    return sorted((_module_name(p)[0], dst) for p in PKG.rglob("*.py") for dst in imports(p))


def test_every_module_has_a_layer():
    layers = {layer(src) for src, _ in all_imports()}
    assert layers <= set(ALLOWED) | {"top"}, layers - set(ALLOWED)


def test_lower_layers_never_import_higher_ones():
    bad = [(s, d) for s, d in all_imports() if not allowed(s, d) and (s, d) not in KNOWN]
    assert not bad, "\n".join(f"{s} imports {d}" for s, d in bad)


def test_known_violations_still_exist():
    """When a known violation is fixed, remove it from KNOWN (so the list only shrinks)."""
    found = set(all_imports())
    assert KNOWN <= found, KNOWN - found
    assert all(not allowed(s, d) for s, d in KNOWN)


def test_the_rule_catches_an_upward_import():
    assert not allowed("ns3_mfs.experiment.compare", "ns3_mfs.analysis.plots")
    assert not allowed("ns3_mfs.analysis.plots", "ns3_mfs.experiment.run")
    assert not allowed("ns3_mfs.store", "ns3_mfs.fabric.network")
    assert not allowed("ns3_mfs.serving.engine", "ns3_mfs.experiment.run")
    assert not allowed("ns3_mfs.policies.mfs", "ns3_mfs.fabric.network")
    assert allowed("ns3_mfs.policies.base", "ns3_mfs.fabric.transport")
    assert not allowed("ns3_mfs.serving.engine", "ns3_mfs._ns")
    assert allowed("ns3_mfs.fabric.network", "ns3_mfs._ns")
