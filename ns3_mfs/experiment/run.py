"""A serving run: config -> simulation -> result directory (docs/reference/results.md).

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
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import pandas as pd

from ..config import ConfigError, did_you_mean, from_dict, load_toml, spec, to_dict
from ..fabric import safety
from ..fabric.network import FabricConfig, Network
from ..fabric.result import FabricResult
from ..fabric.topology import Topology, load_topology, topology_from_dict
from ..serving.decode import decode_summary
from ..serving.diagnostics import stage_summary
from ..serving.compute import load_gpu
from ..serving.config import ServingConfig
from ..serving.engine import STAGES, PrefillEngine, ServingEngine, ServingSetup  # noqa: F401  (STAGES, PrefillEngine: old names)
from ..serving.requests import Request, WorkloadConfig, generate
from ..policies import REGISTRY, check_params, make_policy
from ..store import check_out, write_run
from .progress import RunProgress


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

    def __post_init__(self) -> None:
        """``workload.rate_per_gpu`` becomes ``workload.rate_per_s`` (one canonical rate: the same run has
        one identity however its rate was written)."""
        wl = self.workload
        if isinstance(wl, WorkloadConfig) and wl.rate_per_gpu is not None and wl.rate_per_s is None \
                and isinstance(self.serving, ServingConfig):
            object.__setattr__(self, "workload", dataclasses.replace(
                wl, rate_per_s=wl.rate_per_gpu * self.serving.prefill_gpus, rate_per_gpu=None))

    def validate(self, path: str) -> None:
        check_params(self.policy, self.policies.get(self.policy))
        for name, params in self.policies.items():
            REGISTRY.get(name, f"policies.{name}")
            check_params(name, params)


#: Config keys whose values are catalogue names unless they look like a path (end in .toml or hold a "/").
CATALOGUE_KEYS = ("serving.model", "serving.gpu")
#: Top-level keys of a run config.
RUN_KEYS = ("topology", "workload", "serving", "fabric", "seed", "scenario", "policy", "policies", "max_packet_hops")


def _path_keys() -> tuple[str, ...]:
    from ..identity import INPUT_KEYS

    return ("topology", *(k for k in INPUT_KEYS if not k.startswith("run.")))


def _looks_like_path(key: str, value: str) -> bool:
    return key not in CATALOGUE_KEYS or value.endswith(".toml") or "/" in value


def resolve_paths(data: dict[str, Any], base: Path) -> dict[str, Any]:
    """A copy of a config table with every relative file path made absolute against ``base`` (the
    directory of the file that names it, or the working directory for ``--set``); catalogue names
    (``model = "mixtral-8x7b"``) are left alone."""
    import copy

    out = copy.deepcopy(data)
    for dotted in _path_keys():
        keys = dotted.split(".")
        node: Any = out
        for k in keys[:-1]:
            node = node.get(k) if isinstance(node, dict) else None
        value = node.get(keys[-1]) if isinstance(node, dict) else None
        if not isinstance(value, str) or not value or Path(value).is_absolute():
            continue
        cand = Path(base) / value
        if cand.exists() or _looks_like_path(dotted, value):
            node[keys[-1]] = str(cand.resolve())
    return out


def check_files(config: dict[str, Any]) -> None:
    """Every input file a (path-resolved) config names must exist: the same error from ``config show``,
    ``sweep`` and ``run``, before anything runs."""
    for dotted in _path_keys():
        node: Any = config
        for k in dotted.split("."):
            node = node.get(k) if isinstance(node, dict) else None
        if isinstance(node, str) and Path(node).is_absolute() and not Path(node).is_file():
            raise ConfigError(f"{dotted}: {node!r}: no such file")


#: Keys that say one thing in two units: overriding one drops the other from the base.
ALTERNATIVES = {"workload.rate_per_s": "workload.rate_per_gpu", "workload.rate_per_gpu": "workload.rate_per_s"}


def apply_overrides(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of ``base`` with each dotted key set (tables created as needed); setting
    ``workload.rate_per_gpu`` drops the base's ``workload.rate_per_s`` and the other way round."""
    import copy

    out = copy.deepcopy(dict(base))
    for key, value in overrides.items():
        other = ALTERNATIVES.get(key)
        if other is not None and other not in overrides:
            table, name = other.split(".")
            if isinstance(out.get(table), dict):
                out[table].pop(name, None)
        node: Any = out
        parts = key.split(".")
        for i, part in enumerate(parts[:-1]):
            nxt = node.setdefault(part, {})
            if not isinstance(nxt, dict):
                raise ConfigError(f"{key}: {'.'.join(parts[: i + 1])} is {nxt!r}, not a table")
            node = nxt
        node[parts[-1]] = copy.deepcopy(value)
    return out


