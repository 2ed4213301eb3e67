"""The pages of the MFS reproduction (``scratch/reproduce_mfs.py``): tables with confidence intervals,
the paper's figures beside the measured ones, plots, and the points still missing.

A *setting* (:class:`Setting`: one workload on one cluster, e.g. the testbed
with the QwenA-Conv-like preset) expects a set of runs (:class:`Expected`:
variant, policy, rate per prefill GPU, seed, result directory and whether it
has finished). :func:`write_page` turns the finished ones into
``<out>/<setting>.md`` and plots under ``<out>/<setting>/``:

* one table row per (variant, policy, rate): the finished seeds out of the
  expected ones and, per metric (:data:`METRICS`), the mean over the seeds
  and the half-width of its 95 % Student-t interval (:mod:`.stats`); a row
  with no finished seed says ``missing``, never a number;
* the paper's claims (:class:`Claim`) next to the measured figure: the
  change of a metric between two (variant, policy) pairs at one rate (or at
  every rate), paired by seed (both runs of a seed replay the same
  requests), with its mean and interval over the seeds, and a verdict by a
  fixed rule (:func:`verdict`);
* plots: attainment against rate with CI bands, TTFT and all-to-all CCT CDFs
  at the setting's anchor rate, per-stage network-wait shares, ablations;
* the requests, warm-up and seeds actually used, and a warning when they are
  below the paper's (1,024 measured, 512 warm-up, 3 seeds), so that a reduced
  run is never read as the paper's scale.

Per-run metrics (:func:`run_metrics`) come from ``summary.json`` and the
run's tables: the all-to-all CCT is the paper's aggregation (a layer's
dispatch plus its combine, per batch, over the measured collectives); the
network-wait shares are :func:`.waits.network_waits` summed over the measured
requests and divided by their summed TTFT; P2D earliness is a request's
deadline (arrival + TTFT SLO) minus the time its last P2D transfer landed
(positive: early).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional, Sequence

import numpy as np
import pandas as pd

from .stats import mean_ci

#: The paper's scale (MFS, arXiv 2603.17456, Section 6.2): measured requests, warm-up requests, seeds.
PAPER_SCALE = (1024, 512, 3)

#: Metrics of a run: key -> (column header, scale to the shown unit, format).
METRICS: dict[str, tuple[str, float, str]] = {
    "ttft_mean_s": ("TTFT mean (ms)", 1e3, "{:.1f}"),
    "ttft_p50_s": ("TTFT p50 (ms)", 1e3, "{:.1f}"),
    "ttft_p99_s": ("TTFT p99 (ms)", 1e3, "{:.1f}"),
    "ttft_slo_attainment": ("TTFT attainment (%)", 100.0, "{:.1f}"),
    "a2a_cct_mean_s": ("A2A CCT mean (ms)", 1e3, "{:.3f}"),
    "a2a_cct_p99_s": ("A2A CCT p99 (ms)", 1e3, "{:.3f}"),
    "stage1_share": ("fetch wait (% TTFT)", 100.0, "{:.1f}"),
    "stage2_share": ("collective wait (% TTFT)", 100.0, "{:.1f}"),
    "stage3_share": ("P2D wait (% TTFT)", 100.0, "{:.1f}"),
    "p2d_earliness_mean_s": ("P2D earliness (ms)", 1e3, "{:.1f}"),
    "pfc_pause_frames": ("PFC pauses", 1.0, "{:.0f}"),
    "tpot_slo_attainment": ("TPOT attainment (%)", 100.0, "{:.1f}"),
    "e2e_slo_attainment": ("E2E attainment (%)", 100.0, "{:.1f}"),
    "tpot_mean_s": ("TPOT mean (ms)", 1e3, "{:.2f}"),
    "decode_tokens_per_s": ("decode tok/s", 1.0, "{:.0f}"),
}
#: The metrics shown for each kind of setting.
KIND_METRICS: dict[str, tuple[str, ...]] = {
    "testbed": ("ttft_mean_s", "ttft_p50_s", "ttft_p99_s", "ttft_slo_attainment", "a2a_cct_mean_s",
                "a2a_cct_p99_s", "stage1_share", "stage2_share", "stage3_share", "p2d_earliness_mean_s",
                "pfc_pause_frames"),
    "large": ("ttft_mean_s", "ttft_p99_s", "ttft_slo_attainment", "a2a_cct_mean_s", "a2a_cct_p99_s",
              "p2d_earliness_mean_s"),
    "validate": ("ttft_mean_s", "ttft_p99_s", "ttft_slo_attainment", "a2a_cct_mean_s", "a2a_cct_p99_s",
                 "pfc_pause_frames"),
    "schedulers": ("ttft_mean_s", "ttft_slo_attainment", "tpot_mean_s", "tpot_slo_attainment",
                   "e2e_slo_attainment", "decode_tokens_per_s", "a2a_cct_mean_s"),
}
SUMMARY_KEYS = ("ttft_mean_s", "ttft_p50_s", "ttft_p99_s", "ttft_slo_attainment", "pfc_pause_frames",
                "tpot_slo_attainment", "e2e_slo_attainment", "tpot_mean_s", "decode_tokens_per_s", "requests",
                "warmup_requests", "wall_s")


@dataclass(frozen=True)
class Expected:
    """One run a setting expects."""

    variant: str                 #: "main", "ablation:<switch>", "collectives only", "packet", a scheduler name...
    policy: str
    rate_per_gpu: float
    seed: int
    run_dir: Path
    state: Literal["finished", "todo", "stale", "failed"] = "todo"


@dataclass(frozen=True)
class Claim:
    """A figure of the paper and how to measure it: ``metric`` of ``treat`` against ``base`` (each a
    (variant, policy) pair) at ``rate`` (None: the anchor rate; ``"each"``: every rate), as a relative
    change (``treat / base - 1``) or a ratio (``treat / base``), paired by seed."""

    label: str
    metric: str
    treat: tuple[str, str]
    base: tuple[str, str]
    paper: Optional[float]
    kind: Literal["change", "ratio"] = "change"
    rate: Any = None
    source: str = ""


@dataclass(frozen=True)
class Setting:
    """What a page describes."""

    name: str
    title: str
    kind: Literal["testbed", "large", "validate", "schedulers"]
    description: str
    requests: int
    warmup: int
    seeds: tuple[int, ...]
    anchor_rate: Optional[float] = None
    claims: tuple[Claim, ...] = ()
    notes: tuple[str, ...] = field(default=())


# --------------------------------------------------------------------------- #
# Metrics of one run
# --------------------------------------------------------------------------- #

def a2a_cct(collectives: pd.DataFrame) -> pd.Series:
    """All-to-all CCT as the paper aggregates it: per (batch, instance, layer) the dispatch's CCT plus the
    combine's, over the measured collectives."""
    c = collectives
    if "measured" in c.columns:
        c = c[c["measured"].astype(bool)]
    c = c[c["kind"].isin(["dispatch", "combine"])]
    if not len(c):
        return pd.Series([], dtype=float)
    return c.groupby(["batch_id", "instance", "layer"])["cct_s"].sum(min_count=1).dropna()


