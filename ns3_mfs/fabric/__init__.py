"""The lossless RoCE fabric: topologies, the network builder and the flow API."""

from .network import FabricConfig, Flow, Network
from .result import FabricResult
from .topology import (
    FatTreeTopology,
    FileTopology,
    Graph,
    LeafSpineTopology,
    RailTopology,
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
    "FileTopology",
    "Flow",
    "Graph",
    "LeafSpineTopology",
    "Network",
    "RailTopology",
    "RingTopology",
    "TestbedTopology",
    "Topology",
    "load_topology",
    "topology_from_dict",
]
