"""Flow model against packet model: paired errors, KS distances, where the errors sit.

Two result directories of the same run config (one per ``fabric.model``) are
compared metric by metric:

* ``flow_fct``: every network flow's completion time, paired by what the
  flow *is* (stage, layer, request, batch, collective, source and destination
  GPU and host, bytes; the n-th such flow of each side pairs with the n-th),
  not by flow id, which depends on the order flows started;
* ``cct_<kind>``: every collective's completion time per kind (dispatch,
  combine, ...), paired by batch, instance, layer and kind;
* ``ttft``: every request's TTFT, paired by request id;
* ``slo_attainment``: the run's TTFT SLO attainment (one value per side).

For each: the median, p90 and p99 of the absolute paired relative error
``|flow - packet| / packet``, the signed median, the Kolmogorov-Smirnov
distance between the two samples, and where the largest errors sit (the
stage or kind with the largest mean error and, given the links each flow
crossed, the links the worst flows share: NIC, switch-to-switch and host-path
links such as PCIe, NVLink or UPI, named by the topology's node names;
without them, the destination and source hosts of the worst flows).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterable, Optional, Sequence

import numpy as np
import pandas as pd

#: Columns that identify a flow of a serving run independently of the order flows started.
FLOW_KEY = ("stage", "layer", "request_id", "batch_id", "collective_id", "src_gpu", "dst_gpu", "src", "dst",
            "bytes")
COLLECTIVE_KEY = ("batch_id", "instance", "layer", "kind")
#: The entry of compare_runs's samples that holds the flow FCT errors by link (not a metric).
LINKS = "links"


def ks_distance(a: Iterable[float], b: Iterable[float]) -> float:
    """Two-sample Kolmogorov-Smirnov distance: the largest gap between the two empirical CDFs."""
    x = np.sort(np.asarray(list(a), dtype=float))
    y = np.sort(np.asarray(list(b), dtype=float))
    x, y = x[np.isfinite(x)], y[np.isfinite(y)]
    if len(x) == 0 or len(y) == 0:
        return float("nan")
    grid = np.concatenate([x, y])
    fx = np.searchsorted(x, grid, side="right") / len(x)
    fy = np.searchsorted(y, grid, side="right") / len(y)
    return float(np.max(np.abs(fx - fy)))


#: The links each flow crossed, from its source and destination hosts and flow id (one tuple of link names per
#: flow): ``ns3_mfs.experiment.validate.flow_links`` for a run config.
LinksOf = Callable[[Sequence[int], Sequence[int], Sequence[int]], list[tuple[str, ...]]]


def pair(packet: pd.DataFrame, flow: pd.DataFrame, key: Iterable[str], value: str,
         keep: Iterable[str] = ()) -> pd.DataFrame:
    """Rows of both tables matched on ``key`` (duplicates matched in order): columns ``packet``, ``flow``,
    ``rel_err`` (signed, relative to packet), the key columns and the packet side's ``keep`` columns."""
    cols = [c for c in key if c in packet.columns and c in flow.columns]
    keep = [c for c in keep if c in packet.columns and c not in cols]
    p = packet[cols + [value] + keep].copy()
    f = flow[cols + [value]].copy()
    for d in (p, f):
        d["_n"] = d.groupby(cols, dropna=False).cumcount() if cols else np.arange(len(d))
    m = p.merge(f, on=cols + ["_n"], how="inner", suffixes=("_packet", "_flow"))
    out = m[cols + keep].copy()
    out["packet"] = m[f"{value}_packet"].astype(float)
    out["flow"] = m[f"{value}_flow"].astype(float)
    out = out[np.isfinite(out["packet"]) & np.isfinite(out["flow"]) & (out["packet"] > 0)]
    out["rel_err"] = (out["flow"] - out["packet"]) / out["packet"]
    return out.reset_index(drop=True)


