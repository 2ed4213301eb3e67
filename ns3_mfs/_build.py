"""Lazy build of the native ns-3 module (``ns3_mfs/native``) into a user cache.

The shared library is keyed by a hash of the C++ sources, the ns-3 version,
the compiler's version and the flags, so editing a ``.cc`` file, upgrading the
wheel or changing compilers rebuilds it, and nothing else does. The finished
file is renamed into place, so two processes building at once cannot leave a
corrupt library behind: each writes its own temporary file and the last
rename wins with identical content.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path
from typing import Any

NATIVE_DIR = Path(__file__).resolve().parent / "native"
NS3_MODULES = ("core", "network", "traffic-control")
CXXFLAGS = (
    "-std=c++20",
    "-O2",
    "-fPIC",
    "-DNS3_LOG_ENABLE",
    "-DNS3_ASSERT_ENABLE",
    "-DNS3_BUILD_PROFILE_RELEASE",
    "-D__LINUX__",
    "-Wall",
    "-Wno-unused-parameter",
)
MIN_GCC = 10
LIB_NAME = "libns3mfs.so"


class BuildError(RuntimeError):
    """The native library could not be built (message says why and what to do)."""


def ns3_prefix() -> Path:
    """Directory of the ``ns3`` wheel (holds include/ and lib64/)."""
    import importlib.util

    spec = importlib.util.find_spec("ns3")
    if spec is None or not spec.submodule_search_locations:
        raise BuildError("the ns3 wheel is not installed: pip install ns3==3.44.post0")
    return Path(list(spec.submodule_search_locations)[0])


def ns3_version() -> str:
    try:
        return metadata.version("ns3")
    except metadata.PackageNotFoundError as exc:  # pragma: no cover - guarded by ns3_prefix
        raise BuildError("the ns3 wheel is not installed: pip install ns3==3.44.post0") from exc


def compiler() -> tuple[str, str]:
    """The C++ compiler to use ($CXX or g++) and its version string.

    Raises BuildError when it is missing or older than g++ 10 (C++20 is needed).
    """
    cxx = os.environ.get("CXX", "g++")
    path = shutil.which(cxx)
    if path is None:
        raise BuildError(
            f"C++ compiler '{cxx}' not found: install g++ {MIN_GCC} or newer "
            "(e.g. apt-get install g++) or set CXX"
        )
    out = subprocess.run([path, "--version"], capture_output=True, text=True).stdout
    first = out.splitlines()[0] if out else ""
    if "clang" not in first:
        m = re.search(r"(\d+)\.(\d+)(?:\.\d+)?\s*$", first) or re.search(r" (\d+)\.(\d+)", first)
        if not m or int(m.group(1)) < MIN_GCC:
            raise BuildError(
                f"'{cxx}' is too old ({first.strip() or 'unknown version'}): the native module "
                f"needs g++ {MIN_GCC} or newer with C++20"
            )
    return path, first.strip()


LIBRARY_DIRS = ("model", "helper", "binding")
#: Folders whose headers an ns-3 build would install as ``ns3/<name>.h`` (the contrib module's headers).
MODULE_DIRS = ("model", "helper")
TEST_DIR = "test"
TEST_NAME = "ns3mfs-model-tests"
#: ns-3 modules the model tests link besides the library's (Ipv4QueueDiscItem for the queue disc's IPv4 test).
TEST_MODULES = (*NS3_MODULES, "internet")
EXAMPLE_DIR = "examples"
#: ns-3 modules the example programs link: stock point-to-point + IPv4 nodes with UDP applications.
EXAMPLE_MODULES = (*NS3_MODULES, "internet", "point-to-point", "applications")


def _files(dirs: tuple[str, ...], suffix: str) -> list[Path]:
    return [p for d in dirs for p in sorted(NATIVE_DIR.glob(f"{d}/*{suffix}"))]


def sources() -> list[Path]:
    """The .cc files of the library (every folder of native/ but test/)."""
    return _files(LIBRARY_DIRS, ".cc")


def test_sources() -> list[Path]:
    """The .cc files of the C++ model tests (native/test/), built into their own program."""
    return _files((TEST_DIR,), ".cc")


def example_sources() -> list[Path]:
    """The example programs (native/examples/), one program per .cc file."""
    return _files((EXAMPLE_DIR,), ".cc")


def module_headers() -> list[Path]:
    """The headers of the ns-3 module (model/ and helper/), as a contrib build installs them."""
    return _files(MODULE_DIRS, ".h")


def _headers() -> list[Path]:
    return _files(LIBRARY_DIRS, ".h")


def _hash_files(h: Any, paths: list[Path]) -> None:
    for path in paths:
        h.update(path.relative_to(NATIVE_DIR).as_posix().encode())
        h.update(path.read_bytes())


def build_key(cxx_version: str) -> str:
    h = hashlib.sha256()
    _hash_files(h, sources() + _headers())
    h.update(ns3_version().encode())
    h.update(cxx_version.encode())
    h.update(" ".join(CXXFLAGS + NS3_MODULES).encode())
    return h.hexdigest()[:16]


def cache_dir() -> Path:
    base = os.environ.get("NS3_MFS_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "ns3-mfs"
    )
    return Path(base)


def library_path() -> Path:
    """Where the library for the current sources lives (built or not)."""
    _, version = compiler()
    return cache_dir() / build_key(version) / LIB_NAME


def _toolchain() -> tuple[str, Path, Path]:
    """(compiler, ns-3 include dir, ns-3 library dir), checked."""
    cxx, _ = compiler()
    prefix = ns3_prefix()
    include = prefix / "include"
    if not (include / "ns3" / "queue-disc.h").exists():
        raise BuildError(f"ns-3 headers not found under {include}")
    return cxx, include, prefix / "lib64"


def _stage_headers(tmp: str) -> Path:
    """Copy the module's headers to ``@tmp/include/ns3/`` (as ns-3 installs a module's headers), so
    ``#include "ns3/rdma-nic.h"`` works here exactly as in an ns-3 ``contrib/`` build; returns the folder."""
    root = Path(tmp) / "include"
    (root / "ns3").mkdir(parents=True, exist_ok=True)
    for h in module_headers():
        shutil.copyfile(h, root / "ns3" / h.name)
    return root


