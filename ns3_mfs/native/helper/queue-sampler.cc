/*
 * ns3-mfs: packet-level model of disaggregated MoE serving networks.
 * SPDX-License-Identifier: GPL-2.0-only (as ns-3)
 */
#include "queue-sampler.h"

#include "ns3/log.h"
#include "ns3/simulator.h"

namespace ns3
{

NS_LOG_COMPONENT_DEFINE("QueueSampler");
NS_OBJECT_ENSURE_REGISTERED(QueueSampler);

TypeId
QueueSampler::GetTypeId()
{
    static TypeId tid = TypeId("ns3::QueueSampler")
                            .SetParent<Object>()
                            .SetGroupName("Mfs")
                            .AddConstructor<QueueSampler>()
                            .AddAttribute("Interval",
                                          "Sampling period while traffic is active; 0 turns sampling off.",
                                          TimeValue(MicroSeconds(10)),
                                          MakeTimeAccessor(&QueueSampler::m_interval),
                                          MakeTimeChecker(Time(0)))
                            .AddTraceSource("Sample",
                                            "A non-empty band of a switch port was sampled.",
                                            MakeTraceSourceAccessor(&QueueSampler::m_sampleTrace),
                                            "ns3::QueueSampler::SampleTracedCallback");
    return tid;
}

QueueSampler::QueueSampler()
    : m_interval(MicroSeconds(10))
{
}

void
QueueSampler::DoDispose()
{
    Halt();
    m_nodes = nullptr;
    m_continue = nullptr;
    Object::DoDispose();
}

void
QueueSampler::SetFabric(const FabricNodes* nodes)
{
    m_nodes = nodes;
}

void
QueueSampler::SetContinueCallback(ContinueCallback cb)
{
    m_continue = std::move(cb);
}

void
QueueSampler::Start()
{
    if (!m_running && m_interval.IsStrictlyPositive())
    {
        m_running = true;
        m_event = Simulator::ScheduleNow(&QueueSampler::Sample, this);
    }
}

void
QueueSampler::Halt()
{
    // Removed, not cancelled: a cancelled event still advances the clock when it is reached.
    if (m_event.IsPending())
    {
        Simulator::Remove(m_event);
    }
    m_running = false;
}

void
QueueSampler::Sample()
{
    const FabricNodes& nodes = *m_nodes;
    int64_t now = Simulator::Now().GetPicoSeconds();
    for (uint32_t n = 0; n < nodes.size(); ++n)
    {
        if (!nodes[n].sw)
        {
            continue;
        }
        const auto& ports = nodes[n].ports;
        for (uint32_t p = 0; p < ports.size(); ++p)
        {
            Ptr<RmlqQueueDisc> q = ports[p]->GetQueueDisc();
            if (q->GetNPackets() == 0)
            {
                continue;
            }
            for (uint32_t b = 0; b < q->GetNumBands(); ++b)
            {
                if (uint64_t bytes = q->GetBandBytes(b))
                {
                    m_sampleTrace(QueueSample{now, n, p, static_cast<uint8_t>(b), bytes});
                }
            }
        }
    }
    if (m_continue && m_continue())
    {
        m_event = Simulator::Schedule(m_interval, &QueueSampler::Sample, this);
    }
    else
    {
        m_running = false;
    }
}

} // namespace ns3
