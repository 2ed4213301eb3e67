"""C++ unit tests of the native models (ns3_mfs/native/test/), run through ns-3's TestRunner.

The program starts, as ns-3's own test-runner does under ./test.py, at the
default nanosecond resolution; each suite switches to picoseconds itself.

Each suite checks one model on its own (no fabric): the flow-level fabric (max-min
sharing, strict priority, rate cap, ideal latency), the RMLQ queue disc
(strict-priority band order, RED/ECN marking law), the frame packet pool
(reuse only of dead frames' packets, header bytes written on demand), the switch buffer manager
(XOFF/XON, dynamic threshold, headroom) and the RDMA NIC (go-back-N, DCQCN
steps). A failing C++ check fails the pytest test and its message names the
test case and the check.
"""

from __future__ import annotations

import subprocess

import pytest

from ns3_mfs import _build

SUITES = ["flow-fabric", "quad-heap-scheduler", "rdma-nic", "rmlq-queue-disc", "roce-packet-pool", "switch-buffer-manager"]


@pytest.fixture(scope="module")
def runner() -> str:
    return str(_build.ensure_test_built())


def run_suite(runner: str, suite: str) -> subprocess.CompletedProcess:
    return subprocess.run([runner, f"--suite={suite}", "--verbose"], capture_output=True, text=True, timeout=120)


def test_every_suite_is_run_here(runner):
    out = subprocess.run([runner, "--list"], capture_output=True, text=True, timeout=60)
    assert sorted(out.stdout.split()) == SUITES
    assert "Invalid test name" not in out.stderr, out.stderr  # ns-3's rule: no '"/\\|? in a test name


@pytest.mark.parametrize("suite", SUITES)
def test_model_suite(runner, suite):
    res = run_suite(runner, suite)
    report = res.stdout + res.stderr
    failed = [line.strip() for line in report.splitlines() if "FAIL" in line]
    assert res.returncode == 0 and not failed and f"PASS {suite}" in report, report


def test_every_native_source_is_compiled():
    every = sorted(_build.NATIVE_DIR.rglob("*.cc"))
    assert every == sorted(_build.sources() + _build.test_sources() + _build.example_sources())
    assert not set(_build.sources()) & set(_build.test_sources())
    assert not set(_build.example_sources()) & set(_build.sources() + _build.test_sources())


def test_binding_header_includes_no_ns3_header():
    header = (_build.NATIVE_DIR / "binding" / "mfs-fabric.h").read_text()
    includes = [line for line in header.splitlines() if line.startswith("#include")]
    assert includes and all("<" in line and "ns3/" not in line for line in includes), includes
