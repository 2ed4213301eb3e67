/*
 * ns3-mfs: packet-level model of disaggregated MoE serving networks.
 * SPDX-License-Identifier: GPL-2.0-only (as ns-3)
 */
#include "rmlq-queue-disc.h"

#include "ns3/boolean.h"
#include "ns3/double.h"
#include "ns3/drop-tail-queue.h"
#include "ns3/abort.h"
#include "ns3/log.h"
#include "ns3/socket.h"
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
            .AddAttribute("EcnMarking",
                          "Mark ECN-capable packets CE on dequeue (RED on per-band bytes).",
                          BooleanValue(false),
                          MakeBooleanAccessor(&RmlqQueueDisc::m_ecn),
                          MakeBooleanChecker())
            .AddAttribute("EcnKmin",
                          "RED lower threshold in bytes (no marking at or below).",
                          UintegerValue(400000),
                          MakeUintegerAccessor(&RmlqQueueDisc::m_kmin),
                          MakeUintegerChecker<uint64_t>())
            .AddAttribute("EcnKmax",
                          "RED upper threshold in bytes (always mark above).",
                          UintegerValue(1600000),
                          MakeUintegerAccessor(&RmlqQueueDisc::m_kmax),
                          MakeUintegerChecker<uint64_t>())
            .AddAttribute("EcnPmax",
                          "RED marking probability at Kmax.",
                          DoubleValue(0.2),
                          MakeDoubleAccessor(&RmlqQueueDisc::m_pmax),
                          MakeDoubleChecker<double>(0.0, 1.0))
            .AddAttribute("EcnBandMask",
                          "Bands whose packets may be marked (bit b = band b).",
                          UintegerValue(0xFF),
                          MakeUintegerAccessor(&RmlqQueueDisc::m_ecnBandMask),
                          MakeUintegerChecker<uint8_t>())
            .AddAttribute("DefaultBand",
                          "Band of an item that has neither a DS field (not IP) nor a "
                          "SocketPriorityTag (capped at NumBands - 1).",
                          UintegerValue(0),
                          MakeUintegerAccessor(&RmlqQueueDisc::m_defaultBand),
                          MakeUintegerChecker<uint32_t>(0, 7))
            .AddTraceSource("BandEnqueue",
                            "A packet entered a band (band, item).",
                            MakeTraceSourceAccessor(&RmlqQueueDisc::m_bandEnqueueTrace),
                            "ns3::RmlqQueueDisc::BandItemTracedCallback")
            .AddTraceSource("BandDequeue",
                            "A packet left a band for transmission (band, item).",
                            MakeTraceSourceAccessor(&RmlqQueueDisc::m_bandDequeueTrace),
                            "ns3::RmlqQueueDisc::BandItemTracedCallback")
            .AddTraceSource("EcnMark",
                            "A packet leaving a band was marked CE (band, item).",
                            MakeTraceSourceAccessor(&RmlqQueueDisc::m_ecnMarkTrace),
                            "ns3::RmlqQueueDisc::BandItemTracedCallback")
            .AddTraceSource("BandBytes",
                            "Bytes queued in a band after a change (band, bytes).",
                            MakeTraceSourceAccessor(&RmlqQueueDisc::m_bandBytesTrace),
                            "ns3::RmlqQueueDisc::BandBytesTracedCallback");
    return tid;
}

RmlqQueueDisc::RmlqQueueDisc()
    : QueueDisc(QueueDiscSizePolicy::NO_LIMITS),
      m_numBands(8),
      m_ecn(false),
      m_kmin(400000),
      m_kmax(1600000),
      m_pmax(0.2),
      m_ecnBandMask(0xFF),
      m_defaultBand(0),
      m_uniform(CreateObject<UniformRandomVariable>())
{
}

double
RmlqQueueDisc::MarkProbability(uint64_t bytes) const
{
    if (bytes <= m_kmin)
    {
        return 0.0;
    }
    if (bytes > m_kmax)
    {
        return 1.0;
    }
    return m_pmax * static_cast<double>(bytes - m_kmin) / static_cast<double>(m_kmax - m_kmin);
}

uint64_t
RmlqQueueDisc::GetEcnMarks() const
{
    return m_ecnMarks;
}

