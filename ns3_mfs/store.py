"""Result directories (docs/reference/results.md), written atomically.

Every file is written to a temporary name in the same directory and renamed
into place, so a reader never sees a half-written file. ``meta.json`` is
written last: its presence marks a finished run, and its ``identity``
(:mod:`ns3_mfs.identity`) says which config, input files and code made it.
A new run into a directory first removes the previous run's result files,
so the directory never mixes two runs.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import subprocess
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any, Iterator, Mapping

import pandas as pd
import tomli_w

from .config import ConfigError
from .errors import OutputError

PACKAGE_DIR = Path(__file__).resolve().parent
#: Files a run writes (every table is ``<name>.parquet``); removed before a new run into the same directory.
RUN_FILES = ("config.toml", "summary.json", "meta.json", "error.json")


def _umask() -> int:
    """The process's umask, read without changing it where Linux allows (else set and restored at once)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """Mode of every result file: what ``open()`` gives (0644 under the usual umask 022), not mkstemp's 0600."""
    return 0o666 & ~_umask()


@contextlib.contextmanager
def _atomic(path: Path) -> Iterator[str]:
    """Yield a temporary name beside ``path``; on success rename it to ``path``, else remove it.

    The file gets the mode a plain ``open()`` would give it (group and
    others may read it under the usual umask), not ``mkstemp``'s 0600.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, file_mode())
    finally:
        os.close(fd)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    with _atomic(path) as tmp, open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def write_table(path: Path, df: pd.DataFrame) -> None:
    """Write a DataFrame as Parquet, atomically."""
    with _atomic(path) as tmp:
        df.to_parquet(tmp, index=False)


def json_safe(obj: Any) -> Any:
    """``obj`` with every NaN or infinite float replaced by None (JSON has no NaN), recursively."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


def json_text(obj: Any, sort_keys: bool = True) -> str:
    """Strict JSON (NaN and infinities as ``null``), indented, key-sorted unless told otherwise."""
    return json.dumps(json_safe(obj), indent=2, sort_keys=sort_keys, allow_nan=False)


def json_bytes(obj: Any) -> bytes:
    """:func:`json_text` with a final newline, as bytes (what every result ``.json`` file holds)."""
    return (json_text(obj) + "\n").encode()


def read_summary(path: Path) -> dict[str, Any]:
    """A ``summary.json`` as a dict; a top-level ``null`` metric reads as NaN (a number no run produced)."""
    data = json.loads(Path(path).read_text())
    return {k: math.nan if v is None else v for k, v in data.items()} if isinstance(data, dict) else data


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(PACKAGE_DIR), *args], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def git_commit() -> str | None:
    """The commit of the package's git checkout, or None (an installed package)."""
    return _git("rev-parse", "HEAD") or None


def git_dirty() -> bool | None:
    """Whether the package's checkout has uncommitted changes under ``ns3_mfs/`` (None: not a checkout)."""
    if git_commit() is None:
        return None
    status = _git("status", "--porcelain", "--", ".")
    return None if status is None else bool(status)


def package_version() -> str:
    try:
        return metadata.version("ns3-mfs")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def run_meta(seed: int, summary: Mapping[str, Any], status: str = "complete",
             config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Provenance of a run: its identity (of ``config``), versions, commit, seed and its cost."""
    from .identity import identity
    
    try:
        ns3 = metadata.version("ns3")
    except metadata.PackageNotFoundError:
        ns3 = None
    return {
        "package": "ns3-mfs",
        "version": package_version(),
        "git_commit": git_commit(),
        "git_dirty": git_dirty(),
        "ns3_version": ns3,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "seed": seed,
        "status": status,
        "wall_s": summary.get("wall_s"),
        "sim_s": summary.get("sim_s"),
        "events": summary.get("events"),
        "packet_hops": summary.get("packet_hops"),
        "identity": identity(config or {}),
    }


def check_out(out: Path, kind: str, replace: bool = False) -> None:
    """Refuse an ``--out`` that cannot take a run's results, before anything is simulated (creates nothing).

    ``out`` must be a directory (or not exist yet, under a writable
    directory) that we may write to; a non-empty ``out`` must hold an earlier
    result of the same ``kind`` (``serving`` or ``fabric``), unless
    ``replace`` (then only result files are replaced; other files stay).
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out: {out} is a file, not a directory; give a directory for the results")
    probe = out
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        raise ConfigError(f"--out: cannot write under {probe} (permission denied); give a writable directory")
    if probe != out or replace or all(p.name.startswith(".") for p in out.iterdir()):
        return
    meta = out / "meta.json"
    try:
        previous = json.loads(meta.read_text()).get("kind", "serving") if meta.exists() else None
    except (OSError, ValueError, AttributeError):
        previous = "unreadable"
    if previous is None and any((out / n).exists() for n in RUN_FILES if n != "meta.json"):
        previous = "unfinished"
    if previous == kind or previous == "unfinished":
        return
    what = f"a {previous} result" if previous not in (None, "unreadable") else "files that are not a result"
    raise ConfigError(f"--out: {out} holds {what}; give a new or empty directory, or --replace to write into it")


def write_run(
    out: Path,
    *,
    config: Mapping[str, Any],
    summary: Mapping[str, Any],
    tables: Mapping[str, pd.DataFrame],
    seed: int,
    status: str = "complete",
    kind: str = "serving",
) -> None:
    """Write a result directory: tables, config, summary, then meta.

    ``kind`` (``serving`` or ``fabric``) is recorded in ``meta.json``. A write
    that fails (disk full, permissions) raises :class:`OutputError` naming
    the directory.

    ``status`` (in ``meta.json``) is ``complete``, ``partial`` (the run was
    stopped early: see ``summary.json``'s ``stop_reason``) or ``invalid`` (an
    end-of-run check failed: see its ``checks``).
    """
    out = Path(out)
    meta = json_bytes({**run_meta(seed, summary, status, config), "kind": kind})
    try:
        out.mkdir(parents=True, exist_ok=True)
        clear_run(out)  # meta.json first: the directory is incomplete until the new one lands
        for name, df in tables.items():
            write_table(out / f"{name}.parquet", df)
        write_atomic(out / "config.toml", tomli_w.dumps(toml_safe(config)).encode())
        write_atomic(out / "summary.json", json_bytes(dict(summary)))
        write_atomic(out / "meta.json", meta)
    except OSError as exc:
        left = ("what was written before the failure is there without a meta.json, so it is not a finished "
                "result" if out.is_dir() else "nothing was written")
        raise OutputError(f"writing the results into {out} failed ({exc.strerror or exc}); {left}") from None


def clear_run(out: Path) -> None:
    """If ``out`` holds a previous run, remove its result files (``meta.json`` first); other files stay."""
    if not any((out / n).exists() for n in RUN_FILES):
        return
    for path in [out / "meta.json", *(out / n for n in RUN_FILES), *sorted(out.glob("*.parquet"))]:
        path.unlink(missing_ok=True)


def toml_safe(obj: Any) -> Any:
    """``obj`` without None values (TOML has no null), recursively."""
    if isinstance(obj, Mapping):
        return {str(k): toml_safe(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, (list, tuple)):
        return [toml_safe(v) for v in obj]
    return obj
