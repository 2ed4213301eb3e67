/*
 * ns3-mfs: packet-level model of disaggregated MoE serving networks.
 * SPDX-License-Identifier: GPL-2.0-only (as ns-3)
 */
#include "rdma-nic.h"

#include "ns3/abort.h"
#include "ns3/boolean.h"
#include "ns3/double.h"
#include "ns3/log.h"
#include "ns3/packet.h"
#include "ns3/simulator.h"
#include "ns3/uinteger.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace ns3
{

NS_LOG_COMPONENT_DEFINE("RdmaNic");
NS_OBJECT_ENSURE_REGISTERED(RdmaNic);

namespace
{
constexpr double kRateUnit = 1e6; //!< bit/s; the unit of the firmware's rates
} // namespace

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
            .AddAttribute("Dcqcn",
                          "Run DCQCN congestion control (else send at line rate).",
                          BooleanValue(false),
                          MakeBooleanAccessor(&RdmaNic::m_dcqcn),
                          MakeBooleanChecker())
            .AddAttribute("CnpInterval",
                          "Minimum time between two CNPs for one flow (notification point).",
                          TimeValue(MicroSeconds(50)),
                          MakeTimeAccessor(&RdmaNic::m_cnpInterval),
                          MakeTimeChecker(Time(0)))
            .AddAttribute("DcqcnG",
                          "Gain g of the alpha estimate.",
                          DoubleValue(1.0 / 256),
                          MakeDoubleAccessor(&RdmaNic::m_g),
                          MakeDoubleChecker<double>(0.0, 1.0))
            .AddAttribute("RateAi",
                          "Additive increase step R_AI (for a 100G NIC; see ScaleIncreaseToLineRate).",
                          DataRateValue(DataRate("20Mbps")),
                          MakeDataRateAccessor(&RdmaNic::m_rai),
                          MakeDataRateChecker())
            .AddAttribute("RateHai",
                          "Hyper increase step R_HAI (for a 100G NIC).",
                          DataRateValue(DataRate("200Mbps")),
                          MakeDataRateAccessor(&RdmaNic::m_rhai),
                          MakeDataRateChecker())
            .AddAttribute("AlphaUpdateInterval",
                          "Alpha decays by (1-g) after each such interval without a CNP.",
                          TimeValue(MicroSeconds(1)),
                          MakeTimeAccessor(&RdmaNic::m_alphaInterval),
                          MakeTimeChecker(PicoSeconds(1)))
            .AddAttribute("RateDecreaseInterval",
                          "Minimum time between two rate cuts of one flow.",
                          TimeValue(MicroSeconds(4)),
                          MakeTimeAccessor(&RdmaNic::m_decreaseInterval),
                          MakeTimeChecker(Time(0)))
            .AddAttribute("IncreaseTimer",
                          "Period of the rate-increase timer.",
                          TimeValue(MicroSeconds(300)),
                          MakeTimeAccessor(&RdmaNic::m_increaseTimer),
                          MakeTimeChecker(PicoSeconds(1)))
            .AddAttribute("ByteCounter",
                          "Bytes sent per byte-counter stage.",
                          UintegerValue(10u << 20),
                          MakeUintegerAccessor(&RdmaNic::m_byteCounter),
                          MakeUintegerChecker<uint64_t>(1))
            .AddAttribute("FastRecoveryStages",
                          "F: stages of fast recovery before additive/hyper increase.",
                          UintegerValue(5),
                          MakeUintegerAccessor(&RdmaNic::m_fastRecovery),
                          MakeUintegerChecker<uint32_t>())
            .AddAttribute("MinRate",
                          "Lowest rate DCQCN may set.",
                          DataRateValue(DataRate("100Mbps")),
                          MakeDataRateAccessor(&RdmaNic::m_minRate),
                          MakeDataRateChecker())
            .AddAttribute("InitialAlpha",
                          "Alpha of a new flow (ConnectX: initial_alpha_value / 1024).",
                          DoubleValue(1.0),
                          MakeDoubleAccessor(&RdmaNic::m_initialAlpha),
                          MakeDoubleChecker<double>(0.0, 1.0))
            .AddAttribute("MinDecreaseFactor",
                          "A rate cut keeps at least this fraction of the current rate "
                          "(ConnectX: rpg_min_dec_fac / 100); 0 = no bound.",
                          DoubleValue(0.0),
                          MakeDoubleAccessor(&RdmaNic::m_minDecreaseFactor),
                          MakeDoubleChecker<double>(0.0, 1.0))
            .AddAttribute("AlphaPerWindow",
                          "Update alpha once per AlphaUpdateInterval window from whether a CNP arrived in it "
                          "(ConnectX dce_tcp_rtt); false: a CNP raises alpha at once and restarts the alpha timer.",
                          BooleanValue(false),
                          MakeBooleanAccessor(&RdmaNic::m_alphaPerWindow),
                          MakeBooleanChecker())
            .AddAttribute("ClampTargetRate",
                          "Set the target rate to the current rate at every cut (DCQCN paper; ConnectX "
                          "clamp_tgt_rate); off: only after an increase (see ClampTargetAfterTimeIncrease).",
                          BooleanValue(true),
                          MakeBooleanAccessor(&RdmaNic::m_clampTarget),
                          MakeBooleanChecker())
            .AddAttribute("ClampTargetAfterTimeIncrease",
                          "With ClampTargetRate off, the target rate is set to the current rate at a cut only if the "
                          "byte counter raised the rate since the previous cut; with this on, also if the increase "
                          "timer did (ConnectX clamp_tgt_rate_after_time_inc).",
                          BooleanValue(false),
                          MakeBooleanAccessor(&RdmaNic::m_clampTargetAfterTimer),
                          MakeBooleanChecker())
            .AddAttribute("InitialAlphaAtFirstCnp",
                          "A flow's reaction point starts at its first CNP since it last ran at line rate (ConnectX: "
                          "a rate limiter is allocated then, initial_alpha_value, and released back at line rate, "
                          "rpg_max_rate): alpha takes InitialAlpha there; false: alpha starts at InitialAlpha when the "
                          "flow starts and decays from there.",
                          BooleanValue(false),
                          MakeBooleanAccessor(&RdmaNic::m_alphaAtFirstCnp),
                          MakeBooleanChecker())
            .AddTraceSource("FlowDone",
                            "The last byte of a flow was delivered in order (flow id).",
                            MakeTraceSourceAccessor(&RdmaNic::m_flowDoneTrace),
                            "ns3::RdmaNic::FlowTracedCallback")
            .AddTraceSource("Rewind",
                            "Go-back-N: a flow resends from a PSN (flow id, psn).",
                            MakeTraceSourceAccessor(&RdmaNic::m_rewindTrace),
                            "ns3::RdmaNic::RewindTracedCallback")
            .AddTraceSource("Rate",
                            "DCQCN changed a flow's current rate (flow id, bit/s).",
                            MakeTraceSourceAccessor(&RdmaNic::m_rateTrace),
                            "ns3::RdmaNic::RateTracedCallback")
            .AddTraceSource("Cnp",
                            "This receiver sent a CNP (flow id).",
                            MakeTraceSourceAccessor(&RdmaNic::m_cnpTrace),
                            "ns3::RdmaNic::FlowTracedCallback")
            .AddTraceSource("Delivery",
                            "A receiver delivered a packet in order (flow id, bytes delivered so far).",
                            MakeTraceSourceAccessor(&RdmaNic::m_deliveryTrace),
                            "ns3::RdmaNic::DeliveryTracedCallback");
    return tid;
}

