"""Policy-comparison plots (seaborn), written as PNG and PDF with labelled axes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def _sns():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="paper")
    return plt, sns


def _save(fig, out: Path, name: str) -> list[Path]:
    paths = []
    for ext in ("png", "pdf"):
        p = out / f"{name}.{ext}"
        fig.savefig(p, dpi=150, bbox_inches="tight")
        paths.append(p)
    return paths


def ci_lines(ax, data: pd.DataFrame, x: str, y: str, hue: str | None) -> bool:
    """Mean of ``y`` against ``x`` per ``hue`` level, with a shaded 95 % confidence band over the runs at
    each point (replications over seeds; :func:`.stats.band`). Returns whether any band was drawn
    (some point has two or more runs)."""
    import seaborn as sns

    from .stats import LEVEL, band

    levels = list(dict.fromkeys(data[hue])) if hue is not None else [None]
    colors = sns.color_palette(n_colors=max(1, len(levels)))
    drawn = False
    for level, color in zip(levels, colors):
        part = data if hue is None else data[data[hue] == level]
        b = band(part, x, y)
        ax.plot(b[x], b["mean"], marker="o", color=color, label=None if hue is None else str(level))
        ok = b["ci_low"].notna()
        if ok.any():
            ax.fill_between(b[x][ok], b["ci_low"][ok], b["ci_high"][ok], color=color, alpha=0.25, linewidth=0)
            drawn = True
    if hue is not None:
        ax.legend(title=hue)
    if drawn:
        ax.text(0.99, 0.01, f"mean, {LEVEL:.0%} CI over seeds", transform=ax.transAxes, ha="right", va="bottom",
                fontsize=7, alpha=0.7)
    return drawn


def attainment_vs_rate(table: pd.DataFrame, out: Path) -> list[Path]:
    plt, sns = _sns()
    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    ci_lines(ax, table, "rate_per_gpu", "ttft_slo_attainment", "policy")
    ax.set_xlabel("request rate per prefill GPU (req/s)")
    ax.set_ylabel("TTFT SLO attainment")
    ax.set_ylim(0, 1.02)
    paths = _save(fig, out, "attainment_vs_rate")
    plt.close(fig)
    return paths


def cdf(values: pd.DataFrame, column: str, xlabel: str, out: Path, name: str) -> list[Path]:
    plt, sns = _sns()
    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    sns.ecdfplot(data=values, x=column, hue="policy", ax=ax)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("CDF")
    ax.set_xscale("log")
    paths = _save(fig, out, name)
    plt.close(fig)
    return paths


# --------------------------------------------------------------------------- #
# ``ns3-mfs plot``: any result directory
# --------------------------------------------------------------------------- #

KINDS = ("attainment", "ttft-cdf", "cct-cdf", "pfc-timeline", "queue-heatmap", "sweep")
UNITS = (("_per_s", "1/s"), ("_s", "s"), ("_ms", "ms"), ("_us", "us"), ("_bytes", "bytes"), ("_gbps", "Gbit/s"),
         ("_mbps", "Mbit/s"), ("_gb_per_s", "GB/s"), ("_tokens", "tokens"))
LABELS = {
    "ttft_slo_attainment": "TTFT SLO attainment (fraction)",
    "ttft_mean_s": "mean TTFT (s)", "ttft_p50_s": "median TTFT (s)", "ttft_p99_s": "p99 TTFT (s)",
    "cct_mean_s": "mean all-to-all CCT (s)", "cct_p99_s": "p99 all-to-all CCT (s)",
    "workload.rate_per_s": "request rate (req/s)", "rate_per_gpu": "request rate per prefill GPU (req/s)",
    "pfc_pause_frames": "PFC PAUSE frames (count)", "packet_hops_per_s": "simulation speed (packet-hops/s)",
    "fabric.mtu": "MTU (bytes)", "seed": "seed", "policy": "policy",
}



def compare_plots(out: Path) -> list[Path]:
    """The plots of a ``compare`` directory: attainment against rate, and the TTFT and all-to-all CCT
    CDFs at the highest rate (from ``compare.parquet`` and the pairs' result directories)."""
    out = Path(out)
    table = pd.read_parquet(out / "compare.parquet")
    ok = table[table["error"].isna()]
    if not len(ok):
        return []
    paths = attainment_vs_rate(ok, out)
    top = ok[ok["rate_per_gpu"] == ok["rate_per_gpu"].max()]
    rate = float(top["rate_per_gpu"].iloc[0])
    ttft, cct = [], []
    for row in top.itertuples():
        d = out / "runs" / row.run_id
        ttft.append(pd.read_parquet(d / "requests.parquet", columns=["ttft_s"]).assign(policy=row.policy))
        c = pd.read_parquet(d / "collectives.parquet", columns=["kind", "cct_s"])
        cct.append(c[c["kind"].isin(["dispatch", "combine"])].assign(policy=row.policy))
    paths += cdf(pd.concat(ttft), "ttft_s", f"TTFT (s) at {rate:g} req/s per GPU", out, "ttft_cdf")
    if sum(len(c) for c in cct):
        paths += cdf(pd.concat(cct), "cct_s", f"all-to-all CCT (s) at {rate:g} req/s per GPU", out, "cct_cdf")
    return paths

def label(column: str) -> str:
    """An axis label with units for a result or config column."""
    if column in LABELS:
        return LABELS[column]
    for suffix, unit in UNITS:
        if column.endswith(suffix):
            return f"{column[: -len(suffix)]} ({unit})"
    return column


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


def _refuse(flags: dict[str, str | None], kind: str) -> None:
    from ..config import ConfigError

    for flag, value in flags.items():
        if value is not None:
            raise ConfigError(f"{flag}: not used by --kind {kind} (it reads one run directory)")


def _table(root: Path):
    from .results import collect, config_columns, metric_columns, varying_columns

    df = collect(root)
    ok = df[df["status"] == "ok"].reset_index(drop=True)
    metrics, config = metric_columns(df), config_columns(df)
    varying = [c for c in varying_columns(ok, set(metrics)) if c in config]
    return ok, metrics, [*varying, *(c for c in config if c not in varying)], varying


def _hue_default(varying: list[str], x: str | None) -> str | None:
    for c in ("policy", *varying):
        if c in varying and c != x and c != "seed":  # seeds are replications: pooled into CI bands
            return c
    return None


def _line(df: pd.DataFrame, x: str, y: str, hue: str | None, out: Path, name: str, ylim=None) -> list[Path]:
    plt, sns = _sns()
    fig, ax = plt.subplots(figsize=(5, 3.4))
    data = df.sort_values(x)
    if hue is not None:
        data = data.assign(**{hue: data[hue].astype(str)})
    if pd.api.types.is_numeric_dtype(data[x]):
        ci_lines(ax, data, x, y, hue)
    else:
        sns.pointplot(data=data, x=x, y=y, hue=hue, ax=ax)
    ax.set_xlabel(label(x))
    ax.set_ylabel(label(y))
    if ylim:
        ax.set_ylim(*ylim)
    if hue is not None and ax.get_legend() is not None:
        ax.get_legend().set_title(label(hue))
    paths = _save(fig, out, name)
    plt.close(fig)
    return paths


def _run_values(root: Path, df: pd.DataFrame, table: str, column: str, hue: str | None) -> pd.DataFrame:
    parts = []
    for _, row in df.iterrows():
        d = root / row["path"]
        f = d / f"{table}.parquet"
        if not f.exists():
            continue
        t = pd.read_parquet(f)
        if table == "collectives":
            t = t[t["kind"].isin(["dispatch", "combine"])]
        t = t[[column]].dropna()
        parts.append(t.assign(run=str(row[hue]) if hue else row["run_id"]))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=[column, "run"])


