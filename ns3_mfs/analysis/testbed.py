"""``ns3-mfs compare-testbed``: simulated vs measured TTFT (and all-to-all CCT).

The measured CSV holds one row per request and/or per collective. Default
columns (any order, extra columns ignored):

=============  =====================================================
``request_id``  request index (the simulator numbers requests 0..n-1 by arrival); optional
``ttft_s``      measured time to first token (s)
``kind``        collective kind (``dispatch``, ``combine``, ...); optional
``cct_s``       measured collective completion time (s); optional
=============  =====================================================

``--map name_in_csv=canonical,...`` renames columns; canonical names are the
four above plus ``ttft_ms``/``cct_ms`` (divided by 1000). Rows with an empty
value are skipped for that metric.

Alignment: by ``request_id`` when the CSV has it (only requests present in
both are compared), else by rank (both sorted; the larger sample is
resampled at the smaller one's quantiles). Reported per metric: the measured
and simulated median, p90 and p99 and their relative errors
``(sim - measured) / measured``; the median, p90 and p99 of the paired
``|relative error|``; and the two-sample Kolmogorov-Smirnov distance
``max |F_sim - F_measured|`` of the full samples.

Other formats (``--format``, detected by content when ``auto``):

* ``vllm``: a vLLM ``benchmark_serving.py --save-result`` JSON
  (:mod:`ns3_mfs.serving.vllm_bench`): TTFT, TPOT, ITL and E2E. Per-request
  metrics are paired with the run's requests by order when the prompts match
  (same number of requests, same input and output lengths in the same order,
  as a ``kind = "vllm"`` workload replays them), else by rank. ITL is
  compared as a distribution: every measured inter-token gap against every
  simulated one (a decode step's duration, once per token it made).
* ``nccl``: an nccl-tests table against an ``ns3-mfs collective`` result
  directory (:func:`compare_nccl`).

``ttft_offset_s`` (``--ttft-offset-ms``) is subtracted from measured TTFT
and E2E: the client-side time the model does not simulate (HTTP, request
parsing, tokenisation, scheduling before the first prefill).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any, Optional

import numpy as np
import pandas as pd

from ..config import ConfigError
from ..store import json_bytes, write_atomic

CANONICAL = ("request_id", "ttft_s", "ttft_ms", "kind", "cct_s", "cct_ms")
QUANTILES = (0.5, 0.9, 0.99)
A2A_KINDS = ("dispatch", "combine")


# --------------------------------------------------------------------------- #
# Statistics
# --------------------------------------------------------------------------- #


def ks_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic ``sup_x |F_a(x) - F_b(x)|`` (empirical CDFs)."""
    a, b = np.sort(np.asarray(a, float)), np.sort(np.asarray(b, float))
    if not len(a) or not len(b):
        raise ValueError("KS distance needs two non-empty samples")
    grid = np.concatenate([a, b])
    fa = np.searchsorted(a, grid, side="right") / len(a)
    fb = np.searchsorted(b, grid, side="right") / len(b)
    return float(np.max(np.abs(fa - fb)))


def ks_pvalue(d: float, n: int, m: int) -> float:
    """Asymptotic p-value of a KS distance ``d`` between samples of sizes ``n`` and ``m`` (reports use the
    exact small-sample value of :func:`ks_test_pvalue`)."""
    en = math.sqrt(n * m / (n + m))
    lam = (en + 0.12 + 0.11 / en) * d
    if lam < 1e-3:
        return 1.0
    s = sum(2 * (-1) ** (k - 1) * math.exp(-2 * k * k * lam * lam) for k in range(1, 101))
    return float(min(1.0, max(0.0, s)))


def align(sim: pd.Series, meas: pd.Series, by_id: bool) -> tuple[np.ndarray, np.ndarray]:
    """Paired (simulated, measured) values: by index (request id) or by rank."""
    if by_id:
        both = pd.concat([sim.rename("sim"), meas.rename("meas")], axis=1, join="inner").dropna()
        return both["sim"].to_numpy(float), both["meas"].to_numpy(float)
    s, m = np.sort(sim.to_numpy(float)), np.sort(meas.to_numpy(float))
    n = min(len(s), len(m))
    q = (np.arange(n) + 0.5) / n
    return np.quantile(s, q), np.quantile(m, q)