RdmaNic::RdmaNic()
    : m_ackInterval(1),
      m_retxTimeout(MilliSeconds(1)),
      m_nackInterval(MicroSeconds(20)),
      m_controlClass(0),
      m_dcqcn(false),
      m_cnpInterval(MicroSeconds(50)),
      m_g(1.0 / 256),
      m_rai(DataRate("20Mbps")),
      m_rhai(DataRate("200Mbps")),
      m_alphaInterval(MicroSeconds(1)),
      m_decreaseInterval(MicroSeconds(4)),
      m_increaseTimer(MicroSeconds(300)),
      m_byteCounter(10u << 20),
      m_fastRecovery(5),
      m_minRate(DataRate("100Mbps")),
      m_initialAlpha(1.0),
      m_minDecreaseFactor(0.0),
      m_alphaPerWindow(false),
      m_clampTarget(true),
      m_clampTargetAfterTimer(false),
      m_alphaAtFirstCnp(false)
{
}

void
RdmaNic::DoDispose()
{
    Simulator::Remove(m_wake);
    m_dev = nullptr;
    m_done = nullptr;
    m_flows = nullptr;
    Object::DoDispose();
}

void
RdmaNic::Setup(uint32_t host,
               Ptr<RoceNetDevice> dev,
               RdmaFlowTable* flows,
               FlowDoneCallback done)
{
    m_host = host;
    m_dev = dev;
    m_mtu = dev->GetMtu();
    m_lineRate = static_cast<double>(dev->GetBitRate());
    m_flows = flows;
    m_done = std::move(done);
}

