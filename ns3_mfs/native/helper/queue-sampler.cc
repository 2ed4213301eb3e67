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
                            .SetParent<FabricMonitor>()
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

Time
QueueSampler::GetInterval() const
{
    return m_interval;
}

void
QueueSampler::Start()
{
    StartRounds(true);
}

void
QueueSampler::DoRound()
{
    const FabricNodes& nodes = Nodes();
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
            if (q->GetQueuedPackets() == 0)
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
}

} // namespace ns3
