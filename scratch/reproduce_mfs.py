"""Reproduce the MFS evaluation (arXiv 2603.17456) as resumable sweeps, in parts and sittings.

Parts (``--part``, several allowed, default all):

* ``testbed``: the paper's testbed (Section 6.2) at packet level with the host
  path (``topologies/testbed_host.toml``: 8 servers x 4 RTX 3090, 2 x 100G
  NICs each, one switch), Mixtral-8x7B TP1/EP8 on 16 prefill GPUs (two per
  NIC), decode on the other 16 GPUs (4 servers), KV pool on the prefill
  instances, full-history P2D, vLLM batching of 8,192 tokens, the default
  congestion control, TTFT SLO 3x the low-load replay's TTFT. Workloads: the
  QwenA-Conv-like and QwenB-Agent-like session presets (Poisson) and the
  Mooncake conversation trace (real block hashes; its arrival pattern
  rescaled to each rate). Per workload: every policy at every rate; at the
  anchor rate also MFS with each ablation switch off and fair sharing with
  only the collectives on the fabric (the paper's Fig. 5).
* ``large``: the paper's large-scale setting (Section 6.3) on
  ``fabric.model = "flow"``: 256 servers x 8 A100 (NVSwitch inside, 900 GB/s),
  8 x 200G NICs each, a 1:1 two-tier Clos, 1:1 prefill:decode, instances of 32
  GPUs, KV-aware (``load_aware``, sticky) dispatch, QwenA-Conv-like preset;
  Mixtral-8x22B TP4/EP8, DBRX TP2/EP16 and Qwen3-Coder-480B TP1/EP32.
* ``validate``: the DBRX point reduced to 2 prefill + 2 decode instances (16
  servers) at 0.7 req/s per GPU on both fabric models, compared run by run as
  ``ns3-mfs validate`` does.
* ``schedulers``: Kairos (urgency-ordered prefill + slack-guided decode
  batching) against FCFS + continuous batching, and multi-layer MoE scheduling
  (SJF with aging + load-aware dispatch + balanced expert placement) against
  FCFS + round-robin, Qwen3-30B-A3B on A100s with decode simulated.

Every run is a sweep point with result identity (config, input contents,
code): rerunning resumes, skips what finished, reruns what is stale. Points
run in an order that makes an interrupted run useful: seed by seed; within a
seed the anchor rate first, then the rates by distance from it; at each rate
every setting and policy; the anchor's ablations and contention pair right
after its policies. Runs go to ``--work`` (default ``results/reproduce/``):
``<work>/<part>/runs/<hash>/``; ``--report`` (also done after every run)
writes ``<work>/<setting>.md``, plots under ``<work>/<setting>/`` and
``<work>/README.md``; ``--publish`` copies them into ``results/reference/``.

    python scratch/reproduce_mfs.py [--part testbed large validate schedulers] [--jobs N]
        [--backend local|ray [--address ADDR]] [--work DIR] [--requests 1024 --warmup 512 --seeds 3]
        [--rates R ...] [--policies P ...] [--settings NAME ...] [--variants V ...]
        [--dry-run | --report] [--publish]
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ns3_mfs.analysis.reproduction import Claim, Expected, Setting, write_index, write_page  # noqa: E402
from ns3_mfs.config import ConfigError, from_dict  # noqa: E402
from ns3_mfs.experiment.run import RunConfig, RunSetup, ServingConfig, workload_requests  # noqa: E402
from ns3_mfs.experiment.sweep import Point, Sweep, estimate, point_of, point_state, run_sweep  # noqa: E402
from ns3_mfs.fabric import FabricConfig, LeafSpineTopology, TestbedTopology  # noqa: E402
from ns3_mfs.fabric.topology import load_topology  # noqa: E402
from ns3_mfs.serving.decode import DecodeConfig  # noqa: E402
from ns3_mfs.serving.requests import WorkloadConfig  # noqa: E402
from ns3_mfs.serving.sessions import reuse_ratio  # noqa: E402

TRACES = ROOT.parent / "shared" / "traces"
REFERENCE = ROOT / "results" / "reference"
WORK = ROOT / "results" / "reproduce"
PARTS = ("testbed", "large", "validate", "schedulers")
POLICIES = ("mfs", "fair", "sjf", "edf", "karuna")
#: MFS switches turned off one at a time at the anchor rate: the paper's components (defer, rli, red, scavenger),
#: then each fidelity fix of issue 15 (rank .. atomic; docs/explanation/policies.md), so a row shows what it does.
ABLATIONS = ("defer", "rli", "red", "scavenger",
             "rank", "own_deadline", "per_request", "late_low", "waiting_layer", "traffic_matrix", "atomic")
#: Rates as fractions of the estimated prefill capacity (req/s per prefill GPU, :func:`capacity_per_gpu`):
#: from low load to past saturation.
LOAD_FRACTIONS = (0.4, 0.6, 0.8, 0.95, 1.1, 1.3)
#: The paper's testbed rate (req/s per GPU): the anchor of the ablations and of Fig. 5 is the grid rate nearest.
PAPER_RATE = 1.0
#: The paper's DBRX large-scale point (req/s per GPU).
DBRX_RATE = 0.7
DESIGN = "DESIGN.md s2"


# --------------------------------------------------------------------------- #
# Rates from the compute model
# --------------------------------------------------------------------------- #

def capacity_per_gpu(cfg: RunConfig, sample: int = 1000) -> float:
    """Prefill capacity in requests/s per prefill GPU from the compute model alone: an instance running
    full batches of ``max_batched_tokens`` (split over its data-parallel attention groups, or one per group
    with ``batch_scope = "dp_rank"``), each token attending to the mean cached prefix plus half its new
    tokens, divided by the mean uncached prompt tokens of ``sample`` requests (reuse measured on their
    prefix blocks) and by the instance's GPUs. No network, no queueing: a quick upper estimate."""
    wl = dataclasses.replace(cfg.workload, num_requests=sample, warmup_requests=0, rate_per_s=1.0)
    reqs = workload_requests(dataclasses.replace(cfg, workload=wl))
    mean_in = sum(r.input_tokens for r in reqs) / len(reqs)
    block = next((r.block_tokens for r in reqs if r.block_tokens), None) or cfg.serving.kv_block_tokens or 512
    new = mean_in * (1.0 - (reuse_ratio(reqs, block) if any(r.block_hashes for r in reqs) else 0.0))
    compute = RunSetup(cfg).compute
    group = cfg.serving.max_batched_tokens / (compute.dp if cfg.serving.batch_scope == "instance" else 1)
    tokens_per_s = group * compute.dp / compute.prefill_time_s(group, mean_in - new / 2)
    return tokens_per_s / new / compute.gpus


