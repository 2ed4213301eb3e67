"""Progress bars (``tqdm``) of a run and of a sweep or ``compare``, on stderr.

Shown only on a terminal: on a pipe or a file (tests, logs) nothing is
printed, unless ``NS3_MFS_PROGRESS=1`` forces the bars on (``=0`` forces them
off); ``--quiet`` turns them off. A run's bar is its simulated time against
the arrival horizon (the last request's arrival), with the requests that have
their first token out of the total and an ETA; a sweep's is the points done,
running and failed, with an ETA from the points finished in this call.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any, Optional, TextIO

#: Environment variable forcing the bars on (``1``) or off (``0``) whatever the stream is.
ENV = "NS3_MFS_PROGRESS"


def enabled(stream: Optional[TextIO] = None, quiet: bool = False) -> bool:
    """Whether to draw bars on ``stream`` (stderr by default)."""
    if quiet:
        return False
    forced = os.environ.get(ENV, "").strip()
    if forced in ("0", "1"):
        return forced == "1"
    stream = stream if stream is not None else sys.stderr
    return bool(getattr(stream, "isatty", lambda: False)())


@dataclass(frozen=True)
class RunProgress:
    """Where a run's main simulation is (passed to ``run(progress=...)`` about once per wall second)."""

    sim_s: float        #: simulated time now
    horizon_s: float    #: arrival of the last request
    finished: int       #: requests whose first token is out
    total: int          #: requests of the run


def _tqdm(stream: TextIO, **kw: Any):
    from tqdm import tqdm

    return tqdm(file=stream, dynamic_ncols=False, ncols=110, leave=True, mininterval=0.2, **kw)


class RunBar:
    """``run: simulated 1.204/3.000 s |####      | 10/24 requests | 00:12 elapsed, ETA 00:18``."""

    def __init__(self, stream: Optional[TextIO] = None, show: Optional[bool] = None):
        self.stream = stream if stream is not None else sys.stderr
        self.show = enabled(self.stream) if show is None else show
        self.bar = None

    def __call__(self, p: RunProgress) -> None:
        if not self.show:
            return
        if self.bar is None:
            self.bar = _tqdm(self.stream, total=max(p.horizon_s, 1e-9), unit="sim s",
                             bar_format="run: simulated {n:.3f}/{total:.3f} s |{bar:20}| {desc} | "
                                        "{elapsed} elapsed, ETA {remaining}")
        self.bar.set_description_str(f"{p.finished}/{p.total} requests", refresh=False)
        self.bar.update(min(p.sim_s, self.bar.total) - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class SweepBar:
    """``sweep: 3/8 done, 2 running, 1 failed | 00:42 elapsed, ETA 01:10``."""

    def __init__(self, total: int, already: int, stream: Optional[TextIO] = None, show: Optional[bool] = None,
                 what: str = "sweep"):
        self.stream = stream if stream is not None else sys.stderr
        self.show = enabled(self.stream) if show is None else show
        self.bar = None
        if self.show:
            self.bar = _tqdm(self.stream, total=total, initial=already, unit="point",
                             bar_format=what + ": {n_fmt}/{total_fmt} done, {desc} | "
                                               "{elapsed} elapsed, ETA {remaining}")

    def update(self, done: int, running: int, failed: int) -> None:
        if self.bar is None:
            return
        self.bar.set_description_str(f"{running} running, {failed} failed", refresh=False)
        self.bar.update(done + failed - self.bar.n)
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
