"""``ns3-mfs sweep``: a grid of run configs, each point in its own process, resumable.

A sweep file (TOML) names a base run config and the keys to vary::

    base = "serving_small.toml"        # relative to this file; or an inline [base] table
    [grid]                             # cartesian product of every list
    "fabric.mtu" = [2048, 4096]
    seed = [1, 2]
    [zip]                              # lists of equal length that vary together
    "workload.rate_per_s" = [8.0, 16.0]
    "serving.max_batched_tokens" = [4096, 8192]

``seeds = N`` (top level) replicates every point with the seeds ``s, s+1, ...,
s+N-1`` (``s``: the base config's seed), ``seeds = [1, 7, 9]`` with those
seeds: the seed is the last grid axis, so ``results`` can give each point's
mean and confidence interval over its seeds.

Keys are dotted paths into the run config (``policies.mfs.E``,
``topology.link_rate_gbps``, ``policy``, ...). Every point is built and
validated before anything runs: a bad key or value fails the whole sweep with
the key path. A point's result directory is ``DIR/runs/<hash>/``, the hash
being 12 hex digits of its fully resolved config (seed included).

Reuse is decided by the point's *identity* (:mod:`ns3_mfs.identity`): the
resolved config, the content of every input file it names and the code
(package version, native build key, Python sources). A point is finished
when its ``meta.json`` says ``complete`` and records the identity the point
has now; finished points are never run again, so a killed sweep resumes where
it stopped. A point finished by other code or from other input contents is
*stale*: it runs again, and the report says why (``--accept-stale`` keeps
stale points instead, and lists them). A point that stopped early or failed
its checks (``partial``/``invalid``) or failed (``error.json``: message and
stderr tail) runs again too. ``DIR/sweep.json`` lists the points and
``DIR/sweep.log`` records every start and end.

Each point runs ``python -m ns3_mfs run`` in a fresh process (one ns-3
simulator per process), either in local threads (``--jobs``) or as Ray tasks
on a cluster (``--backend ray``; each task launches the same subprocess).
"""

from __future__ import annotations

import contextlib
import copy
import ctypes
import dataclasses
import fcntl
import itertools
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Optional, TextIO

import tomli_w

from ..config import ConfigError, did_you_mean, load_toml
from ..identity import canonical_json, differences, identity, sha256_text
from ..store import json_bytes, toml_safe, write_atomic
from .progress import SweepBar
from .run import (RunConfig, RunSetup, apply_overrides, check_files, override_paths, resolve_paths, resolved,
                  run_config_from_dict)

PACKAGE_ROOT = Path(__file__).resolve().parents[2]
SWEEP_KEYS = ("base", "grid", "zip", "seeds")
STDERR_TAIL_LINES = 30


# --------------------------------------------------------------------------- #
# One point in a fresh process (shared with ``compare``)
# --------------------------------------------------------------------------- #


@dataclasses.dataclass(frozen=True)
class PointResult:
    """How running one point went."""

    ok: bool
    error: Optional[str] = None      #: last line of the run's stderr when it failed
    wall_s: float = 0.0


def point_state(out: Path, expected: Mapping[str, Any]) -> tuple[str, list[str]]:
    """Whether a result directory can be reused for a point of identity ``expected``.

    Returns ``("finished", [])`` (complete, same identity), ``("stale", reasons)``
    (complete, but made from another config, other input contents or other
    code: ``reasons`` say which) or ``("todo", [])`` (nothing usable: missing,
    unreadable, stopped early, failed its checks or failed).
    """
    try:
        meta = json.loads((Path(out) / "meta.json").read_text())
    except (OSError, ValueError):
        return "todo", []
    if not isinstance(meta, dict) or meta.get("status") != "complete":
        return "todo", []
    reasons = differences(meta.get("identity") or {}, expected)
    return ("stale", reasons) if reasons else ("finished", [])


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    if (PACKAGE_ROOT / "ns3_mfs").is_dir():
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PACKAGE_ROOT), env.get("PYTHONPATH")) if p)
    return env


#: Runs in progress in this process (stopped by :func:`stop_running_points` on an interrupt).
_LIVE: set[subprocess.Popen] = set()
_LIVE_LOCK = threading.Lock()
_STOPPING = threading.Event()


