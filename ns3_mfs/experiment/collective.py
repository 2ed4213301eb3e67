"""``ns3-mfs collective``: one collective on a topology at given sizes, as nccl-tests reports it.

Ranks ``0..n-1`` are GPUs ``0..n-1`` (numbered server by server) with the
cluster layout's GPU-to-NIC map (the topology's own, or
``gpus_per_nic``), or the GPUs of one prefill instance of a run config's
layout (``--layout RUNCONFIG --instance K``: the instance's GPUs in order, on
that layout's NICs), so a measured nccl-tests run on the same GPUs compares
directly (``compare-testbed --format nccl``). For each size ``S`` (one
rank's buffer, as nccl-tests counts it) every rank starts at time 0:

* ``all_to_all``: rank i sends ``S / n`` to every other rank;
* ``all_reduce`` (ring): rank i sends ``2 (n-1) / n x S`` to rank i+1;
* ``all_gather`` / ``reduce_scatter`` (ring): rank i sends ``(n-1) / n x S``
  to rank i+1.

This is the same model as the serving engine's collectives (a pipelined
ring moves its bytes as one stream per rank; per-step latency is not
modelled). Transfers between GPUs of one server are copies at
``intra_server_gbps``, off the fabric; with PXN, a cross-rail transfer first
hops inside its server (see :mod:`ns3_mfs.fabric.topology.rail`). The time is
the last transfer's end; ``algbw = S / time`` and ``busbw = algbw x`` the
collective's factor (:func:`ns3_mfs.analysis.nccl.bus_factor` defines
them; the same definitions are applied here).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import pandas as pd

from ..config import ConfigError
from ..fabric.network import FabricConfig, Network
from ..fabric.topology import Topology
from ..serving.cluster import Layout, build_layout
from ..store import write_atomic

COLLECTIVES = ("all_reduce", "all_gather", "reduce_scatter", "all_to_all")


def bus_factor(collective: str, n: int) -> float:
    """nccl-tests' busbw / algbw: ``2(n-1)/n`` for all-reduce, ``(n-1)/n`` for the others."""
    return 2 * (n - 1) / n if collective == "all_reduce" else (n - 1) / n


def transfers(collective: str, n: int, size: int) -> list[tuple[int, int, int]]:
    """(src rank, dst rank, bytes) of one collective of ``size`` bytes per rank among ``n`` ranks."""
    if collective == "all_to_all":
        return [(i, j, size // n) for i in range(n) for j in range(n) if i != j and size // n > 0]
    share = 2 * (n - 1) * size // n if collective == "all_reduce" else (n - 1) * size // n
    return [(i, (i + 1) % n, share) for i in range(n)] if share > 0 and n > 1 else []


def run_collective(topology: Topology, collective: str, ranks: int, sizes: Sequence[int],
                   config: Optional[FabricConfig] = None, gpus_per_nic: int = 1, intra_server_gbps: float = 100.0,
                   seed: int = 1, out: Optional[Path] = None, layout: Optional[Layout] = None,
                   gpus: Optional[Sequence[int]] = None) -> pd.DataFrame:
    """The table ``collective, ranks, size_bytes, count, time_us, algbw_gbps, busbw_gbps`` (see the module).

    ``layout`` and ``gpus`` (both or neither): rank i is ``gpus[i]`` of that
    layout; else rank i is GPU i of a layout built with ``gpus_per_nic``.
    """
    if collective not in COLLECTIVES:
        raise ConfigError(f"--collective: {collective!r} is not a collective; allowed: {', '.join(COLLECTIVES)}")
    if ranks < 2:
        raise ConfigError(f"--ranks: a collective needs at least 2 ranks, got {ranks}")
    if not 0.1 <= intra_server_gbps <= 1e6:
        raise ConfigError(f"--intra-server-gbps: must be in 0.1..1e6, got {intra_server_gbps:g}")
    bad = [s for s in sizes if s < 1 or s > 2**40]
    if not sizes or bad:
        raise ConfigError(f"--sizes: expected sizes in bytes in 1..2^40, got {bad[0] if bad else 'none'}")
    if layout is None:
        layout = build_layout(topology.graph(), tp=1, ep=1, prefill_gpus=ranks, decode_gpus=0, kv_store_servers=0,
                              gpus_per_nic=gpus_per_nic, path="--ranks")
        gpus = list(range(ranks))
    elif gpus is None or len(gpus) != ranks:
        raise ConfigError(f"--ranks: {ranks} ranks but {len(gpus or ())} GPUs given")
    gpu_of = list(gpus)
    intra_bps = intra_server_gbps * 1e9
    rows = []
    for size in sizes:
        net = Network(topology, config or FabricConfig(), seed=seed)
        try:
            ends: list[float] = [0.0]

            def finish(_f=None, net=net, ends=ends) -> None:
                ends.append(net.now)

            def send(src: int, dst: int, nbytes: int, net=net) -> None:
                if layout.same_server(src, dst):
                    net.schedule(net.now + nbytes * 8 / intra_bps, finish)
                    return
                via = layout.pxn_proxy(src, dst)
                if via != src:
                    net.schedule(net.now + nbytes * 8 / intra_bps, lambda: send(via, dst, nbytes))
                    return
                net.start_flow(layout.gpu_nic[src], layout.gpu_nic[dst], nbytes, 3, on_done=finish)

            for src, dst, nbytes in transfers(collective, ranks, int(size)):
                send(gpu_of[src], gpu_of[dst], nbytes)
            net.run()
            if not net.drained:
                raise ConfigError(f"{collective} of {size} bytes did not finish")
        finally:
            net.close()
        t = max(ends)
        algbw = size / t / 1e9 if t > 0 else float("nan")
        rows.append(dict(collective=collective, ranks=ranks, size_bytes=int(size), count=int(size) // 4,
                         time_us=t * 1e6, algbw_gbps=algbw, busbw_gbps=algbw * bus_factor(collective, ranks)))
    table = pd.DataFrame(rows)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        write_atomic(out / "collective.csv", table.to_csv(index=False).encode())
    return table


def format_table(table: pd.DataFrame) -> str:
    """The rows as nccl-tests prints them (out-of-place columns)."""
    c, n = table["collective"].iloc[0], table["ranks"].iloc[0]
    lines = [f"# ns3-mfs collective: {c}_perf, {n} ranks",
             f"#{'size':>11}{'count':>13}{'type':>7}{'time':>11}{'algbw':>9}{'busbw':>9}",
             f"#{'(B)':>11}{'(elements)':>13}{'':>7}{'(us)':>11}{'(GB/s)':>9}{'(GB/s)':>9}"]
    for r in table.itertuples():
        lines.append(f"{r.size_bytes:>12}{r.count:>13}{'float':>7}{r.time_us:>11.2f}{r.algbw_gbps:>9.2f}"
                     f"{r.busbw_gbps:>9.2f}")
    return "\n".join(lines)
