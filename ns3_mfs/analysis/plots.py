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


def attainment_vs_rate(table: pd.DataFrame, out: Path) -> list[Path]:
    plt, sns = _sns()
    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    sns.lineplot(data=table, x="rate_per_gpu", y="ttft_slo_attainment", hue="policy", marker="o", ax=ax)
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
