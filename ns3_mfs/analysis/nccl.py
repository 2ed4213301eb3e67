"""nccl-tests output: read its result table and compare it with ``ns3-mfs collective``.

nccl-tests (``all_reduce_perf``, ``all_gather_perf``, ``reduce_scatter_perf``,
``alltoall_perf``; ``all_to_all_perf`` accepted as a name too) print a
commented header and one line per message size. The header line that names
the columns (``# size count type redop root time algbw busbw #wrong time
algbw busbw #wrong``; older versions lack ``redop``/``root``) is found by
content; the first ``time``/``algbw``/``busbw`` group is the out-of-place
result. Units: size in bytes, time in microseconds, bandwidths in GB/s
(10^9 bytes/s).

nccl-tests' definitions (its PERFORMANCE.md), which ``ns3-mfs collective``
follows (:mod:`ns3_mfs.experiment.collective`): ``algbw = size / time``; ``busbw = algbw x factor`` with factor
``2(n-1)/n`` for all-reduce and ``(n-1)/n`` for all-gather, reduce-scatter
and all-to-all, ``n`` the number of ranks. ``size`` is one rank's buffer:
the whole gathered output (all-gather), the whole input (reduce-scatter,
all-reduce) or everything a rank sends and keeps (all-to-all).

The comparison pairs measured and simulated rows by size and reports, per
size and overall, the relative error of time and bus bandwidth.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Optional

import numpy as np
import pandas as pd

from ..config import ConfigError
from ..csvfile import read_text

#: Collectives by nccl-tests binary name (and the names ``ns3-mfs collective`` takes).
COLLECTIVES = {"all_reduce": "all_reduce", "all_gather": "all_gather", "reduce_scatter": "reduce_scatter",
               "alltoall": "all_to_all", "all_to_all": "all_to_all"}
COLUMNS = ["size_bytes", "count", "time_us", "algbw_gbps", "busbw_gbps"]


def _header(line: str) -> Optional[list[str]]:
    words = line.lstrip("#").split()
    return words if {"size", "count", "time", "algbw", "busbw"} <= set(words) else None


def looks_like_nccl(text: str) -> bool:
    """Whether a text has an nccl-tests column header line."""
    return any(line.startswith("#") and _header(line) for line in text.splitlines()[:200])


def collective_of(text: str, path: Path) -> Optional[str]:
    """The collective a result is of: from a ``*_perf`` name in the text or the file name."""
    for source in (text[:5000], path.name):
        m = re.search(r"(all_reduce|all_gather|reduce_scatter|alltoall|all_to_all)(_perf)?", source)
        if m:
            return COLLECTIVES[m.group(1)]
    return None


def read_nccl(path: str | Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The out-of-place rows (``size_bytes, count, time_us, algbw_gbps, busbw_gbps``) and what the header says."""
    p = Path(path)
    text = read_text(p, "nccl-tests")
    header: Optional[list[str]] = None
    rows = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if line.startswith("#"):
            header = _header(line) or header
            continue
        cells = line.split()
        if not cells or header is None or not re.fullmatch(r"\d+", cells[0]):
            continue
        if len(cells) < header.index("busbw") + 1:
            raise ConfigError(f"{p.name} line {lineno}: {len(cells)} fields; the header names {len(header)}")
        try:
            vals = [float(cells[header.index(c)]) for c in ("size", "count", "time", "algbw", "busbw")]
        except ValueError:
            raise ConfigError(f"{p.name} line {lineno}: expected numbers in size, count, time, algbw, busbw") \
                from None
        if vals[0] <= 0 or vals[2] <= 0 or not all(math.isfinite(v) for v in vals):
            raise ConfigError(f"{p.name} line {lineno}: size and time must be positive numbers")
        rows.append(vals)
    if header is None:
        raise ConfigError(f"{p.name}: not an nccl-tests result (no '# size count ... time algbw busbw' header line)")
    if not rows:
        raise ConfigError(f"{p.name}: nccl-tests header but no result rows")
    df = pd.DataFrame(rows, columns=COLUMNS)
    df[["size_bytes", "count"]] = df[["size_bytes", "count"]].astype(np.int64)
    info: dict[str, Any] = {"collective": collective_of(text, p)}
    m = re.search(r"nGpus\s+(\d+)", text)
    n = re.search(r"nThread\s+(\d+)", text)
    ranks = len(re.findall(r"^#\s+Rank\s+\d+", text, flags=re.M))
    info["ranks"] = ranks or (int(m.group(1)) * int(n.group(1)) if m and n else None)
    return df, info


def compare_nccl(measured: str | Path, simdir: str | Path, out: Optional[str | Path] = None) -> dict[str, Any]:
    """Compare an nccl-tests table with an ``ns3-mfs collective`` result directory, size by size."""
    meas, info = read_nccl(measured)
    simdir = Path(simdir)
    f = simdir / "collective.csv"
    if not f.exists():
        raise ConfigError(f"{simdir}: no collective.csv; give the --out directory of ns3-mfs collective")
    sim = pd.read_csv(f)
    kind = str(sim["collective"].iloc[0])
    if info["collective"] is not None and info["collective"] != kind:
        raise ConfigError(f"{Path(measured).name}: an {info['collective']} result, but {simdir} simulated {kind}")
    both = meas.merge(sim, on="size_bytes", suffixes=("_measured", "_sim"))
    if not len(both):
        raise ConfigError(f"{Path(measured).name}: no size is in both tables; simulated sizes: "
                          f"{', '.join(str(s) for s in sim['size_bytes'][:8])}")
    both["time_rel_error"] = (both["time_us_sim"] - both["time_us_measured"]) / both["time_us_measured"]
    both["busbw_rel_error"] = (both["busbw_gbps_sim"] - both["busbw_gbps_measured"]) / both["busbw_gbps_measured"]
    table = both[["size_bytes", "time_us_measured", "time_us_sim", "time_rel_error", "busbw_gbps_measured",
                  "busbw_gbps_sim", "busbw_rel_error"]]
    abs_err = table["time_rel_error"].abs()
    report = {"collective": kind, "sizes": int(len(table)), "time_abs_rel_error_median": float(abs_err.median()),
              "time_abs_rel_error_max": float(abs_err.max()), "rows": table.to_dict(orient="records")}
    if out is not None:
        from ..store import json_bytes, write_atomic

        o = Path(out)
        o.mkdir(parents=True, exist_ok=True)
        write_atomic(o / "nccl_report.json", json_bytes({"measured": str(Path(measured).resolve()),
                                                         "simulated": str(simdir.resolve()), **report}))
        write_atomic(o / "nccl_report.csv", table.to_csv(index=False).encode())
    return report


def format_nccl(report: dict[str, Any]) -> str:
    lines = [f"{report['collective']}: {report['sizes']} sizes; |time error| median "
             f"{report['time_abs_rel_error_median']:.1%}, max {report['time_abs_rel_error_max']:.1%}",
             f"{'size (B)':>12}{'meas (us)':>12}{'sim (us)':>12}{'err':>9}{'busbw meas':>12}{'sim':>9}"]
    for r in report["rows"]:
        lines.append(f"{r['size_bytes']:>12}{r['time_us_measured']:>12.2f}{r['time_us_sim']:>12.2f}"
                     f"{r['time_rel_error']:>+9.1%}{r['busbw_gbps_measured']:>12.2f}{r['busbw_gbps_sim']:>9.2f}")
    return "\n".join(lines)
