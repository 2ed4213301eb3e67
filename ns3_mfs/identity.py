"""What a result is: its resolved config, the contents of its input files and the code.

A run's *identity* is recorded in its ``meta.json`` and recomputed whenever a
sweep or ``compare`` decides whether a finished result directory can be
reused. Three parts, each a SHA-256:

* ``config``: the fully resolved run config (canonical JSON of what
  ``config.toml`` holds: defaults filled in, topology inlined, file paths
  absolute);
* ``inputs``: every file the config names (traces, model and GPU TOMLs,
  calibration CSVs, routing and co-activation files, flow lists), hashed by
  content, so an edited trace or model is a different input even at the same
  path; catalogue names (``model = "mixtral-8x7b"``) are package data and
  covered by the code key;
* ``code``: the package version, the native library's build key (C++ sources,
  ns-3 version, compiler, flags) and a hash of every Python source and data
  file of the package, so any code change makes a new identity; with
  plugins installed (packages providing ``ns3_mfs.*`` entry points, see
  :mod:`ns3_mfs.registry`), also ``plugins``: each such distribution's name,
  version and a hash of its files.

``key`` hashes the three together; two runs with the same key were made from
the same inputs by the same code.
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path
from typing import Any, Iterator, Mapping

PACKAGE_DIR = Path(__file__).resolve().parent

#: Dotted config keys whose string values name input files (the one list: sweeps make these absolute too).
INPUT_KEYS = (
    "workload.trace",
    "workload.input.trace",
    "workload.output.trace",
    "serving.model",
    "serving.gpu",
    "serving.calibration_csv",
    "serving.decode.calibration_csv",
    "serving.routing_params.path",
    "serving.placement_params.coactivation_file",
    "run.flows",
)


def canonical_json(obj: Any) -> str:
    """Key-sorted, compact JSON: the form that is hashed."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=True, default=str)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's content (cached per path, size and modification time)."""
    st = Path(path).stat()
    return _file_sha256(str(Path(path).resolve()), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=1024)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def get_key(config: Mapping[str, Any], dotted: str) -> Any:
    """The value at a dotted key of a nested config, or None."""
    node: Any = config
    for part in dotted.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


def input_files(config: Mapping[str, Any]) -> Iterator[tuple[str, Path]]:
    """(dotted key, path) of every existing file the config names; catalogue names are skipped."""
    for key in INPUT_KEYS:
        value = get_key(config, key)
        if isinstance(value, str) and value and Path(value).is_file():
            yield key, Path(value)


def inputs_identity(config: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """``{dotted key: {"path": ..., "sha256": ...}}`` for every input file."""
    return {key: {"path": str(p.resolve()), "sha256": file_sha256(p)} for key, p in input_files(config)}


@functools.lru_cache(maxsize=None)
def python_sources_sha256(package_dir: Path = PACKAGE_DIR) -> str:
    """Hash of every ``.py`` and ``.toml`` file of the package (path and content)."""
    h = hashlib.sha256()
    files = sorted(p for ext in ("*.py", "*.toml") for p in package_dir.rglob(ext) if "__pycache__" not in p.parts)
    for p in files:
        h.update(p.relative_to(package_dir).as_posix().encode() + b"\0")
        h.update(p.read_bytes())
    return h.hexdigest()


@functools.lru_cache(maxsize=None)
def code_identity() -> dict[str, str]:
    """Package version, native build key and Python sources hash of the code that is running."""
    from . import _build
    from .store import package_version

    try:
        native = _build.build_key(_build.compiler()[1])
    except _build.BuildError as exc:  # no compiler: still a stable key for this machine's code
        native = "unbuildable:" + sha256_text(str(exc))[:16]
    from .registry import plugin_distributions

    code = {"version": package_version(), "native_build_key": native, "python_sha256": python_sources_sha256()}
    plugins = plugin_distributions()
    if plugins:
        code["plugins"] = canonical_json(plugins)
    return code


def config_sha256(config: Mapping[str, Any]) -> str:
    from .store import toml_safe

    return sha256_text(canonical_json(toml_safe(config)))


def identity(config: Mapping[str, Any]) -> dict[str, Any]:
    """The identity of a run of ``config`` by this code (see the module docstring)."""
    ident: dict[str, Any] = {
        "config": config_sha256(config),
        "inputs": inputs_identity(config),
        "code": code_identity(),
    }
    ident["key"] = sha256_text(canonical_json(ident))
    return ident


def differences(recorded: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """Why two identities differ, in words (empty when their keys are equal)."""
    if recorded.get("key") == current.get("key"):
        return []
    out = []
    if recorded.get("config") != current.get("config"):
        out.append("config")
    rec_in, cur_in = recorded.get("inputs") or {}, current.get("inputs") or {}
    for key in sorted(set(rec_in) | set(cur_in)):
        a, b = rec_in.get(key) or {}, cur_in.get(key) or {}
        if a.get("sha256") != b.get("sha256"):
            out.append(f"input {key}")
    rec_code, cur_code = recorded.get("code") or {}, current.get("code") or {}
    for part, word in (("version", "package version"), ("native_build_key", "native code"),
                       ("python_sha256", "Python code"), ("plugins", "plugins")):
        if rec_code.get(part) != cur_code.get(part):
            out.append(word)
    return out or ["identity"]