def rate_grid(capacity: float, fractions=LOAD_FRACTIONS) -> list[float]:
    """``capacity x fractions``, two significant digits (readable, stable identities)."""
    return [float(f"{capacity * f:.2g}") for f in fractions]


def nearest(rates: list[float], target: float) -> float:
    return min(rates, key=lambda r: (abs(math.log(r / target)), r))


# --------------------------------------------------------------------------- #
# Settings
# --------------------------------------------------------------------------- #

@dataclass(frozen=True)
class Plan:
    """A setting and its runs: (variant, policy, rate) -> run config (seed set per run)."""

    setting: Setting
    part: str
    runs: dict[tuple[str, str, float], RunConfig]


@dataclass(frozen=True)
class Options:
    requests: int = 1024
    warmup: int = 512
    seeds: tuple[int, ...] = (1, 2, 3)
    rates: Optional[tuple[float, ...]] = None
    policies: tuple[str, ...] = POLICIES
    topology: Optional[str] = None       # replaces the testbed's topology (smoke tests)
    model: Optional[str] = None          # replaces the testbed's model (smoke tests)


def _workload(kind: str, opt: Options) -> WorkloadConfig:
    n = opt.requests + opt.warmup
    if kind == "mooncake":
        data = {"kind": "trace", "trace": str(TRACES / "mooncake_conversation.jsonl"), "num_requests": n,
                "rate_per_s": 1.0, "warmup_requests": opt.warmup}
    else:
        data = {"kind": "sessions", "rate_per_s": 1.0, "num_requests": n, "warmup_requests": opt.warmup,
                "sessions": {"preset": kind}}
    return from_dict(WorkloadConfig, data, "workload")


def _with(cfg: RunConfig, policy: str, rate: float, **serving: Any) -> RunConfig:
    wl = dataclasses.replace(cfg.workload, rate_per_s=rate * cfg.serving.prefill_gpus)
    s = dataclasses.replace(cfg.serving, **serving) if serving else cfg.serving
    return dataclasses.replace(cfg, policy=policy, workload=wl, serving=s)


def _grid(cfg: RunConfig, opt: Options) -> tuple[list[float], float]:
    """The rates (``--rates`` or :func:`rate_grid` of the capacity) and the anchor: the one nearest the
    paper's 1 req/s per GPU."""
    rates = list(opt.rates) if opt.rates else rate_grid(capacity_per_gpu(cfg))
    return rates, nearest(rates, PAPER_RATE)


