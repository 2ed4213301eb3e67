"""``file``: a topology given as its graph: nodes with roles, links with rate and delay, the GPU-to-NIC map.

In TOML (or the same structure in a ``.json`` file)::

    kind = "file"
    name = "my-fabric"
    gpus_per_server = 4
    nodes = [
      { name = "nic0", role = "host", server = 0, gpus = [0, 1] },
      { name = "nic1", role = "host", server = 0, gpus = [2, 3] },
      { name = "sw0", role = "switch" },
    ]
    links = [
      { a = "nic0", b = "sw0", rate_gbps = 100.0 },
      { a = "nic1", b = "sw0", rate_gbps = 100.0, delay_us = 0.5 },
    ]

Roles (:data:`ROLES`): ``host``, one NIC port (exactly one link), with its
``server`` (servers numbered 0..S-1) and optionally ``gpus``, the local
indices of the server's GPUs that use this NIC (the GPU-to-NIC map; give it
for every host or for none; none: ``serving.gpus_per_nic`` decides) and
``rail`` (for PXN); ``switch``, a forwarding node.

A file can describe its servers' inside instead (the host path, as
``[topology.host]`` builds it for the other kinds): ``gpu`` nodes (with
``server`` and ``gpu``, the local index; every GPU of every server once) and
``memory`` nodes (host memory, with ``server``) are the endpoints, each with
one link; ``nic``, ``pcie``, ``nvswitch`` and ``cpu`` nodes forward like
switches. NIC ports are then ``nic`` nodes, not hosts; which NIC a GPU uses
follows from the shortest paths. :func:`graph_to_table` writes such a graph
back (``ns3-mfs topology export`` of a topology with a ``[host]`` table). Hosts are numbered in the
order they are listed, switches after them in their order, and links keep
their order, so a file written from a built-in kind's graph
(:func:`graph_to_table`) builds exactly that graph (same routes, same
results). ``delay_us`` defaults to ``link_delay_us``.

:func:`build_graph` is the one place that turns nodes and links into a
:class:`Graph`; roles inside a server (GPUs, PCIe switches, NVSwitch, host
memory) are added there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal, Mapping, Sequence

from ...config import ConfigError, spec
from . import Graph, Link, Topology, adjacency, hop_distances, register

#: Node roles a file may use, each with its keys (beyond ``name`` and ``role``) and whether they are required.
ROLES: dict[str, dict[str, bool]] = {
    "host": {"server": True, "gpus": False, "rail": False},
    "switch": {},
    # A server's inside (the host path): GPUs and host memory are endpoints, the rest forward.
    "gpu": {"server": True, "gpu": True},
    "memory": {"server": True},
    "nic": {"server": False},
    "pcie": {"server": False},
    "nvswitch": {"server": False},
    "cpu": {"server": False},
}
#: Roles that are fabric hosts (endpoints); every other role forwards.
HOST_ROLES = ("host", "gpu", "memory")
LINK_KEYS = {"a": True, "b": True, "rate_gbps": True, "delay_us": False}
#: Fastest link a file may give (Gbit/s): NVLink inside a server runs at thousands (H100: 3,600 per direction).
MAX_RATE_GBPS = 1e5


def _int(v: Any, where: str, low: int = 0) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < low:
        raise ConfigError(f"{where}: expected an integer >= {low}, got {v!r:.40}")
    return v


def _num(v: Any, where: str, gt: float | None = None, low: float | None = None) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ConfigError(f"{where}: expected a number, got {v!r:.40}")
    if gt is not None and not v > gt:
        raise ConfigError(f"{where}: must be > {gt:g}, got {v!r}")
    if low is not None and v < low:
        raise ConfigError(f"{where}: must be >= {low:g}, got {v!r}")
    return float(v)


def _keys(table: Mapping[str, Any], allowed: Mapping[str, bool], where: str) -> None:
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        raise ConfigError(f"{where}.{unknown[0]}: unknown key; allowed keys: {', '.join(sorted(allowed))}")
    for key, required in allowed.items():
        if required and key not in table:
            raise ConfigError(f"{where}.{key}: missing")


def build_graph(name: str, nodes: Sequence[Mapping[str, Any]], links: Sequence[Mapping[str, Any]],
                gpus_per_server: int, default_delay_s: float, path: str = "topology", pxn: bool = False) -> Graph:
    """Validate nodes and links and build the graph (errors name ``path.nodes[i].key``)."""
    index: dict[str, int] = {}
    hosts: list[tuple[int, Mapping[str, Any]]] = []
    switches: list[str] = []
    for i, node in enumerate(nodes):
        where = f"{path}.nodes[{i}]"
        if not isinstance(node, Mapping):
            raise ConfigError(f"{where}: expected a table, got {node!r:.40}")
        role = node.get("role")
        if not isinstance(role, str) or role not in ROLES:
            raise ConfigError(f"{where}.role: {role!r} is not allowed; allowed: {', '.join(ROLES)}")
        _keys(node, {"name": True, "role": True, **ROLES[role]}, where)
        nm = node["name"]
        if not isinstance(nm, str) or not nm:
            raise ConfigError(f"{where}.name: expected a non-empty string, got {nm!r:.40}")
        if nm in index or nm in switches or any(nm == h["name"] for _, h in hosts):
            raise ConfigError(f"{where}.name: {nm!r} is used by another node")
        if role in HOST_ROLES:
            hosts.append((i, node))
        else:
            switches.append(nm)
    inside = any(node["role"] in ("gpu", "memory") for _, node in hosts)
    if inside and any(node["role"] == "host" for _, node in hosts):
        i = next(i for i, node in hosts if node["role"] == "host")
        raise ConfigError(f"{path}.nodes[{i}].role: 'host' (a NIC port endpoint) cannot be mixed with gpu and memory "
                          "nodes; with a server's inside the NICs are role = \"nic\"")
    if len(hosts) < 2:
        raise ConfigError(f"{path}.nodes: {len(hosts)} host(s); a fabric needs at least 2 (role = \"host\", or "
                          "\"gpu\" and \"memory\")")
    if not switches:
        raise ConfigError(f"{path}.nodes: no switch (role = \"switch\"); hosts connect through switches")
    for h, (_, node) in enumerate(hosts):
        index[node["name"]] = h
    for s, nm in enumerate(switches):
        index[nm] = len(hosts) + s
    n_hosts = len(hosts)
    out: list[Link] = []
    degree = [0] * (n_hosts + len(switches))
    seen: set[tuple[int, int]] = set()
    for j, link in enumerate(links):
        where = f"{path}.links[{j}]"
        if not isinstance(link, Mapping):
            raise ConfigError(f"{where}: expected a table, got {link!r:.40}")
        _keys(link, LINK_KEYS, where)
        ends = []
        for end in ("a", "b"):
            if not isinstance(link[end], str) or link[end] not in index:
                raise ConfigError(f"{where}.{end}: {link[end]!r:.40} is not a node")
            ends.append(index[link[end]])
        a, b = ends
        if a == b:
            raise ConfigError(f"{where}: links {link['a']!r} to itself")
        if a < n_hosts and b < n_hosts:
            raise ConfigError(f"{where}: links two hosts; a host (NIC port) connects to a switch")
        if (min(a, b), max(a, b)) in seen:
            raise ConfigError(f"{where}: a second link between {link['a']!r} and {link['b']!r}")
        seen.add((min(a, b), max(a, b)))
        rate = _num(link["rate_gbps"], f"{where}.rate_gbps", gt=0.0)
        if rate > MAX_RATE_GBPS:
            raise ConfigError(f"{where}.rate_gbps: must be <= {MAX_RATE_GBPS:g}, got {rate:g}")
        delay = _num(link.get("delay_us", default_delay_s * 1e6), f"{where}.delay_us", low=0.0) * 1e-6
        out.append(Link(a, b, rate * 1e9, delay))
        degree[a] += 1
        degree[b] += 1
    for h, (i, node) in enumerate(hosts):
        if degree[h] != 1:
            raise ConfigError(f"{path}.nodes[{i}]: host {node['name']!r} has {degree[h]} links; a host is one NIC "
                              "port with exactly one link")
    servers = [_int(node["server"], f"{path}.nodes[{i}].server") for i, node in hosts]
    used = sorted(set(servers))
    if used != list(range(len(used))):
        missing = next(s for s in range(len(used) + 1) if s not in used)
        raise ConfigError(f"{path}.nodes: servers must be numbered 0..{len(used) - 1}; no host is on server {missing}")
    _check_connected(n_hosts, len(switches), out, [node["name"] for _, node in hosts], path)
    names = tuple(node["name"] for _, node in hosts)
    if inside:
        if pxn:
            raise ConfigError(f"{path}.pxn: PXN is not modelled with a server's inside (gpu nodes)")
        gpu_host, mem_hosts = _inside(hosts, servers, gpus_per_server, path)
        return Graph(name, n_hosts, tuple(switches), tuple(out), tuple(servers), gpus_per_server, host_names=names,
                     gpu_host=gpu_host, mem_hosts=mem_hosts)
    gpu_nic = _gpu_map(hosts, servers, gpus_per_server, path)
    rails = [node.get("rail") for _, node in hosts]
    host_rail: tuple[int, ...] = ()
    if any(r is not None for r in rails):
        host_rail = tuple(_int(r, f"{path}.nodes[{i}].rail") if r is not None else -1
                          for (i, _), r in zip(hosts, rails))
    if pxn and (not host_rail or -1 in host_rail or not gpu_nic):
        raise ConfigError(f"{path}.pxn: needs the rail and gpus of every host (PXN moves a transfer to the GPU "
                          "on the destination's rail)")
    default = names == tuple(f"nic{h}" for h in range(n_hosts))
    return Graph(name, n_hosts, tuple(switches), tuple(out), tuple(servers), gpus_per_server, gpu_nic=gpu_nic,
                 host_rail=host_rail, pxn=pxn, host_names=() if default else names)


def _check_connected(n_hosts: int, n_switches: int, links: list[Link], names: list[str], path: str) -> None:
    seen = hop_distances(adjacency(links), [0])
    cut = next((h for h in range(n_hosts) if h not in seen), None)
    if cut is not None:
        raise ConfigError(f"{path}.links: host {names[cut]!r} cannot reach host {names[0]!r}; the graph is not "
                          "connected")


def _inside(hosts: list[tuple[int, Mapping[str, Any]]], servers: list[int], gps: int,
            path: str) -> tuple[tuple[int, ...], tuple[tuple[int, ...], ...]]:
    """The host of every GPU (server by server) and each server's host-memory hosts, of a file that
    describes its servers' inside; every GPU of every server must be there once."""
    gpu_host: dict[tuple[int, int], int] = {}
    mems: dict[int, list[int]] = {}
    for h, ((i, node), server) in enumerate(zip(hosts, servers)):
        if node["role"] == "memory":
            mems.setdefault(server, []).append(h)
            continue
        g = _int(node["gpu"], f"{path}.nodes[{i}].gpu")
        if g >= gps:
            raise ConfigError(f"{path}.nodes[{i}].gpu: {g} is not on a server of {gps} GPUs (gpus_per_server); "
                              f"allowed: 0..{gps - 1}")
        if (server, g) in gpu_host:
            raise ConfigError(f"{path}.nodes[{i}].gpu: GPU {g} of server {server} is listed twice")
        gpu_host[(server, g)] = h
    n_servers = max(servers) + 1
    missing = next(((s, g) for s in range(n_servers) for g in range(gps) if (s, g) not in gpu_host), None)
    if missing is not None:
        raise ConfigError(f"{path}.nodes: GPU {missing[1]} of server {missing[0]} has no node (role = \"gpu\")")
    return (tuple(gpu_host[(s, g)] for s in range(n_servers) for g in range(gps)),
            tuple(tuple(mems.get(s, ())) for s in range(n_servers)))