def run_config_from_dict(data: dict[str, Any], source: str = "config", base: Optional[Path] = None) -> RunConfig:
    """A run config from a table; relative file paths are relative to ``base`` (the config file's directory)."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a table")
    unknown = sorted(set(data) - set(RUN_KEYS))
    if unknown:
        raise ConfigError(f"{source}: {unknown[0]}: unknown key; allowed keys: {', '.join(sorted(RUN_KEYS))}"
                          f"{did_you_mean(str(unknown[0]), RUN_KEYS)}")
    if "topology" not in data:
        raise ConfigError(f"{source}: topology: missing; give a topology file path or a [topology] table")
    if base is not None:
        data = resolve_paths(data, base)
    topo = data["topology"]
    topology: Topology = load_topology(Path(topo)) if isinstance(topo, str) else topology_from_dict(topo, "topology")
    if "workload" not in data:
        raise ConfigError(f"{source}: workload: missing; a [workload] table is required")
    rest = {k: v for k, v in data.items() if k not in ("topology",)}
    rest["topology"] = topology
    return from_dict(RunConfig, rest, "")


def load_run_config(path: str | Path, overrides: Optional[dict[str, Any]] = None) -> RunConfig:
    """Read a run config file; ``overrides`` (dotted key -> value, as ``--set``) are applied on top, their
    relative paths taken against the working directory."""
    p = Path(path)
    data = resolve_paths(load_toml(p), p.parent)
    if overrides:
        data = apply_overrides(data, override_paths(overrides, Path.cwd()))
    return run_config_from_dict(data, str(p), p.parent)


def override_paths(overrides: dict[str, Any], base: Path) -> dict[str, Any]:
    """Dotted overrides with the relative paths among them made absolute against ``base``."""
    out = dict(overrides)
    for key, value in overrides.items():
        if key in _path_keys() and isinstance(value, str) and value and not Path(value).is_absolute():
            cand = Path(base) / value
            if cand.exists() or _looks_like_path(key, value):
                out[key] = str(cand.resolve())
    return out


def _resolved_serving(s: ServingConfig) -> dict[str, Any]:
    """The serving table with the chosen routing, placement, queue policy and dispatcher's defaults filled in."""
    out = to_dict(s)
    for key, params in s.scheduler_params().items():
        out[key] = to_dict(params) if params is not None else {}
    return out


def run_topology(cfg: RunConfig) -> Topology:
    """The run's topology with its host path's GPU link taken from the serving GPU profile where unset."""
    host = cfg.topology.host
    if not host.enabled:
        return cfg.topology
    gpu = load_gpu(cfg.serving.gpu)
    nvlink = gpu.intra_server_bw_gbps * 8 if gpu.intra_server_link == "nvlink" else None
    return replace(cfg.topology, host=host.with_gpu(gpu.pcie_gen, gpu.pcie_lanes, nvlink))


