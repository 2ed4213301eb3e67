"""RmlqQueueDisc on stock ns-3 nodes, from plain ns-3 Python (the ns3 wheel's cppyy bindings).

Two point-to-point nodes (10 Mbit/s, 2 ms) with the IPv4 stack; the sender's
port gets ``ns3::RmlqQueueDisc`` (4 bands) through ``TrafficControlHelper``;
two UDP senders marked DSCP 1 and DSCP 3 each offer 8 Mbit/s. The queue disc
serves band 1 first, so the DSCP-1 sender keeps its 8 Mbit/s and the DSCP-3
one gets the remaining ~2 Mbit/s. Prints one line per band (packets
enqueued, dequeued, goodput at the receiver) and the queue disc's statistics.

The only ns3-mfs parts are the built native library (``ns3_mfs._build``; it
registers ``ns3::RmlqQueueDisc`` when loaded) and its header (for the per-band
counters); the rest is stock ns-3.

Usage: python scratch/rmlq_stock_ns3.py [--sim-time 2.0] [--offered-mbps 8.0]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

#: A constant-bit-rate UDP sender with a DSCP (ns-3.44's OnOffApplication cannot set the TOS byte).
SENDER = r"""
#include "ns3/core-module.h"
#include "ns3/network-module.h"
namespace rmlq_example {
void SendDatagram(ns3::Ptr<ns3::Socket> socket, uint32_t size, ns3::Time interval, ns3::Time stop)
{
    if (ns3::Simulator::Now() >= stop) { return; }
    socket->Send(ns3::Create<ns3::Packet>(size));
    ns3::Simulator::Schedule(interval, &SendDatagram, socket, size, interval, stop);
}
void StartSender(ns3::Ptr<ns3::Socket> socket, uint8_t dscp, ns3::Address to, uint32_t size,
                 double mbps, double start_s, double stop_s)
{
    socket->SetIpTos(static_cast<uint8_t>(dscp << 2));
    socket->Connect(to);
    ns3::Simulator::Schedule(ns3::Seconds(start_s), &SendDatagram, socket, size,
                             ns3::Seconds(size * 8.0 / (mbps * 1e6)), ns3::Seconds(stop_s));
}
}
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sim-time", type=float, default=2.0, help="seconds of traffic")
    ap.add_argument("--offered-mbps", type=float, default=8.0, help="rate each sender offers (Mbit/s)")
    args = ap.parse_args(argv)

    from ns3_mfs import _build

    lib = _build.ensure_built(verbose=True)
    from ns import ns  # the ns3 wheel's bindings (loads every ns-3 module)
    import cppyy

    cppyy.load_library(str(lib))  # registers ns3::RmlqQueueDisc with ns-3's TypeId system
    cppyy.add_include_path(str(_build.NATIVE_DIR / "model"))
    cppyy.include("rmlq-queue-disc.h")
    cppyy.cppdef(SENDER)
    start, payload = 0.1, 1000

    nodes = ns.NodeContainer()
    nodes.Create(2)
    p2p = ns.PointToPointHelper()
    p2p.SetDeviceAttribute("DataRate", ns.StringValue("10Mbps"))
    p2p.SetChannelAttribute("Delay", ns.StringValue("2ms"))
    p2p.SetQueue("ns3::DropTailQueue", "MaxSize", ns.StringValue("1p"))  # queue in the disc, not the device
    devices = p2p.Install(nodes)
    ns.InternetStackHelper().Install(nodes)
    tch = ns.TrafficControlHelper()
    tch.SetRootQueueDisc("ns3::RmlqQueueDisc", "NumBands", ns.UintegerValue(4))
    qdiscs = tch.Install(devices.Get(0))  # before the addresses, so no default pfifo_fast is installed
    address = ns.Ipv4AddressHelper()
    address.SetBase(ns.Ipv4Address("10.1.1.0"), ns.Ipv4Mask("255.255.255.0"))
    ifaces = address.Assign(devices)

    dscps, sinks = (1, 3), []
    for dscp in dscps:
        port = 9000 + dscp
        local = ns.InetSocketAddress(ns.Ipv4Address.GetAny(), port).ConvertTo()
        app = ns.PacketSinkHelper("ns3::UdpSocketFactory", local).Install(nodes.Get(1))
        app.Start(ns.Seconds(0))
        sinks.append(app.Get(0).GetObject[ns.PacketSink]())
        socket = ns.Socket.CreateSocket(nodes.Get(0), ns.TypeId.LookupByName("ns3::UdpSocketFactory"))
        remote = ns.InetSocketAddress(ifaces.GetAddress(1), port).ConvertTo()
        cppyy.gbl.rmlq_example.StartSender(socket, dscp, remote, payload, args.offered_mbps, start,
                                           start + args.sim_time)
    ns.Simulator.Stop(ns.Seconds(start + args.sim_time))
    ns.Simulator.Run()

    rmlq = qdiscs.Get(0).GetObject[ns.RmlqQueueDisc]()
    print("band  dscp  enqueued  dequeued  goodput_mbps")
    for dscp, sink in zip(dscps, sinks):
        dequeued = int(rmlq.GetBandDequeued(dscp))
        enqueued = dequeued + int(rmlq.GetBandPackets(dscp))
        mbps = sink.GetTotalRx() * 8 / args.sim_time / 1e6
        print(f"{dscp:4d}{dscp:6d}{enqueued:10d}{dequeued:10d}{mbps:14.3f}")
    stats = rmlq.GetStats()
    print(f"queue disc: {stats.nTotalDequeuedPackets} packets sent, {stats.nTotalDroppedPackets} dropped")
    ns.Simulator.Destroy()
    return 0


if __name__ == "__main__":
    sys.exit(main())
