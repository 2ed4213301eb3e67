"""``ns3-mfs compare``: every (policy, request rate) pair of a run config, each in its own process.

Rates are requests per second per prefill GPU (the MFS paper's unit); the
workload's ``rate_per_s`` becomes ``rate x serving.prefill_gpus``. Writes
``DIR/runs/<policy>-r<rate>/`` (one result directory per pair), ``DIR/compare.parquet``
and ``compare.csv`` (one row per pair: policy, rate and the summary metrics),
and the plots ``attainment_vs_rate``, ``ttft_cdf`` and ``cct_cdf`` (PNG and PDF;
the CDFs at the highest rate). A pair whose result directory is complete
(``meta.json`` present) is not run again.
"""

from __future__ import annotations

import dataclasses
import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Optional

import pandas as pd

from ..config import ConfigError
from ..policies import REGISTRY
from .run import RunConfig, resolved
from .store import write_table
from .sweep import run_point


def point_config(cfg: RunConfig, policy: str, rate_per_gpu: float) -> RunConfig:
    if cfg.workload.kind == "trace" and cfg.workload.time_scale is not None:
        raise ConfigError("workload.time_scale: compare sets the request rate; use rate_per_s, not time_scale")
    wl = dataclasses.replace(cfg.workload, rate_per_s=rate_per_gpu * cfg.serving.prefill_gpus)
    return dataclasses.replace(cfg, policy=policy, workload=wl)


def _run_point(cfg: RunConfig, out: Path) -> Optional[str]:
    """Run one pair in a fresh process (skipped when finished); the error line if it failed."""
    res = run_point(resolved(cfg), out)
    return None if res.ok else res.error


def compare(cfg: RunConfig, policies: list[str], rates: list[float], out: Path, jobs: int = 0,
            progress=print) -> pd.DataFrame:
    for p in policies:
        REGISTRY.get(p, "--policies")
    for r in rates:
        if not r > 0:
            raise ConfigError(f"--rates: {r!r} must be > 0 (requests/s per prefill GPU)")
    out = Path(out)
    points = [(p, r, out / "runs" / f"{p}-r{r:g}") for p in policies for r in rates]
    jobs = jobs or os.cpu_count() or 1
    errors = {}
    with ThreadPoolExecutor(jobs) as pool:
        futures = {pool.submit(_run_point, point_config(cfg, p, r), d): (p, r) for p, r, d in points}
        for i, (fut, (p, r)) in enumerate(futures.items(), 1):
            err = fut.result()
            if err:
                errors[(p, r)] = err
            progress(f"[{i}/{len(points)}] {p} at {r:g} req/s/GPU: {'FAILED ' + err if err else 'done'}")
    rows, ttft, cct = [], [], []
    for p, r, d in points:
        if (p, r) in errors:
            rows.append({"policy": p, "rate_per_gpu": r, "error": errors[(p, r)]})
            continue
        s = json.loads((d / "summary.json").read_text())
        rows.append({"policy": p, "rate_per_gpu": r, **s, "error": None})
        if r == max(rates):
            ttft.append(pd.read_parquet(d / "requests.parquet", columns=["ttft_s"]).assign(policy=p))
            c = pd.read_parquet(d / "collectives.parquet", columns=["kind", "cct_s"])
            cct.append(c[c["kind"].isin(["dispatch", "combine"])].assign(policy=p))
    table = pd.DataFrame(rows)
    write_table(out / "compare.parquet", table)
    table.to_csv(out / "compare.csv", index=False)
    from ..analysis import plots

    ok = table[table["error"].isna()]
    if len(ok):
        plots.attainment_vs_rate(ok, out)
    if ttft:
        plots.cdf(pd.concat(ttft), "ttft_s", f"TTFT (s) at {max(rates):g} req/s per GPU", out, "ttft_cdf")
    if cct and sum(len(c) for c in cct):
        plots.cdf(pd.concat(cct), "cct_s", f"all-to-all CCT (s) at {max(rates):g} req/s per GPU", out, "cct_cdf")
    return table
