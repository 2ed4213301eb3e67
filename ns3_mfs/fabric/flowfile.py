"""Flow lists (CSV with columns ``src,dst,bytes,start_s,priority``) and their runs."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional

from ..config import ConfigError, to_dict
from ..experiment.store import write_run
from . import safety
from .network import FabricConfig, Network
from .topology import Topology

COLUMNS = ("src", "dst", "bytes", "start_s", "priority")


@dataclass(frozen=True)
class FlowSpec:
    src: int
    dst: int
    bytes: int
    start_s: float
    priority: int


def _int(text: str, where: str, lo: int, hi: Optional[int] = None) -> int:
    try:
        v = int(text.strip())
    except ValueError:
        raise ConfigError(f"{where}: expected an integer, got {text!r}") from None
    if v < lo or (hi is not None and v > hi):
        allowed = f"{lo}..{hi}" if hi is not None else f">= {lo}"
        raise ConfigError(f"{where}: {v} is out of range; allowed: {allowed}")
    return v


def load_flows(path: str | Path, num_hosts: int) -> list[FlowSpec]:
    """Read and validate a flow list; errors name the file, line and column."""
    p = Path(path)
    try:
        text = p.read_bytes().decode("utf-8")
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read file ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{p}: not a text (UTF-8) CSV file") from None
    if "\x00" in text:
        raise ConfigError(f"{p}: not a text CSV file (contains NUL bytes)")
    rows = list(csv.reader(text.splitlines()))
    if not rows:
        raise ConfigError(f"{p}: empty file; expected a header line {','.join(COLUMNS)}")
    header = [h.strip() for h in rows[0]]
    if sorted(header) != sorted(COLUMNS) or len(header) != len(COLUMNS):
        raise ConfigError(f"{p} line 1: columns {header}; expected exactly {', '.join(COLUMNS)}")
    col = {name: header.index(name) for name in COLUMNS}
    flows = []
    for lineno, row in enumerate(rows[1:], start=2):
        if not row or all(not c.strip() for c in row):
            continue
        where = f"{p} line {lineno}"
        if len(row) != len(COLUMNS):
            raise ConfigError(f"{where}: {len(row)} fields; expected {len(COLUMNS)} ({','.join(COLUMNS)})")
        src = _int(row[col["src"]], f"{where}, src", 0, num_hosts - 1)
        dst = _int(row[col["dst"]], f"{where}, dst", 0, num_hosts - 1)
        if src == dst:
            raise ConfigError(f"{where}, dst: equals src ({src}); a flow needs two different hosts")
        nbytes = _int(row[col["bytes"]], f"{where}, bytes", 1, 2**53)
        try:
            start = float(row[col["start_s"]])
        except ValueError:
            raise ConfigError(f"{where}, start_s: expected a number, got {row[col['start_s']]!r}") from None
        if not math.isfinite(start) or start < 0:
            raise ConfigError(f"{where}, start_s: expected a finite number >= 0, got {start!r}")
        prio = _int(row[col["priority"]], f"{where}, priority", 0, 7)
        flows.append(FlowSpec(src, dst, nbytes, start, prio))
    if not flows:
        raise ConfigError(f"{p}: no flows (only a header line)")
    return flows


def run_flows(
    topology: Topology,
    flows: list[FlowSpec],
    config: FabricConfig,
    out: Optional[Path] = None,
    seed: int = 1,
    until_s: Optional[float] = None,
    extra_config: Optional[Mapping[str, Any]] = None,
) -> dict[str, Any]:
    """Run a flow list on a topology; write the result directory if ``out`` is given."""
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
            )
        safety.raise_for_status(res, summary, out)
        return summary
    finally:
        net.close()