def testbed_plans(opt: Options) -> list[Plan]:
    topo = load_topology(opt.topology) if opt.topology else load_topology(ROOT / "topologies" / "testbed_host.toml")
    serving = ServingConfig(model=opt.model or "mixtral-8x7b", gpu="rtx3090", tp=1, ep=8, prefill_gpus=16,
                            decode_gpus=16, gpus_per_nic=2, ttft_slo_baseline="replay")
    workloads = (("qwena-conv", "qwena_conv", "QwenA-Conv-like sessions", (-0.207, -0.319)),
                 ("qwenb-agent", "qwenb_agent", "QwenB-Agent-like sessions", (-0.323, -0.431)),
                 ("mooncake", "mooncake", "Mooncake conversation trace", (None, None)))
    plans = []
    for name, kind, what, (ttft, cct) in workloads:
        base = RunConfig(topology=topo, workload=_workload(kind, opt), serving=serving, fabric=FabricConfig(),
                         scenario=f"reproduce testbed {name}")
        rates, anchor = _grid(base, opt)
        runs = {("main", p, r): _with(base, p, r) for r in rates for p in opt.policies}
        if "mfs" in opt.policies:
            for sw in ABLATIONS:
                runs[(f"ablation:{sw} off", "mfs", anchor)] = dataclasses.replace(
                    _with(base, "mfs", anchor), policies={"mfs": {sw: False}})
        if "fair" in opt.policies:
            runs[("collectives only", "fair", anchor)] = _with(base, "fair", anchor, traffic=["collectives"])
        src = f"{DESIGN} (testbed, {'Conv' if kind == 'qwena_conv' else 'Agent'})"
        claims = (
            Claim("mean TTFT, MFS vs fair", "ttft_mean_s", ("main", "mfs"), ("main", "fair"), ttft, rate="each",
                  source=src if ttft is not None else ""),
            Claim("A2A CCT mean, MFS vs fair", "a2a_cct_mean_s", ("main", "mfs"), ("main", "fair"), cct,
                  rate="each", source=src if cct is not None else ""),
            Claim("TTFT attainment, MFS / fair", "ttft_slo_attainment", ("main", "mfs"), ("main", "fair"), None,
                  kind="ratio", rate="each"),
            Claim("Fig. 5: TTFT with contention / without", "ttft_mean_s", ("main", "fair"),
                  ("collectives only", "fair"), 1.5, kind="ratio", source=f"{DESIGN} (Fig. 5)"),
            Claim("Fig. 5: A2A CCT with contention / without", "a2a_cct_mean_s", ("main", "fair"),
                  ("collectives only", "fair"), 1.8, kind="ratio", source=f"{DESIGN} (Fig. 5)"),
            *(Claim(f"mean TTFT, MFS with {sw} off vs MFS", "ttft_mean_s", (f"ablation:{sw} off", "mfs"),
                    ("main", "mfs"), None) for sw in ABLATIONS),
        )
        setting = Setting(
            name=f"testbed-{name}", title=f"Testbed, {what}", kind="testbed",
            description=(f"Packet level, `{topo.name}` ({'host path' if topo.host.enabled else 'no host path'}), "
                         f"{serving.model} TP1/EP8 on 16 prefill GPUs (2 per NIC), 16 decode GPUs, KV pool on the "
                         f"prefill instances, full-history P2D, {serving.max_batched_tokens}-token batches, default "
                         "congestion control, TTFT SLO 3x the low-load replay. Anchor (ablations, Fig. 5): the rate "
                         "nearest the paper's 1 req/s per GPU. Rates (req/s per prefill GPU): "
                         f"{', '.join(f'{r:g}' for r in rates)}"
                         + ("" if opt.rates else " (fractions " + ", ".join(f"{f:g}" for f in LOAD_FRACTIONS)
                            + " of the compute model's prefill capacity)") + "."),
            requests=opt.requests, warmup=opt.warmup, seeds=opt.seeds, anchor_rate=anchor, claims=claims,
            notes=(("The Mooncake trace keeps its own arrival pattern, rescaled to each rate (not Poisson); seed s "
                    f"replays the window starting at ((s - 1) x {TRACE_SEED_SPACING_S:g}) mod {TRACE_WRAP_S:g} s "
                    "of the trace.",)
                   if kind == "mooncake" else ()))
        plans.append(Plan(setting, "testbed", runs))
    return plans


def _clos(servers: int) -> LeafSpineTopology:
    """1:1 two-tier Clos of ``servers`` x 8 NIC ports at 200G, 32 ports per leaf."""
    leaves = servers * 8 // 32
    return LeafSpineTopology(name=f"clos-{servers * 8}x200g", leaves=leaves, spines=32, hosts_per_leaf=32,
                             nics_per_server=8, gpus_per_server=8, host_rate_gbps=200.0, spine_rate_gbps=200.0)


