"""A serving run: config -> simulation -> result directory (DESIGN.md section 6).

A run config is one TOML file::

    seed = 1
    topology = "topologies/testbed.toml"   # a path, or an inline [topology] table
    [fabric]      # FabricConfig keys (optional)
    [serving]     # ServingConfig keys
    [workload]    # WorkloadConfig keys (ns3_mfs.serving.requests)

The TTFT SLO of a request is ``serving.ttft_slo_s`` if set, else
``ttft_slo_factor`` x its unloaded TTFT, which the simulator measures itself:
requests of a few prompt lengths (the workload's quantiles) are run alone on
the same cluster before the real run, and the unloaded TTFT of every request
is interpolated from them by prompt length.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Literal, Optional

import numpy as np
import pandas as pd

from ..config import ConfigError, from_dict, load_toml, spec, to_dict
from ..fabric import safety
from ..fabric.network import FabricConfig, Network
from ..fabric.topology import Topology, load_topology, topology_from_dict
from ..serving.cluster import build_layout
from ..serving import dispatch, placement, queueing, routing
from ..serving.decode import DecodeConfig, DecodeSetup, add_decode_columns, decode_summary, steps_table
from ..serving.compute import ComputeConfig
from ..serving.prefill import STAGES, PrefillEngine
from ..serving.requests import Request, WorkloadConfig, generate
from ..policies import REGISTRY, check_params, make_policy
from ..store import check_out, write_run


@dataclass(frozen=True)
class ServingConfig:
    """The serving system on the fabric."""

    model: str = spec("mixtral-8x7b", doc="catalogue name or path of a model TOML")
    gpu: str = spec("rtx3090", doc="GPU profile name or path of a GPU TOML")
    tp: int = spec(1, min=1, max=64, doc="tensor-parallel degree of attention")
    ep: int = spec(8, min=1, max=1024, doc="expert-parallel degree; an instance has max(tp, ep) GPUs")
    prefill_gpus: int = spec(16, min=1, doc="GPUs running prefill (a multiple of max(tp, ep))")
    decode_gpus: int = spec(4, min=1, doc="GPUs of the decode side (P2D destinations)")
    kv_store_servers: int = spec(1, min=1, doc="servers holding the KV store (the topology's last ones)")
    gpus_per_nic: int = spec(2, min=1, max=64, doc="GPUs sharing one NIC port")
    max_batched_tokens: int = spec(8192, min=1, doc="vLLM max_num_batched_tokens (chunked prefill)")
    kv_block_tokens: int = spec(512, min=1, doc="tokens per reusable KV block (Mooncake: 512)")
    kv_store_capacity_blocks: Optional[int] = spec(None, min=1, doc="KV-store capacity in blocks (LRU); default unlimited")
    kv_placement: Literal["block_hash", "session"] = spec(
        "block_hash", doc="KV-store server of a block: by block id, or one server per session"
    )
    routing: str = spec("uniform", doc="token routing model (ns3_mfs.serving.routing)")
    routing_params: dict = spec({}, doc="parameters of an expert-level routing model ([serving.routing_params])")
    placement: str = spec("contiguous", doc="expert placement: contiguous, balanced, affinity")
    placement_params: dict = spec({}, doc="placement parameters ([serving.placement_params])")
    queue_policy: str = spec("fcfs", doc="prefill queue order: fcfs, kairos, sjf_aging (ns3_mfs.serving.queueing)")
    queue_params: dict = spec({}, doc="queue policy parameters ([serving.queue_params])")
    dispatch: str = spec("round_robin", doc="prefill instance of a request: round_robin, load_aware")
    dispatch_params: dict = spec({}, doc="dispatcher parameters ([serving.dispatch_params])")
    local_prefix_cache: bool = spec(False, doc="prefix blocks an instance holds are not fetched from the KV store")
    decode: Optional[DecodeConfig] = spec(None, doc="decode instances and batching ([serving.decode]); absent: off")
    tpot_slo_s: Optional[float] = spec(None, gt=0.0, doc="absolute TPOT SLO (s); else a multiple of unloaded TPOT")
    tpot_slo_factor: float = spec(3.0, gt=0.0, doc="TPOT SLO = factor x unloaded TPOT")
    e2e_slo_s: Optional[float] = spec(None, gt=0.0, doc="absolute end-to-end SLO (s); else TTFT SLO + (n-1) TPOT SLO")
    calibration_csv: Optional[str] = spec(None, doc="CSV of measured (tokens, layer_time_s) to fit mfu/mbu")
    intra_server_gb_per_s: Optional[float] = spec(
        None, gt=0.0, doc="GPU-to-GPU bandwidth inside a server (GB/s); default: the GPU profile's PCIe/NVLink"
    )
    mfu: Optional[float] = spec(None, gt=0.0, max=1.0, doc="achieved fraction of peak FLOPs (default: compute model's)")
    mbu: Optional[float] = spec(None, gt=0.0, max=1.0, doc="achieved fraction of memory bandwidth (default: compute model's)")
    ttft_slo_s: Optional[float] = spec(None, gt=0.0, doc="absolute TTFT SLO (s); else a multiple of unloaded TTFT")
    ttft_slo_factor: float = spec(3.0, gt=0.0, doc="TTFT SLO = factor x unloaded TTFT")
    max_sim_s: Optional[float] = spec(None, gt=0.0, doc="stop the simulation at this time (s)")

    def scheduler_params(self, path: str = "serving") -> dict[str, Any]:
        """Validated parameters of the pluggable schedulers, by table name (errors name the key path)."""
        return {
            "routing_params": routing.check_params(self.routing, self.routing_params, path),
            "placement_params": placement.check_params(self.placement, self.placement_params, path),
            "queue_params": queueing.check_params(self.queue_policy, self.queue_params, path),
            "dispatch_params": dispatch.check_params(self.dispatch, self.dispatch_params, path),
        }

    def validate(self, path: str = "serving") -> None:
        self.scheduler_params(path or "serving")


#: Default budget of a run: 1e10 packet-hops, several hours at the packet core's speed.
DEFAULT_MAX_PACKET_HOPS = 1e10
#: Packet-hops per second assumed for the time in the budget's message (serving runs measured 470-560 k).
ESTIMATE_HOPS_PER_S = 5e5


@dataclass(frozen=True)
class RunConfig:
    topology: Any
    workload: WorkloadConfig
    serving: ServingConfig = ServingConfig()
    fabric: FabricConfig = FabricConfig()
    seed: int = spec(1, min=1, max=2**32 - 1, doc="seed of the run")
    scenario: str = spec("", doc="free-form name")
    policy: str = spec("fair", doc="flow-scheduling policy (ns3_mfs.policies)")
    policies: dict = spec({}, doc="per-policy parameter tables, [policies.<name>]")
    max_packet_hops: float = spec(
        DEFAULT_MAX_PACKET_HOPS, gt=0.0,
        doc="refuse a run whose estimated packet-hops (an upper bound from the workload) exceed this budget",
    )

    def validate(self, path: str) -> None:
        check_params(self.policy, self.policies.get(self.policy))
        for name, params in self.policies.items():
            REGISTRY.get(name, f"policies.{name}")
            check_params(name, params)


def run_config_from_dict(data: dict[str, Any], source: str = "config", base: Optional[Path] = None) -> RunConfig:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a table")
    allowed = {"topology", "workload", "serving", "fabric", "seed", "scenario", "policy", "policies",
               "max_packet_hops"}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ConfigError(f"{source}: {unknown[0]}: unknown key; allowed keys: {', '.join(sorted(allowed))}")
    if "topology" not in data:
        raise ConfigError(f"{source}: topology: missing; give a topology file path or a [topology] table")
    topo = data["topology"]
    if isinstance(topo, str):
        p = Path(topo)
        if not p.is_absolute() and base is not None and not p.exists():
            p = base / p
        topology: Topology = load_topology(p)
    else:
        topology = topology_from_dict(topo, "topology")
    if "workload" not in data:
        raise ConfigError(f"{source}: workload: missing; a [workload] table is required")
    rest = {k: v for k, v in data.items() if k not in ("topology",)}
    rest["topology"] = topology
    # Relative paths in a config file are relative to that file (if not to the working directory).
    for table, key in (("workload", "trace"), ("serving", "model"), ("serving", "gpu"), ("serving", "calibration_csv")):
        sub = rest.get(table)
        if base is not None and isinstance(sub, dict) and isinstance(sub.get(key), str):
            p = Path(sub[key])
            if not p.is_absolute() and not p.exists() and (base / p).exists():
                rest[table] = {**sub, key: str((base / p).resolve())}
    serving = rest.get("serving")
    for table, key in (("decode", "calibration_csv"), ("routing_params", "path"), ("placement_params", "coactivation_file")):
        sub = serving.get(table) if isinstance(serving, dict) else None
        if base is not None and isinstance(sub, dict) and isinstance(sub.get(key), str):
            p = Path(sub[key])
            if not p.is_absolute() and not p.exists() and (base / p).exists():
                rest["serving"] = serving = {**serving, table: {**sub, key: str((base / p).resolve())}}
    cfg = from_dict(RunConfig, rest, "")
    return cfg


def load_run_config(path: str | Path) -> RunConfig:
    p = Path(path)
    return run_config_from_dict(load_toml(p), str(p), p.parent)


def _resolved_serving(s: ServingConfig) -> dict[str, Any]:
    """The serving table with the chosen routing, placement, queue policy and dispatcher's defaults filled in."""
    out = to_dict(s)
    for key, params in s.scheduler_params().items():
        out[key] = to_dict(params) if params is not None else {}
    return out