def _gpu_map(hosts: list[tuple[int, Mapping[str, Any]]], servers: list[int], gps: int, path: str) -> tuple[int, ...]:
    given = [node.get("gpus") for _, node in hosts]
    if all(g is None for g in given):
        return ()
    owner: dict[tuple[int, int], int] = {}
    for h, ((i, node), server, gpus) in enumerate(zip(hosts, servers, given)):
        where = f"{path}.nodes[{i}].gpus"
        if gpus is None:
            raise ConfigError(f"{where}: missing; give the GPU-to-NIC map (gpus = [...]) for every host or none")
        if not isinstance(gpus, list):
            raise ConfigError(f"{where}: expected a list of GPU indices, got {gpus!r:.40}")
        for g in gpus:
            g = _int(g, where)
            if g >= gps:
                raise ConfigError(f"{where}: GPU {g} is not on a server of {gps} GPUs (gpus_per_server); "
                                  f"allowed: 0..{gps - 1}")
            if (server, g) in owner:
                raise ConfigError(f"{where}: GPU {g} of server {server} is already on another NIC")
            owner[(server, g)] = h
    n_servers = max(servers) + 1
    for s in range(n_servers):
        for g in range(gps):
            if (s, g) not in owner:
                raise ConfigError(f"{path}.nodes: GPU {g} of server {s} is on no NIC (gpus lists)")
    return tuple(owner[(s, g)] for s in range(n_servers) for g in range(gps))