def compare_samples(sim: pd.Series, meas: pd.Series, by_id: bool, label: str = "request_id") -> dict[str, Any]:
    """The report of one metric (see the module docstring)."""
    s_all, m_all = sim.dropna().to_numpy(float), meas.dropna().to_numpy(float)
    ps, pm = align(sim.dropna(), meas.dropna(), by_id)
    if not len(ps):
        raise ConfigError("no request_id is both in the measured CSV and in the simulation")
    rel = (ps - pm) / pm
    out: dict[str, Any] = {"n_sim": int(len(s_all)), "n_measured": int(len(m_all)), "n_paired": int(len(ps)),
                           "aligned_by": label if by_id else "rank"}
    for q in QUANTILES:
        tag = f"p{round(q * 100)}"
        qs, qm = float(np.quantile(s_all, q)), float(np.quantile(m_all, q))
        out[f"sim_{tag}_s"], out[f"measured_{tag}_s"] = qs, qm
        out[f"{tag}_rel_error"] = (qs - qm) / qm if qm else float("nan")
    for q in QUANTILES:
        out[f"paired_abs_rel_error_p{round(q * 100)}"] = float(np.quantile(np.abs(rel), q))
    out["paired_rel_error_mean"] = float(rel.mean())
    out["ks_distance"] = ks_distance(s_all, m_all)
    out["ks_pvalue"] = ks_test_pvalue(s_all, m_all)
    return out