def resolved(cfg: RunConfig) -> dict[str, Any]:
    return {
        "seed": cfg.seed,
        "scenario": cfg.scenario,
        "topology": to_dict(cfg.topology),
        "fabric": to_dict(cfg.fabric),
        "serving": _resolved_serving(cfg.serving),
        "workload": to_dict(cfg.workload),
        "policy": cfg.policy,
        "policies": {cfg.policy: to_dict(check_params(cfg.policy, cfg.policies.get(cfg.policy)))},
        "max_packet_hops": cfg.max_packet_hops,
    }


class RunSetup:
    """Everything of a run that does not depend on the requests (validated before simulating)."""

    def __init__(self, cfg: RunConfig):
        s = cfg.serving
        self.cfg = cfg
        self.graph = cfg.topology.graph()
        s.validate("serving")
        if s.calibration_csv is not None and (s.mfu is not None or s.mbu is not None):
            raise ConfigError("serving.calibration_csv: give a calibration CSV or mfu/mbu, not both")
        util = {k: v for k, v in (("mfu", s.mfu), ("mbu", s.mbu)) if v is not None}
        try:
            self.compute = ComputeConfig(model=s.model, gpu=s.gpu, tp=s.tp, ep=s.ep,
                                         calibration_csv=s.calibration_csv, **util).build()
        except ConfigError as exc:  # name the run config's key path: serving.<key>
            msg = str(exc)
            key = msg.split(":")[0].split(" ")[0]
            if key in ("model", "gpu", "tp", "ep", "tp/ep", "mfu", "mbu"):
                raise ConfigError(f"serving.{msg}") from None
            if s.calibration_csv and msg.startswith(s.calibration_csv):
                raise ConfigError(f"serving.calibration_csv: {msg}") from None
            raise
        self.model = self.compute.model
        self.layout = build_layout(
            self.graph, tp=s.tp, ep=s.ep, prefill_gpus=s.prefill_gpus, decode_gpus=s.decode_gpus,
            kv_store_servers=s.kv_store_servers, gpus_per_nic=s.gpus_per_nic,
        )
        self.decode = DecodeSetup.build(s, self.model, self.compute.gpu, self.layout.decode_gpus)

    def simulate(self, requests: list[Request], deadlines: Optional[dict[int, float]] = None,
                 progress: Optional[Callable[[float], None]] = None) -> tuple[Network, PrefillEngine]:
        net = Network(self.graph, self.cfg.fabric, seed=self.cfg.seed)
        policy = make_policy(self.cfg.policy, self.cfg.policies.get(self.cfg.policy), net)
        engine = PrefillEngine(net, self.layout, self.model, self.compute, self.cfg.serving, policy, deadlines,
                               decode=self.decode)
        for r in requests:
            engine.submit(r)
        net.run(self.cfg.serving.max_sim_s, progress=progress)
        return net, engine