def resolved(cfg: RunConfig) -> dict[str, Any]:
    return {
        "seed": cfg.seed,
        "scenario": cfg.scenario,
        "topology": to_dict(run_topology(cfg)),
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
        self.cfg = cfg
        self.graph = run_topology(cfg).graph()
        self.serving = ServingSetup(cfg.serving, self.graph)
        self.compute, self.model = self.serving.compute, self.serving.model
        self.layout, self.decode = self.serving.layout, self.serving.decode

    def simulate(self, requests: list[Request], deadlines: Optional[dict[int, float]] = None,
                 progress: Optional[Callable[[float, ServingEngine], None]] = None) -> tuple[Network, ServingEngine]:
        """Simulate ``requests``; ``progress(sim_s, engine)`` about once per wall second."""
        net = Network(self.graph, self.cfg.fabric, seed=self.cfg.seed)
        policy = make_policy(self.cfg.policy, self.cfg.policies.get(self.cfg.policy), net)
        engine = self.serving.engine(net, policy, deadlines, requests)
        for r in requests:
            engine.submit(r)
        net.run(self.cfg.serving.max_sim_s,
                progress=(lambda t: progress(t, engine)) if progress is not None else None)
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
    """Refuse a run larger than ``max_packet_hops`` (with the estimate and its time in the message).

    The flow model moves no packets: its cost grows with flows, not bytes, and it is not bounded here."""
    if setup.cfg.fabric.model == "flow":
        return
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


def replay_ttft(setup: RunSetup, requests: list[Request]) -> np.ndarray:
    """Each request's TTFT in the same workload replayed at a low rate: the same requests in the same
    order (so the same instances and cache state), each arriving after the previous one is done."""
    longest = max(requests, key=lambda r: r.input_tokens).input_tokens
    gap = 2.0 * float(unloaded_ttft(setup, np.array([longest]))[0])
    spaced = [dataclasses.replace(r, arrival_s=i * gap) for i, r in enumerate(requests)]
    net, eng = setup.simulate(spaced)
    try:
        return np.array([eng.states[r.id].first_token_s - r.arrival_s for r in spaced])
    finally:
        net.close()


def ttft_slo(setup: RunSetup, requests: list[Request]) -> np.ndarray | float:
    """The TTFT SLO: ``serving.ttft_slo_s``, else ``ttft_slo_factor`` x the unloaded TTFT
    (``ttft_slo_baseline``: by prompt length, or replayed with the cache state), per request or global."""
    s = setup.cfg.serving
    if s.ttft_slo_s is not None:
        return s.ttft_slo_s
    if s.ttft_slo_baseline == "replay":
        base = replay_ttft(setup, requests)
    else:
        lengths = np.array([r.input_tokens for r in requests])
        grid = np.unique(np.quantile(lengths, [0.0, 0.25, 0.5, 0.75, 1.0]).round().astype(int))
        base = np.interp(lengths, grid, unloaded_ttft(setup, grid))
    return s.ttft_slo_factor * (float(np.mean(base)) if s.ttft_slo_scope == "global" else base)


def result_tables(fab: FabricResult | Network, eng: ServingEngine, slo_of: np.ndarray | float) -> dict[str, pd.DataFrame]:
    """The run's tables from the fabric's result (a Network's is pulled once) and the engine's records."""
    if isinstance(fab, Network):
        fab = fab.result()
    return eng.tables(fab, slo_of)


def mark_warmup(tables: dict[str, pd.DataFrame], warmup: int) -> None:
    """``requests.warmup``: the first ``warmup`` requests (by arrival); ``collectives.measured``: the
    collectives that start between the first measured request's arrival and the last one's first token."""
    req, coll = tables["requests"], tables["collectives"]
    req["warmup"] = req["request_id"] < warmup
    measured = req[~req["warmup"]]
    if not len(coll):
        coll["measured"] = pd.Series(dtype=bool)
        return
    if warmup == 0 or not len(measured):
        coll["measured"] = warmup == 0
        return
    start = measured["arrival_s"].min()
    end = measured["first_token_s"].max() if measured["first_token_s"].notna().all() else np.inf
    coll["measured"] = (coll["start_s"] >= start) & (coll["start_s"] <= end)


def _summary(res: FabricResult, eng: ServingEngine, tables: dict[str, pd.DataFrame], wall_s: float) -> dict[str, Any]:
    """Run figures; request and collective metrics over the measured requests (warm-up left out)."""
    req, coll = tables["requests"], tables["collectives"]
    warmup = int(req["warmup"].sum())
    req, coll = req[~req["warmup"]], coll[coll["measured"]] if len(coll) else coll
    fab = res.summary()
    ttft = req["ttft_s"].dropna()
    a2a = coll[coll["kind"].isin(["dispatch", "combine"])]["cct_s"].dropna() if len(coll) else pd.Series([], dtype=float)
    q = lambda s, p: float(s.quantile(p)) if len(s) else float("nan")  # noqa: E731
    return {
        "requests": int(len(req)),
        "warmup_requests": warmup,
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
        **stage_summary(tables["flows"], eng.policy),
    }


def workload_requests(cfg: RunConfig) -> list[Request]:
    """The run's requests; errors of the workload (and of its trace files) name their ``workload.`` key."""
    try:
        return generate(cfg.workload, cfg.workload.seed if cfg.workload.seed is not None else cfg.seed)
    except ConfigError as exc:
        msg = str(exc)
        fields = {f.name for f in dataclasses.fields(WorkloadConfig)}
        head = msg.split(":", 1)[0].split(".", 1)[0]
        if msg.startswith("workload"):
            raise
        if head in fields:
            raise ConfigError(f"workload.{msg}") from None
        raise ConfigError(f"workload.trace: {msg}" if cfg.workload.kind == "trace" else f"workload: {msg}") from None


def _ticker(progress: Callable[[RunProgress], None], requests: list[Request]) -> Callable[[float, ServingEngine], None]:
    """``progress`` fed from the engine: simulated time, arrival horizon, requests with their first token."""
    horizon = max(r.arrival_s for r in requests)

    def tick(sim_s: float, engine: ServingEngine) -> None:
        done = sum(1 for st in engine.states.values() if not np.isnan(st.first_token_s))
        progress(RunProgress(sim_s, horizon, done, len(requests)))
    return tick


def run(cfg: RunConfig, out: Optional[Path] = None,
        progress: Optional[Callable[[RunProgress], None]] = None, replace: bool = False) -> dict[str, Any]:
    """Simulate a run config; write the result directory if ``out`` is given.

    ``progress(RunProgress)`` (:class:`.progress.RunProgress`: simulated time,
    arrival horizon, requests with their first token out of the total) is
    called about once per wall second during the main simulation. ``out`` is checked before anything is simulated
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
    if cfg.workload.warmup_requests >= len(requests):
        raise ConfigError(f"workload.warmup_requests: {cfg.workload.warmup_requests} leaves no request to "
                          f"measure (the workload has {len(requests)})")
    slo = ttft_slo(setup, requests)
    slos = np.broadcast_to(np.asarray(slo, dtype=float), (len(requests),))
    deadlines = {r.id: r.arrival_s + float(s) for r, s in zip(requests, slos)}
    tick = _ticker(progress, requests) if progress is not None else None
    net, eng = setup.simulate(requests, deadlines, tick)
    try:
        if tick is not None:
            tick(net.now, eng)  # where the simulation ended
        fab = net.result()
        tables = result_tables(fab, eng, slo)
        mark_warmup(tables, cfg.workload.warmup_requests)
        tables["anomalies"] = fab.anomalies
        summary = safety.conclude(fab, _summary(fab, eng, tables, time.perf_counter() - t0))
        if out is not None:
            write_run(Path(out), config=resolved(cfg), summary=summary, tables=tables, seed=cfg.seed,
                      status=summary["status"])
        safety.raise_for_status(fab, summary, out)
        return summary
    finally:
        net.close()
