"""Flow lists (CSV with columns ``src,dst,bytes,start_s,priority``) and their runs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional

from ..config import ConfigError, to_dict
from ..csvfile import Column, read_table
from ..store import check_out, write_run
from . import safety
from .network import MAX_SIM_S, FabricConfig, Network, check_sim_time
from .topology import Topology


@dataclass(frozen=True)
class FlowSpec:
    src: int
    dst: int
    bytes: int
    start_s: float
    priority: int


def load_flows(path: str | Path, num_hosts: int) -> list[FlowSpec]:
    """Read and validate a flow list; errors name the file, line and column."""
    host = dict(kind="int", min=0, max=num_hosts - 1)
    columns = (Column("src", **host), Column("dst", **host), Column("bytes", "int", min=1, max=2**53),
               Column("start_s", min=0.0, max=MAX_SIM_S), Column("priority", "int", min=0, max=7))
    flows = []
    for i, row in enumerate(read_table(path, columns, exact=True, comments=False)):
        if row["src"] == row["dst"]:
            raise ConfigError(f"{path}: flow {i + 1}: dst equals src ({row['src']}); a flow needs two different hosts")
        flows.append(FlowSpec(**row))
    return flows


def run_flows(
    topology: Topology,
    flows: list[FlowSpec],
    config: FabricConfig,
    out: Optional[Path] = None,
    seed: int = 1,
    until_s: Optional[float] = None,
    extra_config: Optional[Mapping[str, Any]] = None,
    replace: bool = False,
) -> dict[str, Any]:
    """Run a flow list on a topology; write the result directory if ``out`` is given (checked first)."""
    if until_s is not None:
        check_sim_time("until", until_s)
    if out is not None:
        check_out(Path(out), "fabric", replace)
    net = Network(topology, config, seed=seed)
    try:
        for fl in flows:
            net.start_flow(fl.src, fl.dst, fl.bytes, fl.priority, at=fl.start_s)
        net.run(until_s)
        res = net.result()
        summary = safety.conclude(res, res.summary())
        if out is not None:
            resolved = {
                "topology": to_dict(topology),
                "fabric": to_dict(config),
                "run": {"seed": seed, "until_s": until_s, **(extra_config or {})},
            }
            write_run(
                Path(out),
                config=resolved,
                summary=summary,
                tables=res.tables(),
                seed=seed,
                status=summary["status"],
                kind="fabric",
            )
        safety.raise_for_status(res, summary, out)
        return summary
    finally:
        net.close()
