"""Session-structured workloads: multi-turn conversations with shared system prompts and prefix reuse.

The MFS paper measures on Qwen-Bailian traces (QwenA-Conv: prompts of about
2k tokens, 50 % of them reused; QwenB-Agent: about 1k tokens, 65 % reused),
which cannot be shipped here. This generator makes workloads with the same
structure, so KV reuse (stage 1) and full-history P2D (stage 3) have the
right volumes:

* requests arrive as a Poisson process (``workload.rate_per_s``);
* each arrival starts a new session with probability ``1 / turns``, else it
  is the next turn of one of the ``open_sessions`` most recent sessions;
* a session's first prompt is one of ``system_prompts`` shared system
  prompts (``system_prompt_tokens``) followed by a user message; every later
  prompt is the previous prompt, its answer and a new user message, so it
  reuses the whole previous prompt;
* user messages and answers are lognormal with means ``user_tokens`` and
  ``output_tokens`` (``sigma``); a prompt that would exceed ``max_context``
  starts a new session instead;
* block hashes are ``block_tokens``-token blocks (16, as Qwen-Bailian's):
  equal ids are the same prefix; the partial last block of a prompt is never
  reusable.

:func:`reuse_ratio` measures a workload's reuse the way the targets are
stated: the share of prompt tokens in leading blocks that an earlier request
already had. The presets' parameters were calibrated to their targets on
5,000 requests: over 8 seeds, QwenA-Conv's mean prompt is within -4.1..+1.9 %
of 2,000 tokens and its reuse within -0.3..+3.0 % of 50 %; QwenB-Agent's
within -1.8..+2.2 % of 1,000 tokens and -2.9..-1.1 % of 65 %
(``tests/test_sessions.py`` checks 5 %).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Literal, Optional, Sequence

import numpy as np

from ..config import ConfigError, spec

#: Calibrated parameters of the presets (targets in the module docstring).
PRESETS: dict[str, dict[str, float]] = {
    "qwena_conv": dict(system_prompt_tokens=400, system_prompts=8, user_tokens=830, output_tokens=300,
                       turns=1.85),
    "qwenb_agent": dict(system_prompt_tokens=315, system_prompts=4, user_tokens=185, output_tokens=280,
                        turns=2.5),
}
#: The presets' targets: (mean prompt tokens, reuse ratio), from the MFS paper (docs/explanation/policies.md).
TARGETS = {"qwena_conv": (2000.0, 0.50), "qwenb_agent": (1000.0, 0.65)}


@dataclass(frozen=True)
class SessionConfig:
    """``[workload.sessions]``: the session generator (a ``preset`` fills the keys not given)."""

    preset: Optional[Literal["qwena_conv", "qwenb_agent"]] = spec(
        None, doc="QwenA-Conv-like (~2k-token prompts, 50 % reuse) or QwenB-Agent-like (~1k, 65 %)")
    system_prompt_tokens: Optional[int] = spec(None, min=0, max=1_000_000, doc="tokens of each system prompt")
    system_prompts: Optional[int] = spec(None, min=1, max=1_000_000, doc="distinct system prompts, shared")
    user_tokens: Optional[float] = spec(None, min=1.0, max=1e6, doc="mean new user message per turn (tokens)")
    output_tokens: Optional[float] = spec(None, min=1.0, max=1e6, doc="mean answer length (tokens)")
    turns: Optional[float] = spec(None, min=1.0, max=1000.0, doc="mean turns per session")
    sigma: float = spec(0.8, min=0.0, max=3.0, doc="lognormal sigma of user messages and answers")
    open_sessions: int = spec(64, min=1, max=1_000_000, doc="recent sessions a next turn can belong to")
    max_context: int = spec(32768, min=16, max=10_000_000, doc="longest prompt; longer starts a new session")
    block_tokens: int = spec(16, min=1, max=1_000_000, doc="tokens per block hash")

    def resolved(self) -> "SessionConfig":
        """The preset's values for the keys not given."""
        base = PRESETS.get(self.preset or "", {})
        return replace(self, **{k: v for k, v in base.items() if getattr(self, k) is None})

    def validate(self, path: str = "") -> None:
        r = self.resolved()
        missing = [f.name for f in fields(r) if getattr(r, f.name) is None and f.name != "preset"]
        if missing:
            raise ConfigError(f"{path + '.' if path else ''}{missing[0]}: required without a preset "
                              f"(presets: {', '.join(PRESETS)})")


def lognormal(g: np.random.Generator, mean: float, sigma: float) -> int:
    """One length >= 1 with the given arithmetic mean (``mu = ln(mean) - sigma^2 / 2``)."""
    return max(1, int(round(g.lognormal(math.log(mean) - sigma * sigma / 2, sigma))))


@dataclass
class _Session:
    blocks: list[int]      #: full blocks of the conversation so far (prompt + answers)
    tail: int              #: tokens in the last, partial block
    tokens: int            #: conversation length
    last_output: int       #: answer of the previous turn (joins the next prompt)
    id: int


def generate_sessions(cfg: SessionConfig, arrivals: np.ndarray, rng: np.random.Generator) -> list[tuple]:
    """(arrival_s, input_tokens, output_tokens, block_hashes, session) per arrival, in order."""
    c = cfg.resolved()
    bt = c.block_tokens
    next_id = [0]

    def new_block() -> int:
        next_id[0] += 1
        return next_id[0]

    system = []  # each system prompt: its full blocks and its partial tail
    for _ in range(c.system_prompts):
        system.append(([new_block() for _ in range(c.system_prompt_tokens // bt)], c.system_prompt_tokens % bt))

    def extend(s: _Session, tokens: int) -> None:
        """Append tokens to a session; the partial last block is rewritten (a new id) when it grows."""
        total = s.tail + tokens
        s.blocks.extend(new_block() for _ in range(total // bt))
        s.tail, s.tokens = total % bt, s.tokens + tokens

    open_: list[_Session] = []
    rows = []
    for t in arrivals.tolist():
        user = lognormal(rng, c.user_tokens, c.sigma)
        out = lognormal(rng, c.output_tokens, c.sigma)
        s = None
        if open_ and rng.random() >= 1.0 / c.turns:
            s = open_[int(rng.integers(len(open_)))]
            if s.tokens + s.last_output + user > c.max_context:
                open_.remove(s)
                s = None
            else:
                extend(s, s.last_output + user)
        if s is None:
            blocks, tail = system[int(rng.integers(len(system)))]
            s = _Session(list(blocks), tail, len(blocks) * bt + tail, 0, len(rows))
            extend(s, user)
            open_.append(s)
            if len(open_) > c.open_sessions:
                open_.pop(0)
        hashes = tuple(s.blocks) + ((new_block(),) if s.tail else ())
        rows.append((t, s.tokens, out, hashes, s.id))
        s.last_output = out
    return rows


def reuse_ratio(requests: Sequence, block_tokens: int) -> float:
    """Share of prompt tokens in leading blocks that an earlier request already had (arrival order)."""
    seen: set[int] = set()
    reused = total = 0
    for r in sorted(requests, key=lambda r: r.arrival_s):
        full = r.input_tokens // block_tokens
        n = 0
        while n < min(full, len(r.block_hashes)) and r.block_hashes[n] in seen:
            n += 1
        reused += n * block_tokens
        total += r.input_tokens
        seen.update(r.block_hashes[:full])
    return reused / total if total else 0.0