def stop_running_points() -> None:
    """SIGTERM every run this process started that is still going (they unwind without a meta.json);
    no new run starts until the stopping sweep has wound down."""
    with _LIVE_LOCK:
        _STOPPING.set()
        for proc in _LIVE:
            with contextlib.suppress(OSError):
                proc.terminate()


def _die_with_parent(parent: int) -> Callable[[], None]:
    """``preexec_fn`` of a point's process: SIGTERM it when the thread that started it dies (Linux).

    So a sweep killed with SIGKILL does not leave its runs going; SIGTERM
    unwinds a run like Ctrl-C (temporary files removed, no meta.json).
    """
    def setup() -> None:
        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):  # pragma: no cover - not Linux
            return
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)
    return setup


@contextlib.contextmanager
def point_lock(out: Path) -> Iterator[Optional[TextIO]]:
    """Lock a point's directory (``.<name>.lock`` beside it); yields None when another process holds it.

    The locked file is handed to the run's process too (``pass_fds``), so the
    lock lasts as long as the run, even past a killed parent: a point is never
    simulated twice at once.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.parent / f".{out.name}.lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield None
            return
        yield fh


def _reset(out: Path) -> None:
    """Empty an unfinished result directory (stale temporary files, an old error.json)."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)


def run_point(config: Mapping[str, Any], out: Path) -> PointResult:
    """Run one resolved run config with ``python -m ns3_mfs run`` in a new process.

    Under the point's lock (:func:`point_lock`): empties ``out``, runs, and
    on failure writes ``error.json`` (message, exit code, stderr tail). A run
    whose ``meta.json`` does not record the identity this process computes
    for ``config`` counts as failed (it could never be reused). Never raises
    for a failing run.
    """
    out = Path(out)
    with point_lock(out) as lock:
        if lock is None:
            return PointResult(ok=False, error=f"{out.name} is being run by another process (its lock "
                                               f".{out.name}.lock is held); not started twice")
        return _run_locked(config, out, lock.fileno())


def _run_locked(config: Mapping[str, Any], out: Path, lock_fd: int) -> PointResult:
    _reset(out)
    cfg_file = out / ".point.toml"
    cfg_file.write_text(tomli_w.dumps(toml_safe(dict(config))))
    t0 = time.perf_counter()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ns3_mfs", "run", str(cfg_file), "--out", str(out), "--no-progress"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_child_env(), stdin=subprocess.DEVNULL,
            pass_fds=(lock_fd,), preexec_fn=_die_with_parent(os.getpid()),
        )
    except OSError as exc:
        code, stderr = -1, f"cannot start the run: {exc}"
    else:
        with _LIVE_LOCK:
            _LIVE.add(proc)
            if _STOPPING.is_set():
                proc.terminate()
        try:
            stderr = proc.communicate()[1]
        finally:
            with _LIVE_LOCK:
                _LIVE.discard(proc)
        code = proc.returncode
    wall = time.perf_counter() - t0
    cfg_file.unlink(missing_ok=True)
    lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
    if code == 0:
        state, reasons = point_state(out, identity(config))
        if state == "finished":
            return PointResult(ok=True, wall_s=wall)
        lines.append("the run finished but its meta.json does not record this point's identity"
                     + (f" ({', '.join(reasons)} differ)" if reasons else ""))
    error = lines[-1] if lines else f"the run exited with code {code} and no message"
    write_atomic(out / "error.json", json_bytes({
        "error": error, "returncode": code, "wall_s": wall,
        "stderr_tail": "\n".join(lines[-STDERR_TAIL_LINES:]),
    }))
    return PointResult(ok=False, error=error, wall_s=wall)


# --------------------------------------------------------------------------- #
# Sweep files
# --------------------------------------------------------------------------- #


@dataclasses.dataclass(frozen=True)
class Point:
    """One run of a sweep."""

    run_id: str                      #: short hash of ``config``
    overrides: dict[str, Any]        #: dotted key -> value applied to the base
    config: dict[str, Any]           #: the fully resolved run config
    identity: dict[str, Any]         #: config, input contents and code (:func:`ns3_mfs.identity.identity`)


@dataclasses.dataclass(frozen=True)
class Sweep:
    """An expanded, validated sweep."""

    source: str
    grid: dict[str, list]
    zipped: dict[str, list]
    points: list[Point]
    duplicates: int                  #: grid combinations with the same resolved config as an earlier one


