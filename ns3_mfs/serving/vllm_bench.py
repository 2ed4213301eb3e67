"""vLLM benchmark results: the JSON that ``benchmarks/benchmark_serving.py --save-result`` writes.

One JSON object. Run keys (``date, backend, model_id, num_prompts,
request_rate, burstiness, duration, ...``) and aggregate metrics
(``mean_ttft_ms``, ``median_tpot_ms``, ``p99_itl_ms``, ...) are kept as
:attr:`VllmResult.meta`; the per-request lists (present when the benchmark
saved them) are what is used here, all in seconds except lengths:

===============  ================================================================
``input_lens``    prompt tokens of each request
``output_lens``   generated tokens of each request
``ttfts``         time to first token of each request (s)
``itls``          each request's list of inter-token latencies (s)
``e2el``          end-to-end latency of each request (s); optional (``e2els`` too),
                  else ``ttft + sum(itls)``
``errors``        each request's error text; optional (empty = success)
===============  ================================================================

Requests are in the order the benchmark sent them. A failed request (a
non-empty error or a TTFT <= 0) keeps its place and has NaN metrics. TPOT is
vLLM's definition: ``(e2e - ttft) / (output_len - 1)`` (NaN for one token).
The file records no send times, only ``request_rate`` (``inf`` = all at
once) and ``burstiness`` (the shape of the gamma inter-arrival gaps, 1 =
Poisson), so a replay draws arrivals from those with a seed.

Bad files are a one-line :class:`~ns3_mfs.config.ConfigError` naming the
file and the problem, never the file's contents.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np

from ..config import ConfigError
from ..csvfile import read_text

#: The per-request lists a result must have.
REQUIRED = ("input_lens", "output_lens", "ttfts")


@dataclass(frozen=True)
class VllmResult:
    """A vLLM benchmark result's per-request data (seconds) and its run keys."""

    input_lens: np.ndarray                      #: int
    output_lens: np.ndarray                     #: int
    ttft_s: np.ndarray                          #: NaN for failed requests
    e2e_s: np.ndarray
    itls: tuple[np.ndarray, ...]                #: per request (empty when not saved)
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.input_lens)

    @property
    def tpot_s(self) -> np.ndarray:
        out = self.output_lens.astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(out > 1, (self.e2e_s - self.ttft_s) / (out - 1), np.nan)

    @property
    def itl_samples_s(self) -> np.ndarray:
        """Every inter-token latency of every successful request."""
        ok = ~np.isnan(self.ttft_s)
        parts = [x for x, good in zip(self.itls, ok) if good and len(x)]
        return np.concatenate(parts) if parts else np.zeros(0)

    @property
    def request_rate(self) -> float:
        """Requests/s the benchmark sent at (``inf``: all at once)."""
        return _rate(self.meta.get("request_rate"))

    @property
    def burstiness(self) -> float:
        b = self.meta.get("burstiness", 1.0)
        return float(b) if isinstance(b, (int, float)) and not isinstance(b, bool) and b > 0 else 1.0


def _rate(v: Any) -> float:
    if isinstance(v, str) and v.strip().lower() in ("inf", "infinity"):
        return math.inf
    if isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0:
        return float(v)
    return math.inf


def looks_like_vllm(text: str) -> bool:
    """Whether a file's text is a JSON object (the first thing a vLLM result is)."""
    return text.lstrip()[:1] == "{"


def _numbers(p: Path, data: dict, key: str, n: Optional[int], integer: bool = False) -> np.ndarray:
    v = data.get(key)
    if not isinstance(v, list):
        raise ConfigError(f"{p.name}: {key}: expected a list of numbers, got {type(v).__name__}")
    if n is not None and len(v) != n:
        raise ConfigError(f"{p.name}: {key}: {len(v)} values but input_lens has {n}")
    for i, x in enumerate(v):
        if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x) or x < 0:
            raise ConfigError(f"{p.name}: {key}[{i}]: expected a number >= 0, got {str(x)[:30]!r}")
        if integer and float(x) != int(x):
            raise ConfigError(f"{p.name}: {key}[{i}]: expected an integer, got {x!r}")
    return np.asarray(v, dtype=np.int64 if integer else float)


def _unclosed(text: str) -> bool:
    """Whether a JSON text ends inside a string or with brackets left open (a cut-off file)."""
    depth, in_str, esc = 0, False, False
    for ch in text:
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
    return in_str or depth > 0


def load_vllm(path: str | Path, key: Optional[str] = None) -> VllmResult:
    """Read and validate a vLLM benchmark result JSON (see the module docstring)."""
    p = Path(path)
    where = f"{key}: {p.name}" if key else p.name
    text = read_text(p, "JSON", key)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        what = "truncated" if _unclosed(text) else "invalid"
        raise ConfigError(f"{where}: {what} JSON (line {exc.lineno} column {exc.colno}: {exc.msg}); "
                          "expected a vLLM benchmark_serving.py --save-result file") from None
    except RecursionError:
        raise ConfigError(f"{where}: invalid JSON (nested too deeply)") from None
    if not isinstance(data, dict) or "ttfts" not in data:
        shape = f"an object without 'ttfts'" if isinstance(data, dict) else f"a JSON {type(data).__name__}"
        raise ConfigError(f"{where}: not a vLLM benchmark result ({shape}); expected benchmark_serving.py "
                          "--save-result JSON with per-request ttfts, input_lens, output_lens")
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise ConfigError(f"{where}: vLLM result without {missing[0]!r}; needs {', '.join(REQUIRED)} (and itls)")
    try:
        inputs = _numbers(p, data, "input_lens", None, integer=True)
        n = len(inputs)
        if not n:
            raise ConfigError(f"{where}: input_lens: no requests")
        outputs = _numbers(p, data, "output_lens", n, integer=True)
        ttft = _numbers(p, data, "ttfts", n)
        raw_itls = data.get("itls", [[] for _ in range(n)])
        if not isinstance(raw_itls, list) or len(raw_itls) != n:
            raise ConfigError(f"{p.name}: itls: expected one list per request ({n})")
        itls = tuple(_numbers(p, {"itls": x}, "itls", None) if isinstance(x, list) else
                     _numbers(p, {"itls": None}, "itls", None) for x in raw_itls)
        e2e_key = next((k for k in ("e2el", "e2els") if isinstance(data.get(k), list)), None)
        e2e = _numbers(p, data, e2e_key, n) if e2e_key else ttft + np.array([x.sum() for x in itls])
    except ConfigError as exc:
        raise ConfigError(f"{key}: {exc}" if key else str(exc)) from None
    errors = data.get("errors")
    failed = ttft <= 0
    if isinstance(errors, list) and len(errors) == n:
        failed |= np.array([bool(e) for e in errors])
    ttft, e2e = np.where(failed, np.nan, ttft), np.where(failed, np.nan, e2e)
    if failed.all():
        raise ConfigError(f"{where}: every request failed (errors or TTFT 0)")
    meta = {k: v for k, v in data.items() if not isinstance(v, (list, dict))}
    return VllmResult(inputs, outputs, ttft, e2e, itls, meta)
