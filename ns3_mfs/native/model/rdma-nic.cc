/*
 * ns3-mfs: packet-level model of disaggregated MoE serving networks.
 * SPDX-License-Identifier: GPL-2.0-only (as ns-3)
 */
#include "rdma-nic.h"

#include "ns3/abort.h"
#include "ns3/log.h"
#include "ns3/packet.h"
#include "ns3/simulator.h"
#include "ns3/uinteger.h"

#include <algorithm>

namespace ns3
{

NS_LOG_COMPONENT_DEFINE("RdmaNic");
NS_OBJECT_ENSURE_REGISTERED(RdmaNic);

TypeId
RdmaNic::GetTypeId()
{
    static TypeId tid =
        TypeId("ns3::RdmaNic")
            .SetParent<Object>()
            .SetGroupName("Mfs")
            .AddConstructor<RdmaNic>()
            .AddAttribute("AckInterval",
                          "The receiver acknowledges every N in-order packets (and the last).",
                          UintegerValue(1),
                          MakeUintegerAccessor(&RdmaNic::m_ackInterval),
                          MakeUintegerChecker<uint32_t>(1))
            .AddAttribute("RetxTimeout",
                          "Go-back-N retransmission timeout; 0 disables the timer.",
                          TimeValue(MilliSeconds(1)),
                          MakeTimeAccessor(&RdmaNic::m_retxTimeout),
                          MakeTimeChecker(Time(0)))
            .AddAttribute("NackInterval",
                          "Minimum time between two NACKs for the same missing PSN.",
                          TimeValue(MicroSeconds(20)),
                          MakeTimeAccessor(&RdmaNic::m_nackInterval),
                          MakeTimeChecker(Time(0)))
            .AddAttribute("ControlClass",
                          "Traffic class of ACK, NACK and CNP frames.",
                          UintegerValue(0),
                          MakeUintegerAccessor(&RdmaNic::m_controlClass),
                          MakeUintegerChecker<uint8_t>(0, RoceHeader::kNumClasses - 1))
            .AddTraceSource("FlowDone",
                            "The last byte of a flow was delivered in order (flow id).",
                            MakeTraceSourceAccessor(&RdmaNic::m_flowDoneTrace),
                            "ns3::RdmaNic::FlowCallback")
            .AddTraceSource("Rewind",
                            "Go-back-N: a flow resends from a PSN (flow id, psn).",
                            MakeTraceSourceAccessor(&RdmaNic::m_rewindTrace),
                            "ns3::RdmaNic::RewindCallback");
    return tid;
}

RdmaNic::RdmaNic()
    : m_ackInterval(1),
      m_retxTimeout(MilliSeconds(1)),
      m_nackInterval(MicroSeconds(20)),
      m_controlClass(0)
{
}

void
RdmaNic::DoDispose()
{
    m_dev = nullptr;
    m_done = nullptr;
    m_flows = nullptr;
    Object::DoDispose();
}

void
RdmaNic::Setup(uint32_t host, Ptr<RoceNetDevice> dev, RdmaFlowTable* flows, FlowDoneCallback done)
{
    m_host = host;
    m_dev = dev;
    m_mtu = dev->GetMtu();
    m_flows = flows;
    m_done = std::move(done);
}

Ptr<RoceNetDevice>
RdmaNic::GetDevice() const
{
    return m_dev;
}

void
RdmaNic::Ready(RdmaFlow& f)
{
    if (!f.inReady && f.sndNxt < f.size)
    {
        m_ready[f.cls].push_back(f.id);
        f.inReady = true;
    }
}

void
RdmaNic::StartFlow(uint32_t id)
{
    RdmaFlow& f = (*m_flows)[id];
    NS_ABORT_MSG_IF(f.src != m_host, "flow " << id << " does not start at host " << m_host);
    f.startPs = Simulator::Now().GetPicoSeconds();
    f.lastProgressPs = f.startPs;
    Ready(f);
    m_dev->Kick();
}

void
RdmaNic::SetFlowClass(uint32_t id, uint8_t cls)
{
    RdmaFlow& f = (*m_flows)[id];
    if (f.cls == cls)
    {
        return;
    }
    f.cls = cls;
    f.classChanges++;
    // A flow waiting in its old class's list is moved when PortPull meets it (O(1) here).
    m_dev->Kick();
}

Ptr<RoceQueueItem>
RdmaNic::PortPull(uint32_t, uint8_t pausedMask)
{
    uint32_t c = 0;
    while (c < RoceHeader::kNumClasses)
    {
        if (((pausedMask >> c) & 1) || m_ready[c].empty())
        {
            ++c;
            continue;
        }
        uint32_t id = m_ready[c].front();
        m_ready[c].pop_front();
        RdmaFlow& f = (*m_flows)[id];
        f.inReady = false;
        if (f.sndNxt >= f.size)
        {
            continue;
        }
        if (f.cls != c)
        {
            // The flow changed class while waiting: move it now (lazy, so a
            // change costs O(1)), and rescan from its class if it went up.
            Ready(f);
            c = std::min<uint32_t>(c, f.cls);
            continue;
        }
        RoceHeader h;
        h.type = RoceFrameType::DATA;
        h.cls = f.cls;
        h.ecn = ECN_ECT0;
        h.src = f.src;
        h.dst = f.dst;
        h.flow = f.id;
        h.psn = f.sndNxt;
        h.payload = static_cast<uint32_t>(std::min<uint64_t>(m_mtu, f.size - f.sndNxt));
        Ptr<Packet> p = Create<Packet>(h.payload);
        p->AddHeader(h);
        f.sndNxt += h.payload;
        f.bytesSent += h.payload;
        Ready(f);
        ArmRto(f);
        return Create<RoceQueueItem>(p, h);
    }
    return nullptr;
}

void
RdmaNic::PortReceive(uint32_t, Ptr<RoceQueueItem> item)
{
    const RoceHeader& h = item->Hdr();
    NS_ABORT_MSG_IF(h.dst != m_host, "frame for host " << h.dst << " reached host " << m_host);
    switch (h.type)
    {
    case RoceFrameType::DATA:
        ReceiveData(h);
        break;
    case RoceFrameType::ACK:
    case RoceFrameType::NACK:
        ReceiveAck(h);
        break;
    default:
        break;
    }
}

void
RdmaNic::ReceiveData(const RoceHeader& h)
{
    RdmaFlow& f = (*m_flows)[h.flow];
    int64_t now = Simulator::Now().GetPicoSeconds();
    f.bytesReceived += h.payload;
    if (h.psn == f.rcvNxt)
    {
        f.rcvNxt += h.payload;
        f.lastNackPs = -1;
        if (f.rcvNxt >= f.size)
        {
            SendControl(RoceFrameType::ACK, f, f.rcvNxt);
            f.sinceAck = 0;
            if (f.endPs < 0)
            {
                f.endPs = now;
                m_flowDoneTrace(f.id);
                if (m_done)
                {
                    m_done(f.id);
                }
            }
        }
        else if (++f.sinceAck >= m_ackInterval)
        {
            SendControl(RoceFrameType::ACK, f, f.rcvNxt);
            f.sinceAck = 0;
        }
    }
    else if (h.psn > f.rcvNxt)
    {
        // A gap: go-back-N discards the packet and asks for a resend.
        if (f.lastNackPs < 0 || now - f.lastNackPs >= m_nackInterval.GetPicoSeconds())
        {
            SendControl(RoceFrameType::NACK, f, f.rcvNxt);
            f.lastNackPs = now;
        }
    }
    else if (++f.sinceAck >= m_ackInterval)
    {
        // A duplicate of delivered data: re-acknowledge so the sender moves on.
        SendControl(RoceFrameType::ACK, f, f.rcvNxt);
        f.sinceAck = 0;
    }
}

void
RdmaNic::ReceiveAck(const RoceHeader& h)
{
    RdmaFlow& f = (*m_flows)[h.flow];
    if (h.psn > f.sndUna)
    {
        f.sndUna = h.psn;
        f.sndNxt = std::max(f.sndNxt, f.sndUna);
        f.lastProgressPs = Simulator::Now().GetPicoSeconds();
    }
    if (h.type == RoceFrameType::NACK)
    {
        Rewind(f, h.psn);
    }
    if (f.sndUna >= f.size && f.ackedPs < 0)
    {
        f.ackedPs = Simulator::Now().GetPicoSeconds();
        Simulator::Remove(f.rto);
    }
}

void
RdmaNic::Rewind(RdmaFlow& f, uint64_t psn)
{
    if (psn >= f.sndNxt)
    {
        return;
    }
    f.sndNxt = psn;
    f.rewinds++;
    m_rewindTrace(f.id, psn);
    Ready(f);
    m_dev->Kick();
}

void
RdmaNic::SendControl(RoceFrameType type, const RdmaFlow& f, uint64_t psn)
{
    RoceHeader h;
    h.type = type;
    h.cls = m_controlClass;
    h.src = m_host;
    h.dst = (m_host == f.dst) ? f.src : f.dst;
    h.flow = f.id;
    h.psn = psn;
    Ptr<Packet> p = Create<Packet>();
    p->AddHeader(h);
    m_dev->Enqueue(Create<RoceQueueItem>(p, h));
}

void
RdmaNic::ArmRto(RdmaFlow& f)
{
    if (m_retxTimeout.IsZero() || f.rto.IsPending())
    {
        return;
    }
    f.rto = Simulator::Schedule(m_retxTimeout, &RdmaNic::RtoFired, this, f.id);
}

void
RdmaNic::RtoFired(uint32_t id)
{
    RdmaFlow& f = (*m_flows)[id];
    if (f.sndUna >= f.size)
    {
        return;
    }
    int64_t now = Simulator::Now().GetPicoSeconds();
    int64_t deadline = f.lastProgressPs + m_retxTimeout.GetPicoSeconds();
    if (now >= deadline)
    {
        f.lastProgressPs = now;
        Rewind(f, f.sndUna);
        deadline = now + m_retxTimeout.GetPicoSeconds();
    }
    f.rto = Simulator::Schedule(PicoSeconds(deadline - now), &RdmaNic::RtoFired, this, id);
}

} // namespace ns3
