/*
 * ns3-mfs: packet-level model of disaggregated MoE serving networks.
 * SPDX-License-Identifier: GPL-2.0-only (as ns-3)
 */
#ifndef NS3_MFS_FABRIC_MONITOR_H
#define NS3_MFS_FABRIC_MONITOR_H

#include "fabric-node.h"

#include "ns3/event-id.h"
#include "ns3/nstime.h"
#include "ns3/object.h"

#include <functional>

namespace ns3
{

/**
 * @ingroup ns3mfs
 * Base of the fabric-wide monitors (PfcMonitor, QueueSampler): a round over
 * the fabric's nodes every GetInterval() of simulated time while traffic is
 * active. After each round the continue callback decides whether to schedule
 * the next one; Halt() removes the pending round when traffic ends, so the
 * run's end time stays that of the last real event.
 */
class FabricMonitor : public Object
{
  public:
    /**
     * @brief Get the type ID.
     * @return the object TypeId
     */
    static TypeId GetTypeId();

    /** Asked after each round whether to schedule the next one. */
    using ContinueCallback = std::function<bool()>;

    /** @param nodes the fabric to watch (must outlive the monitor) */
    void SetFabric(const FabricNodes* nodes);

    /** @param cb true while the monitor should go on */
    void SetContinueCallback(ContinueCallback cb);

    /** @return true if the interval is positive (the monitor is on) */
    bool IsEnabled() const;

    /** Remove the pending round. */
    void Halt();

  protected:
    void DoDispose() override;

    /**
     * Schedule the first round, unless rounds already run or the monitor is off.
     * @param now run it now (else one interval from now)
     */
    void StartRounds(bool now);

    /** @return the fabric's nodes */
    const FabricNodes& Nodes() const;

    /** @return the period of the rounds (0 = off) */
    virtual Time GetInterval() const = 0;

    /** One round over the fabric. */
    virtual void DoRound() = 0;

  private:
    /** Run a round, then schedule the next one if the continue callback says so. */
    void Round();

    const FabricNodes* m_nodes{nullptr}; //!< the fabric
    ContinueCallback m_continue;         //!< whether to go on
    bool m_running{false};               //!< a round is scheduled
    EventId m_event;                     //!< the next round
};

} // namespace ns3

#endif
