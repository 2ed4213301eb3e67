"""The ``ns3-mfs`` command line."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from dataclasses import replace
from pathlib import Path
from typing import Optional, Sequence

from ._build import BuildError
from .config import ConfigError, from_dict, load_toml
from .errors import CheckFailed, OutputError, RunStopped


def _json_text(obj: object) -> str:
    from .store import json_text  # imports pandas: only when a command needs it

    return json_text(obj, sort_keys=False)


def _fabric_config(args: argparse.Namespace):
    from .fabric.network import FabricConfig

    cfg = FabricConfig()
    if args.config:
        data = load_toml(args.config)
        cfg = from_dict(FabricConfig, data.get("fabric", data), f"{args.config}: fabric")
    if args.pfc is not None:
        cfg = replace(cfg, pfc=args.pfc == "on")
    if args.mtu is not None:
        cfg = replace(cfg, mtu=args.mtu)
    if args.cc is not None:
        cfg = replace(cfg, cc=args.cc)
    if getattr(args, "model", None) is not None:
        cfg = replace(cfg, model=args.model)
    if args.dcqcn_profile is not None:
        cfg = cfg.with_profile(args.dcqcn_profile)  # keys the config file sets keep their values
    return cfg


def cmd_fabric(args: argparse.Namespace) -> int:
    from .fabric.flowfile import load_flows, run_flows
    from .fabric.topology import load_topology

    if not 1 <= args.seed <= 2**32 - 1:
        raise ConfigError(f"--seed: must be an integer in 1..{2**32 - 1}, got {args.seed}")
    if args.until is not None:
        from .fabric.network import check_sim_time

        check_sim_time("--until", args.until)
    topo = load_topology(args.topology)
    cfg = _fabric_config(args)
    flows = load_flows(args.flows, topo.graph().num_hosts)
    summary = run_flows(
        topo, flows, cfg, out=Path(args.out), seed=args.seed, until_s=args.until,
        extra_config={"flows": str(Path(args.flows).resolve())}, replace=args.replace,
    )
    print(_json_text(summary))
    print(f"results: {Path(args.out).resolve()}", file=sys.stderr)
    return 0


def _sets(args: argparse.Namespace) -> dict:
    from .config import parse_assignments

    return parse_assignments(getattr(args, "set", None) or [])


def _progress(args: argparse.Namespace) -> Optional[bool]:
    """None: bars on a terminal only (or as NS3_MFS_PROGRESS says); False with --quiet."""
    return False if getattr(args, "quiet", False) or getattr(args, "no_progress", False) else None


def cmd_run(args: argparse.Namespace) -> int:
    from .experiment.progress import RunBar
    from .experiment.run import load_run_config, run

    cfg = load_run_config(args.config, _sets(args))
    progress = RunBar(sys.stderr, show=_progress(args))
    try:
        summary = run(cfg, out=Path(args.out), progress=progress if progress.show else None, replace=args.replace)
    finally:
        progress.close()
    print(_json_text(summary))
    print(f"results: {Path(args.out).resolve()}", file=sys.stderr)
    return 0


def _floats(text: str, what: str) -> list[float]:
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ConfigError(f"{what}: expected comma-separated numbers, got {text!r}") from None


def _print_report(rep, out: Path, what: str = "sweep", stream=None) -> None:
    """The closing lines of a sweep or compare: counts, stale points and failures."""
    stream = stream or sys.stdout
    for run_id, reasons in rep.stale.items():
        verb = "kept (--accept-stale)" if rep.accepted_stale else "ran again"
        print(f"  stale {run_id}: made with another {', '.join(reasons)}; {verb}", file=stream)
    stale = f" ({len(rep.stale)} stale {'kept' if rep.accepted_stale else 're-run'})" if rep.stale else ""
    print(f"{what}: {rep.ran} ran, {rep.skipped} already finished, {len(rep.failed)} failed{stale}, "
          f"{rep.total} points in {rep.wall_s:.1f} s", file=stream)
    for run_id, err in rep.failed.items():
        print(f"  failed {run_id}: {err} (see {out / 'runs' / run_id / 'error.json'})", file=stream)


def _seeds(text: Optional[str], first: int) -> Optional[list[int]]:
    """``--seeds 3`` (first, first+1, first+2) or ``--seeds 1,5,9``."""
    if text is None:
        return None
    from .config import parse_assignments
    from .experiment.sweep import replication_seeds

    value = parse_assignments([f"seeds=[{text}]" if "," in text else f"seeds={text}"], "--seeds")["seeds"]
    return replication_seeds(value, first, "--seeds")


def cmd_compare(args: argparse.Namespace) -> int:
    from .analysis.style import get_style
    from .experiment.compare import compare
    from .experiment.run import load_run_config

    if args.rates is not None:
        raise ConfigError("--rates: renamed; give --rates-per-gpu (requests/s per prefill GPU, the workload's "
                          "rate_per_gpu; the cluster's rate_per_s is that x serving.prefill_gpus)")
    cfg = load_run_config(args.config, _sets(args))
    get_style(args.style)  # a bad --style fails before anything runs
    policies = [p.strip() for p in args.policies.split(",") if p.strip()]
    out = Path(args.out)
    table = compare(cfg, policies, _floats(args.rates_per_gpu, "--rates-per-gpu"), out, args.jobs,
                    backend=args.backend, address=args.address, accept_stale=args.accept_stale,
                    source=str(args.config), report=lambda rep: _print_report(rep, out, "compare", sys.stderr),
                    seeds=_seeds(args.seeds, cfg.seed), progress=_progress(args))
    from .analysis.plots import compare_plots

    compare_plots(out, args.style)
    cols = [c for c in ("policy", "rate_per_gpu", "seed", "ttft_slo_attainment", "ttft_mean_s", "ttft_p99_s",
                        "cct_mean_s", "cct_p99_s", "error") if c in table.columns]
    print(table[cols].to_string(index=False))
    print(f"results: {Path(args.out).resolve()}", file=sys.stderr)
    return 0 if table["error"].isna().all() else 1


def cmd_validate(args: argparse.Namespace) -> int:
    from .analysis.validation import LINKS, compare_runs, cdf_overlays, same_order
    from .experiment.run import load_run_config
    from .experiment.validate import flow_links, run_validation
    from .store import write_table

    from .analysis.style import get_style

    cfg = load_run_config(args.config)
    get_style(args.style)  # a bad --style fails before anything runs
    policies = [p.strip() for p in args.policies.split(",") if p.strip()] if args.policies else None
    out = Path(args.out)
    records = run_validation(cfg, out, policies, log=lambda m: print(m, file=sys.stderr))
    dirs = {(r["policy"], r["model"]): Path(r["dir"]) for r in records}
    tables, links, samples = [], [], {}
    for policy in dict.fromkeys(r["policy"] for r in records):
        t, smp = compare_runs(dirs[(policy, "packet")], dirs[(policy, "flow")],
                              links_of=lambda s, d, f: flow_links(cfg, s, d, f))
        t.insert(0, "policy", policy)
        tables.append(t)
        if LINKS in smp:
            links.append(smp[LINKS].assign(policy=policy))
        samples[policy] = smp
    import pandas as pd

    table = pd.concat(tables, ignore_index=True)
    write_table(out / "validation.parquet", table)
    table.to_csv(out / "validation.csv", index=False)
    if links:  # flow FCT errors by link (every link a flow crossed, by node names), worst first per policy
        by_link = pd.concat(links, ignore_index=True)
        by_link[["policy"] + [c for c in by_link.columns if c != "policy"]].to_csv(out / "validation_links.csv",
                                                                                    index=False)
    cdf_overlays(samples, out, args.style)
    cols = ["policy", "metric", "pairs", "packet_mean", "flow_mean", "median_abs_rel_err", "p90_abs_rel_err",
            "p99_abs_rel_err", "ks", "where"]
    with pd.option_context("display.width", 200, "display.max_colwidth", 60):
        print(table[cols].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    order = same_order(table)
    if order is not None:
        print(f"policy order by SLO attainment: {'the same' if order else 'DIFFERENT'} on both models")
    print(f"results: {out.resolve()}", file=sys.stderr)
    return 0


def cmd_config_show(args: argparse.Namespace) -> int:
    import tomli_w

    from .experiment.run import RunSetup, check_files, load_run_config, resolved
    from .store import toml_safe

    cfg = load_run_config(args.config, _sets(args))
    RunSetup(cfg)  # model, GPU, memory and layout checks too (no simulation)
    config = resolved(cfg)
    check_files(config)  # a missing trace fails here as it fails a run
    print(tomli_w.dumps(toml_safe(config)), end="")
    return 0


def cmd_config_docs(args: argparse.Namespace) -> int:
    from .config_docs import config_docs

    print(config_docs(args.section, args.format), end="")
    return 0


def cmd_collective(args: argparse.Namespace) -> int:
    from .experiment.collective import format_table, run_collective
    from .fabric.topology import load_topology

    sizes = [_size(x) for x in args.sizes.split(",") if x.strip()]
    topo = load_topology(args.topology)
    layout, gpus, ranks = None, None, args.ranks
    if args.layout:
        from .experiment.run import load_run_config
        from .serving.engine import ServingSetup

        layout = ServingSetup(load_run_config(args.layout).serving, topo.graph()).layout
        if not 0 <= args.instance < len(layout.prefill):
            raise ConfigError(f"--instance: {args.instance} is not a prefill instance; allowed: "
                              f"0..{len(layout.prefill) - 1}")
        gpus = layout.prefill[args.instance].gpus
        ranks = ranks or len(gpus)
        if ranks != len(gpus):
            raise ConfigError(f"--ranks: instance {args.instance} has {len(gpus)} GPUs, not {ranks}")
    elif not ranks:
        raise ConfigError("--ranks: required without --layout")
    table = run_collective(topo, args.collective.replace("alltoall", "all_to_all"), ranks, sizes,
                           _fabric_config(args), gpus_per_nic=args.gpus_per_nic,
                           intra_server_gbps=args.intra_server_gbps, seed=args.seed,
                           out=Path(args.out) if args.out else None, layout=layout, gpus=gpus)
    print(format_table(table))
    if args.out:
        print(f"results: {Path(args.out).resolve() / 'collective.csv'}", file=sys.stderr)
    return 0


def _size(text: str) -> int:
    """``4096``, ``64K``, ``1M``, ``2G`` (powers of 1024, as nccl-tests' -b/-e) -> bytes."""
    t = text.strip().upper().rstrip("B")
    mult = {"K": 2**10, "M": 2**20, "G": 2**30}.get(t[-1:], 1)
    try:
        return int(float(t[:-1] if mult > 1 else t) * mult)
    except ValueError:
        raise ConfigError(f"--sizes: {text.strip()!r} is not a size (bytes, or with K, M, G)") from None


def cmd_topology_export(args: argparse.Namespace) -> int:
    import tomli_w

    from .fabric.topology import load_topology
    from .fabric.topology.file import graph_to_table
    from .store import write_atomic

    table = graph_to_table(load_topology(args.topology).graph())
    out = Path(args.out)
    text = json.dumps(table, indent=1) + "\n" if out.suffix.lower() == ".json" else tomli_w.dumps(table)
    write_atomic(out, text.encode())
    print(f"{out}: kind = \"file\", {len(table['nodes'])} nodes, {len(table['links'])} links", file=sys.stderr)
    return 0


def cmd_topology_show(args: argparse.Namespace) -> int:
    from .analysis.topology import format_show, plot_topology
    from .fabric.topology import load_topology

    graph = load_topology(args.topology).graph()
    layout = None
    if args.layout:
        from .experiment.run import load_run_config
        from .serving.engine import ServingSetup

        layout = ServingSetup(load_run_config(args.layout).serving, graph).layout
    print(format_show(graph, layout))
    if args.plot:
        out = Path(args.plot)
        for p in plot_topology(graph, out.with_suffix("") if out.suffix in (".png", ".pdf") else out, layout):
            print(p, file=sys.stderr)
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from .experiment.sweep import estimate, load_sweep, run_sweep

    sweep = load_sweep(args.sweep, _sets(args))  # every point validated before anything runs
    extra = f" ({sweep.duplicates} duplicate combinations merged)" if sweep.duplicates else ""
    print(f"sweep: {len(sweep.points)} points{extra} -> {Path(args.out).resolve() / 'runs'}", file=sys.stderr)
    if args.dry_run:
        est = estimate(sweep, Path(args.out), args.hops_per_s)
        print(f"{'run_id':<12}  {'requests':>8}  {'packet-hops':>11}  {'minutes':>8}  overrides")
        for r in est.points:
            over = " ".join(f"{k}={v!r}" for k, v in r["overrides"].items())
            done = "  (finished)" if r["state"] == "finished" else ""
            print(f"{r['run_id']:<12}  {r['requests']:>8}  {r['packet_hops']:>11.3g}  {r['minutes']:>8.2f}  "
                  f"{over}{done}")
        jobs = args.jobs or os.cpu_count() or 1
        print(f"total to run: {est.total_hops:.3g} packet-hops (upper-bound estimates), about {est.total_minutes:.1f} "
              f"min on one core, {est.total_minutes / min(jobs, max(1, len(est.points))):.1f} min with {jobs} jobs; "
              f"rate {est.rate / 1e3:,.0f} k estimated packet-hops/s ({est.source})")
        return 0
    rep = run_sweep(sweep, Path(args.out), jobs=args.jobs, backend=args.backend, address=args.address,
                    accept_stale=args.accept_stale, progress=_progress(args))
    _print_report(rep, Path(args.out))
    return 1 if rep.failed else 0


def cmd_results(args: argparse.Namespace) -> int:
    import pandas as pd

    from .analysis.results import (collect_to_parquet, config_columns, metric_columns, replicated,
                                   stats_to_parquet, varying_columns)

    df, path = collect_to_parquet(Path(args.dir))
    counts = df["status"].value_counts()
    print(f"{len(df)} runs ({', '.join(f'{counts.get(s, 0)} {s}' for s in ('ok', 'failed', 'partial'))}), "
          f"{len(df.columns)} columns -> {path}")
    metrics = metric_columns(df)
    shown = ["run_id", "status", *(c for c in varying_columns(df, set(metrics)) if c in config_columns(df))]
    shown += [c for c in ("ttft_slo_attainment", "ttft_mean_s", "cct_mean_s") if c in df.columns]
    with pd.option_context("display.width", 200, "display.max_columns", 12):
        print(df[shown].to_string(index=False, max_colwidth=30))
    if replicated(df):
        st, spath = stats_to_parquet(df, Path(args.dir))
        keys = st.attrs["keys"]
        main = st[st["metric"].isin(["ttft_slo_attainment", "ttft_mean_s", "cct_mean_s"])].copy()
        main["mean +- 95% CI"] = [f"{m:.4g} +- {(h - lo) / 2:.2g}" if h == h else f"{m:.4g}"
                                  for m, lo, h in zip(main["mean"], main["ci_low"], main["ci_high"])]
        print(f"\nper point over seeds (mean, std, 95 % CI; all metrics) -> {spath}")
        with pd.option_context("display.width", 200, "display.max_columns", 12):
            print(main[[*keys, "metric", "n", "mean +- 95% CI"]].to_string(index=False, max_colwidth=30))
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from .analysis.plots import plot

    for path in plot(Path(args.dir), args.kind, x=args.x, y=args.y, hue=args.hue, out=args.out, style=args.style,
                     window=args.window, view=args.view):
        print(path)
    return 0


def cmd_trace(args: argparse.Namespace) -> int:
    from .analysis.trace import write_trace

    print(write_trace(Path(args.dir), args.out))
    return 0


def cmd_compare_testbed(args: argparse.Namespace) -> int:
    from .analysis.style import get_style
    from .analysis.testbed import compare_testbed, compare_vllm, detect_format, format_report, parse_map

    get_style(args.style)  # a bad --style fails before anything runs
    out = Path(args.out) if args.out else Path(args.simdir) / "testbed"
    fmt = detect_format(args.measured) if args.format == "auto" else args.format
    offset = args.ttft_offset_ms * 1e-3
    if not (0 <= args.ttft_offset_ms < 1e7):
        raise ConfigError(f"--ttft-offset-ms: must be >= 0, got {args.ttft_offset_ms:g}")
    if fmt != "csv" and args.map:
        raise ConfigError(f"--map: only for --format csv (this file is {fmt})")
    if fmt == "nccl":
        from .analysis.nccl import compare_nccl, format_nccl

        print(format_nccl(compare_nccl(args.measured, args.simdir, out)))
        print(f"report: {out.resolve() / 'nccl_report.json'}", file=sys.stderr)
        return 0
    if fmt == "vllm":
        report = compare_vllm(args.measured, args.simdir, out, ttft_offset_s=offset, style=args.style)
        missing = [m for m in ("ttft", "tpot", "itl", "e2e") if m not in report]
        if missing:
            print(f"compare-testbed: not compared: {', '.join(missing)} (the run simulated no decode, or the "
                  "file has no such values; add a [serving.decode] table)", file=sys.stderr)
    else:
        report = compare_testbed(args.measured, args.simdir, parse_map(args.map), out, ttft_offset_s=offset,
                                 style=args.style)
    print(format_report(report))
    print(f"report: {out.resolve() / 'testbed_report.json'}", file=sys.stderr)
    return 0


def cmd_make_measured(args: argparse.Namespace) -> int:
    from .analysis.testbed import make_measured

    rows = make_measured(args.simdir, args.out_csv, noise=args.noise, seed=args.seed, with_ids=not args.no_ids,
                         with_cct=not args.no_cct)
    print(f"{args.out_csv}: {rows['ttft_s'].notna().sum()} TTFT rows"
          + (f", {rows['cct_s'].notna().sum()} CCT rows" if "cct_s" in rows else "")
          + f" (noise {args.noise:g}, seed {args.seed})")
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    from . import _build

    print(_build.ensure_built(verbose=True))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    run_demo(Path(args.out), replace=args.replace)
    return 0


def _replace_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--replace", action="store_true",
                   help="write into an --out that holds other files or another kind of result (only the result "
                        "files are replaced; default: refuse)")