def _cdf_runs(root: Path, kind: str, hue: str | None, out: Path | None) -> list[Path]:
    from ..config import ConfigError

    table, column, xlabel = (("requests", "ttft_s", "TTFT (s)") if kind == "ttft-cdf"
                             else ("collectives", "cct_s", "all-to-all CCT (s)"))
    ok, _, config, varying = _table(root)
    hue = _choose(hue, config, "--hue", kind, _hue_default(varying, None))
    values = _run_values(root, ok, table, column, hue)
    if not len(values):
        raise ConfigError(f"{root}: no finished run with {table}.parquet values of {column}")
    plt, sns = _sns()
    fig, ax = plt.subplots(figsize=(5, 3.4))
    sns.ecdfplot(data=values, x=column, hue="run", ax=ax)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("CDF (fraction)")
    if (values[column] > 0).all():
        ax.set_xscale("log")
    if ax.get_legend() is not None:
        ax.get_legend().set_title(label(hue) if hue else "run")
    d, name = _out_stem(out, root / kind.replace("-", "_"))
    paths = _save(fig, d, name)
    plt.close(fig)
    return paths


def _one_run(root: Path, table: str) -> pd.DataFrame:
    from ..config import ConfigError

    f = root / f"{table}.parquet"
    if not f.exists():
        raise ConfigError(f"{root}: no {table}.parquet; give one run directory (e.g. DIR/runs/<run_id>)")
    return pd.read_parquet(f)


def _paused_intervals(sent: pd.DataFrame) -> pd.DataFrame:
    """(queue, start_ms, end_ms) from each PAUSE to the next RESUME of one (switch, port, class)."""
    rows = []
    t_end = float(sent["time_s"].max())
    for (_, _, _, name), g in sent.groupby(["node", "port", "priority", "queue"], sort=True):
        start = None
        for t, kind in zip(g["time_s"], g["kind"]):
            if kind == "pause" and start is None:
                start = t
            elif kind == "resume" and start is not None:
                rows.append((name, start * 1e3, t * 1e3))
                start = None
        if start is not None:
            rows.append((name, start * 1e3, t_end * 1e3))
    return pd.DataFrame(rows, columns=["queue", "start_ms", "end_ms"])