def run_metrics(run_dir: Path) -> dict[str, float]:
    """The metrics of :data:`METRICS` (and a few run figures) of one finished run directory."""
    from .waits import network_waits

    d = Path(run_dir)
    s = json.loads((d / "summary.json").read_text())
    out: dict[str, float] = {k: _num(s.get(k)) for k in SUMMARY_KEYS}
    req = pd.read_parquet(d / "requests.parquet")
    req = req[~req["warmup"].astype(bool)] if "warmup" in req.columns else req
    coll = pd.read_parquet(d / "collectives.parquet") if (d / "collectives.parquet").exists() else pd.DataFrame(
        columns=["kind", "batch_id", "instance", "layer", "cct_s"])
    a2a = a2a_cct(coll)
    out["a2a_cct_mean_s"] = float(a2a.mean()) if len(a2a) else math.nan
    out["a2a_cct_p99_s"] = float(a2a.quantile(0.99)) if len(a2a) else math.nan
    if (d / "steps.parquet").exists() and len(req):
        measured_coll = coll[coll["measured"].astype(bool)] if "measured" in coll.columns else coll
        w = network_waits(req, pd.read_parquet(d / "steps.parquet"), measured_coll)
        total = float(w["ttft_s"].sum())
        for k in (1, 2, 3):
            out[f"stage{k}_share"] = float(w[f"stage{k}_wait_s"].sum()) / total if total > 0 else math.nan
    else:
        out.update({f"stage{k}_share": math.nan for k in (1, 2, 3)})
    early = (req["arrival_s"] + req["slo_s"] - req["p2d_end_s"]).dropna() if "p2d_end_s" in req.columns \
        else pd.Series([], dtype=float)
    out["p2d_earliness_mean_s"] = float(early.mean()) if len(early) else math.nan
    return out


