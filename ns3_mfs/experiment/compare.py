"""``ns3-mfs compare``: every (policy, request rate) pair of a run config, as a sweep.

Rates are requests per second per prefill GPU (the MFS paper's unit, the
workload's ``rate_per_gpu``); the workload's ``rate_per_s`` becomes
``rate x serving.prefill_gpus``. With ``seeds`` every pair runs once per seed
(replications); the attainment plot then shows each policy's mean with a 95 %
confidence band over the seeds. The pairs
are the points of a sweep (:mod:`.sweep`), with everything a sweep has: one
process per point, locally (``--jobs``) or on Ray (``--backend ray``), the
directory lock, ``sweep.json``, ``sweep.log``, resume, and reuse decided by
each point's identity (config, input file contents, code), so a changed base
config, model, trace or code never reuses an old result (``--accept-stale``
keeps stale ones). Writes ``DIR/runs/<hash>/`` (one result directory per
pair), ``DIR/compare.parquet`` and ``compare.csv`` (one row per pair: policy,
rate, run id and the summary metrics), and the plots ``attainment_vs_rate``,
``ttft_cdf`` and ``cct_cdf`` (PNG and PDF; the CDFs at the highest rate).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable, Optional

import pandas as pd

from ..config import ConfigError
from ..policies import REGISTRY
from ..store import read_summary, write_table
from .run import RunConfig
from .sweep import Sweep, SweepReport, point_of, run_sweep


def point_config(cfg: RunConfig, policy: str, rate_per_gpu: float) -> RunConfig:
    if cfg.workload.kind == "trace" and cfg.workload.time_scale is not None:
        raise ConfigError("workload.time_scale: compare sets the request rate; use rate_per_s, not time_scale")
    wl = dataclasses.replace(cfg.workload, rate_per_s=rate_per_gpu * cfg.serving.prefill_gpus)
    return dataclasses.replace(cfg, policy=policy, workload=wl)


def compare_sweep(cfg: RunConfig, policies: list[str], rates: list[float], source: str = "compare",
                  base_dir: Optional[Path] = None, seeds: Optional[list[int]] = None) -> Sweep:
    """The sweep of every (policy, rate) pair, each point validated (nothing runs); repeats count once.
    ``seeds``: run every pair with each of these seeds (replications; default: the config's seed only)."""
    policies, rates = list(dict.fromkeys(policies)), list(dict.fromkeys(rates))
    if not policies:
        raise ConfigError(f"--policies: no policy given; allowed: {REGISTRY.allowed()}")
    if not rates:
        raise ConfigError("--rates-per-gpu: no rate given (requests/s per prefill GPU, comma-separated)")
    for p in policies:
        REGISTRY.get(p, "--policies")
    for r in rates:
        if not r > 0:
            raise ConfigError(f"--rates-per-gpu: {r!r} must be > 0 (requests/s per prefill GPU)")
    points = []
    grid: dict[str, list] = {"policy": list(policies), "rate_per_gpu": list(rates)}
    if seeds:
        grid["seed"] = list(seeds)
    for p in policies:
        for r in rates:
            for seed in seeds or [cfg.seed]:
                over = {"policy": p, "rate_per_gpu": r, **({"seed": seed} if seeds else {})}
                pt = point_of(dataclasses.replace(point_config(cfg, p, r), seed=seed), over, base_dir or Path.cwd())
                points.append(pt)
    return Sweep(source, grid, {}, points, 0)


def compare(cfg: RunConfig, policies: list[str], rates: list[float], out: Path, jobs: int = 0,
            backend: str = "local", address: Optional[str] = None, accept_stale: bool = False,
            source: str = "compare", report: Optional[Callable[[SweepReport], None]] = None,
            seeds: Optional[list[int]] = None, progress: Optional[bool] = None) -> pd.DataFrame:
    """Run (or resume) every pair (times every seed) and write the comparison table; returns it."""
    sweep = compare_sweep(cfg, policies, rates, source, seeds=seeds)
    out = Path(out)
    rep = run_sweep(sweep, out, jobs=jobs, backend=backend, address=address, accept_stale=accept_stale,
                    progress=progress, what="compare")
    if report is not None:
        report(rep)
    rows = []
    for pt in sweep.points:
        p, r, d = pt.overrides["policy"], pt.overrides["rate_per_gpu"], out / "runs" / pt.run_id
        seed = pt.config["seed"]
        if pt.run_id in rep.failed:
            rows.append({"policy": p, "rate_per_gpu": r, "seed": seed, "run_id": pt.run_id,
                         "error": rep.failed[pt.run_id]})
            continue
        s = read_summary(d / "summary.json")
        rows.append({"policy": p, "rate_per_gpu": r, "seed": seed, "run_id": pt.run_id, **s, "error": None})
    table = pd.DataFrame(rows)
    write_table(out / "compare.parquet", table)
    table.to_csv(out / "compare.csv", index=False)
    return table
