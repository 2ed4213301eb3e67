"""Reproduce the shape of the MFS evaluation (arXiv 2603.17456) at a size that runs here.

Settings (every policy with its default parameters; nothing is tuned per baseline):

* ``testbed-poisson``: the MFS testbed (8 servers x 4 RTX 3090, 2 x 100G NICs
  each, one switch), Mixtral-8x7B TP1/EP8 on 16 prefill GPUs at 50 Gbit/s
  each (2 GPUs per NIC), Poisson arrivals with prompt/output lengths resampled
  from the Azure conversation trace.
* ``testbed-mooncake``: the same cluster replaying the Mooncake conversation
  trace (long prompts, prefix reuse: stage-1 KV fetches).
* ``leafspine-dbrx``: DBRX TP2/EP16 on H100s, a 1:1 leaf-spine at 200G
  (6 leaves x 4 NICs, 8 GPUs and 4 NICs per server, 4 spines).

For each setting, every (policy, rate) pair runs in its own process under
``results/reproduce/<setting>/`` (``--work``), which also gets the table
(``<setting>.md``, ``<setting>/compare.csv``) and the plots. Only
``--publish`` copies the tables and plots into ``results/reference/`` (the
committed reference, whose ``README.md`` discusses them), so a trial run
never overwrites it. Usage::

    python scratch/reproduce_mfs.py [--quick] [--jobs N] [--only SETTING ...] [--work DIR] [--publish]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ns3_mfs.config import from_dict  # noqa: E402
from ns3_mfs.analysis.plots import compare_plots  # noqa: E402
from ns3_mfs.experiment.compare import compare  # noqa: E402
from ns3_mfs.experiment.run import RunConfig, ServingConfig  # noqa: E402
from ns3_mfs.fabric import FabricConfig, LeafSpineTopology, TestbedTopology  # noqa: E402
from ns3_mfs.serving.requests import WorkloadConfig  # noqa: E402

TRACES = ROOT.parent / "shared" / "traces"
POLICIES = ["mfs", "fair", "sjf", "edf", "karuna"]


def azure_lengths(n: int) -> dict:
    conv = str(TRACES / "azure_llm_2023_conv.csv")
    return {"kind": "poisson", "rate_per_s": 1.0, "num_requests": n,
            "input": {"kind": "empirical", "trace": conv, "clip_max": 8192},
            "output": {"kind": "empirical", "trace": conv}}


def settings(quick: bool) -> dict[str, tuple[RunConfig, list[float]]]:
    testbed = TestbedTopology(name="mfs-testbed")
    mixtral = ServingConfig(model="mixtral-8x7b", gpu="rtx3090", tp=1, ep=8, prefill_gpus=16, decode_gpus=4)
    n = 16 if quick else 40
    out = {
        "testbed-poisson": (
            RunConfig(topology=testbed, workload=from_dict(WorkloadConfig, azure_lengths(n), "workload"),
                      serving=mixtral, fabric=FabricConfig(), seed=1, scenario="testbed-poisson"),
            [0.5, 0.75, 1.0, 1.25],
        ),
        "testbed-mooncake": (
            RunConfig(topology=testbed,
                      workload=from_dict(WorkloadConfig, {
                          "kind": "trace", "trace": str(TRACES / "mooncake_conversation.jsonl"),
                          "start_s": 600.0, "num_requests": 6 if quick else 10, "rate_per_s": 1.0}, "workload"),
                      serving=mixtral, fabric=FabricConfig(), seed=1, scenario="testbed-mooncake"),
            [0.5, 1.0],
        ),
        "leafspine-dbrx": (
            RunConfig(topology=LeafSpineTopology(name="leafspine-200g", leaves=6, spines=4, hosts_per_leaf=4,
                                                 nics_per_server=4, gpus_per_server=8,
                                                 host_rate_gbps=200.0, spine_rate_gbps=200.0),
                      workload=from_dict(WorkloadConfig, azure_lengths(n // 2), "workload"),
                      serving=ServingConfig(model="dbrx", gpu="h100", tp=2, ep=16, prefill_gpus=32, decode_gpus=8,
                                            gpus_per_nic=2),
                      fabric=FabricConfig(), seed=1, scenario="leafspine-dbrx"),
            [0.5, 1.0],
        ),
    }
    return out


def markdown(df) -> str:
    fmt = lambda v: f"{v:.4g}" if isinstance(v, float) else str(v)  # noqa: E731
    rows = ["| " + " | ".join(df.columns) + " |", "|" + "---|" * len(df.columns)]
    rows += ["| " + " | ".join(fmt(v) for v in r) + " |" for r in df.itertuples(index=False)]
    return "\n".join(rows)


SETTINGS = ("testbed-poisson", "testbed-mooncake", "leafspine-dbrx")
REFERENCE = ROOT / "results" / "reference"
WORK = ROOT / "results" / "reproduce"
#: What ``--publish`` copies from a setting's work directory into ``results/reference/<setting>/``.
PUBLISHED = ("compare.csv", "attainment_vs_rate.png", "ttft_cdf.png", "cct_cdf.png")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer requests")
    ap.add_argument("--jobs", type=int, default=0)
    ap.add_argument("--only", nargs="*", choices=SETTINGS, help="settings to run")
    ap.add_argument("--work", default=str(WORK), help=f"where the runs and tables go (default {WORK})")
    ap.add_argument("--publish", action="store_true",
                    help=f"also copy the tables and plots into {REFERENCE} (default: leave it alone)")
    args = ap.parse_args(argv)
    work = Path(args.work).resolve()
    if work == REFERENCE or REFERENCE in work.parents:
        ap.error(f"--work: {work} is inside {REFERENCE}; runs go elsewhere and --publish copies the tables")
    args.work = work
    return args


def publish(work: Path, name: str, reference: Path = REFERENCE) -> list[Path]:
    """Copy a setting's table (``<work>/<name>.md``) and its files in :data:`PUBLISHED` into ``reference``."""
    dest = reference / name
    dest.mkdir(parents=True, exist_ok=True)
    copied = []
    for f in PUBLISHED:
        if (work / name / f).exists():
            copied.append(Path(shutil.copy(work / name / f, dest / f)))
    if (work / f"{name}.md").exists():
        copied.append(Path(shutil.copy(work / f"{name}.md", reference / f"{name}.md")))
    return copied


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    for name, (cfg, rates) in settings(args.quick).items():
        if args.only and name not in args.only:
            continue
        t0 = time.time()
        work = args.work / name
        table = compare(cfg, POLICIES, rates, work, args.jobs)
        compare_plots(work)
        cols = ["policy", "rate_per_gpu", "requests", "ttft_slo_attainment", "ttft_mean_s", "ttft_p99_s",
                "cct_mean_s", "cct_p99_s", "pfc_pause_frames", "wall_s"]
        t = table[[c for c in cols if c in table.columns]]
        print(t.to_string(index=False), flush=True)
        (args.work / f"{name}.md").write_text(
            f"## {name}\n\nGenerated by scratch/reproduce_mfs.py ({time.time() - t0:.0f} s wall).\n\n{markdown(t)}\n"
        )
        if args.publish:
            for path in publish(args.work, name, REFERENCE):
                print(f"published {path}", flush=True)


if __name__ == "__main__":
    main()