def pfc_timeline(root: Path, out: Path | None = None) -> list[Path]:
    """When each (switch, port, class) was paused: bars from every PAUSE it sent to the next RESUME."""
    pfc = _one_run(root, "pfc")
    plt, sns = _sns()
    sent = pfc[pfc["kind"].isin(["pause", "resume"])].copy()
    sent["queue"] = sent["node_name"] + " port " + sent["port"].astype(str) + " class " + sent["priority"].astype(str)
    sent = sent.sort_values(["node", "port", "priority", "time_s"], kind="stable")
    spans = _paused_intervals(sent) if len(sent) else pd.DataFrame(columns=["queue", "start_ms", "end_ms"])
    queues = list(dict.fromkeys(spans["queue"]))
    fig, ax = plt.subplots(figsize=(6.5, 1.2 + 0.3 * max(3, len(queues))))
    if len(spans):
        color = sns.color_palette()[3]
        for i, q in enumerate(queues):
            sp = spans[spans["queue"] == q]
            ax.broken_barh(list(zip(sp["start_ms"], sp["end_ms"] - sp["start_ms"])), (i - 0.35, 0.7),
                           facecolors=color, label="paused (PAUSE sent .. RESUME)" if i == 0 else None)
        ax.set_yticks(range(len(queues)), queues)
        ax.set_ylim(-0.6, len(queues) - 0.4)
        ax.invert_yaxis()
        ax.legend(loc="upper right", fontsize=7)
        n = int((sent["kind"] == "pause").sum())
        ax.set_title(f"{n} PAUSE frames sent by {len(queues)} switch queues", fontsize=9)
    else:
        ax.text(0.5, 0.5, "no PFC frames in this run", ha="center", va="center", transform=ax.transAxes)
        ax.set_yticks([])
    ax.set_xlabel("simulated time (ms)")
    ax.set_ylabel("switch port, class")
    d, name = _out_stem(out, root / "pfc_timeline")
    paths = _save(fig, d, name)
    plt.close(fig)
    return paths


def queue_heatmap(root: Path, out: Path | None = None, bins: int = 120) -> list[Path]:
    """Switch egress queue occupancy (KB, maximum per time bin) per (switch, port, class)."""
    from ..config import ConfigError

    q = _one_run(root, "queues")
    if not len(q):
        raise ConfigError(f"{root}/queues.parquet: no queue samples (all queues empty, or sampling off)")
    plt, sns = _sns()
    q = q.copy()
    t0, t1 = float(q["time_s"].min()), float(q["time_s"].max())
    width = max((t1 - t0) / bins, 1e-9)
    q["bin"] = ((q["time_s"] - t0) / width).astype(int).clip(upper=bins - 1)
    q["queue"] = q["node_name"] + ":" + q["port"].astype(str) + " c" + q["priority"].astype(str)
    grid = q.pivot_table(index="queue", columns="bin", values="bytes", aggfunc="max", fill_value=0) / 1e3
    grid = grid.reindex(columns=range(bins), fill_value=0)
    grid.columns = [f"{(t0 + (b + 0.5) * width) * 1e3:.3g}" for b in range(bins)]
    fig, ax = plt.subplots(figsize=(7, 1.0 + 0.22 * max(4, len(grid))))
    sns.heatmap(grid, ax=ax, cmap="rocket_r", cbar_kws={"label": "queue (KB, max per bin)"},
                xticklabels=max(1, bins // 8))
    ax.set_xlabel("simulated time (ms)")
    ax.set_ylabel("switch:port, class")
    ax.tick_params(axis="y", rotation=0)
    ax.tick_params(axis="x", rotation=45)
    d, name = _out_stem(out, root / "queue_heatmap")
    paths = _save(fig, d, name)
    plt.close(fig)
    return paths


def plot(root: str | Path, kind: str, x: str | None = None, y: str | None = None, hue: str | None = None,
         out: str | Path | None = None) -> list[Path]:
    """``ns3-mfs plot``: write one figure (PNG and PDF) of a result directory; returns the paths."""
    from ..config import ConfigError

    root = Path(root)
    if kind not in KINDS:
        raise ConfigError(f"--kind: {kind!r} is not a plot kind; allowed: {', '.join(KINDS)}")
    if not root.is_dir():
        raise ConfigError(f"{root}: not a directory")
    out_p = Path(out) if out is not None else None
    if kind in ("pfc-timeline", "queue-heatmap"):
        _refuse({"--x": x, "--y": y, "--hue": hue}, kind)
        return (pfc_timeline if kind == "pfc-timeline" else queue_heatmap)(root, out_p)
    if kind in ("ttft-cdf", "cct-cdf"):
        _refuse({"--x": x, "--y": y}, kind)
        return _cdf_runs(root, kind, hue, out_p)
    ok, metrics, config, varying = _table(root)
    if not len(ok):
        raise ConfigError(f"{root}: no finished run to plot")
    numeric_cfg = [c for c in config if pd.api.types.is_numeric_dtype(ok[c])]
    default_x = next((c for c in ("workload.rate_per_s", *varying) if c in varying and c in numeric_cfg),
                     varying[0] if varying else None)
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
    d, stem = _out_stem(out_p, root / name)
    return _line(ok, x, y, hue, d, stem, ylim=(0, 1.02) if y == "ttft_slo_attainment" else None)