def _stale_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--accept-stale", action="store_true",
                   help="keep finished points made by other code or from other input file contents "
                        "(default: run them again)")


def _set_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a run-config key (dotted, e.g. fabric.mtu=1024 or workload.rate_per_gpu=1.5; "
                        "VALUE is a TOML value or plain text; repeatable; a relative path is relative to the "
                        "working directory); see 'ns3-mfs config docs'")


def _style_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--style", help="screen (default: PNG and PDF) or paper (single column, 8 pt, PDF only)")


def _quiet_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quiet", action="store_true",
                   help="no progress bar (bars are drawn on a terminal only; NS3_MFS_PROGRESS=1 forces them on)")


class _Help(argparse.HelpFormatter):
    """Help that shows each option's default (where it has one worth showing)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if ("%(default)" not in text and action.default not in (None, False, argparse.SUPPRESS)
                and action.option_strings and "default" not in text):
            text += " (default: %(default)s)"
        return text


class _Parser(argparse.ArgumentParser):
    """Bad arguments get one line (``ns3-mfs: error: ...``) and exit code 2, like bad input files."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _Help)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"ns3-mfs: error: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(2)


def parser() -> argparse.ArgumentParser:
    from . import __version__

    p = _Parser(prog="ns3-mfs", description="Packet-level ns-3 model of MoE serving networks")
    p.add_argument("--version", action="version", version=f"ns3-mfs {__version__}",
                   help="print the package version and exit")
    sub = p.add_subparsers(dest="command", required=True)

    f = sub.add_parser("fabric", help="run a flow list (CSV) on a topology (TOML)")
    f.add_argument("topology", help="topology TOML file (see topologies/)")
    f.add_argument("flows", help="CSV with columns src,dst,bytes,start_s,priority")
    f.add_argument("--out", required=True, help="result directory")
    f.add_argument("--pfc", choices=("on", "off"), help="lossless mode (default on)")
    f.add_argument("--mtu", type=int, choices=(1024, 2048, 4096), help="RoCE payload MTU (default 4096)")
    f.add_argument("--cc", choices=("dcqcn", "none"), help="sender congestion control (default dcqcn)")
    f.add_argument("--model", choices=("packet", "flow"), help="fabric model (default packet)")
    f.add_argument("--dcqcn-profile", choices=("connectx", "hpcc", "paper"),
                   help="named DCQCN defaults (default connectx; keys set in --config win)")
    f.add_argument("--config", help="TOML file with a [fabric] table of FabricConfig settings")
    f.add_argument("--seed", type=int, default=1, help="seed (ECMP hashing)")
    f.add_argument("--until", type=float, help="stop at this simulated time (s)")
    _replace_flag(f)
    f.set_defaults(func=cmd_fabric)

    r = sub.add_parser("run", help="run a serving scenario (TOML run config)")
    r.add_argument("config", help="run config TOML (see scratch/serving_small.toml)")
    r.add_argument("--out", required=True, help="result directory")
    r.add_argument("--no-progress", action="store_true", help=argparse.SUPPRESS)  # as --quiet (sweeps pass it)
    _set_flag(r)
    _quiet_flag(r)
    _replace_flag(r)
    r.set_defaults(func=cmd_run)

    cf = sub.add_parser("config", help="inspect run configs")
    cf_sub = cf.add_subparsers(dest="config_command", required=True)
    cs = cf_sub.add_parser("show", help="print the fully resolved run config (TOML; defaults filled in)")
    cs.add_argument("config", help="run config TOML")
    _set_flag(cs)
    cs.set_defaults(func=cmd_config_show)
    cd = cf_sub.add_parser("docs", help="print the config reference: every key, type, default, allowed values")
    cd.add_argument("section", nargs="?", help="one section (run, fabric, serving, workload, workload.input, "
                    "policies.mfs, topology.testbed, ...; default: all)")
    cd.add_argument("--format", choices=("text", "markdown"), default="text", help="output format")
    cd.set_defaults(func=cmd_config_docs)

    co = sub.add_parser("collective", help="run one collective on a topology at the given sizes (an nccl-tests "
                        "table, to compare with compare-testbed --format nccl)")
    co.add_argument("topology", help="topology TOML or JSON file")
    co.add_argument("--collective", required=True,
                    choices=("all_reduce", "all_gather", "reduce_scatter", "all_to_all", "alltoall"))
    co.add_argument("--ranks", type=int, default=0, help="ranks = GPUs 0..N-1 (numbered server by server)")
    co.add_argument("--layout", help="run config TOML: the ranks are the GPUs of one prefill instance of its layout")
    co.add_argument("--instance", type=int, default=0, help="with --layout: the prefill instance (default 0)")
    co.add_argument("--sizes", default="1M,4M,16M,64M", help="bytes per rank, comma-separated (K, M, G = 1024^n)")
    co.add_argument("--gpus-per-nic", type=int, default=1,
                    help="GPUs sharing a NIC when the topology gives no GPU-to-NIC map (default 1)")
    co.add_argument("--intra-server-gbps", type=float, default=100.0,
                    help="GPU-to-GPU bandwidth inside a server (Gbit/s; default 100)")
    co.add_argument("--config", help="TOML file with a [fabric] table of FabricConfig settings")
    co.add_argument("--seed", type=int, default=1, help="seed (ECMP hashing)")
    co.add_argument("--out", help="directory for collective.csv")
    co.set_defaults(func=cmd_collective, pfc=None, mtu=None, cc=None, dcqcn_profile=None)

    tp = sub.add_parser("topology", help="inspect topologies")
    tp_sub = tp.add_subparsers(dest="topology_command", required=True)
    ts = tp_sub.add_parser("show", help="switches, ports and oversubscription per tier; with --layout, which GPU "
                           "of which instance sits on which NIC and switch")
    ts.add_argument("topology", help="topology TOML or JSON file")
    ts.add_argument("--layout", help="run config TOML whose [serving] layout is placed on this topology")
    ts.add_argument("--plot", help="draw it to this file (PNG and PDF)")
    ts.set_defaults(func=cmd_topology_show)
    te = tp_sub.add_parser("export", help="write any topology as a kind = \"file\" table (TOML, or JSON for "
                           "a .json name) that builds the same graph, to edit")
    te.add_argument("topology", help="topology TOML or JSON file")
    te.add_argument("out", help="file to write (.toml or .json)")
    te.set_defaults(func=cmd_topology_export)

    sw = sub.add_parser("sweep", help="run a grid of run configs (resumable; local processes or Ray)")
    sw.add_argument("sweep", help="sweep TOML: base = run config, [grid] / [zip] of dotted keys to lists")
    sw.add_argument("--out", required=True, help="sweep directory (points in DIR/runs/<hash>/)")
    sw.add_argument("--jobs", type=int, default=0, help="points in parallel (default: cores; Ray: cluster CPUs)")
    sw.add_argument("--backend", choices=("local", "ray"), default="local", help="where points run")
    sw.add_argument("--address", help="Ray cluster address (default: RAY_ADDRESS or a new local Ray)")
    sw.add_argument("--dry-run", action="store_true",
                    help="validate and list the points with their estimated packet-hops and minutes; run nothing")
    sw.add_argument("--hops-per-s", type=float,
                    help="--dry-run: estimated packet-hops simulated per second (default: measured on this sweep's "
                         "finished points, else the demo's rate)")
    _set_flag(sw)
    _quiet_flag(sw)
    _stale_flag(sw)
    sw.set_defaults(func=cmd_sweep)

    rs = sub.add_parser("results", help="collect every run under DIR into DIR/results.parquet")
    rs.add_argument("dir", help="sweep, compare or any directory of result directories")
    rs.set_defaults(func=cmd_results)

    pl = sub.add_parser("plot", help="plot a result directory (PNG and PDF)")
    pl.add_argument("dir", help="sweep/compare directory, or one run directory for pfc-timeline/queue-heatmap")
    pl.add_argument("--kind", required=True,
                    help="attainment, ttft-cdf, cct-cdf, pfc-timeline, queue-heatmap or sweep")
    pl.add_argument("--x", help="config key on the x axis (attainment, sweep)")
    pl.add_argument("--y", help="metric on the y axis (sweep; attainment: ttft_slo_attainment)")
    pl.add_argument("--hue", help="config key that colours the lines")
    pl.add_argument("--out", help="output file (without extension, or .png/.pdf: both are written)")
    _style_flag(pl)
    pl.add_argument("--window", help="time window START:END of pfc-timeline and queue-heatmap "
                    "(s, ms, us or ns; e.g. 2.7ms:2.9ms, 0.5:)")
    pl.add_argument("--view", help="pfc-timeline: bars (each pause), fraction (fraction of time paused per "
                    "port and class) or auto (bars up to 400 pauses)")
    pl.set_defaults(func=cmd_plot)

    tr = sub.add_parser("trace", help="write a run's timeline as a Chrome/Perfetto trace (trace.json)")
    tr.add_argument("dir", help="one run directory")
    tr.add_argument("--out", help="output file (default: DIR/trace.json)")
    tr.set_defaults(func=cmd_trace)

    ct = sub.add_parser("compare-testbed", help="compare testbed measurements (CSV, vLLM JSON, nccl-tests) with "
                        "a simulated run")
    ct.add_argument("measured", help="CSV with request_id, ttft_s (and/or kind, cct_s) columns, a vLLM "
                    "benchmark_serving.py --save-result JSON, or nccl-tests output")
    ct.add_argument("simdir", help="result directory of a serving run (nccl: of ns3-mfs collective)")
    ct.add_argument("--format", choices=("auto", "csv", "vllm", "nccl"), default="auto",
                    help="input format (default: detected from the content)")
    ct.add_argument("--ttft-offset-ms", type=float, default=0.0,
                    help="client-side time subtracted from measured TTFT and E2E (HTTP, tokenisation, "
                    "scheduling; default 0)")
    ct.add_argument("--map", help="column renames measured_col=canonical,... (canonical: request_id, ttft_s, "
                    "ttft_ms, kind, cct_s, cct_ms)")
    ct.add_argument("--out", help="report directory (default: SIMDIR/testbed)")
    _style_flag(ct)
    ct.set_defaults(func=cmd_compare_testbed)

    mm = sub.add_parser("make-measured", help="write a measured-like CSV from a run (values x lognormal noise)")
    mm.add_argument("simdir", help="result directory of a serving run")
    mm.add_argument("out_csv", help="CSV to write")
    mm.add_argument("--noise", type=float, default=0.1, help="standard deviation of the log error (default 0.1)")
    mm.add_argument("--seed", type=int, default=1, help="noise seed")
    mm.add_argument("--no-ids", action="store_true", help="leave out request_id (alignment by rank)")
    mm.add_argument("--no-cct", action="store_true", help="TTFT rows only")
    mm.set_defaults(func=cmd_make_measured)

    c = sub.add_parser("compare", help="run every (policy, rate) pair of a run config and plot them")
    c.add_argument("config", help="run config TOML")
    c.add_argument("--policies", default="mfs,fair,sjf,edf,karuna", help="comma-separated policy names")
    c.add_argument("--rates-per-gpu", default="0.5,0.75,1.0,1.25",
                   help="request rates per prefill GPU (req/s, the workload's rate_per_gpu), comma-separated")
    c.add_argument("--rates", help=argparse.SUPPRESS)  # renamed: a clear error
    c.add_argument("--seeds", help="replications: a count N (the config's seed and the next N-1) or seeds "
                   "1,5,9; the plots show means with 95 %% confidence bands")
    c.add_argument("--out", required=True, help="result directory")
    c.add_argument("--jobs", type=int, default=0, help="parallel runs (default: cores; Ray: cluster CPUs)")
    c.add_argument("--backend", choices=("local", "ray"), default="local", help="where the runs go")
    c.add_argument("--address", help="Ray cluster address (default: RAY_ADDRESS or a new local Ray)")
    _style_flag(c)
    _set_flag(c)
    _quiet_flag(c)
    _stale_flag(c)
    c.set_defaults(func=cmd_compare)

    v = sub.add_parser("validate", help="run a config on the packet and the flow model and report their errors")
    v.add_argument("config", help="run config TOML")
    v.add_argument("--out", required=True, help="result directory (OUT/<policy>/<model>/, validation.csv, CDFs)")
    v.add_argument("--policies", default="", help="comma-separated policy names (default: the config's policy)")
    _style_flag(v)
    v.set_defaults(func=cmd_validate)

    b = sub.add_parser("build", help="build the native library now (else built on first use)")
    b.set_defaults(func=cmd_build)

    d = sub.add_parser("demo", help="run the built-in demo scenario")
    d.add_argument("--out", default="results/demo", help="result directory")
    _replace_flag(d)
    d.set_defaults(func=cmd_demo)
    return p


def _terminate(signum: int, _frame: object) -> None:
    """SIGTERM unwinds like Ctrl-C, so temporary result files are removed."""
    raise KeyboardInterrupt


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parser().parse_args(argv)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"ns3-mfs: error: {exc}", file=sys.stderr)
        return 2
    except (RunStopped, CheckFailed, OutputError) as exc:
        print(f"ns3-mfs: {exc}", file=sys.stderr)
        return exc.exit_code
    except BuildError as exc:
        print(f"ns3-mfs: cannot build the native module: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ns3-mfs: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
