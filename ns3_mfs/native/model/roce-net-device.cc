/*
 * ns3-mfs: packet-level model of disaggregated MoE serving networks.
 * SPDX-License-Identifier: GPL-2.0-only (as ns-3)
 */
#include "roce-net-device.h"

#include "roce-link-event.h"

#include <algorithm>

#include "ns3/abort.h"
#include "ns3/log.h"
#include "ns3/node.h"
#include "ns3/packet.h"
#include "ns3/simulator.h"
#include "ns3/uinteger.h"

#include <cmath>

namespace ns3
{

NS_LOG_COMPONENT_DEFINE("RoceNetDevice");
NS_OBJECT_ENSURE_REGISTERED(RoceChannel);
NS_OBJECT_ENSURE_REGISTERED(RoceNetDevice);

void
RocePortOwner::PortDequeued(uint32_t, Ptr<RoceQueueItem>)
{
}

Ptr<RoceQueueItem>
RocePortOwner::PortPull(uint32_t, uint8_t)
{
    return nullptr;
}

// ---------------------------------------------------------------- channel

TypeId
RoceChannel::GetTypeId()
{
    static TypeId tid = TypeId("ns3::RoceChannel")
                            .SetParent<Channel>()
                            .SetGroupName("Mfs")
                            .AddConstructor<RoceChannel>()
                            .AddAttribute("Delay",
                                          "One-way propagation delay of the link.",
                                          TimeValue(MicroSeconds(1)),
                                          MakeTimeAccessor(&RoceChannel::m_delay),
                                          MakeTimeChecker(Time(0)));
    return tid;
}

RoceChannel::RoceChannel() = default;

void
RoceChannel::Attach(Ptr<RoceNetDevice> dev)
{
    NS_ABORT_MSG_IF(m_nDevices >= 2, "a RoceChannel connects exactly two devices");
    m_dev[m_nDevices++] = dev;
}

void
RoceChannel::Transmit(Ptr<RoceQueueItem> item, const RoceNetDevice* src, Time txTime)
{
    Ptr<RoceRxEvent> ev = m_dev[m_dev[0] == src ? 1 : 0]->TakeRxEvent();
    ev->SetFrame(std::move(item));
    Simulator::Schedule(txTime + m_delay, Ptr<EventImpl>(std::move(ev)));
}

Ptr<RoceNetDevice>
RoceChannel::GetPeer(const RoceNetDevice* dev) const
{
    return m_dev[m_dev[0] == dev ? 1 : 0];
}

Time
RoceChannel::GetDelay() const
{
    return m_delay;
}

std::size_t
RoceChannel::GetNDevices() const
{
    return m_nDevices;
}

Ptr<NetDevice>
RoceChannel::GetDevice(std::size_t i) const
{
    return m_dev.at(i);
}

// ----------------------------------------------------------------- device

TypeId
RoceNetDevice::GetTypeId()
{
    static TypeId tid =
        TypeId("ns3::RoceNetDevice")
            .SetParent<NetDevice>()
            .SetGroupName("Mfs")
            .AddConstructor<RoceNetDevice>()
            .AddAttribute("DataRate",
                          "Line rate of the port.",
                          DataRateValue(DataRate("100Gbps")),
                          MakeDataRateAccessor(&RoceNetDevice::m_rate),
                          MakeDataRateChecker())
            .AddAttribute("Mtu",
                          "RoCE payload MTU in bytes (1024, 2048 or 4096).",
                          UintegerValue(4096),
                          MakeUintegerAccessor(&RoceNetDevice::m_mtu),
                          MakeUintegerChecker<uint16_t>(256, 9000))
            .AddTraceSource("PhyTxBegin",
                            "A frame starts serialisation on the wire.",
                            MakeTraceSourceAccessor(&RoceNetDevice::m_phyTxBeginTrace),
                            "ns3::QueueDiscItem::TracedCallback")
            .AddTraceSource("MacRx",
                            "A data or transport-control frame was received.",
                            MakeTraceSourceAccessor(&RoceNetDevice::m_macRxTrace),
                            "ns3::QueueDiscItem::TracedCallback")
            .AddTraceSource("PfcTx",
                            "A PFC frame was sent (class, quanta; 0 quanta = RESUME).",
                            MakeTraceSourceAccessor(&RoceNetDevice::m_pfcTxTrace),
                            "ns3::RoceNetDevice::PfcTracedCallback")
            .AddTraceSource("PfcRx",
                            "A PFC frame was received (class, quanta; 0 quanta = RESUME).",
                            MakeTraceSourceAccessor(&RoceNetDevice::m_pfcRxTrace),
                            "ns3::RoceNetDevice::PfcTracedCallback");
    return tid;
}

RoceNetDevice::RoceNetDevice()
    : m_mtu(4096),
      m_txDoneEvent(Create<RoceTxDoneEvent>(this))
{
    m_pausedSincePs.fill(-1);
}

RoceNetDevice::~RoceNetDevice() = default;

void
RoceNetDevice::DoDispose()
{
    m_channel = nullptr;
    m_node = nullptr;
    m_qdisc = nullptr;
    m_ctrl.clear();
    m_owner = nullptr;
    m_txDoneEvent->Detach();
    m_idleRxEvents.clear();
    NetDevice::DoDispose();
}

void
RoceNetDevice::SetOwner(RocePortOwner* owner, uint32_t port, uint32_t nodeIndex)
{
    m_owner = owner;
    m_port = port;
    m_nodeIndex = nodeIndex;
}

const RoceNetDevice::Stats&
RoceNetDevice::GetStats() const
{
    return m_stats;
}

void
RoceNetDevice::Attach(Ptr<RoceChannel> ch)
{
    m_channel = ch;
    ch->Attach(this);
}

void
RoceNetDevice::SetQueueDisc(Ptr<RmlqQueueDisc> qdisc)
{
    m_qdisc = qdisc;
    m_qdisc->Initialize();
    m_psPerByte = 8e12 / static_cast<double>(m_rate.GetBitRate());
    m_txTimeBytes = 0;
}

Ptr<RmlqQueueDisc>
RoceNetDevice::GetQueueDisc() const
{
    return m_qdisc;
}

uint64_t
RoceNetDevice::GetBitRate() const
{
    return m_rate.GetBitRate();
}

Time
RoceNetDevice::TxTime(uint32_t bytes) const
{
    return PicoSeconds(
        static_cast<int64_t>(std::llround((bytes + RoceHeader::kPreambleIfg) * m_psPerByte)));
}

Ptr<RoceChannel>
RoceNetDevice::GetRoceChannel() const
{
    return m_channel;
}

bool
RoceNetDevice::IsBusy() const
{
    return m_busy;
}

bool
RoceNetDevice::IsIdle() const
{
    return !m_busy && m_ctrl.empty() && (!m_qdisc || m_qdisc->GetQueuedPackets() == 0) &&
           Simulator::Now().GetPicoSeconds() > m_lastArrivalPs;
}

uint64_t
RoceNetDevice::GetTxBytes() const
{
    return m_txBytes;
}

uint32_t
RoceNetDevice::GetPortIndex() const
{
    return m_port;
}

uint32_t
RoceNetDevice::GetNodeIndex() const
{
    return m_nodeIndex;
}

uint8_t
RoceNetDevice::GetPausedMask() const
{
    return m_pausedMask;
}

int64_t
RoceNetDevice::GetPausedSincePs(uint8_t cls) const
{
    return cls < m_pausedSincePs.size() ? m_pausedSincePs[cls] : -1;
}

void
RoceNetDevice::Enqueue(Ptr<RoceQueueItem> item)
{
    m_qdisc->EnqueueDirect(std::move(item));
    uint64_t q = m_qdisc->GetQueuedBytes();
    if (q > m_stats.maxQueueBytes)
    {
        m_stats.maxQueueBytes = q;
    }
    if (!m_busy)
    {
        TransmitNext();
    }
}

void
RoceNetDevice::Kick()
{
    if (!m_busy)
    {
        TransmitNext();
    }
}

void
RoceNetDevice::TransmitNext()
{
    // A port serialises one frame at a time. The owner's PortPull may call back (a flow's DCQCN rate
    // reaching line rate Kicks the device) before this call has started the frame it pulls: that call
    // must not start a second frame, or the port would send two frames at once from then on.
    if (m_busy || m_pulling)
    {
        return;
    }
    if (!m_ctrl.empty())
    {
        Ptr<RoceQueueItem> f = m_ctrl.front();
        m_ctrl.pop_front();
        StartTx(f);
        return;
    }
    if (!m_qdisc->HasEligible() && m_owner)
    {
        m_pulling = true;
        Ptr<RoceQueueItem> pulled = m_owner->PortPull(m_port, m_pausedMask);
        m_pulling = false;
        if (pulled)
        {
            m_qdisc->EnqueueDirect(std::move(pulled));
        }
    }
    Ptr<QueueDiscItem> item = m_qdisc->DequeueDirect();
    if (!item)
    {
        return;
    }
    Ptr<RoceQueueItem> frame = StaticCast<RoceQueueItem>(item);
    if (m_owner)
    {
        m_owner->PortDequeued(m_port, frame);
    }
    StartTx(frame);
}

void
RoceNetDevice::StartTx(Ptr<RoceQueueItem> item)
{
    m_busy = true;
    uint32_t size = item->GetSize();
    m_txBytes += size + RoceHeader::kPreambleIfg;
    if (size != m_txTimeBytes) // frames come in few sizes: convert only when the size changes
    {
        m_txTimeBytes = size;
        m_txTime = TxTime(size);
    }
    Time tx = m_txTime;
    m_stats.txFrames++;
    if (item->Hdr().type == RoceFrameType::DATA)
    {
        m_stats.txDataFrames++;
    }
    if (!m_phyTxBeginTrace.IsEmpty())
    {
        m_phyTxBeginTrace(item);
    }
    m_lastArrivalPs = (Simulator::Now() + tx + m_channel->GetDelay()).GetPicoSeconds();
    Simulator::Schedule(tx, Ptr<EventImpl>(m_txDoneEvent));
    m_channel->Transmit(std::move(item), this, tx);
}

Ptr<RoceRxEvent>
RoceNetDevice::TakeRxEvent()
{
    if (m_idleRxEvents.empty())
    {
        return Create<RoceRxEvent>(this);
    }
    Ptr<RoceRxEvent> ev = std::move(m_idleRxEvents.back());
    m_idleRxEvents.pop_back();
    return ev;
}

void
RoceNetDevice::RecycleRxEvent(RoceRxEvent* ev)
{
    m_idleRxEvents.emplace_back(ev);
}

void
RoceNetDevice::TxComplete()
{
    m_busy = false;
    TransmitNext();
}

void
RoceNetDevice::SendPfc(uint8_t cls, uint16_t quanta)
{
    RoceHeader h;
    h.type = RoceFrameType::PAUSE;
    h.pauseClassEnable = static_cast<uint8_t>(1u << cls);
    h.pauseQuanta[cls] = quanta;
    m_ctrl.push_back(RoceQueueItem::NewFrame(h));
    (quanta ? m_stats.pauseSent : m_stats.resumeSent)++;
    m_pfcTxTrace(cls, quanta);
    if (!m_busy)
    {
        TransmitNext();
    }
}

void
RoceNetDevice::Receive(Ptr<RoceQueueItem> item)
{
    const RoceHeader& h = item->Hdr();
    if (h.type != RoceFrameType::PAUSE)
    {
        if (!m_macRxTrace.IsEmpty())
        {
            m_macRxTrace(item);
        }
        m_owner->PortReceive(m_port, std::move(item));
        return;
    }
    for (uint8_t c = 0; c < RoceHeader::kNumClasses; ++c)
    {
        if (!((h.pauseClassEnable >> c) & 1))
        {
            continue;
        }
        uint16_t quanta = h.pauseQuanta[c];
        m_pfcRxTrace(c, quanta);
        Simulator::Remove(m_pauseExpiry[c]);
        if (quanta == 0)
        {
            SetClassPaused(c, false);
            continue;
        }
        // One quantum is 512 bit times at this port's rate.
        Time d = PicoSeconds(static_cast<int64_t>(
            std::llround(quanta * 512.0 * 1e12 / static_cast<double>(m_rate.GetBitRate()))));
        m_pauseExpiry[c] = Simulator::Schedule(d, &RoceNetDevice::PauseExpired, this, c);
        SetClassPaused(c, true);
    }
}

void
RoceNetDevice::PauseExpired(uint8_t cls)
{
    SetClassPaused(cls, false);
}

void
RoceNetDevice::SetClassPaused(uint8_t cls, bool paused)
{
    uint8_t bit = static_cast<uint8_t>(1u << cls);
    if (paused != bool(m_pausedMask & bit))
    {
        int64_t now = Simulator::Now().GetPicoSeconds();
        if (!paused)
        {
            m_stats.longestPausePs = std::max(m_stats.longestPausePs, now - m_pausedSincePs[cls]);
        }
        m_pausedSincePs[cls] = paused ? now : -1;
    }
    m_pausedMask = paused ? (m_pausedMask | bit) : (m_pausedMask & ~bit);
    m_qdisc->SetPausedMask(m_pausedMask);
    if (!paused && !m_busy)
    {
        TransmitNext();
    }
}

// ------------------------------------------------ NetDevice boilerplate

void
RoceNetDevice::SetIfIndex(const uint32_t index)
{
    m_ifIndex = index;
}

uint32_t
RoceNetDevice::GetIfIndex() const
{
    return m_ifIndex;
}

Ptr<Channel>
RoceNetDevice::GetChannel() const
{
    return m_channel;
}

void
RoceNetDevice::SetAddress(Address address)
{
    m_address = Mac48Address::ConvertFrom(address);
}

Address
RoceNetDevice::GetAddress() const
{
    return m_address;
}

bool
RoceNetDevice::SetMtu(const uint16_t mtu)
{
    m_mtu = mtu;
    return true;
}

uint16_t
RoceNetDevice::GetMtu() const
{
    return m_mtu;
}

bool
RoceNetDevice::IsLinkUp() const
{
    return m_channel != nullptr;
}

void
RoceNetDevice::AddLinkChangeCallback(Callback<void>)
{
}

bool
RoceNetDevice::IsBroadcast() const
{
    return false;
}

Address
RoceNetDevice::GetBroadcast() const
{
    return Mac48Address::GetBroadcast();
}

bool
RoceNetDevice::IsMulticast() const
{
    return false;
}

Address
RoceNetDevice::GetMulticast(Ipv4Address) const
{
    return Mac48Address::GetMulticast(Ipv4Address());
}

Address
RoceNetDevice::GetMulticast(Ipv6Address addr) const
{
    return Mac48Address::GetMulticast(addr);
}

bool
RoceNetDevice::IsBridge() const
{
    return false;
}

bool
RoceNetDevice::IsPointToPoint() const
{
    return true;
}

bool
RoceNetDevice::Send(Ptr<Packet>, const Address&, uint16_t)
{
    NS_LOG_WARN("RoceNetDevice carries RDMA frames from its owner only; Send() is not supported");
    return false;
}

bool
RoceNetDevice::SendFrom(Ptr<Packet>, const Address&, const Address&, uint16_t)
{
    return false;
}

Ptr<Node>
RoceNetDevice::GetNode() const
{
    return m_node;
}

void
RoceNetDevice::SetNode(Ptr<Node> node)
{
    m_node = node;
}

bool
RoceNetDevice::NeedsArp() const
{
    return false;
}

void
RoceNetDevice::SetReceiveCallback(NetDevice::ReceiveCallback)
{
}

void
RoceNetDevice::SetPromiscReceiveCallback(PromiscReceiveCallback)
{
}

bool
RoceNetDevice::SupportsSendFrom() const
{
    return false;
}

} // namespace ns3