def estimate_packet_hops(setup: RunSetup, requests: list[Request]) -> float:
    """An upper bound of a run's network packet-hops (data and ACKs), from its requests alone.

    Every byte a request can send crosses the network: its KV fetch (at most
    the whole prompt) and P2D per layer, dispatch and combine per MoE layer,
    the TP all-reduces; in MTU-sized packets, each along the longest host-to-
    host path, plus one ACK per packet back.
    """
    m, tp = setup.model, setup.cfg.serving.tp
    per_token = (2 * m.layers * m.kv_bytes_per_token_per_layer()
                 + m.moe_layers * (m.dispatch_bytes_per_token() + m.combine_bytes_per_token())
                 + (2 * m.layers * m.tp_allreduce_bytes_per_token() if tp > 1 else 0))
    tokens = sum(r.input_tokens for r in requests)
    packets = tokens * per_token / setup.cfg.fabric.mtu
    return 2.0 * packets * setup.graph.diameter_links


def check_budget(setup: RunSetup, requests: list[Request]) -> None:
    """Refuse a run larger than ``max_packet_hops`` (with the estimate and its time in the message)."""
    hops, budget = estimate_packet_hops(setup, requests), setup.cfg.max_packet_hops
    if hops > budget:
        hours = hops / ESTIMATE_HOPS_PER_S / 3600
        raise ConfigError(
            f"max_packet_hops: the run is estimated at up to {hops:.3g} packet-hops (about {hours:.3g} h at "
            f"{ESTIMATE_HOPS_PER_S / 1e3:.0f} k packet-hops/s) from {len(requests)} requests of "
            f"{sum(r.input_tokens for r in requests):,} prompt tokens, above the budget {budget:.3g}; "
            "shorten the workload or raise max_packet_hops")


