"""LLM inference requests: real traces, synthetic arrivals and workload configs.

A workload is a list of :class:`Request` sorted by arrival time. It comes
either from a real trace file (:func:`load_trace`: Mooncake JSONL or Azure LLM
inference CSV) or from a synthetic arrival process (:func:`poisson_arrivals`,
:func:`gamma_arrivals`) combined with token-length distributions
(:class:`LengthDist`). :class:`WorkloadConfig` describes either kind in TOML
and :func:`generate` turns it into requests; the same seed always gives the
same list.

Conventions used throughout:

* ``arrival_s`` is in seconds; loaded traces are re-based so that the earliest
  request arrives at 0 s, and the list is stably sorted by arrival time
  (unsorted files are accepted). Request ids are 0..n-1 in that order.
* The *rate* of a list of requests is ``len(requests) / span_s`` with
  ``span_s = last arrival - first arrival``; :func:`trace_stats` reports it
  and :func:`scale_to_rate` makes it exactly equal to a target.
* Malformed input raises :class:`~ns3_mfs.config.ConfigError` whose message
  reads ``"<file> line <n>: <problem>"`` (or ``"<file>: <problem>"`` when no
  single line is to blame, e.g. an unreadable path).

Nothing here touches ns-3; only numpy is needed.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Iterator, Literal, Optional, Sequence, Union

import numpy as np

from ..csvfile import Column, read_table, read_text
from .sessions import PRESETS, SessionConfig, generate_sessions
from ..config import ConfigError, spec

BLOCK_TOKENS = 512
"""Tokens per Mooncake prefix block (one ``hash_ids`` entry)."""

AZURE_COLUMNS = ("TIMESTAMP", "ContextTokens", "GeneratedTokens")
MOONCAKE_FIELDS = ("timestamp", "input_length", "output_length", "hash_ids")
BAILIAN_FIELDS = ("chat_id", "parent_chat_id", "timestamp", "input_length", "output_length", "type", "turn",
                  "hash_ids")
#: Tokens per ``hash_ids`` block: Mooncake traces 512, Qwen-Bailian traces 16.
MOONCAKE_BLOCK_TOKENS = 512
BAILIAN_BLOCK_TOKENS = 16

RngLike = Union[np.random.Generator, int]

#: Most tokens in one prompt or output: 10 M, beyond any served context window (a typo otherwise
#: makes a run simulate for days). Every length from a distribution or a trace is checked against it.
MAX_TOKENS = 10_000_000
#: Largest lognormal sigma: beyond it the sampled mean of any practical sample falls far below ``mean``
#: (at sigma = 3, median = mean x e^-4.5 and half the mass sits above the 0.9999 quantile).
MAX_LOGNORMAL_SIGMA = 3.0


# --------------------------------------------------------------------------- #
# Request
# --------------------------------------------------------------------------- #


@dataclass(frozen=True, slots=True)
class Request:
    """One inference request.

    ``block_hashes`` are the ids of the request's prompt prefix blocks of
    ``block_tokens`` tokens each (Mooncake ``hash_ids``: 512-token blocks;
    Qwen-Bailian: 16-token blocks; equal ids are the same reusable KV block),
    empty when the source does not record them (``block_tokens`` None: the
    run's ``serving.kv_block_tokens``). ``session`` groups requests that share
    a conversation/prefix: the first block id for Mooncake traces, the root
    chat id for Qwen-Bailian traces and generated sessions, otherwise None.
    """

    id: int
    arrival_s: float
    input_tokens: int
    output_tokens: int
    block_hashes: tuple[int, ...] = ()
    session: Optional[int] = None
    block_tokens: Optional[int] = None


# --------------------------------------------------------------------------- #
# Trace loading
# --------------------------------------------------------------------------- #


def _read_text(p: Path, what: str) -> str:
    """File contents as text; I/O, binary and empty files become ConfigError."""
    text = read_text(p, what)
    if not text.strip():
        raise ConfigError(f"{p} line 1: empty file; expected {what} request records")
    return text


def _check_limit(limit: Optional[int]) -> None:
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ConfigError(f"limit: expected a positive integer or None, got {limit!r}")


def _finish(rows: list[tuple[float, int, int, tuple[int, ...], Optional[int]]],
            block_tokens: Optional[int] = None) -> list[Request]:
    """Stable-sort rows by arrival, re-base at 0 and number them 0..n-1."""
    rows.sort(key=lambda r: r[0])  # list.sort is stable
    t0 = rows[0][0]
    return [Request(i, r[0] - t0, r[1], r[2], r[3], r[4], block_tokens) for i, r in enumerate(rows)]


def _json_int(obj: dict, key: str, where: str, low: int) -> int:
    """A token count of a JSON record: an integer in low..MAX_TOKENS."""
    v = obj.get(key)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or (isinstance(v, float) and not v.is_integer()):
        raise ConfigError(f"{where}: {key}: expected a positive integer, got {v!r:.60}")
    v = int(v)
    if v < 0:
        raise ConfigError(f"{where}: {key}: negative length {v}; expected an integer in {low}..{MAX_TOKENS}")
    if not low <= v <= MAX_TOKENS:
        raise ConfigError(f"{where}: {key}: {v} is out of range; allowed: {low}..{MAX_TOKENS} tokens")
    return v


def _json_records(p: Path, text: str, fields: Sequence[str]) -> Iterator[tuple[str, dict]]:
    """(where, object) of every non-blank line of a JSON-lines trace; errors name the file and line."""
    for lineno, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        where = f"{p} line {lineno}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{where}: invalid JSON ({exc.msg} at column {exc.colno})") from None
        except RecursionError:
            raise ConfigError(f"{where}: JSON nested too deeply; expected one flat object a line") from None
        if not isinstance(obj, dict):
            raise ConfigError(f"{where}: expected a JSON object with keys {', '.join(fields)}")
        for key in ("timestamp", "input_length", "output_length"):
            if key not in obj:
                raise ConfigError(f"{where}: missing field {key!r}; expected {', '.join(fields)}")
        yield where, obj


def _json_time(obj: dict, where: str, unit: str) -> float:
    ts = obj["timestamp"]
    if isinstance(ts, bool) or not isinstance(ts, (int, float)) or not math.isfinite(ts):
        raise ConfigError(f"{where}: timestamp: expected a finite number ({unit}), got {ts!r:.60}")
    return float(ts)


def _hash_ids(obj: dict, where: str) -> tuple[int, ...]:
    hashes = obj.get("hash_ids")
    if hashes is None:
        return ()
    if not isinstance(hashes, list) or not all(type(h) is int for h in hashes):  # noqa: E721 - bool is no id
        raise ConfigError(f"{where}: hash_ids: expected a list of integers, got {hashes!r:.80}")
    return tuple(hashes)


def _parse_mooncake(p: Path, text: str, limit: Optional[int]) -> list[Request]:
    rows: list[tuple[float, int, int, tuple[int, ...], Optional[int]]] = []
    for where, obj in _json_records(p, text, MOONCAKE_FIELDS):
        ts = _json_time(obj, where, "ms")
        n_in = _json_int(obj, "input_length", where, 1)  # a prompt of no token has nothing to prefill
        n_out = _json_int(obj, "output_length", where, 0)
        hashes = _hash_ids(obj, where)
        rows.append((ts / 1000.0, n_in, n_out, hashes, hashes[0] if hashes else None))
        if limit is not None and len(rows) >= limit:
            break
    if not rows:
        raise ConfigError(f"{p} line 1: no requests in file")
    return _finish(rows, MOONCAKE_BLOCK_TOKENS)


def _chat_id(obj: dict, key: str, where: str) -> int:
    v = obj.get(key)
    if isinstance(v, bool) or not isinstance(v, int):
        raise ConfigError(f"{where}: {key}: expected an integer chat id, got {v!r:.60}")
    return v


def _parse_bailian(p: Path, text: str, limit: Optional[int]) -> list[Request]:
    """Qwen-Bailian records: session = the root chat of each request's ``parent_chat_id`` chain."""
    rows: list[tuple[float, int, int, tuple[int, ...], Optional[int]]] = []
    root: dict[int, int] = {}
    for where, obj in _json_records(p, text, BAILIAN_FIELDS):
        ts = _json_time(obj, where, "s")
        n_in = _json_int(obj, "input_length", where, 1)
        n_out = _json_int(obj, "output_length", where, 0)
        chat, parent = _chat_id(obj, "chat_id", where), _chat_id(obj, "parent_chat_id", where)
        root[chat] = chat if parent < 0 else root.get(parent, parent)
        rows.append((ts, n_in, n_out, _hash_ids(obj, where), root[chat]))
        if limit is not None and len(rows) >= limit:
            break
    if not rows:
        raise ConfigError(f"{p} line 1: no requests in file")
    return _finish(rows, BAILIAN_BLOCK_TOKENS)


def load_bailian(path: str | os.PathLike, limit: Optional[int] = None) -> list[Request]:
    """Load a Qwen-Bailian JSONL trace (alibaba-edu/qwen-bailian-usagetraces-anon).

    Fields: ``chat_id``, ``parent_chat_id`` (-1 for a session's first
    request), ``timestamp`` (seconds), ``input_length``, ``output_length``,
    ``type``, ``turn`` and ``hash_ids`` (16-token blocks). ``session`` is the
    root chat id of the request's parent chain (its own id when the parent is
    outside the file). ``limit`` keeps the first ``limit`` records.
    """
    _check_limit(limit)
    p = Path(path)
    return _parse_bailian(p, _read_text(p, "JSONL"), limit)


_TS = re.compile(
    r"\s*(\d{4})-(\d{1,2})-(\d{1,2})[ T](\d{1,2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?\s*Z?\s*$"
)


def _azure_time_ns(text: str, days: dict[str, int]) -> int:
    """A ``YYYY-MM-DD HH:MM:SS[.fffffff]`` timestamp (or plain seconds) in ns (ValueError if not)."""
    m = _TS.match(text)
    if m is None:
        try:
            sec = float(text)
        except ValueError:
            sec = math.nan
        if not math.isfinite(sec):
            raise ValueError(f"expected 'YYYY-MM-DD HH:MM:SS[.fraction]' or seconds, got {text!r:.60}")
        return round(sec * 1e9)
    y, mo, d, hh, mm, ss, frac = m.groups()
    key = f"{y}-{mo}-{d}"
    day = days.get(key)
    if day is None:
        try:
            day = days[key] = date(int(y), int(mo), int(d)).toordinal()
        except ValueError as exc:
            raise ValueError(f"invalid date {key!r} ({exc})") from None
    h, mi, s = int(hh), int(mm), int(ss)
    if h > 23 or mi > 59 or s > 60:
        raise ValueError(f"invalid time of day in {text!r:.60}")
    ns = ((day * 24 + h) * 60 + mi) * 60 + s
    ns *= 1_000_000_000
    if frac:
        ns += int(frac) * 10 ** (9 - len(frac))
    return ns


def _parse_azure(p: Path, text: str, limit: Optional[int]) -> list[Request]:
    days: dict[str, int] = {}
    columns = (Column(AZURE_COLUMNS[0], lambda t: _azure_time_ns(t, days)),
               Column(AZURE_COLUMNS[1], "int", min=1, max=MAX_TOKENS),
               Column(AZURE_COLUMNS[2], "int", min=0, max=MAX_TOKENS))
    table = read_table(p, columns, comments=False, limit=limit, text=text)
    t0 = min(r[AZURE_COLUMNS[0]] for r in table)
    return _finish([((r[AZURE_COLUMNS[0]] - t0) / 1e9, r[AZURE_COLUMNS[1]], r[AZURE_COLUMNS[2]], (), None)
                    for r in table])


def load_mooncake(path: str | os.PathLike, limit: Optional[int] = None) -> list[Request]:
    """Load a Mooncake JSONL trace (``timestamp`` in ms, ``input_length``,
    ``output_length``, ``hash_ids``).

    ``hash_ids`` may be absent or null (then ``block_hashes`` is empty and ``session``
    None). Blank lines are skipped. ``limit`` keeps the first ``limit``
    records of the file (file order) before sorting. Errors name the file and
    line.
    """
    _check_limit(limit)
    p = Path(path)
    return _parse_mooncake(p, _read_text(p, "JSONL"), limit)


def load_azure(path: str | os.PathLike, limit: Optional[int] = None) -> list[Request]:
    """Load an Azure LLM inference CSV trace (``TIMESTAMP,ContextTokens,GeneratedTokens``).

    Timestamps are ``YYYY-MM-DD HH:MM:SS`` with an optional fraction of up to
    9 digits (Azure writes 7), a space or ``T`` separator and an optional
    ``Z``; plain numbers are read as seconds. They are parsed exactly (integer
    nanoseconds) and re-based to the earliest row. Columns are found by
    header name, so extra columns and any order are fine. ``limit`` keeps the
    first ``limit`` data rows of the file. Errors name the file and line.
    """
    _check_limit(limit)
    p = Path(path)
    return _parse_azure(p, _read_text(p, "CSV"), limit)


def load_trace(path: str | os.PathLike, limit: Optional[int] = None) -> list[Request]:
    """Load a Mooncake or Qwen-Bailian JSONL or an Azure CSV trace, chosen by content.

    A file whose first non-blank character is ``{`` or whose name ends in
    ``.jsonl``/``.json`` is JSON lines: Qwen-Bailian when its first record
    has a ``chat_id``, else Mooncake; anything else is read as Azure CSV (its
    header line must name the columns).
    """
    _check_limit(limit)
    p = Path(path)
    text = _read_text(p, "trace")
    if text.lstrip()[:1] == "{" or p.suffix.lower() in (".jsonl", ".json"):
        first = text.lstrip().split("\n", 1)[0]
        return (_parse_bailian if '"chat_id"' in first else _parse_mooncake)(p, text, limit)
    return _parse_azure(p, text, limit)


# --------------------------------------------------------------------------- #
# Time transformations
# --------------------------------------------------------------------------- #


def _span(requests: Sequence[Request]) -> float:
    return requests[-1].arrival_s - requests[0].arrival_s if requests else 0.0


def scale_time(requests: Sequence[Request], factor: float) -> list[Request]:
    """Multiply every arrival time by ``factor`` (2.0 = half the rate).

    Times are scaled about 0 s, so a list re-based at 0 (as loaded or
    windowed) keeps its origin; lengths, ids and blocks are kept.
    """
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not (
        math.isfinite(factor) and factor > 0
    ):
        raise ConfigError(f"time_scale: must be a finite number > 0, got {factor!r}")
    return [dataclasses.replace(r, arrival_s=r.arrival_s * factor) for r in requests]


def scale_to_rate(requests: Sequence[Request], rate_per_s: float) -> list[Request]:
    """Rescale inter-arrival times uniformly so that the mean rate
    (``len / span``, as in :func:`trace_stats`) equals ``rate_per_s``.

    The shape of the arrival pattern (burstiness, relative gaps) is kept;
    times are scaled about 0 s as in :func:`scale_time`. Needs two requests
    at distinct times.
    """
    if isinstance(rate_per_s, bool) or not isinstance(rate_per_s, (int, float)) or not (
        math.isfinite(rate_per_s) and rate_per_s > 0
    ):
        raise ConfigError(f"rate_per_s: must be a finite number > 0, got {rate_per_s!r}")
    span = _span(requests)
    if len(requests) < 2 or span <= 0:
        raise ConfigError(
            f"rate_per_s: cannot rescale {len(requests)} request(s) spanning {span} s; "
            "need at least two requests at different times"
        )
    return scale_time(requests, len(requests) / span / rate_per_s)


def window(
    requests: Sequence[Request],
    start_s: float = 0.0,
    duration_s: Optional[float] = None,
    *,
    count: Optional[int] = None,
) -> list[Request]:
    """Requests arriving in ``[start_s, start_s + duration_s)``, and/or the
    first ``count`` arriving at or after ``start_s``, with arrival times
    re-based so that ``start_s`` becomes 0 s.

    At least one of ``duration_s`` and ``count`` is required; with both, the
    tighter limit wins. Ids, lengths and blocks are kept. ``requests`` must
    be sorted by arrival (as loaders and generators return them).
    """
    if duration_s is None and count is None:
        raise ConfigError("window: give duration_s or count (or both)")
    if not (isinstance(start_s, (int, float)) and math.isfinite(start_s) and start_s >= 0):
        raise ConfigError(f"start_s: must be a finite number >= 0, got {start_s!r}")
    if duration_s is not None and not (
        isinstance(duration_s, (int, float)) and math.isfinite(duration_s) and duration_s > 0
    ):
        raise ConfigError(f"duration_s: must be a finite number > 0, got {duration_s!r}")
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
        raise ConfigError(f"count: must be an integer >= 1, got {count!r}")
    end = math.inf if duration_s is None else start_s + duration_s
    out: list[Request] = []
    for r in requests:
        if r.arrival_s < start_s:
            continue
        if r.arrival_s >= end or (count is not None and len(out) >= count):
            break
        out.append(dataclasses.replace(r, arrival_s=r.arrival_s - start_s))
    return out


# --------------------------------------------------------------------------- #
# Synthetic arrivals
# --------------------------------------------------------------------------- #


def _rng(rng: RngLike) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool) and rng >= 0:
        return np.random.default_rng(int(rng))
    raise ConfigError(f"rng: expected a numpy.random.Generator or a seed >= 0, got {rng!r}")


