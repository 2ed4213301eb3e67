"""``ns3-mfs plot``: figures of result directories, styled by :mod:`.style` (PNG and PDF, or PDF
in the ``paper`` style).

Each kind has a function that draws it and returns the matplotlib figure
(:func:`figure`), so tests and notebooks can look at the axes; :func:`plot`
draws and writes it. Line plots draw one line per series with its own
colour, line style and marker, a 95 % confidence band where the table has
``<metric>_ci_low``/``<metric>_ci_high`` columns or several runs per point,
and the sample size in the legend; series that coincide say so in the
legend. Times are shown in their natural unit. Switch queues are named as in
:mod:`.ports`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import style as st
from .stats import mean_ci

KINDS = ("attainment", "ttft-cdf", "cct-cdf", "pfc-timeline", "queue-heatmap", "sweep")
VIEWS = ("auto", "bars", "fraction")
UNITS = (("_per_s", "1/s"), ("_s", "s"), ("_ms", "ms"), ("_us", "us"), ("_bytes", "bytes"), ("_gbps", "Gbit/s"),
         ("_mbps", "Mbit/s"), ("_gb_per_s", "GB/s"), ("_tokens", "tokens"))
#: Names of known columns; times (``*_s``) get their unit appended by :func:`label`.
NAMES = {
    "ttft_s": "TTFT", "cct_s": "all-to-all CCT",
    "ttft_mean_s": "mean TTFT", "ttft_p50_s": "median TTFT", "ttft_p99_s": "p99 TTFT",
    "cct_mean_s": "mean all-to-all CCT", "cct_p99_s": "p99 all-to-all CCT",
}
LABELS = {
    "ttft_slo_attainment": "TTFT SLO attainment (fraction)",
    "workload.rate_per_s": "request rate (req/s)", "rate_per_gpu": "request rate per prefill GPU (req/s)",
    "pfc_pause_frames": "PFC PAUSE frames (count)", "packet_hops_per_s": "simulation speed (packet-hops/s)",
    "fabric.mtu": "MTU (bytes)", "seed": "seed", "policy": "policy",
}
#: Most rows a queue plot shows (the busiest); the title says how many there were.
MAX_ROWS = 40
#: The bars view of ``pfc-timeline`` is used up to this many pauses (``--view auto``).
MAX_BARS = 400


def label(column: str, unit: str | None = None) -> str:
    """An axis label with units for a result or config column; times in ``unit`` (default s)."""
    if column in LABELS:
        return LABELS[column]
    if st.is_time(column):
        base = NAMES.get(column, column[:-2])
        return f"{base} ({st.display_unit(unit or 's')})"
    for suffix, u in UNITS:
        if column.endswith(suffix):
            return f"{column[: -len(suffix)]} ({u})"
    return column


def _sns():  # kept for callers of the old helpers (testbed overlays)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="paper")
    return plt, sns


def _save(fig, out: Path, name: str) -> list[Path]:  # kept for callers of the old helpers
    return st.save(fig, st.STYLES["screen"], out, name)


# --------------------------------------------------------------------------- #
# lines with CI bands, CDFs
# --------------------------------------------------------------------------- #

def _n_text(ns: pd.Series) -> str:
    lo, hi = int(ns.min()), int(ns.max())
    return f"n={lo}" if lo == hi else f"n={lo}-{hi}"


def summarise(df: pd.DataFrame, x: str, y: str, hue: str | None) -> pd.DataFrame:
    """One row per (hue, x): ``mean``, ``lo``/``hi`` (the table's ``<y>_ci_low``/``<y>_ci_high`` when it
    has them, else a 95 % t interval over the runs of the point, else none) and ``n`` (runs per point, or
    the table's ``<y>_n``)."""
    keys = [hue, x] if hue else [x]
    data = df.dropna(subset=[y])
    g = data.groupby(keys, sort=True, dropna=False)
    out = g[y].agg(mean="mean", std="std", n="count").reset_index()
    lo_c, hi_c, n_c = f"{y}_ci_low", f"{y}_ci_high", f"{y}_n"
    if lo_c in data.columns and hi_c in data.columns:
        out["lo"] = g[lo_c].mean().to_numpy()
        out["hi"] = g[hi_c].mean().to_numpy()
    else:  # a Student-t interval over the runs of each point (replications over seeds)
        ci = [mean_ci(part)[3:] for _, part in g[y]]
        out["lo"] = [lo for lo, _ in ci]
        out["hi"] = [hi for _, hi in ci]
    if n_c in data.columns:
        out["n"] = g[n_c].sum().to_numpy()
    return out


def _legend(ax, title: str | None, handles=None, labels=None) -> None:
    kw = dict(title=title, loc="best", handlelength=2.6)
    if handles is not None:
        kw.update(handles=handles, labels=labels)
    if ax.get_legend_handles_labels()[0] or handles:
        ax.legend(**kw)


def line_figure(df: pd.DataFrame, x: str, y: str, hue: str | None, style: st.Style, ylim=None):
    """Mean of ``y`` against ``x``, one styled line per ``hue`` value, CI bands, n in the legend."""
    plt = _pyplot()
    import seaborn as sns

    data = df.copy()
    if hue is not None:
        data[hue] = data[hue].astype(str)
    numeric_x = pd.api.types.is_numeric_dtype(data[x])
    s = summarise(data, x, y, hue)
    yunit, yscale = st.time_unit(s["mean"]) if st.is_time(y) else (None, 1.0)
    for c in ("mean", "lo", "hi"):
        s[c] = s[c] / yscale
    cats = list(dict.fromkeys(s[x].sort_values())) if not numeric_x else None
    s["xpos"] = s[x] if numeric_x else s[x].map({c: i for i, c in enumerate(cats)})
    groups = list(dict.fromkeys(s[hue])) if hue else [None]
    palette = sns.color_palette(n_colors=max(len(groups), 1))
    fig, ax = plt.subplots(figsize=style.size())
    means = {}
    for i, h in enumerate(groups):
        part = s[s[hue] == h] if hue else s
        means[h] = part.set_index("xpos")["mean"]
        ln = f"{h} ({_n_text(part['n'])})" if hue else _n_text(part["n"])
        ax.plot(part["xpos"], part["mean"], color=palette[i], label=ln, **st.series_style(i))
        band = part.dropna(subset=["lo", "hi"])
        if len(band):
            ax.fill_between(band["xpos"], band["lo"], band["hi"], color=palette[i], alpha=0.18, linewidth=0)
    same = st.coinciding({h: means[h].reindex(sorted(s["xpos"].unique())).to_numpy() for h in groups}) \
        if hue and len(groups) > 1 else []
    handles, labels = ax.get_legend_handles_labels()
    for group in same:
        for h in group[1:]:
            k = groups.index(h)
            labels[k] += f", same as {group[0]}"
    if cats is not None:
        ax.set_xticks(range(len(cats)), [str(c) for c in cats])
    ax.set_xlabel(label(x))
    ax.set_ylabel(label(y, yunit))
    if ylim:
        ax.set_ylim(*ylim)
    elif not st.is_time(y) and s["mean"].abs().max() >= 1e4:
        st.engineering(ax, "y")
    if numeric_x and not st.is_time(x) and s[x].abs().max() >= 1e4:
        st.engineering(ax, "x")
    if s["lo"].notna().any():
        ax.text(0.99, 0.01, "bands: 95 % CI", transform=ax.transAxes, ha="right", va="bottom",
                fontsize=style.font_pt - 2, color="0.35")
    _legend(ax, label(hue) if hue else None, handles, labels)
    return fig


def ecdf_figure(values: dict[str, np.ndarray], column: str, style: st.Style, title: str | None = None,
                legend_title: str | None = None, what: str | None = None):
    """Empirical CDFs of ``values`` (series name -> values of ``column``; ``what`` names them on the
    axis), styled lines, n in the legend, natural time unit, a log axis when positive values span
    more than a decade."""
    plt = _pyplot()
    import seaborn as sns

    allv = np.concatenate([np.asarray(v, dtype=float) for v in values.values()]) if values else np.array([])
    unit, scale = st.time_unit(allv) if st.is_time(column) else (None, 1.0)
    palette = sns.color_palette(n_colors=max(len(values), 1))
    fig, ax = plt.subplots(figsize=style.size())
    from matplotlib.lines import Line2D

    sorted_vals, handles, labels = {}, [], []
    for i, (name, v) in enumerate(values.items()):
        v = np.sort(np.asarray(v, dtype=float)[np.isfinite(v)]) / scale
        sorted_vals[name] = v
        y = np.arange(1, len(v) + 1) / len(v)
        sty = st.series_style(i)
        ax.step(v, y, where="post", color=palette[i], linestyle=sty["linestyle"])
        mark = np.unique(np.linspace(0, len(v) - 1, min(len(v), 6)).round().astype(int))
        ax.plot(v[mark], y[mark], linestyle="none", marker=sty["marker"], color=palette[i])
        handles.append(Line2D([], [], color=palette[i], **sty))
        labels.append(f"{name} (n={len(v)})")
    names = list(values)
    for group in st.coinciding(sorted_vals):
        for name in group[1:]:
            labels[names.index(name)] += f", same as {group[0]}"
    pos = allv[np.isfinite(allv)] / scale
    if len(pos) and (pos > 0).all() and pos.max() / pos.min() > 10:
        st.log_axis(ax, "x", pos)
    xlabel = label(column, unit)
    if what:
        xlabel = what + xlabel[xlabel.rfind(" ("):] if xlabel.endswith(")") else what
    ax.set_xlabel(xlabel)
    ax.set_ylabel("CDF (fraction)")
    ax.set_ylim(0, 1.02)
    if title:
        ax.set_title(title)
    _legend(ax, legend_title, handles, labels)
    return fig


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _write(fig, style: st.Style, out: Path, name: str) -> list[Path]:
    import matplotlib.pyplot as plt

    try:
        return st.save(fig, style, out, name)
    finally:
        plt.close(fig)


# --------------------------------------------------------------------------- #
# ``compare`` directories
# --------------------------------------------------------------------------- #

def attainment_vs_rate(table: pd.DataFrame, out: Path, style: str | None = None) -> list[Path]:
    sty = st.get_style(style)
    with st.use(sty):
        fig = line_figure(table, "rate_per_gpu", "ttft_slo_attainment", "policy", sty, ylim=(0, 1.02))
        return _write(fig, sty, out, "attainment_vs_rate")


def cdf(values: pd.DataFrame, column: str, xlabel: str, out: Path, name: str, style: str | None = None) -> list[Path]:
    """CDFs of ``values[column]`` per ``policy``; ``xlabel`` is the title (what and where)."""
    sty = st.get_style(style)
    series = {p: g[column].to_numpy(float) for p, g in values.groupby("policy", sort=True)}
    with st.use(sty):
        fig = ecdf_figure(series, column, sty, title=xlabel, legend_title="policy")
        return _write(fig, sty, out, name)


def compare_plots(out: Path, style: str | None = None) -> list[Path]:
    """The plots of a ``compare`` directory: attainment against rate, and the TTFT and all-to-all CCT
    CDFs at the highest rate (from ``compare.parquet`` and the pairs' result directories)."""
    out = Path(out)
    table = pd.read_parquet(out / "compare.parquet")
    ok = table[table["error"].isna()]
    if not len(ok):
        return []
    paths = attainment_vs_rate(ok, out, style)
    top = ok[ok["rate_per_gpu"] == ok["rate_per_gpu"].max()]
    rate = float(top["rate_per_gpu"].iloc[0])
    ttft, cct = [], []
    for row in top.itertuples():
        d = out / "runs" / row.run_id
        ttft.append(pd.read_parquet(d / "requests.parquet", columns=["ttft_s"]).assign(policy=row.policy))
        c = pd.read_parquet(d / "collectives.parquet", columns=["kind", "cct_s"])
        cct.append(c[c["kind"].isin(["dispatch", "combine"])].assign(policy=row.policy))
    paths += cdf(pd.concat(ttft), "ttft_s", f"at {rate:g} req/s per GPU", out, "ttft_cdf", style)
    if sum(len(c) for c in cct):
        paths += cdf(pd.concat(cct), "cct_s", f"at {rate:g} req/s per GPU", out, "cct_cdf", style)
    return paths


# --------------------------------------------------------------------------- #
# ``ns3-mfs plot``: any result directory
# --------------------------------------------------------------------------- #

def _out_stem(out: Path | None, default: Path) -> tuple[Path, str]:
    p = Path(out) if out is not None else default
    if p.suffix.lower() in (".png", ".pdf"):
        p = p.with_suffix("")
    p.parent.mkdir(parents=True, exist_ok=True)
    return p.parent, p.name


def _choose(value: str | None, allowed: list[str], flag: str, kind: str, default: str | None) -> str | None:
    from ..config import ConfigError

    if value is None:
        return default
    if value not in allowed:
        shown = ", ".join(allowed) if allowed else "(none)"
        raise ConfigError(f"{flag}: {value!r} is not a column for --kind {kind}; allowed: {shown}")
    return value


def _refuse(flags: dict[str, Any], kind: str, why: str = "it reads one run directory") -> None:
    from ..config import ConfigError

    for flag, value in flags.items():
        if value is not None:
            raise ConfigError(f"{flag}: not used by --kind {kind} ({why})")


def _table(root: Path):
    from .results import collect, config_columns, metric_columns, varying_columns

    df = collect(root)
    ok = df[df["status"] == "ok"].reset_index(drop=True)
    metrics, config = metric_columns(df), config_columns(df)
    varying = [c for c in varying_columns(ok, set(metrics)) if c in config]
    return ok, metrics, [*varying, *(c for c in config if c not in varying)], varying


#: Config keys that replicate a point rather than change it: never a default axis or hue, so the runs
#: of one point are pooled into its mean and confidence band.
REPLICATION_KEYS = ("seed",)


def _hue_default(varying: list[str], x: str | None) -> str | None:
    for c in ("policy", *varying):
        if c in varying and c != x and c not in REPLICATION_KEYS:
            return c
    return None


def _run_values(root: Path, df: pd.DataFrame, table: str, column: str, hue: str | None) -> dict[str, np.ndarray]:
    parts: dict[str, list[np.ndarray]] = {}
    for _, row in df.iterrows():
        f = root / row["path"] / f"{table}.parquet"
        if not f.exists():
            continue
        t = pd.read_parquet(f)
        if table == "collectives":
            t = t[t["kind"].isin(["dispatch", "combine"])]
        key = str(row[hue]) if hue else str(row["run_id"])
        parts.setdefault(key, []).append(t[column].dropna().to_numpy(float))
    return {k: np.concatenate(v) for k, v in sorted(parts.items()) if sum(map(len, v))}


def _cdf_figure(root: Path, kind: str, hue: str | None, style: st.Style):
    from ..config import ConfigError

    table, column = ("requests", "ttft_s") if kind == "ttft-cdf" else ("collectives", "cct_s")
    ok, _, config, varying = _table(root)
    hue = _choose(hue, config, "--hue", kind, _hue_default(varying, None))
    values = _run_values(root, ok, table, column, hue)
    if not values:
        raise ConfigError(f"{root}: no finished run with {table}.parquet values of {column}")
    return ecdf_figure(values, column, style, legend_title=label(hue) if hue else "run")


def _one_run(root: Path, table: str) -> pd.DataFrame:
    from ..config import ConfigError

    f = root / f"{table}.parquet"
    if not f.exists():
        raise ConfigError(f"{root}: no {table}.parquet; give one run directory (e.g. DIR/runs/<run_id>)")
    return pd.read_parquet(f)


_WINDOW = re.compile(r"^\s*([0-9.eE+-]*)\s*(s|ms|us|ns)?\s*:\s*([0-9.eE+-]*)\s*(s|ms|us|ns)?\s*$")


def parse_window(text: str | None) -> tuple[float | None, float | None]:
    """``START:END`` of simulated time (each side optional; unit s, ms, us or ns, default s) as seconds."""
    from ..config import ConfigError

    if text is None:
        return None, None
    m = _WINDOW.match(text)
    scale = {None: 1.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}
    try:
        if not m:
            raise ValueError
        a = float(m.group(1)) * scale[m.group(2)] if m.group(1) else None
        b = float(m.group(3)) * scale[m.group(4)] if m.group(3) else None
    except ValueError:
        raise ConfigError(f"--window: {text!r} is not START:END (e.g. 2.7ms:2.9ms, 0.5:, :300us)") from None
    if a is not None and b is not None and not b > a:
        raise ConfigError(f"--window: the end must be after the start, got {text!r}")
    return a, b


def _span(times: pd.Series, window: tuple[float | None, float | None]) -> tuple[float, float]:
    t0 = window[0] if window[0] is not None else float(times.min())
    t1 = window[1] if window[1] is not None else float(times.max())
    return t0, t1 if t1 > t0 else t0 + 1e-9


def paused_fraction(spans: pd.DataFrame, t0: float, t1: float, bins: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(queues, bin edges in s, fraction of each bin each queue was paused); the pauses of one queue
    never overlap, so the paused time up to t is a cumulative sum found by binary search."""
    edges = np.linspace(t0, t1, bins + 1)
    queues, rows = [], []
    for q, g in spans.groupby("queue", sort=False):
        s, e = g["start_s"].to_numpy(float), g["end_s"].to_numpy(float)
        order = np.argsort(s)
        s, e = s[order], np.maximum(e[order], s[order])
        done = np.concatenate([[0.0], np.cumsum(e - s)])
        k = np.searchsorted(e, edges, side="right")  # pauses ended by each edge
        cum = done[k]
        on = (k < len(s)) & (s[np.minimum(k, len(s) - 1)] < edges)
        cum = cum + np.where(on, edges - s[np.minimum(k, len(s) - 1)], 0.0)
        queues.append(q)
        rows.append(np.diff(cum) / np.diff(edges))
    return queues, edges, np.clip(np.array(rows).reshape(len(queues), bins), 0.0, 1.0)


def _queue_order(names: list[str], weight: np.ndarray, keys: list[tuple]) -> tuple[list[int], int]:
    """Rows to show: at most MAX_ROWS of the heaviest, in (switch, port, class) order; and how many
    there were."""
    idx = np.argsort(-weight, kind="stable")[:MAX_ROWS]
    return sorted(idx.tolist(), key=lambda i: keys[i]), len(names)


def _time_grid(ax, fig, edges_s: np.ndarray, grid: np.ndarray, names: list[str], cmap: str, cbar: str,
               vmax: float | None, unit_scale: tuple[str, float]) -> None:
    unit, scale = unit_scale
    mesh = ax.pcolormesh(edges_s / scale, np.arange(len(names) + 1) - 0.5, grid, cmap=cmap, vmin=0,
                         vmax=vmax, shading="flat", rasterized=True)
    fig.colorbar(mesh, ax=ax, label=cbar, pad=0.015)
    ax.set_yticks(range(len(names)), names)
    ax.set_ylim(len(names) - 0.5, -0.5)
    ax.set_xlabel(f"simulated time ({st.display_unit(unit)})")
    ax.grid(False)


def _fig_height(style: st.Style, rows: int) -> float:
    per = 0.13 if style.name == "paper" else 0.2
    return max(style.height_in, 0.9 + per * rows)


def pfc_figure(root: Path, style: st.Style, window=(None, None), view: str = "auto", bins: int = 200):
    """PAUSEs sent by switch queues: ``bars`` (each pause from PAUSE to RESUME) or ``fraction`` (the
    fraction of each time bin every queue was paused; readable at any number of frames)."""
    from .ports import paused_intervals, port_peers

    pfc = _one_run(root, "pfc")
    plt = _pyplot()
    spans = paused_intervals(pfc, port_peers(root))
    sent = pfc[pfc["kind"] == "pause"]
    t0, t1 = _span(pfc["time_s"], window) if len(pfc) else (0.0, 1.0)
    spans = spans[(spans["end_s"] > t0) & (spans["start_s"] < t1)]
    n_frames = int(((sent["time_s"] >= t0) & (sent["time_s"] <= t1)).sum())
    if view == "auto":
        view = "bars" if len(spans) <= MAX_BARS else "fraction"
    if not len(spans):
        fig, ax = plt.subplots(figsize=style.size())
        ax.text(0.5, 0.5, "no PFC pause in this run" + (" window" if window != (None, None) else ""),
                ha="center", va="center", transform=ax.transAxes)
        ax.set_yticks([])
        ax.set_xlabel("simulated time (s)")
        return fig
    queues = list(dict.fromkeys(spans.sort_values(["node", "port", "priority"], kind="stable")["queue"]))
    key = {q: i for i, q in enumerate(queues)}
    unit = st.time_unit([t1 - t0])
    paused = spans.assign(d=spans["end_s"].clip(upper=t1) - spans["start_s"].clip(lower=t0))
    weight = paused.groupby("queue")["d"].sum().reindex(queues).to_numpy()
    shown, total = _queue_order(queues, weight, [(key[q],) for q in queues])
    names = [queues[i] for i in shown]
    fig, ax = plt.subplots(figsize=style.size(_fig_height(style, len(names)), wide=True))
    if view == "bars":
        import seaborn as sns

        color = sns.color_palette()[3]
        for row, q in enumerate(names):
            sp = spans[spans["queue"] == q]
            a, b = sp["start_s"].clip(lower=t0) / unit[1], sp["end_s"].clip(upper=t1) / unit[1]
            ax.broken_barh(list(zip(a, b - a)), (row - 0.35, 0.7), facecolors=color)
        ax.set_yticks(range(len(names)), names)
        ax.set_ylim(len(names) - 0.5, -0.5)
        ax.set_xlim(t0 / unit[1], t1 / unit[1])
        ax.set_xlabel(f"simulated time ({st.display_unit(unit[0])}); bars: PAUSE sent to RESUME")
    else:
        qs, edges, frac = paused_fraction(spans[spans["queue"].isin(names)], t0, t1, bins)
        grid = frac[[qs.index(q) for q in names]]
        _time_grid(ax, fig, edges, grid, names, "Reds", "fraction of time paused", 1.0, unit)
    ax.set_ylabel("switch:port→peer, class")
    more = f" (the {len(names)} most paused shown)" if total > len(names) else ""
    ax.set_title(f"{n_frames:,} PAUSE frames from {total} switch queues{more}")
    return fig


def _sample_interval(root: Path, times: pd.Series) -> float:
    """The queue sampling interval of a run (s): from its config, else the smallest gap between ticks."""
    import tomllib

    try:
        us = tomllib.loads((root / "config.toml").read_text())["fabric"]["queue_sample_interval_us"]
        if float(us) > 0:
            return float(us) * 1e-6
    except (OSError, ValueError, KeyError, TypeError):
        pass
    gaps = np.diff(np.unique(times.to_numpy(float)))
    return float(gaps[gaps > 0].min()) if (gaps > 0).any() else 1e-9


def heatmap_figure(root: Path, style: st.Style, window=(None, None), bins: int = 200):
    """Switch egress queue occupancy per (switch, port, class) over time (maximum per time bin);
    queues that stay empty in the window are left out."""
    from ..config import ConfigError
    from .ports import name_queues, port_peers

    q = _one_run(root, "queues")
    if not len(q):
        raise ConfigError(f"{root}/queues.parquet: no queue samples (all queues empty, or sampling off)")
    t0, t1 = _span(q["time_s"], window)
    q = q[(q["time_s"] >= t0) & (q["time_s"] <= t1) & (q["bytes"] > 0)].copy()
    if not len(q):
        raise ConfigError(f"{root}/queues.parquet: every queue is empty in the window")
    plt = _pyplot()
    q["queue"] = name_queues(q, port_peers(root))
    # A bin must hold at least one sampling tick: an empty queue has no row, so a bin without a tick
    # would look empty.
    bins = max(1, min(bins, int((t1 - t0) / _sample_interval(root, q["time_s"]))))
    width = (t1 - t0) / bins
    q["bin"] = ((q["time_s"] - t0) / width).astype(int).clip(0, bins - 1)
    peak = q.groupby(["queue", "bin"])["bytes"].max().unstack(fill_value=0).reindex(columns=range(bins),
                                                                                     fill_value=0)
    keys = q.drop_duplicates("queue").set_index("queue")[["node", "port", "priority"]]
    names_all = list(peak.index)
    shown, total = _queue_order(names_all, peak.max(axis=1).to_numpy(),
                                [tuple(keys.loc[n]) for n in names_all])
    grid = peak.to_numpy(float)[shown]
    names = [names_all[i] for i in shown]
    big = grid.max() >= 1e6
    grid = grid / (1e6 if big else 1e3)
    fig, ax = plt.subplots(figsize=style.size(_fig_height(style, len(names)), wide=True))
    edges = t0 + width * np.arange(bins + 1)
    _time_grid(ax, fig, edges, grid, names, "rocket_r", f"queue ({'MB' if big else 'KB'}, max per bin)", None,
               st.time_unit([t1 - t0]))
    ax.set_ylabel("switch:port→peer, class")
    if total > len(names):
        ax.set_title(f"the {len(names)} fullest of {total} non-empty queues")
    return fig


def _check(root: Path, kind: str, style: str | None, window: str | None, view: str | None):
    from ..config import ConfigError

    if kind not in KINDS:
        raise ConfigError(f"--kind: {kind!r} is not a plot kind; allowed: {', '.join(KINDS)}")
    sty = st.get_style(style)
    if not root.is_dir():
        raise ConfigError(f"{root}: not a directory")
    if view is not None and kind != "pfc-timeline":
        _refuse({"--view": view}, kind, "only pfc-timeline has views")
    if view is not None and view not in VIEWS:
        raise ConfigError(f"--view: {view!r} is not a view; allowed: {', '.join(VIEWS)}")
    if window is not None and kind not in ("pfc-timeline", "queue-heatmap"):
        _refuse({"--window": window}, kind, "only pfc-timeline and queue-heatmap have a time axis")
    return sty, parse_window(window)


def _draw(root: Path, kind: str, x, y, hue, sty: st.Style, win, view):
    from ..config import ConfigError

    if kind in ("pfc-timeline", "queue-heatmap"):
        _refuse({"--x": x, "--y": y, "--hue": hue}, kind)
        if kind == "pfc-timeline":
            return pfc_figure(root, sty, win, view or "auto"), "pfc_timeline"
        return heatmap_figure(root, sty, win), "queue_heatmap"
    if kind in ("ttft-cdf", "cct-cdf"):
        _refuse({"--x": x, "--y": y}, kind)
        return _cdf_figure(root, kind, hue, sty), kind.replace("-", "_")
    ok, metrics, config, varying = _table(root)
    if not len(ok):
        raise ConfigError(f"{root}: no finished run to plot")
    numeric_cfg = [c for c in config if pd.api.types.is_numeric_dtype(ok[c])]
    swept = [c for c in varying if c not in REPLICATION_KEYS] or varying
    default_x = next((c for c in ("workload.rate_per_s", *swept) if c in swept and c in numeric_cfg),
                     swept[0] if swept else None)
    x = _choose(x, config, "--x", kind, default_x)
    if x is None:
        raise ConfigError(f"--x: no config key varies between the runs of {root}; give --x (allowed: "
                          f"{', '.join(config)})")
    if kind == "attainment":
        y = _choose(y, ["ttft_slo_attainment"], "--y", kind, "ttft_slo_attainment")
    else:
        y = _choose(y, metrics, "--y", kind, "ttft_mean_s" if "ttft_mean_s" in metrics else None)
        if y is None:
            raise ConfigError(f"--y: give a metric; allowed: {', '.join(metrics)}")
    hue = _choose(hue, config, "--hue", kind, _hue_default(varying, x))
    name = "attainment" if kind == "attainment" else f"sweep_{y}_vs_{x}".replace(".", "_")
    return line_figure(ok, x, y, hue, sty, ylim=(0, 1.02) if y == "ttft_slo_attainment" else None), name


def figure(root: str | Path, kind: str, x: str | None = None, y: str | None = None, hue: str | None = None,
           style: str | None = None, window: str | None = None, view: str | None = None):
    """Draw the figure :func:`plot` would write and return it (a matplotlib Figure; nothing written)."""
    root = Path(root)
    sty, win = _check(root, kind, style, window, view)
    with st.use(sty):
        return _draw(root, kind, x, y, hue, sty, win, view)[0]


def plot(root: str | Path, kind: str, x: str | None = None, y: str | None = None, hue: str | None = None,
         out: str | Path | None = None, style: str | None = None, window: str | None = None,
         view: str | None = None) -> list[Path]:
    """``ns3-mfs plot``: write one figure of a result directory (PNG and PDF; PDF only in the ``paper``
    style); returns the paths."""
    root = Path(root)
    sty, win = _check(root, kind, style, window, view)
    with st.use(sty):
        fig, name = _draw(root, kind, x, y, hue, sty, win, view)
        d, stem = _out_stem(Path(out) if out is not None else None, root / name)
        return _write(fig, sty, d, stem)
