/*
 * ns3-mfs: packet-level model of disaggregated MoE serving networks.
 * SPDX-License-Identifier: GPL-2.0-only (as ns-3)
 */
#ifndef NS3_MFS_QUEUE_SAMPLER_H
#define NS3_MFS_QUEUE_SAMPLER_H

#include "fabric-node.h"

#include "ns3/event-id.h"
#include "ns3/nstime.h"
#include "ns3/object.h"
#include "ns3/traced-callback.h"

#include <functional>

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
class QueueSampler : public Object
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

    /** Asked after each sampling round whether to schedule the next one. */
    using ContinueCallback = std::function<bool()>;

    /** @param nodes the fabric to sample (must outlive the sampler) */
    void SetFabric(const FabricNodes* nodes);

    /** @param cb true while traffic is active */
    void SetContinueCallback(ContinueCallback cb);

    /** Sample now and then every Interval, unless sampling already runs or Interval is 0. */
    void Start();

    /** Remove the pending round (traffic ended). */
    void Halt();

  protected:
    void DoDispose() override;

  private:
    /** One sampling round over all switch ports. */
    void Sample();

    Time m_interval;                     //!< sampling period (0 = off)
    const FabricNodes* m_nodes{nullptr}; //!< the fabric
    ContinueCallback m_continue;         //!< whether to keep sampling
    bool m_running{false};               //!< a round is scheduled
    EventId m_event;                     //!< the next round
    TracedCallback<const QueueSample&> m_sampleTrace; //!< samples
};

} // namespace ns3

#endif
