/*
 * ns3-mfs: packet-level model of disaggregated MoE serving networks.
 * SPDX-License-Identifier: GPL-2.0-only (as ns-3)
 */
#include "rmlq-queue-disc.h"

#include "ns3/drop-tail-queue.h"
#include "ns3/log.h"
#include "ns3/uinteger.h"

namespace ns3
{

NS_LOG_COMPONENT_DEFINE("RmlqQueueDisc");
NS_OBJECT_ENSURE_REGISTERED(RmlqQueueDisc);

TypeId
RmlqQueueDisc::GetTypeId()
{
    static TypeId tid =
        TypeId("ns3::RmlqQueueDisc")
            .SetParent<QueueDisc>()
            .SetGroupName("Mfs")
            .AddConstructor<RmlqQueueDisc>()
            .AddAttribute("NumBands",
                          "Number of strict-priority bands K (band 0 is served first).",
                          UintegerValue(8),
                          MakeUintegerAccessor(&RmlqQueueDisc::m_numBands),
                          MakeUintegerChecker<uint32_t>(1, 8))
            .AddTraceSource("BandEnqueue",
                            "A packet entered a band (band, item).",
                            MakeTraceSourceAccessor(&RmlqQueueDisc::m_bandEnqueueTrace),
                            "ns3::RmlqQueueDisc::BandItemCallback")
            .AddTraceSource("BandDequeue",
                            "A packet left a band for transmission (band, item).",
                            MakeTraceSourceAccessor(&RmlqQueueDisc::m_bandDequeueTrace),
                            "ns3::RmlqQueueDisc::BandItemCallback")
            .AddTraceSource("BandBytes",
                            "Bytes queued in a band after a change (band, bytes).",
                            MakeTraceSourceAccessor(&RmlqQueueDisc::m_bandBytesTrace),
                            "ns3::RmlqQueueDisc::BandBytesCallback");
    return tid;
}

RmlqQueueDisc::RmlqQueueDisc()
    : QueueDisc(QueueDiscSizePolicy::NO_LIMITS),
      m_numBands(8)
{
}

RmlqQueueDisc::~RmlqQueueDisc() = default;

uint32_t
RmlqQueueDisc::GetNumBands() const
{
    return m_numBands;
}

void
RmlqQueueDisc::SetPausedMask(uint8_t mask)
{
    m_pausedMask = mask;
}

uint8_t
RmlqQueueDisc::GetPausedMask() const
{
    return m_pausedMask;
}

uint64_t
RmlqQueueDisc::GetBandBytes(uint32_t band) const
{
    return band < m_bandBytes.size() ? m_bandBytes[band] : 0;
}

uint32_t
RmlqQueueDisc::GetBandPackets(uint32_t band) const
{
    return band < m_bandPackets.size() ? m_bandPackets[band] : 0;
}

bool
RmlqQueueDisc::HasEligible() const
{
    for (uint32_t b = 0; b < m_numBands; ++b)
    {
        if (m_bandPackets[b] && !((m_pausedMask >> b) & 1))
        {
            return true;
        }
    }
    return false;
}

uint32_t
RmlqQueueDisc::BandOf(Ptr<const QueueDiscItem> item) const
{
    uint8_t ds = 0;
    item->GetUint8Value(QueueItem::IP_DSFIELD, ds);
    uint32_t cls = ds >> 2;
    return cls < m_numBands ? cls : m_numBands - 1;
}

bool
RmlqQueueDisc::DoEnqueue(Ptr<QueueDiscItem> item)
{
    uint32_t band = BandOf(item);
    bool ok = GetInternalQueue(band)->Enqueue(item);
    if (ok)
    {
        m_bandBytes[band] += item->GetSize();
        m_bandPackets[band]++;
        m_bandEnqueueTrace(band, item);
        m_bandBytesTrace(band, m_bandBytes[band]);
    }
    return ok;
}

Ptr<QueueDiscItem>
RmlqQueueDisc::DoDequeue()
{
    for (uint32_t b = 0; b < m_numBands; ++b)
    {
        if (!m_bandPackets[b] || ((m_pausedMask >> b) & 1))
        {
            continue;
        }
        Ptr<QueueDiscItem> item = GetInternalQueue(b)->Dequeue();
        m_bandBytes[b] -= item->GetSize();
        m_bandPackets[b]--;
        m_bandDequeueTrace(b, item);
        m_bandBytesTrace(b, m_bandBytes[b]);
        return item;
    }
    return nullptr;
}

Ptr<const QueueDiscItem>
RmlqQueueDisc::DoPeek()
{
    for (uint32_t b = 0; b < m_numBands; ++b)
    {
        if (m_bandPackets[b] && !((m_pausedMask >> b) & 1))
        {
            return GetInternalQueue(b)->Peek();
        }
    }
    return nullptr;
}

bool
RmlqQueueDisc::CheckConfig()
{
    if (GetNQueueDiscClasses() > 0 || GetNPacketFilters() > 0)
    {
        NS_LOG_ERROR("RmlqQueueDisc needs no classes and no packet filters");
        return false;
    }
    if (GetNInternalQueues() == 0)
    {
        for (uint32_t b = 0; b < m_numBands; ++b)
        {
            auto q = CreateObject<DropTailQueue<QueueDiscItem>>();
            // Admission belongs to the buffer manager: no limit in the band itself.
            q->SetMaxSize(QueueSize(QueueSizeUnit::PACKETS, 0xFFFFFFFFu));
            AddInternalQueue(q);
        }
    }
    if (GetNInternalQueues() != m_numBands)
    {
        NS_LOG_ERROR("RmlqQueueDisc needs exactly NumBands internal queues");
        return false;
    }
    return true;
}

void
RmlqQueueDisc::InitializeParams()
{
    m_bandBytes.assign(m_numBands, 0);
    m_bandPackets.assign(m_numBands, 0);
}

} // namespace ns3