def config_hash(config: Mapping[str, Any]) -> str:
    """Name of a point's result directory: 12 hex digits of its resolved config's SHA-256."""
    return sha256_text(canonical_json(config))[:12]


def _flatten(table: Mapping[str, Any], where: str, prefix: str = "") -> dict[str, Any]:
    """``{"fabric": {"mtu": [..]}}`` and ``{"fabric.mtu": [..]}`` both give ``{"fabric.mtu": [..]}``."""
    out: dict[str, Any] = {}
    for k, v in table.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, where, key + "."))
        else:
            if not isinstance(v, list) or not v:
                raise ConfigError(f"{where}.{key}: expected a non-empty list of values, got {v!r}")
            out[key] = v
    return out


def _axes(data: Mapping[str, Any], source: str) -> tuple[dict[str, list], dict[str, list]]:
    grid, zipped = {}, {}
    for name, target in (("grid", grid), ("zip", zipped)):
        table = data.get(name, {})
        if not isinstance(table, dict):
            raise ConfigError(f"{source}: {name}: expected a table of dotted keys to lists, got {table!r}")
        target.update(_flatten(table, f"{source}: {name}"))
    lengths = {k: len(v) for k, v in zipped.items()}
    if len(set(lengths.values())) > 1:
        (k0, n0), *_ = lengths.items()
        k, n = next((k, n) for k, n in lengths.items() if n != n0)
        raise ConfigError(f"{source}: zip.{k}: has {n} values but zip.{k0} has {n0}; zipped lists must have "
                          "equal length")
    for k in zipped:
        if k in grid:
            raise ConfigError(f"{source}: zip.{k}: also in [grid]; a key varies in one of them")
    return grid, zipped


def _base(data: Mapping[str, Any], sweep_dir: Path, source: str) -> tuple[dict[str, Any], Path]:
    """The base run config as a dict (topology inlined) and the directory its relative paths are relative to."""
    if "base" not in data:
        raise ConfigError(f"{source}: base: missing; give the path of a run config or a [base] table")
    raw = data["base"]
    if isinstance(raw, str):
        p = Path(raw)
        if not p.is_absolute():
            p = sweep_dir / p
        base, base_dir = load_toml(p), p.parent
    elif isinstance(raw, dict):
        base, base_dir = copy.deepcopy(raw), sweep_dir
    else:
        raise ConfigError(f"{source}: base: expected a run config path or a table, got {raw!r}")
    base = resolve_paths(base, base_dir)  # relative paths are relative to the file that names them
    topo = base.get("topology")
    if isinstance(topo, str):  # inline it so that topology.* keys can be swept
        base["topology"] = load_toml(topo)
    return base, base_dir


def replication_seeds(value: Any, first: Any, where: str) -> list[int]:
    """The seeds of ``seeds = N`` (``first .. first+N-1``) or ``seeds = [..]`` (those, repeats dropped)."""
    if isinstance(value, int) and not isinstance(value, bool):
        if not 1 <= value <= 10_000:
            raise ConfigError(f"{where}: must be a count in 1..10000 or a list of seeds, got {value!r}")
        first = first if isinstance(first, int) and not isinstance(first, bool) and first >= 1 else 1
        return list(range(first, first + value))
    if isinstance(value, list) and value and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        bad = [v for v in value if not 1 <= v <= 2**32 - 1]
        if bad:
            raise ConfigError(f"{where}: seed {bad[0]!r} out of range; allowed: 1..{2**32 - 1}")
        return list(dict.fromkeys(value))
    raise ConfigError(f"{where}: expected a count (seeds = 3) or a non-empty list of seeds, got {value!r}")


def _describe(overrides: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in overrides.items()) or "the base config"


def point_of(cfg: RunConfig, overrides: Mapping[str, Any], base_dir: Path) -> Point:
    """The point of a run config: validated fully (no simulation), resolved, its identity computed."""
    RunSetup(cfg)  # model, GPU, memory and layout checks
    config = resolve_paths(resolved(cfg), base_dir)
    check_files(config)
    return Point(config_hash(config), dict(overrides), config, identity(config))