def _num(v: Any) -> float:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else math.nan


def metrics_table(expected: Sequence[Expected]) -> pd.DataFrame:
    """One row per finished expected run: variant, policy, rate_per_gpu, seed and its metrics."""
    rows = [{"variant": e.variant, "policy": e.policy, "rate_per_gpu": e.rate_per_gpu, "seed": e.seed,
             **run_metrics(e.run_dir)} for e in expected if e.state == "finished"]
    cols = ["variant", "policy", "rate_per_gpu", "seed", *SUMMARY_KEYS, *METRICS]
    return pd.DataFrame(rows, columns=list(dict.fromkeys(cols)))


# --------------------------------------------------------------------------- #
# Statistics and claims
# --------------------------------------------------------------------------- #

def cell(values: Sequence[float], metric: str) -> str:
    """``mean ± half-width`` of the 95 % interval in the metric's unit; the mean alone with one value."""
    _, scale, fmt = METRICS[metric]
    n, mean, _, lo, hi = mean_ci(values)
    if n == 0:
        return "n/a"
    text = fmt.format(mean * scale)
    if n > 1 and np.isfinite(lo):
        text += " ± " + fmt.format((hi - lo) / 2 * scale)
    return text


#: Below this TTFT SLO attainment of the baseline a point is saturated: an attainment ratio there compares
#: near-zero values (e.g. 0.6 % against 0.5 %), so it gets no verdict.
SATURATED_ATTAINMENT = 0.05


def _pick(table: pd.DataFrame, vp: tuple[str, str], rate: float, metric: str) -> pd.Series:
    """``metric`` of one (variant, policy) at ``rate``, by seed."""
    t = table[(table["variant"] == vp[0]) & (table["policy"] == vp[1]) & np.isclose(table["rate_per_gpu"], rate)]
    return t.set_index("seed")[metric]


def saturated(table: pd.DataFrame, claim: Claim, rate: float) -> bool:
    """An attainment claim whose baseline attains less than :data:`SATURATED_ATTAINMENT` in every seed."""
    if not claim.metric.endswith("attainment") or not len(table):
        return False
    base = _pick(table, claim.base, rate, claim.metric).dropna()
    return len(base) > 0 and float(base.max()) < SATURATED_ATTAINMENT


def paired(table: pd.DataFrame, claim: Claim, rate: float) -> list[float]:
    """Per seed with both runs finished: ``treat / base - 1`` (change) or ``treat / base`` (ratio)."""
    a, b = _pick(table, claim.treat, rate, claim.metric), _pick(table, claim.base, rate, claim.metric)
    out = []
    for seed in sorted(set(a.index) & set(b.index)):
        x, y = float(a[seed]), float(b[seed])
        if np.isfinite(x) and np.isfinite(y) and y != 0:
            out.append(x / y - (1.0 if claim.kind == "change" else 0.0))
    return out


def verdict(claim: Claim, values: Sequence[float]) -> str:
    """The fixed rule: ``not measured`` without a finished pair; ``no paper figure``; ``holds`` when the
    interval (or the single value) is on the paper's side of no effect and at least half the paper's
    effect; ``weaker`` when on its side but smaller than half or the interval includes no effect;
    ``does not hold`` otherwise. No effect is 0 for a change and 1 for a ratio."""
    n, mean, _, lo, hi = mean_ci(values)
    if n == 0:
        return "not measured"
    if claim.paper is None:
        return "no paper figure"
    null = 0.0 if claim.kind == "change" else 1.0
    sign = math.copysign(1.0, claim.paper - null)
    effect, paper = sign * (mean - null), sign * (claim.paper - null)
    low = sign * ((lo if sign > 0 else hi) - null) if n > 1 and np.isfinite(lo) else effect
    if effect <= 0:
        return "does not hold"
    if low > 0 and effect >= paper / 2:
        return "holds"
    return "weaker"


def _claim_text(kind: str, v: float) -> str:
    return f"{v:+.1%}" if kind == "change" else f"{v:.2f}x"


