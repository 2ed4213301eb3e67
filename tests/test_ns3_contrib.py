"""The native module as an ns-3 ``contrib/`` module, and RmlqQueueDisc on stock ns-3 nodes.

The PyPI ns3 wheel cannot build a contrib module, so this checks what can be
checked here: ``native/CMakeLists.txt`` (ns-3's ``build_lib``) and
``native/examples/CMakeLists.txt`` list exactly the files on disk; no module
header reaches another folder with a relative path (an ns-3 build installs
them flat as ``ns3/<name>.h``); the example program compiles against the
wheel's headers with the module's headers staged the same way and, run,
shows strict priority between two DSCPs of stock IPv4/UDP traffic; and the
plain-ns-3 Python example in ``scratch/`` does the same through
``TrafficControlHelper``.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from conftest import ROOT
from ns3_mfs import _build

NATIVE = _build.NATIVE_DIR


def cmake_lists(path) -> dict[str, list[str]]:
    """``KEYWORD value ...`` groups of the first ``build_lib``/``build_lib_example`` call of a CMake file."""
    text = re.sub(r"#.*", "", path.read_text())
    call = re.search(r"build_lib(?:_example)?\s*\((.*?)\)\s*$", text, re.S | re.M)
    assert call, f"{path}: no build_lib(...) call"
    groups: dict[str, list[str]] = {}
    key = None
    for word in call.group(1).split():
        if re.fullmatch(r"[A-Z_]+", word):
            key = word
            groups[key] = []
        else:
            assert key is not None, word
            groups[key].append(word)
    return groups


def rel(paths) -> list[str]:
    return sorted(p.relative_to(NATIVE).as_posix() for p in paths)


def test_cmake_lists_exactly_the_module_files():
    g = cmake_lists(NATIVE / "CMakeLists.txt")
    assert g["LIBNAME"] == ["mfs"]
    assert sorted(g["SOURCE_FILES"]) == rel(_build._files(_build.MODULE_DIRS, ".cc"))
    assert sorted(g["HEADER_FILES"]) == rel(_build.module_headers())
    tests = [p for p in _build.test_sources() if p.name != "mfs-test-runner.cc"]  # ns-3 brings its own runner
    assert sorted(g["TEST_SOURCES"]) == rel(tests) and len(tests) >= 3
    assert {"${libcore}", "${libnetwork}", "${libtraffic-control}"} <= set(g["LIBRARIES_TO_LINK"])
    ex = cmake_lists(NATIVE / "examples" / "CMakeLists.txt")
    assert sorted(ex["SOURCE_FILES"]) == sorted(p.name for p in _build.example_sources())
    assert ex["NAME"] == ["rmlq-queue-disc-example"] and "${libmfs}" in ex["LIBRARIES_TO_LINK"]


def test_examples_to_run_lists_every_example_program():
    """ns-3's test.py runs the example programs named in test/examples-to-run.py."""
    import ast

    tree = ast.parse((NATIVE / "test" / "examples-to-run.py").read_text())
    lists = {t.id: ast.literal_eval(node.value) for node in tree.body if isinstance(node, ast.Assign)
             for t in node.targets}
    assert all(len(e) == 3 and e[1] == "True" for e in lists["cpp_examples"]) and lists["python_examples"] == []
    assert sorted({e[0].split()[0] for e in lists["cpp_examples"]}) == sorted(p.stem for p in _build.example_sources())


def test_module_files_include_module_headers_as_ns3_headers():
    files = [*_build.module_headers(), *_build._files(_build.MODULE_DIRS, ".cc"), *_build.test_sources(),
             *_build.example_sources()]
    relative = [f"{p.name}: {line}" for p in files for line in p.read_text().splitlines()
                if line.startswith("#include") and "../" in line]
    assert relative == []


@pytest.fixture(scope="module")
def example() -> str:
    return str(_build.ensure_example_built("rmlq-queue-disc-example"))


def bands(stdout: str) -> dict[int, tuple[int, int, float]]:
    """band -> (enqueued, dequeued, goodput Mbit/s) from an example's table."""
    rows = [line.split() for line in stdout.splitlines() if re.fullmatch(r"\s*\d+\s+\d+\s+\d+\s+\d+\s+[\d.]+", line)]
    return {int(r[0]): (int(r[2]), int(r[3]), float(r[4])) for r in rows}


def check_strict_priority(stdout: str) -> None:
    b = bands(stdout)
    assert sorted(b) == [1, 3], stdout
    # Each sender offers 8 Mbit/s into 10 Mbit/s: band 1 is served whole, band 3 gets the rest.
    assert b[1][0] == b[1][1] and 7.8 < b[1][2] <= 8.0, stdout
    assert 1.0 < b[3][2] < 2.2 and b[3][1] < b[3][0], stdout
    assert re.search(r"queue disc: \d+ packets sent, 0 dropped", stdout), stdout


def test_cpp_example_on_stock_ipv4_nodes(example):
    res = subprocess.run([example, "--simTime=1"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    check_strict_priority(res.stdout)


def test_python_scratch_example_with_traffic_control_helper():
    res = subprocess.run([sys.executable, str(ROOT / "scratch" / "rmlq_stock_ns3.py"), "--sim-time", "1"],
                         capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert res.returncode == 0, res.stderr[-3000:]
    check_strict_priority(res.stdout)