const RdmaNic::Stats&
RdmaNic::GetStats() const
{
    return m_stats;
}

void
RdmaNic::ScaleIncreaseToLineRate()
{
    double scale = m_lineRate / 100e9;
    m_rai = DataRate(static_cast<uint64_t>(std::llround(m_rai.GetBitRate() * scale)));
    m_rhai = DataRate(static_cast<uint64_t>(std::llround(m_rhai.GetBitRate() * scale)));
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
    f.rate = f.targetRate = m_lineRate;
    f.alpha = m_initialAlpha;
    f.alphaPs = f.startPs;
    f.cnpInWindow = false;
    f.nextTxPs = f.startPs;
    Ready(f);
    m_dev->Kick();
}

void
RdmaNic::SetFlowClass(uint32_t id, uint8_t cls, bool atomic)
{
    RdmaFlow& f = (*m_flows)[id];
    if (f.pendingCls >= 0)
    {
        f.pendingCls = -1; // a newer change replaces it
        Ready(f);
    }
    if (f.cls == cls)
    {
        return;
    }
    if (atomic && f.sndNxt > f.sndUna)
    {
        f.pendingCls = cls; // PortPull holds the flow until ApplyPendingClass
        return;
    }
    if (f.inReady)
    {
        m_moved[f.cls]++; // moved out of that list at the next pull (amortised O(1))
    }
    f.cls = cls;
    f.classChanges++;
    m_dev->Kick();
}

void
RdmaNic::SetFlowHold(uint32_t id, bool held)
{
    RdmaFlow& f = (*m_flows)[id];
    f.held = held;
    m_dev->Kick();
}

bool
RdmaNic::HigherPending(uint8_t cls) const
{
    for (uint32_t k = 0; k < cls; ++k)
    {
        for (uint32_t id : m_ready[k])
        {
            const RdmaFlow& g = (*m_flows)[id];
            if (g.cls == k && g.sndNxt < g.size)
            {
                return true;
            }
        }
    }
    return false;
}

void
RdmaNic::ApplyPendingClass(RdmaFlow& f)
{
    if (f.pendingCls < 0 || f.sndNxt > f.sndUna)
    {
        return;
    }
    uint8_t cls = static_cast<uint8_t>(f.pendingCls);
    f.pendingCls = -1;
    if (f.inReady)
    {
        m_moved[f.cls]++;
    }
    if (f.cls != cls)
    {
        f.cls = cls;
        f.classChanges++;
    }
    Ready(f);
    m_dev->Kick();
}

void
RdmaNic::SetFlowRateCap(uint32_t id, double bps)
{
    RdmaFlow& f = (*m_flows)[id];
    f.rateCap = bps > 0 ? std::min(bps, m_lineRate) : 0;
    if (f.rateCap == 0)
    {
        f.nextTxPs = 0;
        m_dev->Kick();
    }
}

void
RdmaNic::SetFlowDemotion(uint32_t id, std::vector<uint64_t> thresholds)
{
    RdmaFlow& f = (*m_flows)[id];
    f.demoteAt = std::move(thresholds);
    f.demoted = 0;
}

void
RdmaNic::Regroup(uint32_t cls)
{
    auto& list = m_ready[cls];
    for (size_t n = list.size(); n > 0; --n)
    {
        uint32_t id = list.front();
        list.pop_front();
        RdmaFlow& f = (*m_flows)[id];
        if (f.cls == cls)
        {
            list.push_back(id);
        }
        else
        {
            f.inReady = false;
            Ready(f);
        }
    }
    m_moved[cls] = 0;
}