def claim_rows(setting: Setting, table: pd.DataFrame, rates: Sequence[float]) -> list[dict[str, str]]:
    """One row per claim and rate: paper figure, measured mean ± half-width, seeds, verdict."""
    rows = []
    for c in setting.claims:
        at = list(rates) if c.rate == "each" else [setting.anchor_rate if c.rate is None else float(c.rate)]
        for r in at:
            if r is None:
                continue
            vals = paired(table, c, r) if len(table) else []
            n, mean, _, lo, hi = mean_ci(vals)
            measured = "missing" if n == 0 else _claim_text(c.kind, mean) + (
                f" [{_claim_text(c.kind, lo)}, {_claim_text(c.kind, hi)}]" if n > 1 and np.isfinite(lo) else "")
            rows.append({"claim": c.label, "rate": f"{r:g}", "paper": "—" if c.paper is None else
                         _claim_text(c.kind, c.paper), "measured (95 % CI)": measured, "seeds": str(n),
                         "verdict": (f"saturated (baseline attainment < {SATURATED_ATTAINMENT:.0%})"
                                     if saturated(table, c, r) else verdict(c, vals)), "source": c.source})
    return rows


# --------------------------------------------------------------------------- #
# Pages
# --------------------------------------------------------------------------- #

def markdown_table(rows: Sequence[dict[str, Any]], columns: Optional[Sequence[str]] = None) -> str:
    if not rows:
        return "_(none)_"
    cols = list(columns or rows[0].keys())
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(r.get(c, "")) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def point_rows(setting: Setting, expected: Sequence[Expected], table: pd.DataFrame) -> list[dict[str, str]]:
    """One row per (variant, policy, rate): ``seeds`` finished/expected and each metric's cell."""
    metrics = KIND_METRICS[setting.kind]
    keys = list(dict.fromkeys((e.variant, e.policy, e.rate_per_gpu) for e in expected))
    rows = []
    for v, p, r in keys:
        want = [e for e in expected if (e.variant, e.policy, e.rate_per_gpu) == (v, p, r)]
        got = table[(table["variant"] == v) & (table["policy"] == p) & np.isclose(table["rate_per_gpu"], r)] \
            if len(table) else table
        row = {"variant": v, "policy": p, "rate/GPU": f"{r:g}", "seeds": f"{len(got)}/{len(want)}"}
        for m in metrics:
            row[METRICS[m][0]] = cell(got[m].tolist(), m) if len(got) else "missing"
        rows.append(row)
    return rows


def scale_line(setting: Setting, table: pd.DataFrame) -> str:
    """The scale used, and a warning when it is below the paper's."""
    req, warm, seeds = PAPER_SCALE
    measured = sorted({int(x) for x in table["requests"].dropna()}) if len(table) else []
    text = (f"**Scale used:** {setting.requests} measured + {setting.warmup} warm-up requests per run, "
            f"{len(setting.seeds)} seed(s) ({', '.join(map(str, setting.seeds))})")
    if measured:
        text += f"; finished runs measured {', '.join(map(str, measured))} requests"
    text += "."
    if setting.requests < req or setting.warmup < warm or len(setting.seeds) < seeds:
        text += (f"\n\n> **Reduced run:** below the paper's scale ({req} measured + {warm} warm-up requests, "
                 f"{seeds} seeds). The figures below are not the paper-scale result.")
    return text