def _positive(name: str, v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)) or not (
        math.isfinite(v) and v > 0
    ):
        raise ConfigError(f"{name}: must be a finite number > 0, got {v!r}")
    return float(v)


def _renewal(gap, rate: float, n: Optional[int], duration_s: Optional[float]) -> np.ndarray:
    """Arrival times from i.i.d. gaps (``gap(k)`` draws k) until n / duration."""
    if n is None and duration_s is None:
        raise ConfigError("arrivals: give n or duration_s (or both)")
    if n is not None and (isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0):
        raise ConfigError(f"n: must be an integer >= 0, got {n!r}")
    if duration_s is None:
        return np.cumsum(gap(int(n)))
    duration_s = _positive("duration_s", duration_s)
    expect = rate * duration_s
    chunk = int(expect + 6 * math.sqrt(expect) + 16)
    if n is not None:
        chunk = min(chunk, int(n))
    times = np.cumsum(gap(chunk))
    while (n is None or times.size < n) and (times.size == 0 or times[-1] < duration_s):
        more = max(chunk // 4, 16) if n is None else min(max(chunk // 4, 16), int(n) - times.size)
        times = np.concatenate([times, (times[-1] if times.size else 0.0) + np.cumsum(gap(more))])
    times = times[times < duration_s]
    return times if n is None else times[: int(n)]


def poisson_arrivals(
    rate_per_s: float,
    n: Optional[int] = None,
    *,
    duration_s: Optional[float] = None,
    rng: RngLike,
) -> np.ndarray:
    """Arrival times (s, ascending) of a Poisson process of ``rate_per_s``
    starting at 0 (the first arrival is one exponential gap after 0).

    Give ``n`` (that many arrivals) and/or ``duration_s`` (arrivals before
    that time; with both, whichever ends first). ``rng`` is a
    ``numpy.random.Generator`` or an integer seed.
    """
    rate = _positive("rate_per_s", rate_per_s)
    g = _rng(rng)
    return _renewal(lambda k: g.exponential(1.0 / rate, k), rate, n, duration_s)


def gamma_arrivals(
    rate_per_s: float,
    cv: float,
    n: Optional[int] = None,
    *,
    duration_s: Optional[float] = None,
    rng: RngLike,
) -> np.ndarray:
    """Arrival times (s, ascending) of a bursty renewal process: gamma
    inter-arrival gaps with shape ``1/cv**2`` and mean ``1/rate_per_s``.

    ``cv`` is the coefficient of variation of the gaps (1 = Poisson, > 1
    burstier, < 1 more regular). ``n``/``duration_s``/``rng`` as in
    :func:`poisson_arrivals`.
    """
    rate = _positive("rate_per_s", rate_per_s)
    cv = _positive("cv", cv)
    shape = 1.0 / (cv * cv)
    scale = 1.0 / (rate * shape)
    g = _rng(rng)
    return _renewal(lambda k: g.gamma(shape, scale, k), rate, n, duration_s)


# --------------------------------------------------------------------------- #
# Length distributions
# --------------------------------------------------------------------------- #

_LENGTH_PARAMS = {
    "fixed": ("value",),
    "uniform": ("low", "high"),
    "lognormal": ("mean", "sigma"),
    "empirical": ("trace",),
}
_LENGTH_OPTIONAL = {"empirical": ("column",)}

_EMPIRICAL_CACHE: dict[tuple[str, int, int], tuple[np.ndarray, np.ndarray]] = {}


def _trace_lengths(path: str) -> tuple[np.ndarray, np.ndarray]:
    """(input, output) length arrays of a trace, cached by file identity."""
    p = Path(path)
    try:
        st = p.stat()
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read file ({exc.strerror or exc})") from None
    key = (str(p.resolve()), st.st_mtime_ns, st.st_size)
    hit = _EMPIRICAL_CACHE.get(key)
    if hit is None:
        reqs = load_trace(p)
        hit = (
            np.fromiter((r.input_tokens for r in reqs), np.int64, len(reqs)),
            np.fromiter((r.output_tokens for r in reqs), np.int64, len(reqs)),
        )
        _EMPIRICAL_CACHE[key] = hit
    return hit


@dataclass(frozen=True)
class LengthDist:
    """A distribution of token counts (prompt or output lengths).

    ``kind`` and its parameters:

    * ``fixed``: ``value``.
    * ``uniform``: integers in ``[low, high]`` (inclusive).
    * ``lognormal``: ``mean`` (the arithmetic mean of the lengths, not the
      median) and ``sigma`` (standard deviation of their logarithm);
      ``mu = ln(mean) - sigma**2 / 2``, so the median is
      ``mean x exp(-sigma**2 / 2)`` and the coefficient of variation
      ``sqrt(exp(sigma**2) - 1)`` (sigma 0.8: CV 0.95, median 0.73 x mean).
      ``sigma`` is at most 3: beyond it the mean of any practical sample falls
      far below ``mean`` (its mass hides in rare huge lengths).
    * ``empirical``: resampled with replacement from the lengths of the trace
      file ``trace`` (Mooncake or Azure); ``column`` = ``input``/``output``
      picks which lengths (default: the role it is used for).

    Every kind is rounded to integers and clipped to ``[clip_min, clip_max]``.
    Parameters of other kinds are refused, so typos surface.
    """

    kind: Literal["fixed", "uniform", "lognormal", "empirical"] = spec(doc="distribution family")
    value: Optional[int] = spec(None, min=1, max=MAX_TOKENS, doc="fixed: the length (tokens)")
    low: Optional[int] = spec(None, min=1, max=MAX_TOKENS, doc="uniform: smallest length (tokens)")
    high: Optional[int] = spec(None, min=1, max=MAX_TOKENS, doc="uniform: largest length (tokens, inclusive)")
    mean: Optional[float] = spec(None, min=1.0, max=float(MAX_TOKENS), doc="lognormal: mean length (tokens)")
    sigma: Optional[float] = spec(None, min=0.0, max=MAX_LOGNORMAL_SIGMA, doc="lognormal: std. dev. of ln(length)")
    trace: Optional[str] = spec(None, doc="empirical: trace file to resample lengths from")
    column: Optional[Literal["input", "output"]] = spec(None, doc="empirical: which lengths of the trace")
    clip_min: int = spec(1, min=1, max=MAX_TOKENS, doc="smallest length produced (tokens)")
    clip_max: Optional[int] = spec(None, min=1, max=MAX_TOKENS, doc="largest length produced (tokens); none = unbounded")

    def validate(self, path: str = "") -> None:
        """Check that exactly the parameters of ``kind`` are given and consistent."""
        prefix = f"{path}." if path else ""
        needed = _LENGTH_PARAMS[self.kind]
        allowed = needed + _LENGTH_OPTIONAL.get(self.kind, ())
        for name in needed:
            if getattr(self, name) is None:
                raise ConfigError(
                    f"{prefix}{name}: required when kind = {self.kind!r} "
                    f"(parameters: {', '.join(needed)})"
                )
        for names in _LENGTH_PARAMS.values():
            for name in names + ("column",):
                if name not in allowed and getattr(self, name) is not None:
                    raise ConfigError(
                        f"{prefix}{name}: not used when kind = {self.kind!r}; "
                        f"allowed: {', '.join(allowed + ('clip_min', 'clip_max'))}"
                    )
        if self.kind == "uniform" and self.high < self.low:
            raise ConfigError(f"{prefix}high: must be >= low ({self.low}), got {self.high}")
        if self.kind == "empirical" and not self.trace.strip():
            raise ConfigError(f"{prefix}trace: must name a trace file, got {self.trace!r}")
        if self.clip_max is not None and self.clip_max < self.clip_min:
            raise ConfigError(f"{prefix}clip_max: must be >= clip_min ({self.clip_min}), got {self.clip_max}")

    def sample(self, n: int, rng: RngLike, role: Literal["input", "output"] = "input") -> np.ndarray:
        """``n`` lengths (int64 array); ``role`` is the default ``column`` for ``empirical``."""
        self.validate()
        g = _rng(rng)
        if self.kind == "fixed":
            out = np.full(n, self.value, dtype=np.int64)
        elif self.kind == "uniform":
            out = g.integers(self.low, self.high + 1, size=n, dtype=np.int64)
        elif self.kind == "lognormal":
            mu = math.log(self.mean) - self.sigma**2 / 2
            out = np.rint(g.lognormal(mu, self.sigma, size=n)).astype(np.int64)
        else:
            pool = _trace_lengths(self.trace)[0 if (self.column or role) == "input" else 1]
            out = pool[g.integers(0, pool.size, size=n)]
        return np.clip(out, self.clip_min, self.clip_max if self.clip_max is not None else MAX_TOKENS)


def make_requests(
    arrival_s: Sequence[float] | np.ndarray,
    input_dist: LengthDist,
    output_dist: LengthDist,
    rng: RngLike,
) -> list[Request]:
    """Requests at the given arrival times (sorted first) with input and
    output lengths drawn independently from the two distributions (input
    lengths first, then output, from ``rng``). Ids are 0..n-1; no blocks."""
    t = np.sort(np.asarray(arrival_s, dtype=np.float64), kind="stable")
    g = _rng(rng)
    n_in = input_dist.sample(t.size, g, "input")
    n_out = output_dist.sample(t.size, g, "output")
    return [
        Request(i, a, int(x), int(y))
        for i, (a, x, y) in enumerate(zip(t.tolist(), n_in.tolist(), n_out.tolist()))
    ]


# --------------------------------------------------------------------------- #
# Statistics
# --------------------------------------------------------------------------- #


def trace_stats(requests: Sequence[Request]) -> dict[str, Any]:
    """Summary statistics of a request list.

    Keys: ``requests``; ``span_s`` (last - first arrival); ``rate_per_s``
    (``requests / span_s``; NaN if the span is 0); ``input_mean``,
    ``input_p50``, ``input_p99``, ``output_mean``, ``output_p50``,
    ``output_p99`` (percentiles by numpy's linear interpolation); ``blocks``
    (prefix-block occurrences) and ``prefix_reuse``: the fraction of block
    occurrences whose id already occurred earlier in arrival order, i.e.
    ``1 - distinct ids / occurrences`` (None when no request has blocks).
    This is the definition behind the reuse figures of the shared traces'
    SOURCES.md (36.6 % and 64 %).
    """
    if not requests:
        raise ConfigError("trace_stats: no requests")
    n = len(requests)
    ins = np.fromiter((r.input_tokens for r in requests), np.int64, n)
    outs = np.fromiter((r.output_tokens for r in requests), np.int64, n)
    span = _span(requests)
    total = sum(len(r.block_hashes) for r in requests)
    reuse: Optional[float] = None
    if total:
        distinct = len({h for r in requests for h in r.block_hashes})
        reuse = 1.0 - distinct / total
    p_in = np.percentile(ins, [50, 99])
    p_out = np.percentile(outs, [50, 99])
    return {
        "requests": n,
        "span_s": span,
        "rate_per_s": n / span if span > 0 else math.nan,
        "input_mean": float(ins.mean()),
        "input_p50": float(p_in[0]),
        "input_p99": float(p_in[1]),
        "output_mean": float(outs.mean()),
        "output_p50": float(p_out[0]),
        "output_p99": float(p_out[1]),
        "blocks": total,
        "prefix_reuse": reuse,
    }


# --------------------------------------------------------------------------- #
# Workload config
# --------------------------------------------------------------------------- #


@dataclass(frozen=True)
class WorkloadConfig:
    """Where requests come from: a synthetic process or a real trace.

    * ``kind = "poisson"`` / ``"gamma"``: ``rate_per_s`` (required), ``cv``
      (gamma only), ``num_requests`` and/or ``duration_s`` (at least one),
      ``input`` and ``output`` length distributions (required).
    * ``kind = "sessions"``: Poisson arrivals at ``rate_per_s`` (with
      ``num_requests`` and/or ``duration_s``) of multi-turn sessions with
      shared system prompts and prefix reuse, from the ``[workload.sessions]``
      table (:mod:`.sessions`; ``preset = "qwena_conv"`` or ``"qwenb_agent"``).
    * ``kind = "trace"``: ``trace`` file; the part of it starting at
      ``start_s`` and lasting ``duration_s`` and/or holding ``num_requests``
      requests (both in the trace's own time; neither = whole trace), re-based
      at 0, then either rescaled to exactly ``rate_per_s`` or stretched by
      ``time_scale`` (not both). ``input``/``output``, if given, replace the
      trace's lengths (a replaced input drops the prefix blocks).
    * ``kind = "vllm"``: replay the prompts of a vLLM benchmark result JSON
      (``trace``; :mod:`.vllm_bench`): its ``input_lens`` and ``output_lens``
      in order (the first ``num_requests`` if given), arrivals drawn with
      ``seed`` from its ``request_rate`` (or ``rate_per_s``) and
      ``burstiness`` (gamma gaps of shape burstiness, vLLM's own arrival
      model; rate ``inf`` = all at time 0), since the file records no send
      times.
    """

    kind: Literal["poisson", "gamma", "trace", "sessions", "vllm"] = spec("poisson", doc="arrival source")
    rate_per_s: Optional[float] = spec(
        None, gt=0.0, doc="mean arrival rate of the whole cluster (req/s); trace: target rate")
    rate_per_gpu: Optional[float] = spec(
        None, gt=0.0, doc="mean arrival rate per prefill GPU (req/s, the MFS paper's unit); a run config turns it "
                          "into rate_per_s = rate_per_gpu x serving.prefill_gpus; give one of the two")
    cv: float = spec(1.0, gt=0.0, max=50.0, doc="gamma: coefficient of variation of inter-arrival gaps")
    num_requests: Optional[int] = spec(None, min=1, doc="number of requests")
    duration_s: Optional[float] = spec(None, gt=0.0, doc="arrivals before this time (s)")
    trace: Optional[str] = spec(None, doc="trace: Mooncake JSONL or Azure CSV file; vllm: benchmark result JSON")
    start_s: float = spec(0.0, min=0.0, doc="trace: where in the trace to start (s)")
    time_scale: Optional[float] = spec(None, gt=0.0, doc="trace: multiply inter-arrival times by this")
    input: Optional[LengthDist] = spec(None, doc="prompt length distribution")
    output: Optional[LengthDist] = spec(None, doc="output length distribution")
    sessions: Optional[SessionConfig] = spec(None, doc="sessions: the session generator ([workload.sessions])")
    warmup_requests: int = spec(
        0, min=0, doc="the first N requests (by arrival) warm the caches and load up; every metric leaves them out")
    seed: Optional[int] = spec(
        None, min=0, doc="seed of the requests (arrivals, lengths); default: the run's seed, so replications over "
                         "seeds vary the workload too; set it to keep the requests while the run's seed varies")

    def validate(self, path: str = "") -> None:
        """Check the combination of keys for ``kind``; errors name the key."""
        prefix = f"{path}." if path else ""

        def refuse(name: str, why: str) -> None:
            raise ConfigError(f"{prefix}{name}: {why}")

        if self.rate_per_s is not None and self.rate_per_gpu is not None:
            refuse("rate_per_gpu", "give rate_per_s (whole cluster) or rate_per_gpu (per prefill GPU), not both")
        if self.sessions is not None and self.kind != "sessions":
            refuse("sessions", "only used when kind = 'sessions'")
        if self.kind == "vllm":
            if self.trace is None or not self.trace.strip():
                refuse("trace", "a vLLM benchmark result JSON path is required when kind = 'vllm'")
            for name, why in (("input", "lengths come from the file's input_lens"),
                              ("output", "lengths come from the file's output_lens"),
                              ("time_scale", "arrivals come from request_rate and burstiness"),
                              ("duration_s", "give num_requests to replay the first N prompts")):
                if getattr(self, name) is not None:
                    refuse(name, f"not used when kind = 'vllm' ({why})")
            if self.start_s != 0.0:
                refuse("start_s", "only used when kind = 'trace'")
            if self.cv != 1.0:
                refuse("cv", "not used when kind = 'vllm' (the file's burstiness sets the gaps)")
            return
        if self.kind in ("poisson", "gamma", "sessions"):
            if self.rate_per_s is None and self.rate_per_gpu is None:
                refuse("rate_per_s", f"required when kind = {self.kind!r} (or rate_per_gpu, per prefill GPU)")
            if self.num_requests is None and self.duration_s is None:
                refuse("num_requests", f"give num_requests or duration_s (or both) when kind = {self.kind!r}")
            for name in ("input", "output"):
                if self.kind == "sessions" and getattr(self, name) is not None:
                    refuse(name, "not used when kind = 'sessions' (lengths come from [workload.sessions])")
                if self.kind != "sessions" and getattr(self, name) is None:
                    refuse(name, f"a length distribution table is required when kind = {self.kind!r}")
            if self.kind == "sessions" and self.sessions is None:
                refuse("sessions", "a [workload.sessions] table is required when kind = 'sessions' "
                                   f"(e.g. preset = \"qwena_conv\"; presets: {', '.join(PRESETS)})")
            for name in ("trace", "time_scale"):
                if getattr(self, name) is not None:
                    refuse(name, "only used when kind = 'trace'")
            if self.start_s != 0.0:
                refuse("start_s", "only used when kind = 'trace'")
            if self.kind == "poisson" and self.cv != 1.0:
                refuse("cv", "only used when kind = 'gamma' (poisson has cv = 1)")
        else:
            if self.trace is None or not self.trace.strip():
                refuse("trace", "a trace file path is required when kind = 'trace'")
            if (self.rate_per_s is not None or self.rate_per_gpu is not None) and self.time_scale is not None:
                refuse("time_scale", "give a rate (rate_per_s or rate_per_gpu) or time_scale, not both")
            if self.cv != 1.0:
                refuse("cv", "only used when kind = 'gamma'")
        for name in ("input", "output"):
            dist = getattr(self, name)
            if dist is not None:
                dist.validate(prefix + name)


def vllm_requests(cfg: WorkloadConfig, rng: np.random.Generator) -> list[Request]:
    """The prompts of a vLLM benchmark result, in order, with arrivals from its rate and burstiness."""
    from .vllm_bench import load_vllm

    res = load_vllm(cfg.trace, "workload.trace")
    n = len(res) if cfg.num_requests is None else min(cfg.num_requests, len(res))
    rate = cfg.rate_per_s if cfg.rate_per_s is not None else res.request_rate
    if math.isinf(rate):
        t = np.zeros(n)
    else:  # vLLM: gamma gaps with shape = burstiness and mean 1 / rate; the first request at once
        shape = res.burstiness
        t = np.concatenate([[0.0], np.cumsum(rng.gamma(shape, 1.0 / (rate * shape), n - 1))])
    return [Request(i, float(a), max(1, int(x)), max(1, int(y)))
            for i, (a, x, y) in enumerate(zip(t.tolist(), res.input_lens[:n], res.output_lens[:n]))]


def generate(cfg: WorkloadConfig, seed: Optional[int] = None) -> list[Request]:
    """The requests of a workload, sorted by arrival, ids 0..n-1.

    ``seed`` overrides ``cfg.seed`` (a run passes ``workload.seed``, else its own
    seed; neither: 0). Arrival times and each length distribution draw from
    independent streams of that seed, so changing a length distribution leaves
    the arrival times unchanged.
    """
    cfg.validate()
    if cfg.rate_per_gpu is not None and cfg.rate_per_s is None:
        raise ConfigError("rate_per_gpu: needs the number of prefill GPUs; give rate_per_s here (a run config "
                          "converts rate_per_gpu itself)")
    s = (cfg.seed if cfg.seed is not None else 0) if seed is None else seed
    if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 0:
        raise ConfigError(f"seed: expected an integer >= 0, got {s!r}")
    g_arr, g_in, g_out = (np.random.default_rng(c) for c in np.random.SeedSequence(int(s)).spawn(3))
    if cfg.kind == "vllm":
        return vllm_requests(cfg, g_arr)
    if cfg.kind == "trace":
        reqs = load_trace(cfg.trace)
        if cfg.duration_s is not None or cfg.num_requests is not None:
            reqs = window(reqs, cfg.start_s, cfg.duration_s, count=cfg.num_requests)
        elif cfg.start_s > 0:
            reqs = window(reqs, cfg.start_s, count=len(reqs))
        if not reqs:
            raise ConfigError(
                f"start_s: no requests of {cfg.trace} in the window starting at {cfg.start_s} s"
                + (f" and lasting {cfg.duration_s} s" if cfg.duration_s is not None else "")
            )
        if cfg.rate_per_s is not None:
            reqs = scale_to_rate(reqs, cfg.rate_per_s)
        elif cfg.time_scale is not None:
            reqs = scale_time(reqs, cfg.time_scale)
        if cfg.input is not None:
            lens = cfg.input.sample(len(reqs), g_in, "input").tolist()
            reqs = [dataclasses.replace(r, input_tokens=x, block_hashes=()) for r, x in zip(reqs, lens)]
        if cfg.output is not None:
            lens = cfg.output.sample(len(reqs), g_out, "output").tolist()
            reqs = [dataclasses.replace(r, output_tokens=y) for r, y in zip(reqs, lens)]
        return [dataclasses.replace(r, id=i) for i, r in enumerate(reqs)]
    if cfg.kind == "sessions":
        t = poisson_arrivals(cfg.rate_per_s, cfg.num_requests, duration_s=cfg.duration_s, rng=g_arr)
        rows = generate_sessions(cfg.sessions, t, g_in)
        bt = cfg.sessions.block_tokens
        return [Request(i, a, x, y, h, sid, bt) for i, (a, x, y, h, sid) in enumerate(rows)]
    if cfg.kind == "poisson":
        t = poisson_arrivals(cfg.rate_per_s, cfg.num_requests, duration_s=cfg.duration_s, rng=g_arr)
    else:
        t = gamma_arrivals(cfg.rate_per_s, cfg.cv, cfg.num_requests, duration_s=cfg.duration_s, rng=g_arr)
    n_in = cfg.input.sample(t.size, g_in, "input").tolist()
    n_out = cfg.output.sample(t.size, g_out, "output").tolist()
    return [Request(i, a, x, y) for i, (a, x, y) in enumerate(zip(t.tolist(), n_in, n_out))]