def graph_to_table(graph: Graph) -> dict[str, Any]:
    """A ``file`` topology table that builds ``graph`` exactly (node and link order kept)."""
    nodes: list[dict[str, Any]] = []
    gps = graph.gpus_per_server
    gpu_of = {h: g % gps for g, h in enumerate(graph.gpu_host)}
    for h in range(graph.num_hosts):
        server = graph.host_server[h]
        if graph.host_path:
            node: dict[str, Any] = ({"name": graph.node_name(h), "role": "gpu", "server": server, "gpu": gpu_of[h]}
                                    if h in gpu_of else {"name": graph.node_name(h), "role": "memory", "server": server})
            nodes.append(node)
            continue
        node = {"name": graph.node_name(h), "role": "host", "server": server}
        if graph.gpu_nic:
            node["gpus"] = [g % gps for g, nic in enumerate(graph.gpu_nic) if nic == h]
        if graph.host_rail:
            node["rail"] = graph.host_rail[h]
        nodes.append(node)
    nodes += [{"name": nm, "role": _inside_role(nm) if graph.host_path else "switch"} for nm in graph.switch_names]
    links = [{"a": graph.node_name(l.a), "b": graph.node_name(l.b), "rate_gbps": l.rate_bps / 1e9,
              "delay_us": l.delay_s * 1e6} for l in graph.links]
    out = {"kind": "file", "name": graph.name, "gpus_per_server": graph.gpus_per_server, "nodes": nodes,
           "links": links}
    if graph.pxn:
        out["pxn"] = True
    return out