def write_page(setting: Setting, expected: Sequence[Expected], out: Path, plots: bool = True) -> Path:
    """Write ``out/<name>.md`` (and its plots under ``out/<name>/``) from the finished runs; returns the page."""
    out = Path(out)
    table = metrics_table(expected)
    rates = sorted({e.rate_per_gpu for e in expected})
    missing = [e for e in expected if e.state != "finished"]
    done = len(expected) - len(missing)
    parts = [f"# {setting.title}", "", setting.description, "", scale_line(setting, table), "",
             f"**Runs:** {done} of {len(expected)} finished"
             + (f"; anchor rate {setting.anchor_rate:g} req/s per prefill GPU" if setting.anchor_rate else "") + ".",
             "", "Cells: mean over the finished seeds ± half-width of the 95 % Student-t interval (no interval "
             "with one seed). A2A CCT: a layer's dispatch + combine per batch (the paper's aggregation). "
             "Waits: share of the summed TTFT of the measured requests. P2D earliness: deadline minus last P2D "
             "landing (positive: early).", ""]
    for note in setting.notes:
        parts += [f"> {note}", ""]
    if setting.claims:
        parts += ["## The paper's figures against this run", "",
                  markdown_table(claim_rows(setting, table, rates),
                                 ["claim", "rate", "paper", "measured (95 % CI)", "seeds", "verdict", "source"]),
                  "", "Verdict rule: *holds* when the interval lies on the paper's side of no effect and the mean is "
                  "at least half the paper's effect; *weaker* when on its side but smaller, or the interval "
                  "includes no effect; *does not hold* when the mean is on the other side; an attainment ratio "
                  f"gets *saturated* instead when the baseline attains less than {SATURATED_ATTAINMENT:.0%}.", ""]
    parts += ["## Every point", "", markdown_table(point_rows(setting, expected, table)), ""]
    if setting.kind == "validate":
        parts += _validation_section(expected)
    if plots and len(table):
        parts += _plots(setting, expected, table, out)
    parts += ["## Missing points", ""]
    if missing:
        parts += [f"{len(missing)} run(s) have no finished result (rerun `scratch/reproduce_mfs.py` to resume):", "",
                  markdown_table([{"variant": e.variant, "policy": e.policy, "rate/GPU": f"{e.rate_per_gpu:g}",
                                   "seed": e.seed, "state": e.state, "run": e.run_dir.name} for e in missing])]
    else:
        parts += ["None: every expected run has finished."]
    page = out / f"{setting.name}.md"
    out.mkdir(parents=True, exist_ok=True)
    page.write_text("\n".join(parts) + "\n")
    return page


def _validation_section(expected: Sequence[Expected]) -> list[str]:
    """Flow against packet model per (policy, rate, seed) with both finished (:func:`.validation.compare_runs`)."""
    from .validation import compare_runs

    runs = {(e.variant, e.policy, e.rate_per_gpu, e.seed): e for e in expected if e.state == "finished"}
    rows = []
    for (v, p, r, s), e in sorted(runs.items()):
        f = runs.get(("flow", p, r, s))
        if v != "packet" or f is None:
            continue
        t, _ = compare_runs(e.run_dir, f.run_dir)
        for m in t.itertuples():
            if m.metric in ("ttft", "slo_attainment", "cct_dispatch", "cct_combine", "flow_fct"):
                rows.append({"policy": p, "rate/GPU": f"{r:g}", "seed": s, "metric": m.metric,
                             "packet mean": f"{m.packet_mean:.4g}", "flow mean": f"{m.flow_mean:.4g}",
                             "median |err|": f"{m.median_abs_rel_err:.1%}", "p99 |err|": f"{m.p99_abs_rel_err:.1%}"})
    return ["## Flow model against packet model", "",
            markdown_table(rows) if rows else "_No (packet, flow) pair has finished yet._", ""]