def make_point(base: Mapping[str, Any], overrides: Mapping[str, Any], base_dir: Path, where: str) -> Point:
    """Apply overrides to a base config table and make the point (errors name the point)."""
    try:
        return point_of(run_config_from_dict(apply_overrides(base, overrides), "config", base_dir), overrides,
                        base_dir)
    except ConfigError as exc:
        raise ConfigError(f"{where} ({_describe(overrides)}): {exc}") from None


def expand(base: Mapping[str, Any], grid: Mapping[str, list], zipped: Mapping[str, list], base_dir: Path,
           source: str) -> tuple[list[Point], int]:
    """Every point of grid x zip, validated; duplicates (same resolved config) kept once."""
    n_zip = len(next(iter(zipped.values()))) if zipped else 1
    combos = []
    for values in itertools.product(*grid.values()):
        for i in range(n_zip):
            combos.append({**dict(zip(grid, values)), **{k: v[i] for k, v in zipped.items()}})
    points: dict[str, Point] = {}
    for i, ov in enumerate(combos, 1):
        pt = make_point(base, ov, base_dir, f"{source}: point {i}/{len(combos)}")
        points.setdefault(pt.run_id, pt)
    return list(points.values()), len(combos) - len(points)


def load_sweep(path: str | Path, overrides: Optional[Mapping[str, Any]] = None) -> Sweep:
    """Read, expand and validate a sweep file (nothing is run); ``overrides`` (dotted key -> value, as
    ``--set``) change the base config of every point (relative paths: against the working directory)."""
    p = Path(path)
    data = load_toml(p)
    unknown = sorted(set(data) - set(SWEEP_KEYS))
    if unknown:
        raise ConfigError(f"{p}: {unknown[0]}: unknown key; allowed keys: {', '.join(SWEEP_KEYS)}"
                          f"{did_you_mean(str(unknown[0]), SWEEP_KEYS)}")
    base, base_dir = _base(data, p.parent, str(p))
    if overrides:
        base = apply_overrides(base, override_paths(dict(overrides), Path.cwd()))
    grid, zipped = _axes(data, str(p))
    for axis in (grid, zipped):  # file paths in [grid] / [zip] are relative to the sweep file
        for key, values in axis.items():
            axis[key] = [override_paths({key: v}, p.parent)[key] for v in values]
    if "seeds" in data:
        if "seed" in grid or "seed" in zipped:
            raise ConfigError(f"{p}: seeds: seed is also in [{'grid' if 'seed' in grid else 'zip'}]; "
                              "give the seeds in one place")
        grid["seed"] = replication_seeds(data["seeds"], base.get("seed", 1), f"{p}: seeds")
    points, dups = expand(base, grid, zipped, base_dir, str(p))
    return Sweep(str(p), grid, zipped, points, dups)


# --------------------------------------------------------------------------- #
# Running a sweep
# --------------------------------------------------------------------------- #


@dataclasses.dataclass
class SweepReport:
    """Counts of a sweep call."""

    total: int
    skipped: int = 0                 #: finished before this call (stale points kept by accept_stale included)
    ran: int = 0                     #: finished in this call
    failed: dict[str, str] = dataclasses.field(default_factory=dict)  #: run_id -> error
    stale: dict[str, list[str]] = dataclasses.field(default_factory=dict)  #: run_id -> what changed
    accepted_stale: bool = False     #: stale points were kept (True) or run again (False)
    wall_s: float = 0.0


