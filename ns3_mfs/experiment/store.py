"""Result directories (DESIGN.md section 6), written atomically.

Every file is written to a temporary name in the same directory and renamed
into place, so a reader never sees a half-written file. ``meta.json`` is
written last: its presence marks a finished run.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import subprocess
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any, Iterator, Mapping

import pandas as pd
import tomli_w

PACKAGE_DIR = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def _atomic(path: Path) -> Iterator[str]:
    """Yield a temporary name beside ``path``; on success rename it to ``path``, else remove it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
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


def _json(obj: Any) -> bytes:
    return (json.dumps(obj, indent=2, sort_keys=True, allow_nan=True) + "\n").encode()


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(PACKAGE_DIR), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def package_version() -> str:
    try:
        return metadata.version("ns3-mfs")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def run_meta(seed: int, summary: Mapping[str, Any], status: str = "complete") -> dict[str, Any]:
    """Provenance of a run: versions, commit, seed and its cost."""
    try:
        ns3 = metadata.version("ns3")
    except metadata.PackageNotFoundError:
        ns3 = None
    return {
        "package": "ns3-mfs",
        "version": package_version(),
        "git_commit": git_commit(),
        "ns3_version": ns3,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "seed": seed,
        "status": status,
        "wall_s": summary.get("wall_s"),
        "sim_s": summary.get("sim_s"),
        "events": summary.get("events"),
        "packet_hops": summary.get("packet_hops"),
    }


def write_run(
    out: Path,
    *,
    config: Mapping[str, Any],
    summary: Mapping[str, Any],
    tables: Mapping[str, pd.DataFrame],
    seed: int,
    status: str = "complete",
) -> None:
    """Write a result directory: tables, config, summary, then meta.

    ``status`` (in ``meta.json``) is ``complete``, ``partial`` (the run was
    stopped early: see ``summary.json``'s ``stop_reason``) or ``invalid`` (an
    end-of-run check failed: see its ``checks``).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    stale = out / "meta.json"
    if stale.exists():
        stale.unlink()  # the directory is incomplete until the new meta.json lands
    for name, df in tables.items():
        write_table(out / f"{name}.parquet", df)
    write_atomic(out / "config.toml", tomli_w.dumps(_toml_safe(config)).encode())
    write_atomic(out / "summary.json", _json(dict(summary)))
    write_atomic(out / "meta.json", _json(run_meta(seed, summary, status)))


def _toml_safe(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {str(k): _toml_safe(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, (list, tuple)):
        return [_toml_safe(v) for v in obj]
    return obj
