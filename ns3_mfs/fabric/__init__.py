"""The lossless RoCE fabric: topologies, the network builder and the flow API."""

from .network import FabricConfig, Flow, Network
from .result import FabricResult
from .topology import (
    FatTreeTopology,
    Graph,
    LeafSpineTopology,
    RingTopology,
    TestbedTopology,
    Topology,
    load_topology,
    topology_from_dict,
)

__all__ = [
    "FabricConfig",
    "FabricResult",
    "FatTreeTopology",
    "Flow",
    "Graph",
    "LeafSpineTopology",
    "Network",
    "RingTopology",
    "TestbedTopology",
    "Topology",
    "load_topology",
    "topology_from_dict",
]