def ks_test_pvalue(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample KS test p-value (``scipy.stats.ks_2samp``): exact for small samples, asymptotic for large."""
    from scipy import stats

    return float(stats.ks_2samp(np.asarray(a, float), np.asarray(b, float), method="auto").pvalue)


# --------------------------------------------------------------------------- #
# Inputs
# --------------------------------------------------------------------------- #


def parse_map(text: Optional[str]) -> dict[str, str]:
    """``"lat=ttft_ms,id=request_id"`` -> ``{"lat": "ttft_ms", "id": "request_id"}``."""
    out: dict[str, str] = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        src, sep, dst = item.partition("=")
        src, dst = src.strip(), dst.strip()
        if not sep or not src or not dst:
            raise ConfigError(f"--map: {item.strip()!r} is not measured_col=canonical")
        if dst not in CANONICAL:
            raise ConfigError(f"--map: {dst!r} is not a column name; allowed: {', '.join(CANONICAL)}")
        out[src] = dst
    return out


def _short_columns(columns: Any, limit: int = 100) -> str:
    """Column names for an error line: never more than ``limit`` characters (a foreign file is not echoed)."""
    text = ", ".join(str(c)[:30] for c in columns)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def load_measured(path: str | Path, mapping: Optional[dict[str, str]] = None) -> pd.DataFrame:
    """The measured CSV with canonical column names (``ttft_s``, ``cct_s`` in seconds)."""
    p = Path(path)
    try:
        df = pd.read_csv(p)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ConfigError(f"{p}: cannot read as CSV ({exc})") from None
    mapping = mapping or {}
    missing = [src for src in mapping if src not in df.columns]
    if missing:
        raise ConfigError(f"--map: {missing[0]!r} is not a column of {p.name}; columns: {_short_columns(df.columns)}")
    df = df.rename(columns=mapping)
    for unit in ("ttft", "cct"):
        if f"{unit}_ms" in df.columns:
            df[f"{unit}_s"] = pd.to_numeric(df[f"{unit}_ms"], errors="coerce") / 1e3
    if "ttft_s" not in df.columns and "cct_s" not in df.columns:
        raise ConfigError(f"{p.name}: needs a ttft_s or cct_s column (or --map yours to them); columns: "
                          f"{_short_columns(df.columns)}")
    for col in ("ttft_s", "cct_s"):
        if col in df.columns:
            vals = pd.to_numeric(df[col], errors="coerce")
            bad = df[col].notna() & (vals.isna() | ~(vals > 0))
            if bad.any():
                i = int(np.flatnonzero(bad.to_numpy())[0])
                v = df[col].iloc[i]
                shown = f"{v:g}" if isinstance(v, (int, float, np.number)) else repr(v)
                raise ConfigError(f"{p} line {i + 2}: {col}: expected a positive number (s), got {shown}")
            df[col] = vals
    if "request_id" in df.columns:
        ids = pd.to_numeric(df["request_id"], errors="coerce")
        if (df["request_id"].notna() & ids.isna()).any():
            raise ConfigError(f"{p}: request_id: expected integers")
        df["request_id"] = ids.astype("Int64")
    return df


def _sim_tables(simdir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    f = simdir / "requests.parquet"
    if not f.exists():
        raise ConfigError(f"{simdir}: no requests.parquet; give the result directory of a serving run")
    req = pd.read_parquet(f)
    coll_f = simdir / "collectives.parquet"
    coll = pd.read_parquet(coll_f) if coll_f.exists() else pd.DataFrame(columns=["kind", "cct_s"])
    return req, coll


# --------------------------------------------------------------------------- #
# The comparison
# --------------------------------------------------------------------------- #


def compare_testbed(measured: str | Path, simdir: str | Path, mapping: Optional[dict[str, str]] = None,
                    out: Optional[str | Path] = None, ttft_offset_s: float = 0.0,
                    style: Optional[str] = None) -> dict[str, dict[str, Any]]:
    """Compare a measured CSV with a simulated run; writes the report and CDF plots (in ``style``) to ``out``."""
    simdir = Path(simdir)
    meas = load_measured(measured, mapping)
    if ttft_offset_s and "ttft_s" in meas.columns:
        meas["ttft_s"] = meas["ttft_s"] - ttft_offset_s
        if (meas["ttft_s"] <= 0).any():
            raise ConfigError(f"--ttft-offset-ms: {ttft_offset_s * 1e3:g} ms is not below every measured TTFT")
    req, coll = _sim_tables(simdir)
    report: dict[str, dict[str, Any]] = {}
    overlays: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    if "ttft_s" in meas.columns and meas["ttft_s"].notna().any():
        m = meas[meas["ttft_s"].notna()]
        by_id = "request_id" in m.columns and m["request_id"].notna().all()
        sim = req.set_index("request_id")["ttft_s"] if by_id else req["ttft_s"]
        mv = m.set_index("request_id")["ttft_s"] if by_id else m["ttft_s"].reset_index(drop=True)
        if by_id and mv.index.duplicated().any():
            raise ConfigError(f"{measured}: request_id: duplicated ids (e.g. {mv.index[mv.index.duplicated()][0]})")
        report["ttft"] = compare_samples(sim, mv, by_id)
        overlays["ttft"] = (sim.dropna().to_numpy(float), mv.dropna().to_numpy(float))
    if "cct_s" in meas.columns and meas["cct_s"].notna().any():
        m = meas[meas["cct_s"].notna()]
        groups = (sorted(m["kind"].dropna().astype(str).unique()) if "kind" in m.columns and m["kind"].notna().any()
                  else [None])
        for kind in groups:
            kinds = [kind] if kind is not None else list(A2A_KINDS)
            sim = coll[coll["kind"].isin(kinds)]["cct_s"].reset_index(drop=True)
            mv = (m[m["kind"].astype(str) == kind] if kind is not None else m)["cct_s"].reset_index(drop=True)
            if not len(sim.dropna()):
                raise ConfigError(f"{measured}: kind {kind!r}: the simulation has no collectives of that kind; "
                                  f"it has: {', '.join(sorted(coll['kind'].astype(str).unique()))}")
            name = f"cct_{kind}" if kind is not None else "cct_all_to_all"
            report[name] = compare_samples(sim, mv, by_id=False)
            overlays[name] = (sim.dropna().to_numpy(float), mv.dropna().to_numpy(float))
    if not report:
        raise ConfigError(f"{measured}: no ttft_s or cct_s values")
    if out is not None:
        write_report(Path(out), report, overlays, {"measured": str(Path(measured).resolve()),
                                                   "simulated": str(simdir.resolve())}, style)
    return report


def detect_format(path: str | Path) -> str:
    """``vllm`` (a JSON object), ``nccl`` (an nccl-tests table) or ``csv``, by the file's content."""
    from ..csvfile import read_text
    from ..serving.vllm_bench import looks_like_vllm
    from .nccl import looks_like_nccl

    text = read_text(path, "measurement")
    if looks_like_vllm(text):
        return "vllm"
    return "nccl" if looks_like_nccl(text) else "csv"


def _sim_itls(simdir: Path) -> np.ndarray:
    """Simulated inter-token gaps: each decode step's duration, once per token (request) it made."""
    f = simdir / "decode_steps.parquet"
    steps = pd.read_parquet(f) if f.exists() else pd.DataFrame()
    if "batch" not in steps.columns or not len(steps):
        return np.zeros(0)
    return np.repeat((steps["end_s"] - steps["start_s"]).to_numpy(float), steps["batch"].to_numpy(int))


def compare_vllm(measured: str | Path, simdir: str | Path, out: Optional[str | Path] = None,
                 ttft_offset_s: float = 0.0, style: Optional[str] = None) -> dict[str, dict[str, Any]]:
    """Compare a vLLM benchmark result JSON with a simulated run: TTFT, TPOT, ITL, E2E."""
    from ..serving.vllm_bench import load_vllm

    simdir = Path(simdir)
    res = load_vllm(measured)
    req, _ = _sim_tables(simdir)
    req = req.sort_values("request_id").reset_index(drop=True)
    n = len(res)
    by_order = (len(req) == n and "input_tokens" in req.columns
                and np.array_equal(req["input_tokens"].to_numpy(np.int64), res.input_lens)
                and np.array_equal(req["output_tokens"].to_numpy(np.int64), res.output_lens))
    offset = float(ttft_offset_s)
    meas = {"ttft": res.ttft_s - offset, "tpot": res.tpot_s, "e2e": res.e2e_s - offset}
    if offset and np.nanmin(meas["ttft"]) <= 0:
        raise ConfigError(f"--ttft-offset-ms: {offset * 1e3:g} ms is not below every measured TTFT "
                          f"(smallest {np.nanmin(res.ttft_s) * 1e3:g} ms)")
    report: dict[str, dict[str, Any]] = {}
    overlays: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name, col in (("ttft", "ttft_s"), ("tpot", "tpot_s"), ("e2e", "e2e_s")):
        if col not in req.columns or not req[col].notna().any():
            if name == "ttft":
                raise ConfigError(f"{simdir}: the run has no TTFT")
            continue  # no decode simulated: reported as not compared
        m = pd.Series(meas[name]).dropna()
        if not len(m):
            continue  # e.g. TPOT when every request made one token
        sim = req[col].reset_index(drop=True)
        report[name] = compare_samples(sim, m, by_order, label="order")
        overlays[name] = (sim.dropna().to_numpy(float), m.to_numpy(float))
    sim_itl, meas_itl = _sim_itls(simdir), res.itl_samples_s
    if len(sim_itl) and len(meas_itl):
        report["itl"] = compare_samples(pd.Series(sim_itl), pd.Series(meas_itl), by_id=False)
        overlays["itl"] = (sim_itl, meas_itl)
    if out is not None:
        write_report(Path(out), report, overlays, {"measured": str(Path(measured).resolve()),
                                                   "simulated": str(simdir.resolve()), "format": "vllm",
                                                   "ttft_offset_s": offset}, style)
    return report


def write_report(out: Path, report: dict[str, dict[str, Any]], overlays: dict[str, tuple[np.ndarray, np.ndarray]],
                 sources: dict[str, Any], style: Optional[str] = None) -> list[Path]:
    """``testbed_report.json`` / ``.csv`` and one CDF overlay per metric (in the style's formats)."""
    from . import style as st
    from .plots import _write, ecdf_figure

    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / "testbed_report.json", json_bytes({**sources, "metrics": report}))
    rows = [{"metric": k, **v} for k, v in report.items()]
    with open(out / "testbed_report.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(dict.fromkeys(c for r in rows for c in r)))
        w.writeheader()
        w.writerows(rows)
    paths = [out / "testbed_report.json", out / "testbed_report.csv"]
    sty = st.get_style(style)
    for name, (sim, meas) in overlays.items():
        what = (name.upper() if name in ("ttft", "tpot", "itl", "e2e") else
                f"{name[4:].replace('_', '-')} CCT" if name.startswith("cct_") else name)
        with st.use(sty):
            fig = ecdf_figure({"simulated": sim, "measured": meas}, "cct_s" if name.startswith("cct_") else "ttft_s",
                              sty, title=f"KS distance {report[name]['ks_distance']:.3f}", what=what)
            paths += _write(fig, sty, out, f"{name}_cdf_overlay")
    return paths


def format_report(report: dict[str, dict[str, Any]]) -> str:
    """A small text table: one line per metric."""
    head = (f"{'metric':<16}{'n sim/meas':>12}{'aligned':>12}{'p50 err':>9}{'p90 err':>9}{'p99 err':>9}"
            f"{'|paired| p50':>14}{'p90':>7}{'p99':>7}{'KS':>7}")
    lines = [head]
    for name, r in report.items():
        lines.append(
            f"{name:<16}{str(r['n_sim']) + '/' + str(r['n_measured']):>12}{r['aligned_by']:>12}"
            f"{r['p50_rel_error']:>+9.1%}{r['p90_rel_error']:>+9.1%}{r['p99_rel_error']:>+9.1%}"
            f"{r['paired_abs_rel_error_p50']:>14.1%}{r['paired_abs_rel_error_p90']:>7.1%}"
            f"{r['paired_abs_rel_error_p99']:>7.1%}{r['ks_distance']:>7.3f}"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------- #
# A measured-like CSV from a simulated run
# --------------------------------------------------------------------------- #


def make_measured(simdir: str | Path, out_csv: str | Path, noise: float = 0.1, seed: int = 1,
                  with_ids: bool = True, with_cct: bool = True) -> pd.DataFrame:
    """Write a CSV like a testbed's: the run's TTFTs (and all-to-all CCTs) x lognormal noise.

    Each value is multiplied by ``exp(noise * z)``, ``z`` standard normal
    (seeded), so ``noise`` is the standard deviation of the log error.
    """
    if not (isinstance(noise, (int, float)) and 0 <= noise <= 5):
        raise ConfigError(f"--noise: must be in [0, 5], got {noise!r}")
    req, coll = _sim_tables(Path(simdir))
    rng = np.random.default_rng(seed)
    ttft = req[["request_id", "ttft_s"]].dropna()
    rows = pd.DataFrame({"request_id": ttft["request_id"].astype("Int64"),
                         "ttft_s": ttft["ttft_s"].to_numpy() * np.exp(noise * rng.standard_normal(len(ttft)))})
    if not with_ids:
        rows = rows.drop(columns="request_id")
    if with_cct:
        a2a = coll[coll["kind"].isin(A2A_KINDS)][["kind", "cct_s"]].dropna()
        cc = pd.DataFrame({"kind": a2a["kind"].to_numpy(),
                           "cct_s": a2a["cct_s"].to_numpy() * np.exp(noise * rng.standard_normal(len(a2a)))})
        rows = pd.concat([rows, cc], ignore_index=True)
    out_csv = Path(out_csv)
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(out_csv, rows.to_csv(index=False).encode())
    return rows