int64_t
RmlqQueueDisc::AssignStreams(int64_t stream)
{
    m_uniform->SetStream(stream);
    return 1;
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

uint64_t
RmlqQueueDisc::GetBandDequeued(uint32_t band) const
{
    return band < m_bandDequeued.size() ? m_bandDequeued[band] : 0;
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
    uint32_t cls = m_defaultBand;
    uint8_t ds = 0;
    SocketPriorityTag priority;
    if (item->GetUint8Value(QueueItem::IP_DSFIELD, ds))
    {
        cls = ds >> 2; // DSCP
    }
    else if (item->GetPacket()->PeekPacketTag(priority))
    {
        cls = priority.GetPriority();
    }
    return cls < m_numBands ? cls : m_numBands - 1;
}

bool
RmlqQueueDisc::DoEnqueue(Ptr<QueueDiscItem> item)
{
    NS_ABORT_MSG_IF(m_direct, "RmlqQueueDisc: QueueDisc::Enqueue after EnqueueDirect (one way only)");
    uint32_t band = BandOf(item);
    uint32_t size = item->GetSize();
    bool ok = m_bands[band]->Enqueue(item);
    if (ok)
    {
        m_bandBytes[band] += size;
        m_bandPackets[band]++;
        m_queuedPackets++;
        m_queuedBytes += size;
        if (!m_bandEnqueueTrace.IsEmpty())
        {
            m_bandEnqueueTrace(band, item);
        }
        if (!m_bandBytesTrace.IsEmpty())
        {
            m_bandBytesTrace(band, m_bandBytes[band]);
        }
    }
    return ok;
}

void
RmlqQueueDisc::EnqueueDirect(Ptr<QueueDiscItem> item)
{
    if (!m_direct)
    {
        NS_ABORT_MSG_IF(GetNPackets() > 0, "RmlqQueueDisc: EnqueueDirect after QueueDisc::Enqueue (one way only)");
        m_direct = true;
    }
    uint32_t band = BandOf(item);
    uint32_t size = item->GetSize();
    m_bandBytes[band] += size;
    m_bandPackets[band]++;
    m_queuedPackets++;
    m_queuedBytes += size;
    if (!m_bandEnqueueTrace.IsEmpty())
    {
        m_bandEnqueueTrace(band, item);
    }
    if (!m_bandBytesTrace.IsEmpty())
    {
        m_bandBytesTrace(band, m_bandBytes[band]);
    }
    m_rings[band].push_back(std::move(item));
}

Ptr<QueueDiscItem>
RmlqQueueDisc::TakeFrom(uint32_t b, bool direct)
{
    Ptr<QueueDiscItem> item;
    if (direct)
    {
        item = std::move(m_rings[b].front());
        m_rings[b].pop_front();
    }
    else
    {
        item = m_bands[b]->Dequeue();
    }
    if (m_ecn && ((m_ecnBandMask >> b) & 1) && m_bandBytes[b] > m_kmin)
    {
        double p = MarkProbability(m_bandBytes[b]);
        // item->Mark() directly: QueueDisc::Mark keeps string-keyed statistics
        // maps, too slow for a per-packet path; EcnMark is the trace instead.
        if ((p >= 1.0 || m_uniform->GetValue() < p) && item->Mark())
        {
            m_ecnMarks++;
            if (!m_ecnMarkTrace.IsEmpty())
            {
                m_ecnMarkTrace(b, item);
            }
        }
    }
    uint32_t size = item->GetSize();
    m_bandBytes[b] -= size;
    m_bandPackets[b]--;
    m_bandDequeued[b]++;
    m_queuedPackets--;
    m_queuedBytes -= size;
    if (!m_bandDequeueTrace.IsEmpty())
    {
        m_bandDequeueTrace(b, item);
    }
    if (!m_bandBytesTrace.IsEmpty())
    {
        m_bandBytesTrace(b, m_bandBytes[b]);
    }
    return item;
}

Ptr<QueueDiscItem>
RmlqQueueDisc::DoDequeue()
{
    NS_ABORT_MSG_IF(m_direct, "RmlqQueueDisc: QueueDisc::Dequeue after EnqueueDirect (one way only)");
    for (uint32_t b = 0; b < m_numBands; ++b)
    {
        if (m_bandPackets[b] && !((m_pausedMask >> b) & 1))
        {
            return TakeFrom(b, false);
        }
    }
    return nullptr;
}

Ptr<QueueDiscItem>
RmlqQueueDisc::DequeueDirect()
{
    for (uint32_t b = 0; b < m_numBands; ++b)
    {
        if (m_bandPackets[b] && !((m_pausedMask >> b) & 1))
        {
            return TakeFrom(b, true);
        }
    }
    return nullptr;
}

uint32_t
RmlqQueueDisc::GetQueuedPackets() const
{
    return m_queuedPackets;
}

uint64_t
RmlqQueueDisc::GetQueuedBytes() const
{
    return m_queuedBytes;
}

Ptr<const QueueDiscItem>
RmlqQueueDisc::DoPeek()
{
    for (uint32_t b = 0; b < m_numBands; ++b)
    {
        if (m_bandPackets[b] && !((m_pausedMask >> b) & 1))
        {
            return m_direct ? Ptr<const QueueDiscItem>(m_rings[b].front()) : m_bands[b]->Peek();
        }
    }
    return nullptr;
}

bool
RmlqQueueDisc::CheckConfig()
{
    if (m_ecn && m_kmax <= m_kmin)
    {
        NS_LOG_ERROR("RmlqQueueDisc needs EcnKmax > EcnKmin");
        return false;
    }
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
    m_bandDequeued.assign(m_numBands, 0);
    m_bands.clear();
    m_rings.assign(m_numBands, {});
    for (uint32_t b = 0; b < m_numBands; ++b)
    {
        m_bands.push_back(PeekPointer(GetInternalQueue(b)));
    }
}

} // namespace ns3
