/*
 * ns3-mfs: packet-level model of disaggregated MoE serving networks.
 * SPDX-License-Identifier: GPL-2.0-only (as ns-3)
 */
#ifndef NS3_MFS_QUEUE_SAMPLER_H
#define NS3_MFS_QUEUE_SAMPLER_H

#include "fabric-monitor.h"

#include "ns3/traced-callback.h"

namespace ns3
{

/** @ingroup ns3mfs One queue sample of one (switch port, band). */
struct QueueSample
{
    int64_t timePs; //!< sampling time (ps)
    uint32_t node;  //!< switch node index
    uint32_t port;  //!< port index
    uint8_t band;   //!< band (class)
    uint64_t bytes; //!< bytes queued in the band
};

/**
 * @ingroup ns3mfs
 * Samples the egress queues of every switch port every Interval while
 * traffic is active (installed by FabricMonitorHelper). Only non-empty bands
 * are reported, through the Sample trace source.
 */
class QueueSampler : public FabricMonitor
{
  public:
    /**
     * @brief Get the type ID.
     * @return the object TypeId
     */
    static TypeId GetTypeId();
    /** Create a sampler with the default interval (10 us). */
    QueueSampler();

    /**
     * TracedCallback signature of Sample.
     * @param sample one non-empty band
     */
    typedef void (*SampleTracedCallback)(const QueueSample& sample);

    /** Sample now and then every Interval, unless sampling already runs or Interval is 0. */
    void Start();

  protected:
    Time GetInterval() const override;
    /** One sampling round over all switch ports. */
    void DoRound() override;

  private:
    Time m_interval;                     //!< sampling period (0 = off)
    TracedCallback<const QueueSample&> m_sampleTrace; //!< samples
};

} // namespace ns3

#endif