@contextlib.contextmanager
def _lock(out: Path) -> Iterator[None]:
    """One sweep at a time per directory (so a point never runs twice at once)."""
    out.mkdir(parents=True, exist_ok=True)
    with open(out / ".sweep.lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise ConfigError(f"{out}: another sweep is running in this directory") from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _write_manifest(out: Path, sweep: Sweep) -> None:
    """``sweep.json``: every point (run id, overrides, resolved config); merged with earlier sweeps."""
    path = out / "sweep.json"
    points: dict[str, Any] = {}
    if path.exists():
        with contextlib.suppress(ValueError, OSError):
            points = {p["run_id"]: p for p in json.loads(path.read_text()).get("points", [])}
    for pt in sweep.points:
        points[pt.run_id] = {"run_id": pt.run_id, "overrides": pt.overrides, "config": pt.config}
    write_atomic(path, json_bytes({"source": sweep.source, "grid": sweep.grid, "zip": sweep.zipped,
                              "points": list(points.values())}))


class _Log:
    """``sweep.log``: one line per point start and end (thread-safe, append-only)."""

    def __init__(self, path: Path):
        self.path, self.lock = path, threading.Lock()

    def __call__(self, event: str, run_id: str, detail: str = "") -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
        with self.lock, open(self.path, "a") as fh:
            fh.write(f"{stamp} {event} {run_id}{' ' + detail if detail else ''}\n")


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[None]:
    """The first SIGINT (Ctrl-C) or SIGTERM sets the stop flag at once, in the handler, before
    anything else runs (so no worker thread starts another point), then unwinds the sweep as
    Ctrl-C does. Only in the main thread; elsewhere signals are left as they are."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _frame: Any) -> None:
        first = not _STOPPING.is_set()
        stop_running_points()
        if first:
            raise KeyboardInterrupt

    old = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, h in old.items():
            signal.signal(sig, h)


def _run_local(todo: list[Point], out: Path, jobs: int, log: _Log, report: SweepReport,
               show: Callable[[int, int], None]) -> None:
    running = 0
    lock = threading.Lock()

    def one(pt: Point) -> Optional[PointResult]:
        nonlocal running
        with lock:
            if _STOPPING.is_set():  # interrupted: start nothing more
                return None
            running += 1
            log("start", pt.run_id)
        try:
            return run_point(pt.config, out / "runs" / pt.run_id)
        finally:
            with lock:
                running -= 1

    pool = ThreadPoolExecutor(max(1, jobs))
    pending: dict[Future, Point] = {}
    try:
        pending.update({pool.submit(one, pt): pt for pt in todo})
        while pending:
            finished, _ = wait(pending, timeout=1.0, return_when=FIRST_COMPLETED)
            for fut in finished:
                pt, res = pending.pop(fut), fut.result()
                if res is not None:
                    _record(pt, res, log, report)
            show(running, len(pending))
    except BaseException:  # Ctrl-C, SIGTERM: start nothing more, stop what runs, keep what finished
        stop_running_points()
        pool.shutdown(wait=True, cancel_futures=True)  # the stopped runs unwind (temporary files removed)
        for fut, pt in pending.items():
            res = None if fut.cancelled() or fut.exception() is not None else fut.result()
            if res is not None and res.ok:  # finished just as the signal came
                _record(pt, res, log, report)
            elif res is not None:
                log("stopped", pt.run_id, "interrupted")
        raise
    finally:
        pool.shutdown(wait=True)
        _STOPPING.clear()


def _record(pt: Point, res: PointResult, log: _Log, report: SweepReport) -> None:
    if res.ok:
        report.ran += 1
        log("ok", pt.run_id, f"{res.wall_s:.1f}s")
    else:
        report.failed[pt.run_id] = res.error or "failed"
        log("failed", pt.run_id, res.error or "")


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError("--backend ray: the 'ray' package is not installed; install it with "
                          "pip install 'ns3-mfs[ray]' (or pip install ray)") from None
    return ray


def ray_task(config: dict[str, Any]) -> dict[str, Any]:
    """Body of a Ray task: run the point in a subprocess on the worker; return its files' bytes."""
    with tempfile.TemporaryDirectory(prefix="ns3-mfs-point-") as tmp:
        run_dir = Path(tmp) / "run"
        res = run_point(config, run_dir)
        files = {f.name: f.read_bytes() for f in sorted(run_dir.iterdir()) if f.is_file() and
                 not f.name.startswith(".")}
    return {"ok": res.ok, "error": res.error, "wall_s": res.wall_s, "files": files}


def store_files(out: Path, files: Mapping[str, bytes]) -> None:
    """Write a point's files returned by a remote task; ``meta.json`` last (it marks a finished run)."""
    _reset(out)
    for name in sorted(files, key=lambda n: n == "meta.json"):
        write_atomic(out / name, files[name])


def _run_ray(todo: list[Point], out: Path, jobs: int, address: Optional[str], log: _Log,
             report: SweepReport, show: Callable[[int, int], None]) -> None:
    ray = _import_ray()
    started = not ray.is_initialized()
    if started:
        try:
            ray.init(address=address, log_to_driver=False, logging_level=logging.ERROR)
        except (ConnectionError, ValueError, RuntimeError) as exc:
            raise ConfigError(f"--address: cannot connect to a Ray cluster at {address!r}: {exc}") from None
    inflight: dict[Any, Point] = {}
    try:
        task = ray.remote(num_cpus=1, max_retries=0)(ray_task)
        cap = jobs or max(1, int(ray.cluster_resources().get("CPU", 1)))
        queue = list(todo)
        while queue or inflight:
            while queue and len(inflight) < cap:
                pt = queue.pop(0)
                log("start", pt.run_id, "ray")
                inflight[task.remote(pt.config)] = pt
            ready, _ = ray.wait(list(inflight), num_returns=1, timeout=1.0)
            for ref in ready:
                pt = inflight.pop(ref)
                d = out / "runs" / pt.run_id
                _record(pt, _check_identity(_collect_ray(ray, ref, d), pt, d), log, report)
            show(len(inflight), len(inflight) + len(queue))
    except KeyboardInterrupt:  # nothing more is submitted; the tasks in flight are cancelled
        for ref, pt in inflight.items():
            with contextlib.suppress(Exception):
                ray.cancel(ref, force=True)
            log("stopped", pt.run_id, "interrupted")
        raise
    finally:
        if started:
            ray.shutdown()


def _collect_ray(ray: Any, ref: Any, out: Path) -> PointResult:
    try:
        payload = ray.get(ref)
    except Exception as exc:  # the task or its worker died: record it like a failed run
        _reset(out)
        msg = f"Ray task failed: {type(exc).__name__}: {str(exc).strip().splitlines()[-1] if str(exc).strip() else ''}"
        write_atomic(out / "error.json", json_bytes({"error": msg, "returncode": None, "wall_s": None,
                                                "stderr_tail": str(exc)[-4000:]}))
        return PointResult(ok=False, error=msg)
    store_files(out, payload["files"])
    return PointResult(ok=payload["ok"], error=payload["error"], wall_s=payload["wall_s"])


def _check_identity(res: PointResult, pt: Point, out: Path) -> PointResult:
    """A point made by a worker with other code or other input files is a failure, not a result."""
    if not res.ok:
        return res
    state, reasons = point_state(out, pt.identity)
    if state == "finished":
        return res
    msg = f"the worker's result has another identity ({', '.join(reasons) or 'no meta.json'} differ): " \
          "install the same ns3-mfs code and input files on every node"
    write_atomic(out / "error.json", json_bytes({"error": msg, "returncode": None, "wall_s": res.wall_s,
                                                 "stderr_tail": ""}))
    (out / "meta.json").unlink(missing_ok=True)
    return PointResult(ok=False, error=msg, wall_s=res.wall_s)


def run_sweep(sweep: Sweep, out: Path, jobs: int = 0, backend: str = "local", address: Optional[str] = None,
              stream: Optional[TextIO] = None, accept_stale: bool = False, progress: Optional[bool] = None,
              what: str = "sweep") -> SweepReport:
    """Run every unfinished point of ``sweep`` into ``out/runs/<run_id>/``; returns the counts.

    Stale points (finished by other code or from other input contents) run
    again, or with ``accept_stale`` are kept and listed in the report.
    ``progress``: draw a progress bar on ``stream`` (stderr) (default: on a
    terminal only, :mod:`.progress`). The first Ctrl-C or SIGTERM starts no
    further point, stops the running ones (SIGTERM: they unwind without a
    ``meta.json``) and raises ``KeyboardInterrupt`` once they have ended;
    finished points are kept, and the same call later resumes.
    """
    if backend not in ("local", "ray"):
        raise ConfigError(f"--backend: {backend!r} is not a backend; allowed: local, ray")
    if jobs < 0:
        raise ConfigError(f"--jobs: must be >= 0, got {jobs}")
    if backend == "ray":
        _import_ray()  # fail before touching the directory
    out = Path(out)
    t0 = time.perf_counter()
    with _lock(out):
        _write_manifest(out, sweep)
        log = _Log(out / "sweep.log")
        report = SweepReport(total=len(sweep.points), accepted_stale=accept_stale)
        todo = []
        for pt in sweep.points:
            state, reasons = point_state(out / "runs" / pt.run_id, pt.identity)
            if state == "stale":
                report.stale[pt.run_id] = reasons
                log("stale", pt.run_id, ", ".join(reasons) + (" (kept)" if accept_stale else ""))
            if state == "finished" or (state == "stale" and accept_stale):
                report.skipped += 1
            else:
                todo.append(pt)
        bar = SweepBar(report.total, report.skipped, stream, progress, what)

        def show(running: int, pending: int) -> None:
            bar.update(report.skipped + report.ran, running, len(report.failed))

        show(0, len(todo))
        try:
            with _stop_on_signals():
                if backend == "local":
                    _run_local(todo, out, jobs or os.cpu_count() or 1, log, report, show)
                else:
                    _run_ray(todo, out, jobs, address, log, report, show)
        except KeyboardInterrupt:
            bar.close()
            left = report.total - report.skipped - report.ran - len(report.failed)
            print(f"{what}: interrupted: {report.skipped + report.ran} finished (kept), {len(report.failed)} failed, "
                  f"{left} stopped or not started; run the same command again to resume",
                  file=stream if stream is not None else sys.stderr, flush=True)
            raise
        finally:
            bar.close()
    report.wall_s = time.perf_counter() - t0
    return report


# --------------------------------------------------------------------------- #
# Dry-run estimates
# --------------------------------------------------------------------------- #

#: Estimated packet-hops simulated per wall-clock second when nothing better is known: the demo
#: (``make demo``: 32.4 M estimated by :func:`.run.estimate_packet_hops`, 16.2 M actual, 21 s wall
#: on the development machine). The estimate is an upper bound (about 2x the actual hops of the
#: demo); the rate is of the same estimate, so minutes come out right when runs resemble the demo.
DEFAULT_ESTIMATE_RATE = 1.5e6


@dataclasses.dataclass(frozen=True)
class Estimate:
    """What ``sweep --dry-run`` prints: per point and in total."""

    points: list[dict[str, Any]]     #: run_id, overrides, requests, packet_hops (estimated), minutes, state
    rate: float                      #: estimated packet-hops per wall second used
    source: str                      #: where ``rate`` comes from
    total_hops: float
    total_minutes: float             #: of the points still to run, one at a time


def point_estimate(pt: Point) -> tuple[float, int]:
    """(estimated packet-hops, requests) of a point: :func:`.run.estimate_packet_hops` of its workload."""
    from .run import estimate_packet_hops, workload_requests

    cfg = run_config_from_dict(copy.deepcopy(pt.config), "config")
    requests = workload_requests(cfg)
    return estimate_packet_hops(RunSetup(cfg), requests), len(requests)


def estimate(sweep: Sweep, out: Optional[Path] = None, rate: Optional[float] = None) -> Estimate:
    """Each point's estimated packet-hops and minutes. The rate is ``rate`` if given, else measured on
    the points of this sweep already finished in ``out`` (their estimated hops over their wall time),
    else :data:`DEFAULT_ESTIMATE_RATE`."""
    if rate is not None and not (rate > 0 and rate < float("inf")):
        raise ConfigError(f"--hops-per-s: must be a number > 0, got {rate!r}")
    rows, done_hops, done_wall = [], 0.0, 0.0
    for pt in sweep.points:
        hops, n = point_estimate(pt)
        d = Path(out) / "runs" / pt.run_id if out is not None else None
        state = point_state(d, pt.identity)[0] if d is not None else "todo"
        if state == "finished":
            with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
                done_wall += float(json.loads((d / "summary.json").read_text())["wall_s"])
                done_hops += hops
        rows.append({"run_id": pt.run_id, "overrides": pt.overrides, "requests": n, "packet_hops": hops,
                     "state": state})
    if rate is not None:
        source = "given with --hops-per-s"
    elif done_wall > 0:
        rate = done_hops / done_wall
        source = "measured on the finished points of this sweep"
    else:
        rate, source = DEFAULT_ESTIMATE_RATE, "the demo's rate on the development machine; no finished point yet"
    for r in rows:
        r["minutes"] = r["packet_hops"] / rate / 60
    todo = [r for r in rows if r["state"] != "finished"]
    return Estimate(rows, rate, source, sum(r["packet_hops"] for r in todo), sum(r["minutes"] for r in todo))
