"""``ns3-mfs results``: one table of every run under a directory.

Works on a sweep directory, a ``compare`` directory or any tree of result
directories. A *run directory* holds ``meta.json`` (finished: status ``ok``),
``error.json`` (status ``failed``) or some result files without either
(status ``partial``: killed or still running). A finished run whose
``meta.json`` says it stopped early (``partial``) or failed its checks
(``invalid``) gets status ``partial`` / ``failed``; ``run_status`` keeps
that value. Points listed in a sweep's
``sweep.json`` that have not produced anything yet are ``partial`` too.

One row per run: ``run_id`` (the directory name, e.g. a sweep point's hash),
``status``, ``path`` (relative to the root), ``error``, the run config
flattened to dotted-key columns (``fabric.mtu``, ``workload.rate_per_s``,
``policies.mfs.E``; lists as JSON text) and every ``summary.json`` metric.
"""

from __future__ import annotations

import json
import math
import os
import tomllib
from pathlib import Path
from typing import Any, Mapping, Optional

import pandas as pd

from ..config import ConfigError
from ..store import write_table

RESULT_FILES = ("meta.json", "error.json", "summary.json", "config.toml", ".point.toml", "requests.parquet",
                "flows.parquet")
BASE_COLUMNS = ("run_id", "status", "path", "error", "run_status")


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested tables as dotted keys; lists become JSON text (one scalar per cell)."""
    out: dict[str, Any] = {}
    for k, v in data.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(flatten(v, key + "."))
        elif isinstance(v, (list, tuple)):
            out[key] = json.dumps(list(v))
        else:
            out[key] = v
    return out


def is_run_dir(path: Path) -> bool:
    return any((path / name).exists() for name in RESULT_FILES)


#: How deep below the given directory run directories are looked for (a sweep's are 2 levels down).
MAX_DEPTH = 4


def find_run_dirs(root: Path) -> list[Path]:
    """Every run directory under ``root`` (itself included, at most ``MAX_DEPTH`` levels down), sorted;
    hidden folders and symbolic links skipped."""
    found = []
    base = len(root.parts)
    for dirpath, dirnames, _ in os.walk(root):
        d = Path(dirpath)
        if is_run_dir(d):
            found.append(d)
            dirnames.clear()  # a run directory holds no other run
            continue
        if len(d.parts) - base >= MAX_DEPTH:
            dirnames.clear()
        dirnames[:] = sorted(n for n in dirnames if not n.startswith(".") and not (d / n).is_symlink())
    return sorted(found)


def _read_json(path: Path) -> Optional[dict[str, Any]]:
    """A JSON object from a file, or None (missing, unreadable, malformed, or not an object)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def _metrics(summary: dict[str, Any]) -> dict[str, Any]:
    """A summary's metrics with a top-level ``null`` (written for NaN: JSON has none) read back as NaN."""
    return {k: math.nan if v is None else v for k, v in summary.items()}


def _read_toml(path: Path) -> Optional[dict[str, Any]]:
    try:
        return tomllib.loads(path.read_text())
    except (OSError, ValueError, RecursionError):
        return None


def _manifest(root: Path) -> dict[str, dict[str, Any]]:
    """run_id -> point of a sweep's ``sweep.json`` (empty if not a sweep)."""
    points = (_read_json(root / "sweep.json") or {}).get("points")
    return {p["run_id"]: p for p in (points if isinstance(points, list) else [])
            if isinstance(p, dict) and isinstance(p.get("run_id"), str)}


def _row(d: Path, root: Path, point: Optional[Mapping[str, Any]]) -> dict[str, Any]:
    meta, err = _read_json(d / "meta.json"), _read_json(d / "error.json")
    run_status = (meta or {}).get("status", "complete") if meta is not None else None
    if meta is not None:  # finished; a run stopped early is partial, one that failed its checks failed
        status = {"complete": "ok", "partial": "partial"}.get(run_status, "failed")
    else:
        status = "failed" if err is not None else "partial"
    config = (_read_toml(d / "config.toml") or _read_toml(d / ".point.toml")
              or (point or {}).get("config") or {})
    summary = _metrics(_read_json(d / "summary.json") or {}) if meta is not None else {}
    rel = d.relative_to(root).as_posix() if d != root else "."
    row: dict[str, Any] = {"run_id": d.name if d != root else root.resolve().name, "status": status,
                           "path": rel, "error": (err or {}).get("error"), "run_status": run_status}
    cfg_cols = flatten(config)
    metrics = flatten(summary)
    for k, v in cfg_cols.items():
        row[f"config.{k}" if k in metrics or k in BASE_COLUMNS else k] = v
    row.update({k: v for k, v in metrics.items() if k not in BASE_COLUMNS})
    return row