LARGE_MODELS = (("mixtral-8x22b", "Mixtral-8x22B TP4/EP8", 4, 8), ("dbrx", "DBRX TP2/EP16", 2, 16),
                ("qwen3-coder-480b-a35b", "Qwen3-Coder-480B-A35B TP1/EP32", 1, 32))


def _large_serving(model: str, tp: int, ep: int, gpus: int) -> ServingConfig:
    return ServingConfig(model=model, gpu="a100", tp=tp, ep=ep, instance_gpus="tp_x_ep", prefill_gpus=gpus,
                         decode_gpus=gpus, gpus_per_nic=1, intra_server_gb_per_s=900.0, dispatch="load_aware",
                         ttft_slo_baseline="replay")


def large_plans(opt: Options) -> list[Plan]:
    plans = []
    for model, what, tp, ep in LARGE_MODELS:
        base = RunConfig(topology=_clos(256), workload=_workload("qwena_conv", opt),
                         serving=_large_serving(model, tp, ep, 1024), fabric=FabricConfig(model="flow", cc="none"),
                         scenario=f"reproduce large {model}")
        rates, _ = _grid(base, opt)
        if model == "dbrx" and not opt.rates and DBRX_RATE not in rates:  # the paper's point, unless --rates
            rates = sorted(set(rates) - {nearest(rates, DBRX_RATE)} | {DBRX_RATE})
        anchor = DBRX_RATE if DBRX_RATE in rates else nearest(rates, DBRX_RATE)
        runs = {("main", p, r): _with(base, p, r) for r in rates for p in opt.policies}
        claims = [Claim("TTFT attainment, MFS / fair", "ttft_slo_attainment", ("main", "mfs"), ("main", "fair"),
                        None, kind="ratio", rate="each"),
                  Claim("TTFT attainment, MFS / fair at the anchor (paper 1.4-2.4x: its low end)",
                        "ttft_slo_attainment", ("main", "mfs"), ("main", "fair"), 1.4, kind="ratio",
                        source=f"{DESIGN} (large scale)")]
        for other in [p for p in opt.policies if p not in ("mfs", "fair")]:
            claims.append(Claim(f"TTFT attainment, MFS / {other}", "ttft_slo_attainment", ("main", "mfs"),
                                ("main", other), None, kind="ratio"))
        if model == "dbrx":
            claims += [Claim("DBRX at 0.7: TTFT attainment, MFS / fair", "ttft_slo_attainment", ("main", "mfs"),
                             ("main", "fair"), 2.2, kind="ratio", rate=DBRX_RATE, source=f"{DESIGN} (large scale)"),
                       Claim("DBRX at 0.7: EP CCT, MFS vs fair", "a2a_cct_mean_s", ("main", "mfs"), ("main", "fair"),
                             -0.52, rate=DBRX_RATE, source=f"{DESIGN} (large scale)")]
        setting = Setting(
            name=f"large-{model}", title=f"Large scale (flow model), {what}", kind="large",
            description=("Flow model, 256 servers x 8 A100 (NVSwitch inside at 900 GB/s), 8 x 200G NICs each, a 1:1 "
                         f"two-tier Clos; {what}, instances of {tp * ep} GPUs, 1,024 prefill + 1,024 decode GPUs, "
                         "KV-aware dispatch (load_aware, sticky), QwenA-Conv-like sessions, TTFT SLO 3x the low-load "
                         f"replay. Rates (req/s per prefill GPU): {', '.join(f'{r:g}' for r in rates)}. The paper: "
                         "1.4-2.4x the attainment of the baselines (QwenA)."),
            requests=opt.requests, warmup=opt.warmup, seeds=opt.seeds, anchor_rate=anchor, claims=tuple(claims))
        plans.append(Plan(setting, "large", runs))
    return plans


