/*
 * ns3-mfs: packet-level model of disaggregated MoE serving networks.
 * SPDX-License-Identifier: GPL-2.0-only (as ns-3)
 */
#include "roce-switch.h"

#include "ns3/log.h"
#include "ns3/uinteger.h"

namespace ns3
{

NS_LOG_COMPONENT_DEFINE("RoceSwitch");
NS_OBJECT_ENSURE_REGISTERED(RoceSwitch);

TypeId
RoceSwitch::GetTypeId()
{
    static TypeId tid = TypeId("ns3::RoceSwitch")
                            .SetParent<Object>()
                            .SetGroupName("Mfs")
                            .AddConstructor<RoceSwitch>()
                            .AddAttribute("EcmpSeed",
                                          "Seed mixed into this switch's ECMP hash.",
                                          UintegerValue(0),
                                          MakeUintegerAccessor(&RoceSwitch::m_seed),
                                          MakeUintegerChecker<uint32_t>())
                            .AddTraceSource("Drop",
                                            "A frame was dropped for lack of buffer.",
                                            MakeTraceSourceAccessor(&RoceSwitch::m_dropTrace),
                                            "ns3::QueueDiscItem::TracedCallback");
    return tid;
}

RoceSwitch::RoceSwitch()
    : m_seed(0),
      m_mmu(CreateObject<SwitchBufferManager>())
{
}

void
RoceSwitch::DoDispose()
{
    m_ports.clear();
    if (m_mmu)
    {
        m_mmu->Dispose();
    }
    m_mmu = nullptr;
    Object::DoDispose();
}

void
RoceSwitch::SetIndex(uint32_t nodeIndex)
{
    m_nodeIndex = nodeIndex;
}

uint32_t
RoceSwitch::AddPort(Ptr<RoceNetDevice> dev)
{
    m_ports.push_back(dev);
    return m_ports.size() - 1;
}

uint32_t
RoceSwitch::GetNPorts() const
{
    return m_ports.size();
}

Ptr<RoceNetDevice>
RoceSwitch::GetPort(uint32_t i) const
{
    return m_ports.at(i);
}

void
RoceSwitch::SetRoutes(std::vector<uint32_t> offsets, std::vector<uint16_t> ports)
{
    m_routeOffsets = std::move(offsets);
    m_routePorts = std::move(ports);
}

std::string
RoceSwitch::SetupBuffer(uint32_t numClasses, uint32_t mtuBytes)
{
    std::vector<uint64_t> bps;
    std::vector<Time> delay;
    for (const auto& d : m_ports)
    {
        bps.push_back(d->GetBitRate());
        delay.push_back(d->GetRoceChannel()->GetDelay());
    }
    return m_mmu->Setup(bps, delay, numClasses, mtuBytes, [this](uint32_t port, uint8_t cls, uint16_t q) {
        m_ports[port]->SendPfc(cls, q);
    });
}

Ptr<SwitchBufferManager>
RoceSwitch::GetBufferManager() const
{
    return m_mmu;
}

void
RoceSwitch::SetBufferManager(Ptr<SwitchBufferManager> mmu)
{
    m_mmu = mmu;
}

uint32_t
RoceSwitch::GetNumNextHops(uint32_t dst) const
{
    return m_routeOffsets[dst + 1] - m_routeOffsets[dst];
}

int
RoceSwitch::SelectPort(uint32_t src, uint32_t dst, uint32_t flow) const
{
    if (dst + 1 >= m_routeOffsets.size())
    {
        return -1;
    }
    uint32_t lo = m_routeOffsets[dst];
    uint32_t n = m_routeOffsets[dst + 1] - lo;
    if (n == 0)
    {
        return -1;
    }
    if (n == 1)
    {
        return m_routePorts[lo];
    }
    return m_routePorts[lo + RoceFlowHash(src, dst, flow, m_seed) % n];
}

void
RoceSwitch::PortReceive(uint32_t port, Ptr<RoceQueueItem> item)
{
    const RoceHeader& h = item->Hdr();
    int out = SelectPort(h.src, h.dst, h.flow);
    NS_ABORT_MSG_IF(out < 0, "switch " << m_nodeIndex << " has no route to host " << h.dst);
    uint32_t bytes = item->GetSize();
    item->m_inPort = port; // also tells the Drop trace's consumers where the frame came in
    if (!m_mmu->Admit(port, h.cls, bytes))
    {
        m_dropTrace(item);
        return;
    }
    m_ports[out]->Enqueue(item);
}

void
RoceSwitch::PortDequeued(uint32_t, Ptr<RoceQueueItem> item)
{
    m_mmu->Release(item->m_inPort, item->Hdr().cls, item->GetSize());
}

} // namespace ns3