def _compile_all(cxx: str, include: Path, srcs: list[Path], tmp: str) -> list[Path]:
    """Compile @srcs into objects under @tmp, in parallel."""
    staged = _stage_headers(tmp)

    def compile_one(src: Path) -> Path:
        obj = Path(tmp) / (src.parent.name + "-" + src.stem + ".o")
        cmd = [cxx, *CXXFLAGS, f"-I{staged}", f"-I{include}", "-c", str(src), "-o", str(obj)]
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0:
            raise BuildError(f"compiling {src.name} failed:\n{res.stderr[-6000:]}")
        return obj

    jobs = max(1, min(len(srcs), os.cpu_count() or 1))
    with ThreadPoolExecutor(jobs) as pool:
        return list(pool.map(compile_one, srcs))


def _link(cxx: str, out: Path, args: list[str], libdir: Path, what: str,
          modules: tuple[str, ...] = NS3_MODULES) -> None:
    cmd = [
        cxx,
        "-o",
        str(out),
        *args,
        f"-L{libdir}",
        f"-Wl,-rpath,{libdir}",
        *[f"-lns3.44-{m}" for m in modules],
    ]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise BuildError(f"linking {what} failed:\n{res.stderr[-6000:]}")


def ensure_built(verbose: bool = False) -> Path:
    """Return the path of the native library, building it first if needed."""
    _, version = compiler()
    target = cache_dir() / build_key(version) / LIB_NAME
    if target.exists():
        return target
    cxx, include, libdir = _toolchain()
    target.parent.mkdir(parents=True, exist_ok=True)
    if verbose:
        print(f"building native module into {target.parent} ...", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".build-") as tmp:
        objects = _compile_all(cxx, include, sources(), tmp)
        tmp_lib = Path(tmp) / LIB_NAME
        _link(cxx, tmp_lib, ["-shared", *map(str, objects)], libdir, LIB_NAME)
        os.replace(tmp_lib, target)
    return target


def ensure_test_built(verbose: bool = False) -> Path:
    """Return the path of the C++ model-test program, building it (and the library) first if needed.

    It is compiled with the library's flags, linked against the library, and
    cached next to it under a key that also covers the test sources.
    """
    lib = ensure_built(verbose)
    h = hashlib.sha256(lib.parent.name.encode())
    _hash_files(h, test_sources() + _files((TEST_DIR,), ".h"))
    target = lib.parent / f"{TEST_NAME}-{h.hexdigest()[:12]}"
    if target.exists():
        return target
    cxx, include, libdir = _toolchain()
    if verbose:
        print(f"building C++ model tests into {target} ...", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".build-test-") as tmp:
        objects = _compile_all(cxx, include, test_sources(), tmp)
        tmp_exe = Path(tmp) / TEST_NAME
        args = [*map(str, objects), str(lib), f"-Wl,-rpath,{lib.parent}"]
        _link(cxx, tmp_exe, args, libdir, TEST_NAME, TEST_MODULES)
        os.replace(tmp_exe, target)
    return target


def ensure_example_built(name: str, verbose: bool = False) -> Path:
    """Return the path of the example program ``native/examples/<name>.cc``, building it (and the
    library) first if needed; cached next to the library under a key of its source."""
    src = NATIVE_DIR / EXAMPLE_DIR / f"{name}.cc"
    if src not in example_sources():
        raise BuildError(f"no example program {name!r} in {NATIVE_DIR / EXAMPLE_DIR}")
    lib = ensure_built(verbose)
    h = hashlib.sha256(lib.parent.name.encode())
    _hash_files(h, [src])
    target = lib.parent / f"{name}-{h.hexdigest()[:12]}"
    if target.exists():
        return target
    cxx, include, libdir = _toolchain()
    if verbose:
        print(f"building example {name} into {target} ...", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".build-example-") as tmp:
        objects = _compile_all(cxx, include, [src], tmp)
        tmp_exe = Path(tmp) / name
        args = [*map(str, objects), str(lib), f"-Wl,-rpath,{lib.parent}"]
        _link(cxx, tmp_exe, args, libdir, name, EXAMPLE_MODULES)
        os.replace(tmp_exe, target)
    return target


def main() -> None:  # pragma: no cover - thin CLI wrapper
    print(ensure_built(verbose=True))


if __name__ == "__main__":  # pragma: no cover
    main()
