"""The one validated reader of the project's text inputs: CSV tables, numeric matrices, traces.

Every CSV input (flow lists, Azure traces, compute and decode calibrations,
routing matrices) goes through :func:`read_text` and either
:func:`read_table` (a header line naming the columns, then one record a
line) or :func:`read_matrix` (numbers only). Problems are one
:class:`~ns3_mfs.config.ConfigError` line that names the config key (when
given), the file, the line and the column: ``serving.calibration_csv:
cal.csv line 4: tokens: must be > 0, got '-3'``.

Accepted: UTF-8 with or without a byte-order mark, blank lines, ``#``
comment lines (where the caller allows them), fields of any length. Refused:
a file that is not a regular file (a directory, ``/dev/zero``), that cannot
be read, that is binary (NUL bytes) or not UTF-8.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Sequence

import numpy as np

from .config import ConfigError

csv.field_size_limit(2**31 - 1)  # a long field is a value to validate, not a reader crash


def _num(x: float) -> str:
    """A bound as written: integers below a million in full, other numbers shortest (1e+06)."""
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e6 else f"{x:g}"


def _where(path: Path, key: Optional[str], line: Optional[int] = None) -> str:
    head = f"{key}: {path}" if key else str(path)
    return f"{head} line {line}" if line is not None else head


def read_text(path: str | Path, what: str = "CSV", key: Optional[str] = None) -> str:
    """A text input file's contents (BOM removed); unreadable, binary or empty files are ConfigError."""
    p = Path(path)
    if p.exists() and not p.is_file():
        raise ConfigError(f"{_where(p, key)}: not a regular file; expected a text {what} file")
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{_where(p, key)}: cannot read file ({exc.strerror or exc})") from None
    nul = raw.find(b"\x00")
    if nul >= 0:
        line = raw.count(b"\n", 0, nul) + 1
        raise ConfigError(f"{_where(p, key, line)}: not a text {what} file (contains NUL bytes)")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError(f"{_where(p, key, line)}: not a text (UTF-8) {what} file ({exc.reason})") from None
    return text


def records(text: str, comments: bool = True) -> Iterator[tuple[int, list[str]]]:
    """(line number, stripped fields) of every non-blank CSV record (and non-comment, if ``comments``)."""
    reader = csv.reader(text.splitlines())
    for row in reader:
        cells = [c.strip() for c in row]
        if not any(cells) or (comments and cells[0].startswith("#")):
            continue
        yield reader.line_num, cells


@dataclass(frozen=True)
class Column:
    """A column of a CSV table: its name, how a cell is read, and its range."""

    name: str
    kind: str | Callable[[str], Any] = "float"   #: "int", "float", or a parser raising ValueError(message)
    min: Optional[float] = None                   #: inclusive lower bound
    gt: Optional[float] = None                    #: exclusive lower bound
    max: Optional[float] = None                   #: inclusive upper bound
    required: bool = True

    def read(self, cell: str, where: str) -> Any:
        if callable(self.kind):
            try:
                return self.kind(cell)
            except ValueError as exc:
                raise ConfigError(f"{where}: {self.name}: {exc}") from None
        try:
            v: Any = int(cell) if self.kind == "int" else float(cell)
        except ValueError:
            article = "an integer" if self.kind == "int" else "a number"
            raise ConfigError(f"{where}: {self.name}: expected {article}, got {cell!r:.60}") from None
        if isinstance(v, float) and not math.isfinite(v):
            raise ConfigError(f"{where}: {self.name}: must be a finite number, got {cell!r:.60}")
        if self.min is not None and self.max is not None and not self.min <= v <= self.max:
            raise ConfigError(f"{where}: {self.name}: {cell:.60} is out of range; allowed: {_num(self.min)}..{_num(self.max)}")
        if self.gt is not None and not v > self.gt:
            raise ConfigError(f"{where}: {self.name}: must be > {_num(self.gt)}, got {cell!r:.60}")
        if self.min is not None and v < self.min:
            raise ConfigError(f"{where}: {self.name}: must be >= {_num(self.min)}, got {cell!r:.60}")
        if self.max is not None and v > self.max:
            raise ConfigError(f"{where}: {self.name}: must be <= {_num(self.max)}, got {cell!r:.60}")
        return v


def read_table(path: str | Path, columns: Sequence[Column], *, key: Optional[str] = None, exact: bool = False,
               comments: bool = True, min_rows: int = 1, limit: Optional[int] = None,
               text: Optional[str] = None) -> list[dict[str, Any]]:
    """The records of a CSV table with a header line, each a dict of the declared columns' values.

    Columns are found by header name (any order; other columns are ignored,
    unless ``exact``); an optional column that is absent is left out of the
    dicts. Every record must have as many fields as the header. ``limit``
    stops after that many records; fewer than ``min_rows`` is an error.
    ``text`` is the file's contents when the caller has read it already.
    """
    p = Path(path)
    names = ", ".join(c.name for c in columns)
    rows = records(read_text(p, "CSV", key) if text is None else text, comments)
    first = next(rows, None)
    if first is None:
        raise ConfigError(f"{_where(p, key, 1)}: empty file; expected a header line with columns {names}")
    head_no, header = first
    # The header is not echoed: a file that lacks the columns may not be a CSV of ours at all.
    if exact and (sorted(header) != sorted(c.name for c in columns) or len(header) != len(columns)):
        raise ConfigError(f"{_where(p, key, head_no)}: the header line must name exactly the columns {names}")
    missing = [c.name for c in columns if c.required and c.name not in header]
    if missing:
        raise ConfigError(f"{_where(p, key, head_no)}: missing column {missing[0]!r}; expected a header line "
                          f"with columns {names}")
    index = [(c, header.index(c.name)) for c in columns if c.name in header]
    out: list[dict[str, Any]] = []
    for lineno, cells in rows:
        where = _where(p, key, lineno)
        if len(cells) != len(header):
            raise ConfigError(f"{where}: {len(cells)} fields; expected {len(header)} ({','.join(header):.120})")
        out.append({c.name: c.read(cells[i], where) for c, i in index})
        if limit is not None and len(out) >= limit:
            break
    if len(out) < min_rows:
        need = "at least one data row" if min_rows == 1 else f"at least {min_rows} data rows"
        raise ConfigError(f"{_where(p, key, head_no)}: {need} after this header line, got {len(out)}")
    return out


def read_matrix(path: str | Path, key: Optional[str] = None) -> np.ndarray:
    """A rectangular table of numbers (no header; ``#`` comments allowed)."""
    p = Path(path)
    rows = []
    for lineno, cells in records(read_text(p, "CSV", key)):
        try:
            rows.append([float(c) for c in cells])
        except ValueError:
            raise ConfigError(f"{_where(p, key, lineno)}: expected comma-separated numbers, "
                              f"got {','.join(cells)!r:.80}") from None
    if not rows or len({len(r) for r in rows}) != 1:
        raise ConfigError(f"{_where(p, key)}: expected a rectangular table of numbers")
    return np.asarray(rows, dtype=float)
