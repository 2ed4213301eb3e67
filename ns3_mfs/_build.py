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


def sources() -> list[Path]:
    return sorted(NATIVE_DIR.glob("model/*.cc")) + sorted(NATIVE_DIR.glob("helper/*.cc"))


def _headers() -> list[Path]:
    return sorted(NATIVE_DIR.glob("model/*.h")) + sorted(NATIVE_DIR.glob("helper/*.h"))


def build_key(cxx_version: str) -> str:
    h = hashlib.sha256()
    for path in sources() + _headers():
        h.update(path.relative_to(NATIVE_DIR).as_posix().encode())
        h.update(path.read_bytes())
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


def ensure_built(verbose: bool = False) -> Path:
    """Return the path of the native library, building it first if needed."""
    cxx, version = compiler()
    target = cache_dir() / build_key(version) / LIB_NAME
    if target.exists():
        return target
    prefix = ns3_prefix()
    include = prefix / "include"
    libdir = prefix / "lib64"
    if not (include / "ns3" / "queue-disc.h").exists():
        raise BuildError(f"ns-3 headers not found under {include}")
    target.parent.mkdir(parents=True, exist_ok=True)
    if verbose:
        print(f"building native module into {target.parent} ...", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".build-") as tmp:
        objects = []

        def compile_one(src: Path) -> Path:
            obj = Path(tmp) / (src.parent.name + "-" + src.stem + ".o")
            cmd = [cxx, *CXXFLAGS, f"-I{include}", "-c", str(src), "-o", str(obj)]
            res = subprocess.run(cmd, capture_output=True, text=True)
            if res.returncode != 0:
                raise BuildError(f"compiling {src.name} failed:\n{res.stderr[-6000:]}")
            return obj

        jobs = max(1, min(len(sources()), os.cpu_count() or 1))
        with ThreadPoolExecutor(jobs) as pool:
            objects = list(pool.map(compile_one, sources()))
        tmp_lib = Path(tmp) / LIB_NAME
        cmd = [
            cxx,
            "-shared",
            "-o",
            str(tmp_lib),
            *map(str, objects),
            f"-L{libdir}",
            f"-Wl,-rpath,{libdir}",
            *[f"-lns3.44-{m}" for m in NS3_MODULES],
        ]
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0:
            raise BuildError(f"linking {LIB_NAME} failed:\n{res.stderr[-6000:]}")
        os.replace(tmp_lib, target)
    return target


def main() -> None:  # pragma: no cover - thin CLI wrapper
    print(ensure_built(verbose=True))


if __name__ == "__main__":  # pragma: no cover
    main()
