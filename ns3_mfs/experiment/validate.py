"""``ns3-mfs validate``: run one config on both fabric models (and each policy it names).

Each (policy, model) pair is an ordinary run written to
``OUT/<policy>/<model>/`` (the result files of ``ns3-mfs run``); the
comparison itself (paired errors, KS distances, CDF overlays) is
:mod:`ns3_mfs.analysis.validation`, called by the command line, since
experiments never import the analysis layer.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from ..config import ConfigError
from ..fabric.network import Network
from ..policies import REGISTRY as POLICIES
from .run import RunConfig, run, run_topology

MODELS = ("packet", "flow")


def validation_configs(cfg: RunConfig, policies: Optional[Sequence[str]] = None) -> list[tuple[str, str, RunConfig]]:
    """(policy, model, config) of every run a validation makes: each policy on each model."""
    names = list(policies) if policies else [cfg.policy]
    for p in names:
        if p not in POLICIES:
            raise ConfigError(f"--policies: {p!r} is not a policy; allowed: {', '.join(POLICIES)}")
    out = []
    for p in names:
        for m in MODELS:
            out.append((p, m, dataclasses.replace(cfg, policy=p, fabric=dataclasses.replace(cfg.fabric, model=m))))
    return out


def run_validation(cfg: RunConfig, out: Path, policies: Optional[Sequence[str]] = None,
                   log: Optional[Callable[[str], None]] = None) -> list[dict[str, Any]]:
    """Run every (policy, model) pair into ``out/<policy>/<model>``; returns one record per run
    (policy, model, directory, wall seconds, status)."""
    out = Path(out)
    records = []
    for policy, model, c in validation_configs(cfg, policies):
        d = out / policy / model
        t0 = time.perf_counter()
        summary = run(c, out=d, replace=True)
        wall = time.perf_counter() - t0
        records.append({"policy": policy, "model": model, "dir": str(d), "wall_s": wall,
                        "status": summary.get("status")})
        if log is not None:
            log(f"validate: {policy} on the {model} model: {wall:.1f} s wall, {summary.get('status')}")
    return records


def flow_links(cfg: RunConfig, src: Sequence[int], dst: Sequence[int],
               flow_id: Sequence[int]) -> list[tuple[str, ...]]:
    """The directed links (``"a>b"``, the topology's node names) each flow of a run of ``cfg`` crossed: the
    routes and ECMP hash of both models, recomputed from its hosts and flow id on the run's topology (switch
    links and, with a host path, PCIe, NVLink and UPI links included); nothing per flow is stored in a run."""
    graph = run_topology(cfg).graph()
    net = Network(graph, dataclasses.replace(cfg.fabric, model="flow"), seed=cfg.seed)
    try:
        names = [graph.node_name(i) for i in range(graph.num_nodes)]
        out = []
        for s, d, f in zip(src, dst, flow_id):
            path = net.path_of(s, d, f)
            out.append(tuple(f"{names[a]}>{names[b]}" for a, b in zip(path, path[1:])))
        return out
    finally:
        net.close()
