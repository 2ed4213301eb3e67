"""Cluster layout: which GPUs and NICs form prefill instances, decode instances
and the KV store.

GPUs are numbered server by server (``server * gpus_per_server + local``).
GPU ``local`` of a server uses the server's NIC ``local // gpus_per_nic``
(the MFS testbed shares one 100G NIC between 2 GPUs). With a host path in
the topology (``[topology.host]``) every GPU is a fabric host of its own,
wired to its NIC as the topology says, and a dedicated KV store serves
from its servers' host memory. Prefill instances take
the first servers, decode instances the next ones, and the KV store the last
``kv_store_servers`` servers. A topology that gives its own GPU-to-NIC map
(``Graph.gpu_nic``: the ``rail`` and ``file`` kinds) overrides
``gpus_per_nic``.

With PXN (``Graph.pxn``), :meth:`Layout.pxn_proxy` names the GPU of the
source's server on the destination NIC's rail, through which a cross-rail
transfer leaves.

A prefill instance has ``G = max(tp, ep)`` GPUs (the Megatron/vLLM
convention: DBRX TP2/EP16 is 16 GPUs), or ``tp x ep`` with
``serving.instance_gpus = "tp_x_ep"`` (the MFS paper's: DBRX TP2/EP16 is 32
GPUs, ``ep`` expert ranks of ``tp`` GPUs each, and the all-to-all runs between
GPUs of equal TP index). Attention is tensor-parallel in
``G / tp`` data-parallel groups of ``tp`` consecutive GPUs (each group owns
some of the batch's requests); the experts are spread over all ``G`` GPUs, and
the MoE all-to-all runs between all of them, each GPU carrying 1/tp of its
group's tokens (sequence-split after the TP reduce-scatter).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import ConfigError
from ..fabric.topology import Graph


@dataclass(frozen=True)
class Instance:
    """One prefill instance: ``groups[d][t]`` is GPU t of attention (TP) group d."""

    index: int
    groups: tuple[tuple[int, ...], ...]

    @property
    def gpus(self) -> tuple[int, ...]:
        return tuple(g for group in self.groups for g in group)

    @property
    def tp(self) -> int:
        return len(self.groups[0])


@dataclass(frozen=True)
class Layout:
    gpus_per_server: int
    gpu_nic: tuple[int, ...]           #: host (NIC) index of every GPU
    prefill: tuple[Instance, ...]
    decode_gpus: tuple[int, ...]
    kv_store_hosts: tuple[int, ...]
    #: GPUs are fabric hosts (the topology's host path): copies inside a server are fabric flows too
    host_path: bool = False
    host_rail: tuple[int, ...] = ()    #: rail of every host (rail-optimised topologies)
    pxn: bool = False                  #: NCCL PXN: cross-rail transfers leave via the GPU on the destination's rail

    def pxn_proxy(self, src_gpu: int, dst_gpu: int) -> int:
        """The GPU a transfer src -> dst leaves the source server from: ``src_gpu`` itself unless PXN applies.

        PXN applies between servers when the two GPUs' NICs are on different
        rails: then the first GPU of the source server whose NIC is on the
        destination NIC's rail (``src_gpu`` if there is none).
        """
        if not self.pxn or self.same_server(src_gpu, dst_gpu):
            return src_gpu
        want = self.host_rail[self.gpu_nic[dst_gpu]]
        if self.host_rail[self.gpu_nic[src_gpu]] == want:
            return src_gpu
        first = self.server_of(src_gpu) * self.gpus_per_server
        return next((g for g in range(first, first + self.gpus_per_server)
                     if self.host_rail[self.gpu_nic[g]] == want), src_gpu)

    def server_of(self, gpu: int) -> int:
        return gpu // self.gpus_per_server

    def same_server(self, a: int, b: int) -> bool:
        return self.server_of(a) == self.server_of(b)

    def off_fabric(self, a: int, b: int) -> bool:
        """A copy from GPU ``a`` to GPU ``b`` is timed off the fabric (same server, no host path)."""
        return not self.host_path and self.same_server(a, b)

    def kv_host_for_block(self, block: int) -> int:
        """KV-store NIC holding a prefix block (placement by block id)."""
        return self.kv_store_hosts[block % len(self.kv_store_hosts)]


def build_layout(
    graph: Graph,
    *,
    tp: int,
    ep: int,
    prefill_gpus: int,
    decode_gpus: int,
    kv_store_servers: int,
    gpus_per_nic: int,
    path: str = "serving",
    instance_gpus: str = "max",
) -> Layout:
    """Place instances on a topology's servers; impossible layouts raise ConfigError."""
    gps = graph.gpus_per_server
    nics_of: dict[int, list[int]] = {}
    for host, server in enumerate(graph.host_server):
        nics_of.setdefault(server, []).append(host)
    servers = graph.num_servers
    total_gpus = servers * gps
    per_instance, size = (tp * ep, "tp x ep") if instance_gpus == "tp_x_ep" else (max(tp, ep), "max(tp, ep)")
    if per_instance > prefill_gpus:
        raise ConfigError(
            f"{path}.ep: an instance needs {size} = {per_instance} GPUs but prefill_gpus = {prefill_gpus}"
        )
    if prefill_gpus % per_instance:
        raise ConfigError(
            f"{path}.prefill_gpus: {prefill_gpus} is not a multiple of {size} = {per_instance}"
        )
    prefill_servers = -(-prefill_gpus // gps)
    decode_servers = -(-decode_gpus // gps)
    needed = prefill_servers + decode_servers + kv_store_servers
    if needed > servers:
        raise ConfigError(
            f"{path}: the layout needs {needed} servers ({prefill_servers} prefill, {decode_servers} decode, "
            f"{kv_store_servers} KV store) but the topology '{graph.name}' has {servers} servers of "
            f"{gps} GPUs ({total_gpus} GPUs)"
        )
    if graph.host_path:  # GPUs are fabric hosts; the topology's host path says which NIC each one uses
        if graph.gpus_per_nic and gpus_per_nic != graph.gpus_per_nic:
            raise ConfigError(
                f"{path}.gpus_per_nic: {gpus_per_nic}, but the topology's host path puts {graph.gpus_per_nic} "
                f"GPU(s) on each NIC ({gps} GPUs per server); set gpus_per_nic = {graph.gpus_per_nic}")
        gpu_nic = list(graph.gpu_host)
    else:
        gpu_nic = list(graph.gpu_nic)  # the topology's own GPU-to-NIC map (rail, file), else gpus_per_nic
    if not gpu_nic:
        for gpu in range(total_gpus):
            nics = nics_of[gpu // gps]
            gpu_nic.append(nics[min((gpu % gps) // gpus_per_nic, len(nics) - 1)])
    instances = []
    for i in range(prefill_gpus // per_instance):
        base = i * per_instance
        groups = tuple(tuple(base + d * tp + t for t in range(tp)) for d in range(per_instance // tp))
        instances.append(Instance(i, groups))
    decode_first = prefill_servers * gps
    decode = tuple(range(decode_first, decode_first + decode_gpus))
    store = range(servers - kv_store_servers, servers)
    if graph.host_path:  # a KV store serves its blocks from host memory
        kv_hosts = tuple(h for s in store for h in graph.mem_hosts[s])
    else:
        kv_hosts = tuple(h for s in store for h in nics_of[s])
    return Layout(gps, tuple(gpu_nic), tuple(instances), decode, kv_hosts, graph.host_path, tuple(graph.host_rail),
                  graph.pxn)