def _plots(setting: Setting, expected: Sequence[Expected], table: pd.DataFrame, out: Path) -> list[str]:
    from . import plots as pl
    from . import style as st

    d = out / setting.name
    d.mkdir(parents=True, exist_ok=True)
    sty = st.get_style(None)
    lines = ["## Plots", ""]
    main = table.assign(series=[series(setting.kind, v, p) for v, p in zip(table["variant"], table["policy"])])
    main = main[main["series"].notna()]
    if main["rate_per_gpu"].nunique() > 1:
        with st.use(sty):
            fig = pl.line_figure(main, "rate_per_gpu", "ttft_slo_attainment", "series", sty, ylim=(0, 1.02))
            pl._write(fig, sty, d, "attainment_vs_rate")
        lines += [f"![TTFT SLO attainment against rate]({setting.name}/attainment_vs_rate.png)", ""]
    anchor = setting.anchor_rate if setting.anchor_rate is not None else (max(main["rate_per_gpu"]) if len(main) else None)
    at = [e for e in expected if e.state == "finished" and series(setting.kind, e.variant, e.policy) is not None
          and anchor is not None and math.isclose(e.rate_per_gpu, anchor)]
    if at:
        ttft, cct = {}, {}
        for e in at:
            name = series(setting.kind, e.variant, e.policy)
            r = pd.read_parquet(e.run_dir / "requests.parquet")
            r = r[~r["warmup"].astype(bool)] if "warmup" in r.columns else r
            ttft.setdefault(name, []).append(r["ttft_s"].dropna().to_numpy())
            if (e.run_dir / "collectives.parquet").exists():
                cct.setdefault(name, []).append(a2a_cct(pd.read_parquet(e.run_dir / "collectives.parquet")).to_numpy())
        for name, vals, col, what in (("ttft_cdf", ttft, "ttft_s", "TTFT"), ("cct_cdf", cct, "cct_s", "A2A CCT")):
            curves = {p: np.concatenate(v) for p, v in vals.items() if sum(len(x) for x in v)}
            if curves:
                with st.use(sty):
                    fig = pl.ecdf_figure(curves, col, sty, title=f"at {anchor:g} req/s per GPU, seeds pooled",
                                         legend_title=None, what=what)
                    pl._write(fig, sty, d, name)
                lines += [f"![{what} CDF]({setting.name}/{name}.png)", ""]
        shares = main[np.isclose(main["rate_per_gpu"], anchor)].groupby("series")[
            ["stage1_share", "stage2_share", "stage3_share"]].mean()
        if len(shares) and shares.notna().any().any():
            _bars(shares * 100, "share of TTFT waiting (%)", d, "wait_shares", sty, stacked=True,
                  labels=["stage 1 fetch", "stage 2 collectives", "stage 3 P2D"])
            lines += [f"![Per-stage network-wait shares]({setting.name}/wait_shares.png)", ""]
    abl = table[table["variant"].str.startswith("ablation") | ((table["variant"] == "main") & (table["policy"] == "mfs")
                                                               & np.isclose(table["rate_per_gpu"], anchor or -1))]
    if abl["variant"].nunique() > 1:
        means = abl.groupby("variant")[["ttft_mean_s"]].mean() * 1e3
        _bars(means, "mean TTFT (ms)", d, "ablations", sty, labels=["mean TTFT"])
        lines += [f"![MFS ablations]({setting.name}/ablations.png)", ""]
    return lines


def series(kind: str, variant: str, policy: str) -> Optional[str]:
    """The line a run belongs to in the plots: the policy of the main variant (testbed, large), the
    scheduler variant (schedulers), policy and fabric model (validate); None: not plotted as a line."""
    if kind == "schedulers":
        return variant
    if kind == "validate":
        return f"{policy} ({variant})"
    return policy if variant == "main" else None


def _bars(frame: pd.DataFrame, ylabel: str, d: Path, name: str, sty: Any, stacked: bool = False,
          labels: Optional[list[str]] = None) -> None:
    from . import plots as pl
    from . import style as st

    plt = pl._pyplot()
    with st.use(sty):
        fig, ax = plt.subplots(figsize=sty.size())
        frame.plot.bar(ax=ax, stacked=stacked, rot=30)
        ax.set_ylabel(ylabel)
        ax.set_xlabel("")
        if labels:
            ax.legend(labels)
        pl._write(fig, sty, d, name)


def write_index(settings: Sequence[tuple[Setting, Sequence[Expected]]], out: Path) -> Path:
    """``out/README.md``: every setting's progress and claims (the verdict table); the measured reasons
    where a claim does not hold are for the person who reads the pages to write."""
    rows, claims = [], []
    for s, expected in settings:
        table = metrics_table(expected)
        done = sum(e.state == "finished" for e in expected)
        rows.append({"setting": f"[{s.title}]({s.name}.md)", "runs finished": f"{done}/{len(expected)}",
                     "requests + warm-up": f"{s.requests} + {s.warmup}", "seeds": len(s.seeds)})
        for c in claim_rows(s, table, sorted({e.rate_per_gpu for e in expected})):
            claims.append({"setting": s.name, **{k: v for k, v in c.items() if k != "source"}})
    text = ["# Reproducing MFS at packet level", "",
            "Generated by `scratch/reproduce_mfs.py --report` from the runs finished so far; each page holds its "
            "table, plots and missing points.", "", markdown_table(rows), "", "## Claims", "",
            markdown_table(claims), "",
            "Verdicts follow the fixed rule on each page. Where a claim does not hold, the page's per-stage waits, "
            "earliness and PFC columns are where to look for the measured reason.", ""]
    out.mkdir(parents=True, exist_ok=True)
    path = out / "README.md"
    path.write_text("\n".join(text))
    return path