def validate_plans(opt: Options) -> list[Plan]:
    base = RunConfig(topology=_clos(16), workload=_workload("qwena_conv", opt),
                     serving=_large_serving("dbrx", 2, 16, 64), fabric=FabricConfig(),
                     scenario="reproduce validate dbrx")
    rate = opt.rates[0] if opt.rates else DBRX_RATE
    pols = [p for p in ("mfs", "fair") if p in opt.policies] or list(opt.policies[:2])
    runs = {}
    for m in ("packet", "flow"):
        fab = FabricConfig(model=m, cc="none") if m == "flow" else FabricConfig()
        for p in pols:
            runs[(m, p, rate)] = dataclasses.replace(_with(base, p, rate), fabric=fab)
    claims = tuple(Claim(f"{m} model: {label}", metric, (m, "mfs"), (m, "fair"), None, kind=kind)
                   for m in ("packet", "flow") for label, metric, kind in (
                       ("mean TTFT, MFS vs fair", "ttft_mean_s", "change"),
                       ("TTFT attainment, MFS / fair", "ttft_slo_attainment", "ratio"),
                       ("EP CCT, MFS vs fair", "a2a_cct_mean_s", "change")))
    setting = Setting(
        name="validate-dbrx", title="DBRX reduced: flow model against packet model", kind="validate",
        description=("The large-scale DBRX point reduced to 2 prefill + 2 decode instances of 32 A100 (16 servers, "
                     "8 x 200G NICs each, 1:1 Clos of 4 leaves and 32 spines) at "
                     f"{rate:g} req/s per prefill GPU, run on the packet model (default congestion control) and on "
                     "the flow model; MFS's change against fair sharing on each model, and the run-by-run errors "
                     "of `ns3-mfs validate`."),
        requests=opt.requests, warmup=opt.warmup, seeds=opt.seeds, anchor_rate=rate, claims=claims)
    return [Plan(setting, "validate", runs)]