def _inside_role(name: str) -> str:
    """The role of a forwarding node that the host path named (``s<server>.psw<j>`` and so on)."""
    kind = name.rsplit(".", 1)[-1].rstrip("0123456789")
    return {"psw": "pcie", "nic": "nic", "cpu": "cpu", "mem": "cpu", "nvswitch": "nvswitch", "io": "nvswitch"}.get(
        kind, "switch")


@register
@dataclass(frozen=True)
class FileTopology(Topology):
    """Any graph: nodes with roles and links with rate and delay (see the module docstring)."""

    kind: Literal["file"] = "file"
    nodes: list[dict] = spec([], doc="nodes: tables with name, role (host, switch; or a server's inside: gpu, "
                             "memory, nic, pcie, nvswitch, cpu), and for hosts server, gpus (GPU-to-NIC map), rail; "
                             "for gpu nodes server and gpu")
    links: list[dict] = spec([], doc="links: tables with a, b (node names), rate_gbps, delay_us")
    pxn: bool = spec(False, doc="NCCL PXN over the hosts' rails (see the rail kind)")

    def validate(self, path: str) -> None:
        self._build(path or "topology")

    def _build(self, path: str) -> Graph:
        return build_graph(self.name or "file", self.nodes, self.links, self.gpus_per_server,
                           self.link_delay_us * 1e-6, path, self.pxn)

    def network(self) -> Graph:
        return self._build("topology")
