"""ns3-mfs: a packet-level ns-3 model of disaggregated MoE LLM serving networks.

Importing the package has no side effects: ns-3 and the native library are
loaded on first use (``ns3_mfs._ns.native()``).
"""

__version__ = "0.1.0"


def __getattr__(name: str):
    """Lazy public API: ``ns3_mfs.load_results(DIR)`` imports pandas only when called."""
    if name == "load_results":
        from .analysis.results import load_results

        return load_results
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["__version__", "load_results"]