def unloaded_ttft(setup: RunSetup, lengths: np.ndarray) -> np.ndarray:
    """TTFT of a request of each prompt length alone on the cluster (no cache)."""
    out = []
    for n in lengths:
        net, eng = setup.simulate([Request(0, 0.0, int(n), 1)])
        out.append(eng.states[0].first_token_s)
        net.close()
    return np.array(out)


def result_tables(net: Network, eng: PrefillEngine, slo_of: np.ndarray | float) -> dict[str, pd.DataFrame]:
    flows = net.flows()
    meta = pd.DataFrame.from_dict(
        eng.flow_meta, orient="index",
        columns=["stage", "layer", "request_id", "batch_id", "collective_id", "src_gpu", "dst_gpu"],
    )
    flows = flows.join(meta, on="flow_id")
    flows["path"] = "network"
    intra = pd.DataFrame(eng.intra)
    if len(intra):
        intra["fct_s"] = intra["end_s"] - intra["start_s"]
        intra["path"] = "intra_server"
        intra["completed"] = True
        flows = pd.concat([flows, intra], ignore_index=True)
    flows["stage_num"] = flows["stage"].map(STAGES).astype("Int64")
    rows = []
    for rid, st in sorted(eng.states.items()):
        rows.append(dict(
            request_id=rid, arrival_s=st.req.arrival_s, input_tokens=st.req.input_tokens,
            cached_tokens=st.cached_tokens, output_tokens=st.req.output_tokens, instance=st.instance,
            prefill_start_s=st.prefill_start_s, prefill_end_s=st.prefill_end_s,
            p2d_end_s=st.p2d_end_s, first_token_s=st.first_token_s,
        ))
    req = pd.DataFrame(rows)
    req["ttft_s"] = req["first_token_s"] - req["arrival_s"]
    req["queue_s"] = (req["prefill_start_s"] - req["arrival_s"]).clip(lower=0.0)  # arrival is ps-rounded
    req["slo_s"] = slo_of if np.isscalar(slo_of) else slo_of[: len(req)]
    req["slo_met"] = req["ttft_s"] <= req["slo_s"]
    req["completed"] = req["first_token_s"].notna()
    req = add_decode_columns(req, eng.decode)
    coll = pd.DataFrame(eng.collectives)
    if len(coll):
        coll["cct_s"] = coll["end_s"] - coll["start_s"]
    else:
        coll = pd.DataFrame(columns=["collective_id", "batch_id", "instance", "layer", "kind", "start_s",
                                     "end_s", "bytes", "transfers", "cct_s"])
    steps = pd.DataFrame(eng.steps, columns=["batch_id", "instance", "layer", "kind", "start_s", "end_s", "tokens"])
    tables = {"requests": req, "flows": flows, "collectives": coll, "steps": steps, "pfc": net.pfc(),
              "queues": net.queues()}
    if eng.decode_setup.enabled:
        tables["decode_steps"] = steps_table(eng.decode)
    return tables


