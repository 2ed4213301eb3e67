/*
 * ns3-mfs: packet-level model of disaggregated MoE serving networks.
 * SPDX-License-Identifier: GPL-2.0-only (as ns-3)
 *
 * RmlqQueueDisc on stock ns-3 nodes: two point-to-point nodes with the IPv4
 * stack, the queue disc installed on the sender's port with
 * TrafficControlHelper, and two UDP senders marked with different DSCPs that
 * together offer more than the link carries. The queue disc serves the lower
 * DSCP (band) first, so that sender keeps its rate and the other one gets
 * what is left.
 *
 *   n0 ---- 10 Mbit/s, 2 ms ---- n1
 *   sender DSCP 1 (band 1), 8 Mbit/s -> n1:9001
 *   sender DSCP 3 (band 3), 8 Mbit/s -> n1:9003
 *
 * Prints one line per band: packets enqueued and dequeued by the queue disc
 * and the goodput its sender got at n1.
 *
 * Run: ./ns3 run rmlq-queue-disc-example [-- --simTime=2 --offeredMbps=8]
 */
#include "ns3/applications-module.h"
#include "ns3/core-module.h"
#include "ns3/internet-module.h"
#include "ns3/network-module.h"
#include "ns3/point-to-point-module.h"
#include "ns3/rmlq-queue-disc.h"
#include "ns3/traffic-control-module.h"

#include <iomanip>
#include <iostream>

using namespace ns3;

NS_LOG_COMPONENT_DEFINE("RmlqQueueDiscExample");

namespace
{

/**
 * Send one datagram and schedule the next until @p stop (constant bit rate).
 * @param socket a connected UDP socket
 * @param size datagram payload bytes
 * @param interval time between datagrams
 * @param stop last send time
 */
void
SendDatagram(Ptr<Socket> socket, uint32_t size, Time interval, Time stop)
{
    if (Simulator::Now() >= stop)
    {
        return;
    }
    socket->Send(Create<Packet>(size));
    Simulator::Schedule(interval, &SendDatagram, socket, size, interval, stop);
}

} // namespace

int
main(int argc, char* argv[])
{
    double simTime = 2.0;
    double offeredMbps = 8.0;
    uint32_t payload = 1000;
    CommandLine cmd(__FILE__);
    cmd.AddValue("simTime", "Seconds of traffic", simTime);
    cmd.AddValue("offeredMbps", "Rate each of the two senders offers (Mbit/s)", offeredMbps);
    cmd.AddValue("payload", "UDP payload bytes per datagram", payload);
    cmd.Parse(argc, argv);

    NodeContainer nodes;
    nodes.Create(2);
    PointToPointHelper p2p;
    p2p.SetDeviceAttribute("DataRate", StringValue("10Mbps"));
    p2p.SetChannelAttribute("Delay", StringValue("2ms"));
    p2p.SetQueue("ns3::DropTailQueue", "MaxSize", StringValue("1p")); // queue in the disc, not the device
    NetDeviceContainer devices = p2p.Install(nodes);

    InternetStackHelper stack;
    stack.Install(nodes);
    TrafficControlHelper tch;
    tch.SetRootQueueDisc("ns3::RmlqQueueDisc", "NumBands", UintegerValue(4));
    QueueDiscContainer qdiscs = tch.Install(devices.Get(0)); // before addresses: no default pfifo_fast
    Ipv4AddressHelper address;
    address.SetBase("10.1.1.0", "255.255.255.0");
    Ipv4InterfaceContainer ifaces = address.Assign(devices);

    const std::vector<uint8_t> dscps = {1, 3};
    std::vector<Ptr<PacketSink>> sinks;
    const Time interval = Seconds(payload * 8.0 / (offeredMbps * 1e6));
    for (uint8_t dscp : dscps)
    {
        const uint16_t port = 9000 + dscp;
        PacketSinkHelper sinkHelper("ns3::UdpSocketFactory", InetSocketAddress(Ipv4Address::GetAny(), port));
        ApplicationContainer app = sinkHelper.Install(nodes.Get(1));
        app.Start(Seconds(0));
        sinks.push_back(DynamicCast<PacketSink>(app.Get(0)));
        Ptr<Socket> socket = Socket::CreateSocket(nodes.Get(0), UdpSocketFactory::GetTypeId());
        socket->SetIpTos(static_cast<uint8_t>(dscp << 2));
        socket->Connect(InetSocketAddress(ifaces.GetAddress(1), port));
        Simulator::Schedule(Seconds(0.1), &SendDatagram, socket, payload, interval, Seconds(0.1 + simTime));
    }

    Simulator::Stop(Seconds(0.1 + simTime));
    Simulator::Run();

    Ptr<RmlqQueueDisc> rmlq = DynamicCast<RmlqQueueDisc>(qdiscs.Get(0));
    std::cout << "band  dscp  enqueued  dequeued  goodput_mbps" << std::endl;
    for (uint32_t i = 0; i < dscps.size(); ++i)
    {
        const uint32_t band = dscps[i];
        const uint64_t dequeued = rmlq->GetBandDequeued(band);
        const uint64_t enqueued = dequeued + rmlq->GetBandPackets(band);
        std::cout << std::setw(4) << band << std::setw(6) << unsigned(dscps[i]) << std::setw(10) << enqueued
                  << std::setw(10) << dequeued << std::setw(14) << std::fixed << std::setprecision(3)
                  << sinks[i]->GetTotalRx() * 8.0 / simTime / 1e6 << std::endl;
    }
    std::cout << "queue disc: " << rmlq->GetStats().nTotalDequeuedPackets << " packets sent, "
              << rmlq->GetStats().nTotalDroppedPackets << " dropped" << std::endl;
    Simulator::Destroy();
    return 0;
}