def _parquet_safe(df: pd.DataFrame) -> pd.DataFrame:
    """Object columns holding several Python types become text (Parquet needs one type per column)."""
    for col in df.columns:
        if df[col].dtype == object:
            kinds = {type(v) for v in df[col] if v is not None and not (isinstance(v, float) and v != v)}
            if len(kinds) > 1:
                df[col] = df[col].map(lambda v: None if v is None or (isinstance(v, float) and v != v) else str(v))
    return df


def collect(root: str | Path) -> pd.DataFrame:
    """The results table of every run under ``root`` (see the module docstring)."""
    root = Path(root)
    if not root.is_dir():
        raise ConfigError(f"{root}: not a directory")
    manifest = _manifest(root)
    dirs = find_run_dirs(root)
    rows = [_row(d, root, manifest.get(d.name)) for d in dirs]
    seen = {d.name for d in dirs}
    for run_id, point in manifest.items():  # sweep points that have not started
        if run_id not in seen:
            rows.append(_row(root / "runs" / run_id, root, point))
    if not rows:
        raise ConfigError(f"{root}: no result directories (meta.json, error.json or summary.json) under it")
    df = pd.DataFrame(rows)
    if df["run_id"].duplicated().any():  # same directory name in two places: use the relative path
        df["run_id"] = df["path"]
    rest = [c for c in df.columns if c not in BASE_COLUMNS]
    df = _parquet_safe(df[[*BASE_COLUMNS, *rest]].sort_values("path", kind="stable").reset_index(drop=True))
    summary_keys = {k for d in dirs for k in flatten(_read_json(d / "summary.json") or {})}
    df.attrs["metric_columns"] = [c for c in rest if c in summary_keys and pd.api.types.is_numeric_dtype(df[c])]
    df.attrs["config_columns"] = [c for c in rest if c not in summary_keys]
    return df


def collect_to_parquet(root: str | Path) -> tuple[pd.DataFrame, Path]:
    """Collect and write ``root/results.parquet`` (atomically)."""
    df = collect(root)
    path = Path(root) / "results.parquet"
    write_table(path, df)
    return df, path


def load_results(root: str | Path, over_seeds: bool = False) -> pd.DataFrame:
    """The results table of a directory (built fresh from the run directories; nothing written).

    With ``over_seeds``: the tidy per-point statistics over seeds instead (one
    row per point and metric: ``n, mean, std, ci_low, ci_high`` (95 % Student-t
    interval of the mean), ``seeds``; :func:`.stats.over_seeds`).
    """
    df = collect(root)
    if over_seeds:
        from .stats import over_seeds as stats_over_seeds

        return stats_over_seeds(df)
    return df


def replicated(df: pd.DataFrame) -> bool:
    """Whether some point of a results table ran with more than one seed."""
    from .stats import over_seeds as stats_over_seeds

    if "seed" not in df.columns or len(df) < 2:
        return False
    st = stats_over_seeds(df, metrics=[c for c in metric_columns(df)][:1])
    return bool(len(st) and st["n"].max() > 1)


def stats_to_parquet(df: pd.DataFrame, root: str | Path) -> tuple[pd.DataFrame, Path]:
    """Write ``root/results_over_seeds.parquet`` (:func:`.stats.over_seeds` of ``df``)."""
    from .stats import over_seeds as stats_over_seeds

    st = stats_over_seeds(df)
    path = Path(root) / "results_over_seeds.parquet"
    write_table(path, _parquet_safe(st.copy()))
    return st, path


def varying_columns(df: pd.DataFrame, metrics: Optional[set[str]] = None) -> list[str]:
    """Columns (other than ``metrics``) with at least two different values between runs (the swept keys)."""
    skip = set(BASE_COLUMNS) | (metrics or set())
    return [c for c in df.columns if c not in skip and df[c].dropna().astype(str).nunique() > 1]


def metric_columns(df: pd.DataFrame) -> list[str]:
    """Numeric columns that come from ``summary.json`` files (of a table made by :func:`collect`)."""
    return list(df.attrs.get("metric_columns", []))


def config_columns(df: pd.DataFrame) -> list[str]:
    """Columns that come from the run configs (of a table made by :func:`collect`)."""
    return list(df.attrs.get("config_columns", []))