def error_row(metric: str, paired: pd.DataFrame, packet_values: Iterable[float],
              flow_values: Iterable[float], where: str = "") -> dict[str, Any]:
    """One row of the validation table for a paired metric."""
    a = paired["rel_err"].abs()
    pv = np.asarray(list(packet_values), dtype=float)
    fv = np.asarray(list(flow_values), dtype=float)
    return {
        "metric": metric,
        "pairs": int(len(paired)),
        "packet_n": int(np.isfinite(pv).sum()),
        "flow_n": int(np.isfinite(fv).sum()),
        "packet_mean": float(np.nanmean(pv)) if len(pv) else float("nan"),
        "flow_mean": float(np.nanmean(fv)) if len(fv) else float("nan"),
        "mean_rel_err": (float(np.nanmean(fv) / np.nanmean(pv) - 1) if len(pv) and len(fv) and np.nanmean(pv)
                         else float("nan")),
        "median_abs_rel_err": float(a.median()) if len(a) else float("nan"),
        "p90_abs_rel_err": float(a.quantile(0.9)) if len(a) else float("nan"),
        "p99_abs_rel_err": float(a.quantile(0.99)) if len(a) else float("nan"),
        "median_rel_err": float(paired["rel_err"].median()) if len(a) else float("nan"),
        "ks": ks_distance(pv, fv),
        "where": where,
    }


