"""The only module that touches cppyy / ns-3.

It builds (if needed) and loads the native library and parses one small
headers, ``native/binding/mfs-fabric.h`` and ``mfs-flow-fabric.h``, that includes no ns-3 header, so the first use
costs about a second instead of the 7 s of ``from ns import ns``. The ns3
wheel's own loader is not used: it globs the current working directory for
shared libraries (slow or broken from ``/`` or a folder holding another ns-3
build); here libraries are found through the native library's rpath, so any
working directory works.
"""

from __future__ import annotations

import threading
from typing import Any

from . import _build

_lock = threading.Lock()
_native: Any = None


def native() -> Any:
    """The ``ns3mfs`` C++ namespace (loads the library on first call)."""
    global _native
    with _lock:
        if _native is None:
            lib = _build.ensure_built(verbose=True)
            import cppyy

            cppyy.add_include_path(str(_build.NATIVE_DIR / "binding"))
            cppyy.include("mfs-fabric.h")
            cppyy.include("mfs-flow-fabric.h")
            cppyy.load_library(str(lib))
            _native = cppyy.gbl.ns3mfs
        return _native