def _summary(net: Network, eng: PrefillEngine, tables: dict[str, pd.DataFrame], wall_s: float) -> dict[str, Any]:
    req, coll = tables["requests"], tables["collectives"]
    fab = net.summary()
    ttft = req["ttft_s"].dropna()
    a2a = coll[coll["kind"].isin(["dispatch", "combine"])]["cct_s"].dropna() if len(coll) else pd.Series([], dtype=float)
    q = lambda s, p: float(s.quantile(p)) if len(s) else float("nan")  # noqa: E731
    return {
        "requests": int(len(req)),
        "completed": int(req["completed"].sum()),
        "ttft_slo_attainment": float(req["slo_met"].mean()) if len(req) else float("nan"),
        "ttft_mean_s": float(ttft.mean()) if len(ttft) else float("nan"),
        "ttft_p50_s": q(ttft, 0.5),
        "ttft_p99_s": q(ttft, 0.99),
        **decode_summary(req, tables.get("decode_steps")),
        "cct_mean_s": float(a2a.mean()) if len(a2a) else float("nan"),
        "cct_p99_s": q(a2a, 0.99),
        "collectives": int(len(coll)),
        "network_flows": fab["flows"],
        "pfc_pause_frames": fab["pfc_pause_frames"],
        "drops": fab["drops"],
        "ecn_marks": fab["ecn_marks"],
        "packet_hops": fab["packet_hops"],
        "events": fab["events"],
        "sim_s": fab["sim_s"],
        "wall_s": wall_s,
        "packet_hops_per_s": fab["packet_hops"] / fab["wall_s"] if fab["wall_s"] else 0.0,
        "longest_pause_s": fab["longest_pause_s"],
        "memory_estimate_mb": fab["memory_estimate_mb"],
        **{f"policy_{k}": v for k, v in eng.policy.stats().items()},
    }


def workload_requests(cfg: RunConfig) -> list[Request]:
    """The run's requests; errors of the workload (and of its trace files) name their ``workload.`` key."""
    try:
        return generate(cfg.workload, cfg.seed)
    except ConfigError as exc:
        msg = str(exc)
        fields = {f.name for f in dataclasses.fields(WorkloadConfig)}
        head = msg.split(":", 1)[0].split(".", 1)[0]
        if msg.startswith("workload"):
            raise
        if head in fields:
            raise ConfigError(f"workload.{msg}") from None
        raise ConfigError(f"workload.trace: {msg}" if cfg.workload.kind == "trace" else f"workload: {msg}") from None


def run(cfg: RunConfig, out: Optional[Path] = None,
        progress: Optional[Callable[[float], None]] = None, replace: bool = False) -> dict[str, Any]:
    """Simulate a run config; write the result directory if ``out`` is given.

    ``progress(sim_s)`` is called about once per wall second during the main
    simulation. ``out`` is checked before anything is simulated
    (:func:`ns3_mfs.store.check_out`; ``replace`` lets a run write into a
    directory that holds something else).
    """
    t0 = time.perf_counter()
    setup = RunSetup(cfg)  # validates model, GPU, memory, layout before any simulation
    requests = workload_requests(cfg)
    if not requests:
        raise ConfigError("workload: produced no requests")
    check_budget(setup, requests)
    if out is not None:
        check_out(Path(out), "serving", replace)
    lengths = np.array([r.input_tokens for r in requests])
    if cfg.serving.ttft_slo_s is not None:
        slo: np.ndarray | float = cfg.serving.ttft_slo_s
    else:
        grid = np.unique(np.quantile(lengths, [0.0, 0.25, 0.5, 0.75, 1.0]).round().astype(int))
        base = unloaded_ttft(setup, grid)
        slo = cfg.serving.ttft_slo_factor * np.interp(lengths, grid, base)
    slos = np.broadcast_to(np.asarray(slo, dtype=float), (len(requests),))
    deadlines = {r.id: r.arrival_s + float(s) for r, s in zip(requests, slos)}
    net, eng = setup.simulate(requests, deadlines, progress)
    try:
        tables = result_tables(net, eng, slo)
        tables["anomalies"] = net.anomalies()
        summary = safety.conclude(net, _summary(net, eng, tables, time.perf_counter() - t0))
        if out is not None:
            write_run(Path(out), config=resolved(cfg), summary=summary, tables=tables, seed=cfg.seed,
                      status=summary["status"])
        safety.raise_for_status(net, summary, out)
        return summary
    finally:
        net.close()