def link_errors(paired: pd.DataFrame, links: list[tuple[str, ...]]) -> pd.DataFrame:
    """Per directed link: the paired flows that crossed it, their mean and largest |relative error|, and how
    many of the worst 1 % of flows (at least one) crossed it; worst links first (by that count, then by
    mean error). ``links[i]`` are the links of ``paired``'s row i."""
    a = paired["rel_err"].abs().to_numpy()
    worst = set(np.argsort(-a, kind="stable")[: max(1, len(a) // 100)]) if len(a) else set()
    rows = [(link, a[i], i in worst) for i, path in enumerate(links) for link in path]
    if not rows:
        return pd.DataFrame(columns=["link", "flows", "mean_abs_rel_err", "max_abs_rel_err", "worst_flows"])
    d = pd.DataFrame(rows, columns=["link", "err", "worst"])
    t = d.groupby("link", sort=False).agg(flows=("err", "size"), mean_abs_rel_err=("err", "mean"),
                                          max_abs_rel_err=("err", "max"), worst_flows=("worst", "sum"))
    t = t.reset_index().sort_values(["worst_flows", "mean_abs_rel_err", "link"], ascending=[False, False, True])
    return t.reset_index(drop=True)


def _where_flows(paired: pd.DataFrame, by_link: Optional[pd.DataFrame] = None) -> str:
    if paired.empty:
        return ""
    parts = []
    if "stage" in paired.columns:
        by = paired.assign(a=paired["rel_err"].abs()).groupby("stage")["a"].mean().sort_values(ascending=False)
        parts.append("stage " + ", ".join(f"{s} {v:.1%}" for s, v in by.head(3).items()))
    if by_link is not None and len(by_link):
        n = max(1, len(paired) // 100)
        parts.append(f"worst 1% ({n}) cross " + ", ".join(
            f"{r.link} ({r.worst_flows}, mean {r.mean_abs_rel_err:.1%} of {r.flows})"
            for r in by_link.head(3).itertuples()))
        return "; ".join(parts)
    worst = paired.loc[paired["rel_err"].abs().sort_values(ascending=False).index[: max(1, len(paired) // 100)]]
    for col, what in (("dst", "into host"), ("src", "from host")):
        if col in worst.columns:
            top = worst[col].value_counts().head(3)
            parts.append(f"worst 1% {what} " + ", ".join(f"{int(h)} ({n})" for h, n in top.items()))
    return "; ".join(parts)


def compare_runs(packet_dir: Path, flow_dir: Path,
                 links_of: Optional[LinksOf] = None) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """The validation rows of one pair of result directories, and the paired samples by metric (with
    ``links_of``, ``links``: the flow FCT errors by link of the packet run's flows, :func:`link_errors`)."""
    import json

    packet_dir, flow_dir = Path(packet_dir), Path(flow_dir)
    rows, samples = [], {}
    pf, ff = pd.read_parquet(packet_dir / "flows.parquet"), pd.read_parquet(flow_dir / "flows.parquet")
    if "path" in pf.columns:  # intra-server transfers do not use the fabric
        pf, ff = pf[pf["path"] == "network"], ff[ff["path"] == "network"]
    p = pair(pf, ff, FLOW_KEY, "fct_s", keep=("flow_id",))
    samples["flow_fct"] = p
    by_link = None
    if links_of is not None and {"src", "dst", "flow_id"} <= set(p.columns):
        by_link = link_errors(p, links_of(p["src"].tolist(), p["dst"].tolist(), p["flow_id"].tolist()))
        samples[LINKS] = by_link
    rows.append(error_row("flow_fct", p, pf["fct_s"], ff["fct_s"], _where_flows(p, by_link)))
    if (packet_dir / "collectives.parquet").exists() and (flow_dir / "collectives.parquet").exists():
        pc, fc = pd.read_parquet(packet_dir / "collectives.parquet"), pd.read_parquet(flow_dir / "collectives.parquet")
        for kind in sorted(set(pc["kind"]) | set(fc["kind"])):
            a, b = pc[pc["kind"] == kind], fc[fc["kind"] == kind]
            pk = pair(a, b, COLLECTIVE_KEY, "cct_s")
            samples[f"cct_{kind}"] = pk
            where = ""
            if len(pk):
                w = pk.loc[pk["rel_err"].abs().idxmax()]
                where = f"largest at batch {int(w['batch_id'])} layer {int(w['layer'])} ({w['rel_err']:+.1%})"
            rows.append(error_row(f"cct_{kind}", pk, a["cct_s"], b["cct_s"], where))
    if (packet_dir / "requests.parquet").exists() and (flow_dir / "requests.parquet").exists():
        pr, fr = pd.read_parquet(packet_dir / "requests.parquet"), pd.read_parquet(flow_dir / "requests.parquet")
        if "warmup" in pr.columns:
            pr, fr = pr[~pr["warmup"]], fr[~fr["warmup"]]
        pt = pair(pr, fr, ("request_id",), "ttft_s")
        samples["ttft"] = pt
        rows.append(error_row("ttft", pt, pr["ttft_s"], fr["ttft_s"]))
        ps = json.loads((packet_dir / "summary.json").read_text())
        fs = json.loads((flow_dir / "summary.json").read_text())
        a, b = ps.get("ttft_slo_attainment"), fs.get("ttft_slo_attainment")
        if a is not None and b is not None:
            err = abs(b - a) / a if a else float("nan")
            rows.append({"metric": "slo_attainment", "pairs": 1, "packet_n": 1, "flow_n": 1,
                         "packet_mean": a, "flow_mean": b, "mean_rel_err": (b / a - 1) if a else float("nan"),
                         "median_abs_rel_err": err, "p90_abs_rel_err": err, "p99_abs_rel_err": err,
                         "median_rel_err": (b - a) / a if a else float("nan"), "ks": float("nan"),
                         "where": f"packet {a:.3f}, flow {b:.3f}"})
        rows.append({"metric": "wall_s", "pairs": 1, "packet_n": 1, "flow_n": 1,
                     "packet_mean": ps.get("wall_s"), "flow_mean": fs.get("wall_s"),
                     "mean_rel_err": float("nan"), "median_abs_rel_err": float("nan"),
                     "p90_abs_rel_err": float("nan"), "p99_abs_rel_err": float("nan"),
                     "median_rel_err": float("nan"), "ks": float("nan"),
                     "where": (f"flow model {ps['wall_s'] / fs['wall_s']:.1f}x faster"
                               if ps.get("wall_s") and fs.get("wall_s") else "")})
    return pd.DataFrame(rows), samples


def same_order(table: pd.DataFrame, metric: str = "slo_attainment") -> Optional[bool]:
    """Whether both models rank the policies the same by ``metric`` (ties broken by name); None with one policy."""
    t = table[table["metric"] == metric]
    if t["policy"].nunique() < 2:
        return None
    p = list(t.sort_values(["packet_mean", "policy"], ascending=[False, True])["policy"])
    f = list(t.sort_values(["flow_mean", "policy"], ascending=[False, True])["policy"])
    return p == f


def cdf_overlays(samples: dict[str, dict[str, pd.DataFrame]], out: Path, style: Optional[str] = None) -> list[Path]:
    """One figure per metric (``cdf_<metric>``, in the style's formats): the packet and flow CDFs of each
    policy overlaid, in the project's figure style (``--style``)."""
    from . import style as st
    from .plots import _write, ecdf_figure

    sty = st.get_style(style)
    paths: list[Path] = []
    metrics = sorted({m for per in samples.values() for m in per if m != LINKS})
    for metric in metrics:
        series = {f"{policy} {model}": d[model].to_numpy(float)
                  for policy, per in samples.items() if (d := per.get(metric)) is not None and not d.empty
                  for model in ("packet", "flow")}
        if not series:
            continue
        with st.use(sty):
            fig = ecdf_figure(series, f"{metric}_s", sty, title="packet vs flow model", what=metric)
            paths += _write(fig, sty, out, f"cdf_{metric}")
    return paths
