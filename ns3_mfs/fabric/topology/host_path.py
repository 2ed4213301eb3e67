"""The host path: a server's inside as nodes and links of the fabric.

Without it (``[topology.host] model = "none"``, the default) a fabric *host*
is a NIC port and everything inside a server is out of the network: the
serving layer times copies between GPUs of one server at a fixed bandwidth.
With it, every GPU is an endpoint of the fabric and the server's
interconnect is made of switch nodes, so NIC traffic, intra-server copies
and host-memory traffic contend for the same links (SimAI models NVLink
the same way, as links to an NVSwitch node):

``model = "pcie"`` (the MFS testbed: PCIe Gen3, Xeon Gold 5218R, two RTX
3090s sharing each 100G NIC), per server::

    gpu --PCIe-- psw<j> --PCIe-- nic<j> --NIC link-- ToR    one PCIe switch
    gpu --PCIe-/   |                                        per NIC, the NIC's
                   PCIe (x16 uplink)                        GPUs under it
                   |
    host<k> --memory-- cpu<k> --UPI-- cpu<k+1>    one root complex per socket

``model = "nvswitch"`` (DGX-like: NVSwitch at 900 GB/s, one NIC per GPU)
adds, per GPU, an ``io`` node that links the GPU to the NVSwitch (NVLink)
and to its PCIe switch, so GPU-to-GPU copies take NVLink and NIC traffic
takes PCIe, as on the real machine.

* The NIC is a node of its own behind a PCIe link (``pcie_lanes`` of the
  platform's generation), so copies between a server's PCIe switches take
  the root complexes, never a round trip through the top-of-rack switch.
* PCIe rate = lanes x per-lane rate of the generation (after line encoding:
  Gen3 0.985, Gen4 1.969, Gen5 3.938, Gen6 7.563 GB/s) x ``pcie_efficiency``
  (TLP/DLLP overhead; 0.8 gives 12.6 GB/s for Gen3 x16, the 12-13 GB/s
  measured on such links). A GPU's link runs at the slower of the platform's
  generation (``pcie_gen``) and the GPU's own (the GPU profile's, when a
  serving run resolves it).
* ``gpudirect = false``: RDMA is staged through host memory (no GPUDirect
  RDMA, e.g. GeForce cards): the NIC's PCIe link starts at a ``mem`` node
  of its socket's root complex (a link at ``memory_gbps``), so every byte
  between a GPU and the NIC crosses the root complex and host memory. Copies between GPUs of a
  server still go peer to peer through their PCIe switch (or the root
  complex).
* ``host<k>`` endpoints are the sockets' host memory (DRAM) as a source and
  sink of data, e.g. a dedicated KV store's blocks.
* Switch nodes inside a server are lossless like the fabric's (PCIe credits
  behave like PFC) and schedule with the same queue disc.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal, Optional

from ...config import ConfigError, spec

if TYPE_CHECKING:  # pragma: no cover
    from . import Graph

#: GB/s per lane after line encoding (8b/10b for Gen1-2, 128b/130b for Gen3-5, FLIT for Gen6).
PCIE_LANE_GBYTES = {1: 0.25, 2: 0.5, 3: 0.985, 4: 1.969, 5: 3.938, 6: 7.563}

#: NVLink per direction when neither the topology nor a GPU profile says (H100 SXM: 450 GB/s).
DEFAULT_NVLINK_GBPS = 3600.0


def pcie_gbps(gen: int, lanes: int, efficiency: float) -> float:
    """Usable rate of a PCIe link (Gbit/s)."""
    return PCIE_LANE_GBYTES[gen] * lanes * efficiency * 8


@dataclass(frozen=True)
class HostPath:
    """How GPUs, NICs and host memory hang together inside each server (``[topology.host]``)."""

    model: Literal["none", "pcie", "nvswitch"] = spec(
        "none", doc="none: hosts are NIC ports and servers have no inside; pcie: GPUs, PCIe switches, root "
        "complexes and host memory as fabric nodes (the MFS testbed); nvswitch: also an NVSwitch (DGX-like)")
    sockets: int = spec(2, min=1, max=8, doc="CPU sockets (root complexes) per server, joined by UPI")
    pcie_gen: int = spec(3, choices=(1, 2, 3, 4, 5, 6), doc="PCIe generation of the platform (Xeon Gold "
                         "5218R: 3)")
    pcie_lanes: int = spec(16, choices=(1, 2, 4, 8, 16), doc="lanes of each GPU and PCIe-switch uplink")
    pcie_efficiency: float = spec(0.8, gt=0.0, max=1.0, doc="usable share of the encoded PCIe rate "
                                  "(TLP/DLLP overhead)")
    gpu_pcie_gen: Optional[int] = spec(None, choices=(1, 2, 3, 4, 5, 6), doc="the GPU's own PCIe generation; "
                                       "default: the serving GPU profile's (else the platform's)")
    gpu_pcie_lanes: Optional[int] = spec(None, choices=(1, 2, 4, 8, 16), doc="the GPU's PCIe lanes; default: "
                                         "the serving GPU profile's (else pcie_lanes)")
    gpudirect: bool = spec(True, doc="GPUDirect RDMA: the NIC reads and writes GPU memory through the PCIe "
                           "switch; false: staged through host memory")
    memory_gbps: float = spec(1024.0, min=1.0, max=1e5, doc="host memory bandwidth per socket (Gbit/s; 6 "
                              "channels of DDR4-2666: 1024)")
    socket_link_gbps: float = spec(332.8, min=1.0, max=1e5, doc="socket-to-socket (UPI) bandwidth (Gbit/s; "
                                   "2 links of 10.4 GT/s: 332.8)")
    nvlink_gbps: Optional[float] = spec(None, min=1.0, max=1e5, doc="model = nvswitch: each GPU's NVLink "
                                        "bandwidth to the NVSwitch per direction (Gbit/s); default: the serving "
                                        "GPU profile's (H100: 450 GB/s = 3600), else 3600")
    delay_ns: float = spec(150.0, min=0.0, max=1e6, doc="one-way latency of every link inside a server (ns)")

    @property
    def enabled(self) -> bool:
        return self.model != "none"

    def gpu_link_gbps(self) -> float:
        gen = min(self.pcie_gen, self.gpu_pcie_gen or self.pcie_gen)
        lanes = min(self.pcie_lanes, self.gpu_pcie_lanes or self.pcie_lanes)
        return pcie_gbps(gen, lanes, self.pcie_efficiency)

    def uplink_gbps(self) -> float:
        return pcie_gbps(self.pcie_gen, self.pcie_lanes, self.pcie_efficiency)

    def with_gpu(self, gen: Optional[int], lanes: Optional[int], nvlink_gbps: Optional[float] = None) -> "HostPath":
        """The GPU's own PCIe generation and lanes and NVLink rate (a GPU profile's), where the file leaves
        them unset."""
        return replace(self, gpu_pcie_gen=self.gpu_pcie_gen or gen, gpu_pcie_lanes=self.gpu_pcie_lanes or lanes,
                       nvlink_gbps=self.nvlink_gbps or nvlink_gbps)


def expand(graph: "Graph", host: HostPath, path: str = "topology.host") -> "Graph":
    """The graph with each server's inside added: GPUs and host memory become the hosts (endpoints), NIC
    ports become PCIe-switch nodes. ``graph`` has one host per NIC port, numbered server by server."""
    from . import Graph, Link

    if not host.enabled:
        return graph
    gps = graph.gpus_per_server
    servers = graph.num_servers
    nics_of: list[list[int]] = [[] for _ in range(servers)]
    for h, s in enumerate(graph.host_server):
        nics_of[s].append(h)
    if graph.host_path:
        raise ConfigError(f"{path}.model: the topology describes its servers' inside already (gpu nodes); leave "
                          "[host] out")
    if graph.pxn:
        raise ConfigError(f"{path}.model: PXN (pxn = true) is not modelled with a host path; set one of them off")
    if graph.gpu_nic:  # the topology's own GPU-to-NIC map
        nic_of_gpu = list(graph.gpu_nic)
        per_nic = 0
    else:  # the NICs of a server share its GPUs evenly
        nics = len(nics_of[0])
        if any(len(n) != nics for n in nics_of):
            raise ConfigError(f"{path}.model: the host path needs the same number of NICs on every server (or a "
                              "GPU-to-NIC map)")
        if gps % nics:
            raise ConfigError(f"{path}.model: {gps} GPUs per server cannot be shared evenly by {nics} NICs")
        per_nic = gps // nics
        nic_of_gpu = [nics_of[s][g // per_nic] for s in range(servers) for g in range(gps)]
    sockets = host.sockets
    d = host.delay_ns * 1e-9
    gpu_bps, up_bps = host.gpu_link_gbps() * 1e9, host.uplink_gbps() * 1e9
    mem_bps, upi_bps = host.memory_gbps * 1e9, host.socket_link_gbps * 1e9
    nvlink_bps = (host.nvlink_gbps or DEFAULT_NVLINK_GBPS) * 1e9

    # Endpoints: per server its GPUs, then one host-memory endpoint per socket.
    host_names: list[str] = []
    host_server: list[int] = []
    gpu_host: list[int] = []
    mem_hosts: list[tuple[int, ...]] = []
    for s in range(servers):
        for g in range(gps):
            gpu_host.append(len(host_names))
            host_names.append(f"s{s}.gpu{g}")
            host_server.append(s)
        mems = []
        for k in range(sockets):
            mems.append(len(host_names))
            host_names.append(f"s{s}.host{k}")
            host_server.append(s)
        mem_hosts.append(tuple(mems))
    n_hosts = len(host_names)

    # Switches: the base graph's, then per server its PCIe switches, root complexes, memory and NVSwitch nodes.
    switch_names = list(graph.switch_names)
    base_switch = {graph.num_hosts + i: n_hosts + i for i in range(len(graph.switch_names))}

    def add_switch(name: str) -> int:
        switch_names.append(name)
        return n_hosts + len(switch_names) - 1

    links: list[Link] = []
    psw_of_nic: dict[int, int] = {}
    for s in range(servers):
        cpus = [add_switch(f"s{s}.cpu{k}") for k in range(sockets)]
        for k in range(sockets - 1):
            links.append(Link(cpus[k], cpus[k + 1], upi_bps, d))
        mem_nodes = ([add_switch(f"s{s}.mem{k}") for k in range(sockets)] if not host.gpudirect else [])
        for k, m in enumerate(mem_nodes):
            links.append(Link(cpus[k], m, mem_bps, d))
        for k in range(sockets):
            links.append(Link(mem_hosts[s][k], mem_nodes[k] if mem_nodes else cpus[k], mem_bps, d))
        nvs = add_switch(f"s{s}.nvswitch") if host.model == "nvswitch" else None
        for j, nic in enumerate(nics_of[s]):
            socket = j * sockets // len(nics_of[s])
            psw = add_switch(f"s{s}.psw{j}")
            links.append(Link(psw, cpus[socket], up_bps, d))
            psw_of_nic[nic] = nic_node = add_switch(f"s{s}.nic{j}")
            # The NIC's PCIe link: to its PCIe switch, or (no GPUDirect) to host memory, where RDMA is staged.
            links.append(Link(mem_nodes[socket] if mem_nodes else psw, nic_node, up_bps, d))
            for g in (g for g in range(gps) if nic_of_gpu[s * gps + g] == nic):
                gpu = gpu_host[s * gps + g]
                if nvs is None:
                    links.append(Link(gpu, psw, gpu_bps, d))
                else:  # the GPU's own I/O node: NVLink to the NVSwitch, PCIe to its switch
                    io = add_switch(f"s{s}.gpu{g}.io")
                    links.append(Link(gpu, io, nvlink_bps, d))
                    links.append(Link(io, nvs, nvlink_bps, d))
                    links.append(Link(io, psw, gpu_bps, d))

    for link in graph.links:
        a = psw_of_nic.get(link.a, base_switch.get(link.a))
        b = psw_of_nic.get(link.b, base_switch.get(link.b))
        links.append(Link(a, b, link.rate_bps, link.delay_s))
    return Graph(graph.name, n_hosts, tuple(switch_names), tuple(links), tuple(host_server), gps,
                 host_names=tuple(host_names), gpu_host=tuple(gpu_host), mem_hosts=tuple(mem_hosts),
                 gpus_per_nic=per_nic)


def route(graph: "Graph", src: int, dst: int) -> list[int]:
    """Node indices of a shortest path from host ``src`` to host ``dst`` through switches only (hosts never
    forward, as in the fabric's routing); the first one in node order where several tie."""
    from . import adjacency

    adj = adjacency(graph.links)
    prev = {src: src}
    frontier = [src]
    while frontier and dst not in prev:
        nxt = []
        for u in frontier:
            if u != src and u < graph.num_hosts:
                continue
            for v in sorted(adj.get(u, ())):
                if v not in prev:
                    prev[v] = u
                    nxt.append(v)
        frontier = nxt
    if dst not in prev:
        return []
    path = [dst]
    while path[-1] != src:
        path.append(prev[path[-1]])
    return path[::-1]