Ptr<RoceQueueItem>
RdmaNic::PortPull(uint32_t, uint8_t pausedMask)
{
    const int64_t now = Simulator::Now().GetPicoSeconds();
    int64_t earliest = std::numeric_limits<int64_t>::max();
    for (uint32_t k = 0; k < RoceHeader::kNumClasses; ++k)
    {
        if (m_moved[k])
        {
            Regroup(k); // a flow may have left a paused class
        }
    }
    uint32_t c = 0;
    uint32_t budget = m_ready[0].size(); // flows of class c still to look at
    while (c < RoceHeader::kNumClasses)
    {
        if (((pausedMask >> c) & 1) || budget == 0)
        {
            if (++c < RoceHeader::kNumClasses)
            {
                budget = m_ready[c].size();
            }
            continue;
        }
        --budget;
        uint32_t id = m_ready[c].front();
        m_ready[c].pop_front();
        RdmaFlow& f = (*m_flows)[id];
        f.inReady = false;
        if (f.sndNxt >= f.size)
        {
            continue;
        }
        if (f.pendingCls >= 0 && f.sndNxt > f.sndUna)
        {
            continue; // held for an atomic class change (ApplyPendingClass re-queues it)
        }
        if (f.held && HigherPending(f.cls))
        {
            Ready(f); // the host keeps it until the higher classes have sent everything
            continue;
        }
        if (f.nextTxPs > now)
        {
            // Paced by DCQCN: keep its turn, remember when it may send.
            Ready(f);
            earliest = std::min(earliest, f.nextTxPs);
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
        Ptr<RoceQueueItem> frame = RoceQueueItem::NewFrame(h);
        f.sndNxt += h.payload;
        f.bytesSent += h.payload;
        double rate = f.rateCap > 0 ? std::min(f.rate, f.rateCap) : f.rate;
        if (rate < m_lineRate)
        {
            double wire = frame->GetSize() + RoceHeader::kPreambleIfg;
            f.nextTxPs = now + static_cast<int64_t>(std::llround(wire * 8e12 / rate));
        }
        if (f.rate < m_lineRate)
        {
            f.stageBytes += h.payload;
            if (f.stageBytes >= m_byteCounter)
            {
                f.stageBytes -= m_byteCounter;
                f.byteStage++;
                RateIncrease(f);
            }
        }
        while (f.demoted < f.demoteAt.size() && f.bytesSent >= f.demoteAt[f.demoted])
        {
            f.demoted++;
            if (f.cls + 1u < RoceHeader::kNumClasses)
            {
                f.cls++;
                f.classChanges++;
            }
        }
        Ready(f);
        ArmRto(f);
        return frame;
    }
    if (earliest != std::numeric_limits<int64_t>::max())
    {
        WakeAt(earliest);
    }
    return nullptr;
}

void
RdmaNic::WakeAt(int64_t ps)
{
    if (m_wake.IsPending() && m_wakePs <= ps)
    {
        return;
    }
    Simulator::Remove(m_wake);
    m_wakePs = ps;
    m_wake = Simulator::Schedule(PicoSeconds(ps) - Simulator::Now(), &RdmaNic::Wake, this);
}

void
RdmaNic::Wake()
{
    m_wakePs = -1;
    m_dev->Kick();
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
    case RoceFrameType::CNP:
        OnCnp((*m_flows)[h.flow]);
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
    if (h.ecn == ECN_CE && (f.lastCnpPs < 0 || now - f.lastCnpPs >= m_cnpInterval.GetPicoSeconds()))
    {
        SendControl(RoceFrameType::CNP, f, f.rcvNxt);
        f.lastCnpPs = now;
        m_cnpTrace(f.id);
        m_stats.cnpsSent++;
    }
    if (h.psn == f.rcvNxt)
    {
        f.rcvNxt += h.payload;
        f.lastNackPs = -1;
        m_deliveryTrace(f.id, f.rcvNxt);
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
    ApplyPendingClass(f);
    if (f.sndUna >= f.size && f.ackedPs < 0)
    {
        f.ackedPs = Simulator::Now().GetPicoSeconds();
        Simulator::Remove(f.rto);
        Simulator::Remove(f.increaseTimer);
        Simulator::Remove(f.decreaseEvent);
    }
}

// ------------------------------------------------------------------ DCQCN

void
RdmaNic::DecayAlpha(RdmaFlow& f, int64_t now)
{
    int64_t k = m_alphaInterval.GetPicoSeconds();
    int64_t n = (now - f.alphaPs) / k;
    if (n > 0)
    {
        if (f.cnpInWindow)
        {
            // AlphaPerWindow: the window that saw a CNP ends with alpha <- (1-g) alpha + g.
            f.alpha = (1.0 - m_g) * f.alpha + m_g;
            f.cnpInWindow = false;
            --n;
            f.alphaPs += k;
        }
        f.alpha *= std::pow(1.0 - m_g, static_cast<double>(n));
        f.alphaPs += n * k;
    }
}

void
RdmaNic::OnCnp(RdmaFlow& f)
{
    f.cnpsReceived++;
    if (!m_dcqcn || f.sndUna >= f.size)
    {
        return;
    }
    int64_t now = Simulator::Now().GetPicoSeconds();
    if (m_alphaAtFirstCnp && !f.limited)
    {
        // The first CNP since the flow last ran at line rate allocates its rate limiter: alpha takes
        // its initial value and its update windows start now (this CNP is not an alpha sample).
        f.limited = true;
        f.alpha = m_initialAlpha;
        f.alphaPs = now;
        f.cnpInWindow = false;
    }
    else
    {
        DecayAlpha(f, now);
        if (m_alphaPerWindow)
        {
            f.cnpInWindow = true; // counted when the window ends
        }
        else
        {
            f.alpha = (1.0 - m_g) * f.alpha + m_g;
            f.alphaPs = now; // the alpha timer restarts at each CNP
        }
    }
    if (f.decreasePs < 0 || now - f.decreasePs >= m_decreaseInterval.GetPicoSeconds())
    {
        RateDecrease(f.id);
    }
    else if (!f.decreasePending)
    {
        f.decreasePending = true;
        f.decreaseEvent = Simulator::Schedule(PicoSeconds(f.decreasePs + m_decreaseInterval.GetPicoSeconds() - now),
                                              &RdmaNic::RateDecrease,
                                              this,
                                              f.id);
    }
}

void
RdmaNic::RateDecrease(uint32_t id)
{
    RdmaFlow& f = (*m_flows)[id];
    int64_t now = Simulator::Now().GetPicoSeconds();
    DecayAlpha(f, now);
    f.decreasePending = false;
    f.decreasePs = now;
    f.rateDecreases++;
    // Rt <- Rc, unless ClampTargetRate is off and the rate has not been raised since the previous
    // cut (by the byte counter, or by the timer with ClampTargetAfterTimeIncrease): then Rt keeps
    // the rate before that run of cuts, as QCN's reaction point does.
    if (m_clampTarget || f.byteStage > 0 || (m_clampTargetAfterTimer && f.timerStage > 0))
    {
        f.targetRate = f.rate;
    }
    double cut = std::max(f.rate * (1.0 - f.alpha / 2), f.rate * m_minDecreaseFactor);
    SetRate(f, std::max(static_cast<double>(m_minRate.GetBitRate()), cut));
    f.timerStage = 0;
    f.byteStage = 0;
    f.stageBytes = 0;
    Simulator::Remove(f.increaseTimer);
    f.increaseTimer = Simulator::Schedule(m_increaseTimer, &RdmaNic::IncreaseTimerFired, this, id);
}

void
RdmaNic::IncreaseTimerFired(uint32_t id)
{
    RdmaFlow& f = (*m_flows)[id];
    f.timerStage++;
    RateIncrease(f);
    if (f.rate < m_lineRate && f.sndUna < f.size)
    {
        f.increaseTimer = Simulator::Schedule(m_increaseTimer, &RdmaNic::IncreaseTimerFired, this, id);
    }
}

void
RdmaNic::RateIncrease(RdmaFlow& f)
{
    uint32_t lo = std::min(f.timerStage, f.byteStage);
    uint32_t hi = std::max(f.timerStage, f.byteStage);
    if (hi >= m_fastRecovery)
    {
        double step = lo > m_fastRecovery ? (lo - m_fastRecovery) * static_cast<double>(m_rhai.GetBitRate())
                                          : static_cast<double>(m_rai.GetBitRate());
        f.targetRate = std::min(m_lineRate, f.targetRate + step);
    }
    double rate = std::min(m_lineRate, (f.targetRate + f.rate) / 2);
    if (m_alphaAtFirstCnp && m_lineRate - rate < kRateUnit)
    {
        // Firmware rates move in steps of 1 Mbit/s: within one of line rate is line rate (else
        // halving the gap would never get there and release the rate limiter).
        rate = m_lineRate;
    }
    SetRate(f, rate);
}

void
RdmaNic::SetRate(RdmaFlow& f, double rate)
{
    if (rate == f.rate)
    {
        return;
    }
    // Re-pace the next packet from the new rate.
    if (f.nextTxPs > Simulator::Now().GetPicoSeconds() && f.rate > 0)
    {
        int64_t now = Simulator::Now().GetPicoSeconds();
        f.nextTxPs = now + static_cast<int64_t>((f.nextTxPs - now) * (f.rate / rate));
    }
    f.rate = rate;
    m_rateTrace(f.id, rate);
    if (f.nextTxPs > Simulator::Now().GetPicoSeconds())
    {
        WakeAt(f.nextTxPs);
    }
    if (rate >= m_lineRate)
    {
        f.limited = false; // back at line rate: the rate limiter is released
        f.nextTxPs = 0;
        m_dev->Kick();
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
    ApplyPendingClass(f);
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
    m_dev->Enqueue(RoceQueueItem::NewFrame(h));
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
