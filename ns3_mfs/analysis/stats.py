"""Statistics over replications: per-point mean, standard deviation and confidence interval over seeds.

A sweep with ``seeds = N`` runs every point N times with different seeds.
:func:`over_seeds` turns the one-row-per-run results table into a tidy table
with one row per (point, metric): the point's config keys, ``metric``, ``n``
(finished runs), ``mean``, ``std`` (sample standard deviation, ddof 1),
``ci_low`` / ``ci_high`` (Student-t interval of the mean at ``level``,
95 % by default; NaN with one run) and ``seeds`` (JSON list).
"""

from __future__ import annotations

import json
import math
from typing import Iterable, Optional, Sequence

import numpy as np
import pandas as pd

#: Confidence level of the intervals.
LEVEL = 0.95
STAT_COLUMNS = ("metric", "n", "mean", "std", "ci_low", "ci_high", "seeds")


def mean_ci(values: Iterable[float], level: float = LEVEL) -> tuple[int, float, float, float, float]:
    """``(n, mean, std, ci_low, ci_high)`` of the finite values: Student-t interval of the mean
    (``scipy.stats.t``); std and interval NaN with fewer than two values, the interval is the mean
    itself when all values are equal."""
    from scipy import stats

    x = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=float)
    n = len(x)
    if n == 0:
        return 0, math.nan, math.nan, math.nan, math.nan
    mean = float(x.mean())
    if n < 2:
        return 1, mean, math.nan, math.nan, math.nan
    std = float(x.std(ddof=1))
    if std == 0.0:
        return n, mean, 0.0, mean, mean
    lo, hi = stats.t.interval(level, n - 1, loc=mean, scale=std / math.sqrt(n))
    return n, mean, std, float(lo), float(hi)


def over_seeds(df: pd.DataFrame, metrics: Optional[Sequence[str]] = None, keys: Optional[Sequence[str]] = None,
               seed: str = "seed", level: float = LEVEL) -> pd.DataFrame:
    """The tidy per-point statistics of a results table (:func:`.results.collect`) over its seeds.

    ``keys``: the columns that make a point (default: the config columns that
    vary between the finished runs, the seed left out); ``metrics``: default
    every numeric summary metric. Only runs with status ``ok`` count.
    """
    from .results import config_columns, metric_columns, varying_columns

    ok = df[df["status"] == "ok"] if "status" in df.columns else df
    metrics = list(metrics) if metrics is not None else metric_columns(df)
    if keys is None:
        cfg = set(config_columns(df)) or set(df.columns) - set(metrics)
        keys = [c for c in varying_columns(ok, set(metrics)) if c in cfg and c != seed]
    keys = list(keys)
    rows = []
    groups = ok.groupby(keys, dropna=False, sort=True) if keys else [((), ok)]
    for key, g in groups:
        key = key if isinstance(key, tuple) else (key,)
        seeds = sorted(int(s) for s in g[seed].dropna()) if seed in g.columns else []
        for m in metrics:
            n, mean, std, lo, hi = mean_ci(pd.to_numeric(g[m], errors="coerce"), level)
            rows.append({**dict(zip(keys, key)), "metric": m, "n": n, "mean": mean, "std": std, "ci_low": lo,
                         "ci_high": hi, "seeds": json.dumps(seeds)})
    out = pd.DataFrame(rows, columns=[*keys, *STAT_COLUMNS])
    out.attrs["keys"] = keys
    out.attrs["level"] = level
    return out


def band(data: pd.DataFrame, x: str, y: str, level: float = LEVEL) -> pd.DataFrame:
    """``x, n, mean, ci_low, ci_high`` of ``y`` at each ``x`` (for a line with a CI band)."""
    rows = []
    for xv, g in data.groupby(x, sort=True):
        n, mean, _, lo, hi = mean_ci(pd.to_numeric(g[y], errors="coerce"), level)
        rows.append({x: xv, "n": n, "mean": mean, "ci_low": lo, "ci_high": hi})
    return pd.DataFrame(rows, columns=[x, "n", "mean", "ci_low", "ci_high"])
