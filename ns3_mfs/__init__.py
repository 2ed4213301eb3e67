"""ns3-mfs: a packet-level ns-3 model of disaggregated MoE LLM serving networks.

Importing the package has no side effects: ns-3 and the native library are
loaded on first use (``ns3_mfs._ns.native()``).
"""

__version__ = "0.1.0"