def scheduler_plans(opt: Options) -> list[Plan]:
    topo = TestbedTopology(name="a100-2x2", servers=2, nics_per_server=2, gpus_per_server=2, link_rate_gbps=100.0)
    azure = str(TRACES / "azure_llm_2023_conv.csv")
    wl = from_dict(WorkloadConfig, {
        "kind": "poisson", "rate_per_s": 1.0, "num_requests": opt.requests + opt.warmup,
        "warmup_requests": opt.warmup, "input": {"kind": "empirical", "trace": azure, "clip_max": 8192},
        "output": {"kind": "empirical", "trace": azure, "clip_max": 1024}}, "workload")
    serving = ServingConfig(model="qwen3-30b-a3b", gpu="a100", tp=1, ep=2, prefill_gpus=2, decode_gpus=2,
                            gpus_per_nic=1, decode=DecodeConfig(policy="continuous", ep=2),
                            routing="zipf", routing_params={"exponent": 1.2, "seed": 1})
    base = RunConfig(topology=topo, workload=wl, serving=serving, policy="fair", scenario="reproduce schedulers")
    rates = list(opt.rates) if opt.rates else rate_grid(capacity_per_gpu(base))
    anchor = rates[len(rates) // 2]  # the middle of the grid
    pairs = {
        "kairos": (("fcfs + continuous", {}),
                   ("kairos", {"queue_policy": "kairos", "decode": DecodeConfig(policy="kairos_slack", ep=2)}),
                   "Kairos (urgency-ordered prefill, slack-guided decode batching) against FCFS + continuous "
                   "batching. Kairos's paper: up to +23.9 % TTFT, +27.1 % TPOT, +33.8 % end-to-end SLO attainment "
                   "and +19.3 % decode throughput on an online serving dataset.",
                   (("TTFT attainment", "ttft_slo_attainment", 0.239), ("TPOT attainment", "tpot_slo_attainment", 0.271),
                    ("E2E attainment", "e2e_slo_attainment", 0.338), ("decode throughput", "decode_tokens_per_s", 0.193)),
                   "Kairos paper"),
        "moe": (("fcfs + round_robin", {}),
                ("sjf_aging + load_aware + balanced", {"queue_policy": "sjf_aging", "dispatch": "load_aware",
                                                       "placement": "balanced"}),
                "Multi-layer MoE scheduling (SJF with aging, load-aware dispatch, balanced expert placement) "
                "against vLLM's FCFS and round-robin. Its paper: up to -17.8 % TTFT and -13.3 % TPOT for "
                "Qwen3-30B-A3B on 2 x A100.",
                (("mean TTFT", "ttft_mean_s", -0.178), ("mean TPOT", "tpot_mean_s", -0.133)),
                "multi-layer MoE scheduling paper"),
    }
    plans = []
    for name, ((bname, _), (tname, change), text, figs, src) in pairs.items():
        runs = {}
        for r in rates:
            runs[(bname, "fair", r)] = _with(base, "fair", r)
            runs[(tname, "fair", r)] = _with(base, "fair", r, **change)
        claims = tuple(Claim(f"{label}, {tname} vs {bname}", metric, (tname, "fair"), (bname, "fair"), paper,
                             rate="each", source=src) for label, metric, paper in figs)
        setting = Setting(
            name=f"schedulers-{name}", title=f"Request-level schedulers: {tname} against {bname}", kind="schedulers",
            description=(text + " Here: Qwen3-30B-A3B TP1/EP2 prefill on 2 A100 (one server) and an EP2 decode "
                         "instance on 2 A100 (the other server), 2 x 100G NICs per server, Zipf-skewed expert "
                         "routing (exponent 1.2), Azure conversation lengths with Poisson arrivals, fair sharing on "
                         "the network, TTFT/TPOT SLO 3x unloaded. Rates (req/s per prefill GPU): "
                         f"{', '.join(f'{r:g}' for r in rates)}."),
            requests=opt.requests, warmup=opt.warmup, seeds=opt.seeds, anchor_rate=anchor, claims=claims)
        plans.append(Plan(setting, "schedulers", runs))
    return plans


PLANNERS = {"testbed": testbed_plans, "large": large_plans, "validate": validate_plans,
            "schedulers": scheduler_plans}


# --------------------------------------------------------------------------- #
# Points, order, state
# --------------------------------------------------------------------------- #

@dataclass(frozen=True)
class Item:
    """One run: its plan, key and sweep point."""

    plan: Plan
    variant: str
    policy: str
    rate: float
    seed: int
    point: Point


def _variant_rank(variant: str, plan: Plan) -> int:
    variants = list(dict.fromkeys(v for v, _, _ in plan.runs))
    return variants.index(variant)


def order_key(item: Item, plans: list[Plan]) -> tuple:
    """Seed first, then rates by distance from the setting's anchor, then setting, variant and policy."""
    s = item.plan.setting
    rates = sorted({r for _, _, r in item.plan.runs}, key=lambda r: (abs(math.log(r / s.anchor_rate))
                                                                      if s.anchor_rate else 0.0, r))
    pols = list(dict.fromkeys(p for _, p, _ in item.plan.runs))
    return (s.seeds.index(item.seed), rates.index(item.rate), plans.index(item.plan),
            _variant_rank(item.variant, item.plan), pols.index(item.policy))


#: Trace workloads: seed s replays the window starting at ((s - 1) x this) mod TRACE_WRAP_S seconds of the
#: trace (the Mooncake conversation trace spans 3,537 s; 1,536 of its requests about 450 s), so that
#: replications are different stretches of it (a trace replay has no random arrivals to vary).
TRACE_SEED_SPACING_S = 600.0
TRACE_WRAP_S = 3000.0


def seeded(cfg: RunConfig, seed: int) -> RunConfig:
    """The run config of one seed (a trace workload also moves its window, :data:`TRACE_SEED_SPACING_S`)."""
    cfg = dataclasses.replace(cfg, seed=seed)
    if cfg.workload.kind == "trace":
        start = ((seed - 1) * TRACE_SEED_SPACING_S) % TRACE_WRAP_S
        cfg = dataclasses.replace(cfg, workload=dataclasses.replace(cfg.workload, start_s=start))
    return cfg


def items(plans: list[Plan], variants: Optional[list[str]] = None) -> list[Item]:
    """Every run of the plans as a validated sweep point, in :func:`order_key` order (a run two settings
    share, e.g. a common baseline, is an item of each and one point: :func:`points`)."""
    out = []
    for plan in plans:
        for (v, p, r), cfg in plan.runs.items():
            if variants and not any(v == w or v.startswith(w + ":") for w in variants):
                continue
            for seed in plan.setting.seeds:
                try:
                    pt = point_of(seeded(cfg, seed),
                                  {"setting": plan.setting.name, "variant": v, "policy": p, "rate_per_gpu": r,
                                   "seed": seed}, ROOT)
                except ConfigError as exc:
                    raise ConfigError(f"{plan.setting.name} ({v}, {p}, rate {r:g}, seed {seed}): {exc}") from None
                out.append(Item(plan, v, p, r, seed, pt))
    return sorted(out, key=lambda it: order_key(it, plans))


def points(its: list[Item], part: str) -> list[Point]:
    """The distinct sweep points of a part's items, in their order."""
    return list({it.point.run_id: it.point for it in its if it.plan.part == part}.values())


def state(item: Item, work: Path, accept_stale: bool = False) -> str:
    d = work / item.plan.part / "runs" / item.point.run_id
    st, _ = point_state(d, item.point.identity)
    if st == "todo" and (d / "error.json").exists():
        return "failed"
    return "finished" if st == "stale" and accept_stale else st


def expected(plan: Plan, its: list[Item], work: Path, accept_stale: bool = False) -> list[Expected]:
    return [Expected(it.variant, it.policy, it.rate, it.seed, work / plan.part / "runs" / it.point.run_id,
                     state(it, work, accept_stale)) for it in its if it.plan is plan]


def stale_note(plan: Plan, its: list[Item], work: Path) -> Plan:
    """The plan with a note on its page naming the runs another code version made (``--accept-stale``)."""
    old = [it.point.run_id for it in its if it.plan is plan and state(it, work) == "stale"]
    if not old:
        return plan
    note = (f"**Made by another code version:** {len(old)} run(s) ({', '.join(old)}) were made by other code than "
            "this page's (`--report --accept-stale`); their `meta.json` records the commit.")
    return dataclasses.replace(plan, setting=dataclasses.replace(plan.setting, notes=plan.setting.notes + (note,)))


# --------------------------------------------------------------------------- #
# Command line
# --------------------------------------------------------------------------- #

class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        print(f"reproduce_mfs.py: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def _floats(text: str) -> list[float]:
    return [float(x) for x in text.replace(",", " ").split()]


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    ap = _Parser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--part", nargs="+", default=list(PARTS), metavar="PART",
                    help=f"parts to run: {', '.join(PARTS)} (default all)")
    ap.add_argument("--jobs", type=int, default=1, help="points run at once (default 1)")
    ap.add_argument("--backend", default="local", help="local or ray")
    ap.add_argument("--address", default=None, help="Ray cluster address (with --backend ray)")
    ap.add_argument("--work", default=str(WORK), help=f"where runs and pages go (default {WORK})")
    ap.add_argument("--requests", type=int, default=1024, help="measured requests per run (default 1024)")
    ap.add_argument("--warmup", type=int, default=512, help="warm-up requests per run (default 512)")
    ap.add_argument("--seeds", type=int, default=3, help="seeds per point: 1..N (default 3)")
    ap.add_argument("--rates", nargs="+", default=None, help="rates per prefill GPU for every setting "
                    "(default: from each setting's estimated capacity)")
    ap.add_argument("--policies", nargs="+", default=list(POLICIES), help="network policies (default all five)")
    ap.add_argument("--settings", nargs="+", default=None, help="only these settings (names as in the pages)")
    ap.add_argument("--variants", nargs="+", default=None,
                    help="only these variants (main, ablation, collectives only, packet, flow, ...)")
    ap.add_argument("--topology", default=None, help="testbed part: another topology file (smoke tests)")
    ap.add_argument("--model", default=None, help="testbed part: another model (smoke tests)")
    ap.add_argument("--dry-run", action="store_true", help="list the points and their estimated minutes; run nothing")
    ap.add_argument("--hops-per-s", type=float, default=None,
                    help="dry run: packet-hops per second to assume (default: measured on the part's finished "
                         "points, else the demo's rate)")
    ap.add_argument("--report", action="store_true", help="only (re)write the pages from the finished points")
    ap.add_argument("--publish", action="store_true", help=f"copy the pages and plots into {REFERENCE}")
    ap.add_argument("--accept-stale", action="store_true",
                    help="with --report: count runs made by other code as finished (the pages name them), e.g. "
                         "after a change to the report code only")
    args = ap.parse_args(argv)
    if args.accept_stale and not args.report:
        ap.error("--accept-stale: only with --report (a run never reuses a stale result)")
    bad = [p for p in args.part if p not in PARTS]
    if bad:
        ap.error(f"--part: {bad[0]!r} is not a part; allowed: {', '.join(PARTS)}")
    if args.backend not in ("local", "ray"):
        ap.error(f"--backend: {args.backend!r}; allowed: local, ray")
    for name, low in (("jobs", 1), ("requests", 1), ("warmup", 0), ("seeds", 1)):
        if getattr(args, name) < low:
            ap.error(f"--{name}: must be >= {low}, got {getattr(args, name)}")
    from ns3_mfs.policies import REGISTRY

    bad = [p for p in args.policies if p not in REGISTRY]
    if bad:
        ap.error(f"--policies: {bad[0]!r} is not a policy; allowed: {', '.join(REGISTRY)}")
    try:
        args.rates = tuple(r for t in args.rates for r in _floats(t)) if args.rates else None
    except ValueError:
        ap.error(f"--rates: expected numbers (req/s per prefill GPU), got {' '.join(args.rates)!r}")
    if args.rates is not None and not all(r > 0 and math.isfinite(r) for r in args.rates):
        ap.error("--rates: every rate must be a number > 0 (req/s per prefill GPU)")
    if args.hops_per_s is not None and not (args.hops_per_s > 0 and math.isfinite(args.hops_per_s)):
        ap.error(f"--hops-per-s: must be a number > 0, got {args.hops_per_s}")
    work = Path(args.work).resolve()
    if work == REFERENCE or REFERENCE in work.parents:
        ap.error(f"--work: {work} is inside {REFERENCE}; runs go elsewhere and --publish copies the pages")
    args.work = work
    args.part = list(dict.fromkeys(args.part))
    return args


def plans_of(args: argparse.Namespace) -> list[Plan]:
    opt = Options(requests=args.requests, warmup=args.warmup, seeds=tuple(range(1, args.seeds + 1)),
                  rates=args.rates, policies=tuple(dict.fromkeys(args.policies)), topology=args.topology,
                  model=args.model)
    plans = [p for part in args.part for p in PLANNERS[part](opt)]
    if args.settings:
        names = [p.setting.name for p in plans]
        bad = [s for s in args.settings if s not in names]
        if bad:
            raise ConfigError(f"--settings: {bad[0]!r} is not a setting of these parts; allowed: {', '.join(names)}")
        plans = [p for p in plans if p.setting.name in args.settings]
    return plans


def report(plans: list[Plan], its: list[Item], work: Path, accept_stale: bool = False) -> list[Path]:
    """Write each plan's page and the index; with ``accept_stale``, runs made by other code count as finished
    and each page says which they are."""
    shown = [(stale_note(p, its, work) if accept_stale else p, p) for p in plans]
    pages = [write_page(s.setting, expected(p, its, work, accept_stale), work) for s, p in shown]
    pages.append(write_index([(s.setting, expected(p, its, work, accept_stale)) for s, p in shown], work))
    return pages


def publish(names: list[str], work: Path, reference: Path) -> list[Path]:
    """Copy each named setting's page and plots (PNG) and the README from ``work`` into ``reference``
    (never the runs)."""
    copied = []
    reference.mkdir(parents=True, exist_ok=True)
    for name in names:
        if (work / f"{name}.md").exists():
            copied.append(Path(shutil.copy(work / f"{name}.md", reference / f"{name}.md")))
        for png in sorted((work / name).glob("*.png")):
            (reference / name).mkdir(exist_ok=True)
            copied.append(Path(shutil.copy(png, reference / name / png.name)))
    if (work / "README.md").exists():
        copied.append(Path(shutil.copy(work / "README.md", reference / "README.md")))
    return copied


def dry_run(plans: list[Plan], its: list[Item], work: Path, rate: Optional[float] = None) -> None:
    total = 0.0
    for part in dict.fromkeys(p.part for p in plans):
        pts = points(its, part)
        est = estimate(Sweep(f"reproduce {part}", {}, {}, pts, 0), work / part, rate)
        rows = {r["run_id"]: r for r in est.points}
        flow = part == "large"
        print(f"part {part}: {len(pts)} runs, {sum(r['state'] != 'finished' for r in est.points)} to run, "
              f"about {est.total_minutes:.0f} min one at a time ({est.rate:.3g} packet-hops/s, {est.source})"
              + ("; flow-model runs: the packet-hop estimate is an upper bound that does not apply" if flow else ""))
        for it in [it for it in its if it.plan.part == part]:
            row = rows[it.point.run_id]
            print(f"  {it.point.run_id} {it.plan.setting.name:<24} {it.variant:<22} {it.policy:<7} "
                  f"rate {it.rate:<6g} seed {it.seed}  {row['requests']} req  {row['packet_hops']:.3g} hops  "
                  f"{row['minutes']:.1f} min  {row['state']}")
        total += est.total_minutes
    print(f"total: about {total:.0f} min one at a time")


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    try:
        plans = plans_of(args)
        its = items(plans, args.variants)
    except ConfigError as exc:
        print(f"reproduce_mfs.py: error: {exc}", file=sys.stderr)
        return 2
    if args.dry_run:
        dry_run(plans, its, args.work, args.hops_per_s)
        return 0
    if not args.report:
        try:
            for part in dict.fromkeys(p.part for p in plans):
                rep = run_sweep(Sweep(f"reproduce {part}", {}, {}, points(its, part), 0), args.work / part, jobs=args.jobs,
                                backend=args.backend, address=args.address, what=part)
                print(f"{part}: {rep.ran} ran, {rep.skipped} already finished, {len(rep.failed)} failed "
                      f"({rep.wall_s:.0f} s)", flush=True)
        except KeyboardInterrupt:
            print("interrupted: finished points are kept; the pages show what has finished", file=sys.stderr)
            report(plans, its, args.work)
            return 130
    for page in report(plans, its, args.work, args.accept_stale):
        print(f"wrote {page}")
    if args.publish:
        for path in publish([p.setting.name for p in plans], args.work, REFERENCE):
            print(f"published {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
