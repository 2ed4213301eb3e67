"""The ``ns3-mfs`` command line."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Optional, Sequence

from ._build import BuildError
from .config import ConfigError, from_dict, load_toml


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
    return cfg


def cmd_fabric(args: argparse.Namespace) -> int:
    from .fabric.flowfile import load_flows, run_flows
    from .fabric.topology import load_topology

    topo = load_topology(args.topology)
    cfg = _fabric_config(args)
    flows = load_flows(args.flows, topo.graph().num_hosts)
    summary = run_flows(
        topo, flows, cfg, out=Path(args.out), seed=args.seed, until_s=args.until,
        extra_config={"flows": str(Path(args.flows).resolve())},
    )
    print(json.dumps(summary, indent=2))
    print(f"results: {Path(args.out).resolve()}", file=sys.stderr)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from .experiment.run import load_run_config, run

    cfg = load_run_config(args.config)
    summary = run(cfg, out=Path(args.out))
    print(json.dumps(summary, indent=2))
    print(f"results: {Path(args.out).resolve()}", file=sys.stderr)
    return 0


def _floats(text: str, what: str) -> list[float]:
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ConfigError(f"{what}: expected comma-separated numbers, got {text!r}") from None


def cmd_compare(args: argparse.Namespace) -> int:
    from .experiment.compare import compare
    from .experiment.run import load_run_config

    cfg = load_run_config(args.config)
    policies = [p.strip() for p in args.policies.split(",") if p.strip()]
    table = compare(cfg, policies, _floats(args.rates, "--rates"), Path(args.out), args.jobs,
                    progress=lambda m: print(m, file=sys.stderr, flush=True))
    cols = [c for c in ("policy", "rate_per_gpu", "ttft_slo_attainment", "ttft_mean_s", "ttft_p99_s",
                        "cct_mean_s", "cct_p99_s", "error") if c in table.columns]
    print(table[cols].to_string(index=False))
    print(f"results: {Path(args.out).resolve()}", file=sys.stderr)
    return 0 if table["error"].isna().all() else 1


def cmd_build(args: argparse.Namespace) -> int:
    from . import _build

    print(_build.ensure_built(verbose=True))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    run_demo(Path(args.out))
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ns3-mfs", description="Packet-level ns-3 model of MoE serving networks")
    sub = p.add_subparsers(dest="command", required=True)

    f = sub.add_parser("fabric", help="run a flow list (CSV) on a topology (TOML)")
    f.add_argument("topology", help="topology TOML file (see topologies/)")
    f.add_argument("flows", help="CSV with columns src,dst,bytes,start_s,priority")
    f.add_argument("--out", required=True, help="result directory")
    f.add_argument("--pfc", choices=("on", "off"), help="lossless mode (default on)")
    f.add_argument("--mtu", type=int, choices=(1024, 2048, 4096), help="RoCE payload MTU (default 4096)")
    f.add_argument("--cc", choices=("dcqcn", "none"), help="sender congestion control (default dcqcn)")
    f.add_argument("--config", help="TOML file with a [fabric] table of FabricConfig settings")
    f.add_argument("--seed", type=int, default=1, help="seed (ECMP hashing)")
    f.add_argument("--until", type=float, help="stop at this simulated time (s)")
    f.set_defaults(func=cmd_fabric)

    r = sub.add_parser("run", help="run a serving scenario (TOML run config)")
    r.add_argument("config", help="run config TOML (see scratch/serving_small.toml)")
    r.add_argument("--out", required=True, help="result directory")
    r.set_defaults(func=cmd_run)

    c = sub.add_parser("compare", help="run every (policy, rate) pair of a run config and plot them")
    c.add_argument("config", help="run config TOML")
    c.add_argument("--policies", default="mfs,fair,sjf,edf,karuna", help="comma-separated policy names")
    c.add_argument("--rates", default="0.5,0.75,1.0,1.25", help="requests/s per prefill GPU, comma-separated")
    c.add_argument("--out", required=True, help="result directory")
    c.add_argument("--jobs", type=int, default=0, help="parallel runs (default: cores)")
    c.set_defaults(func=cmd_compare)

    b = sub.add_parser("build", help="build the native library now (else built on first use)")
    b.set_defaults(func=cmd_build)

    d = sub.add_parser("demo", help="run the built-in demo scenario")
    d.add_argument("--out", default="results/demo", help="result directory")
    d.set_defaults(func=cmd_demo)
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"ns3-mfs: error: {exc}", file=sys.stderr)
        return 2
    except BuildError as exc:
        print(f"ns3-mfs: cannot build the native module: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ns3-mfs: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
