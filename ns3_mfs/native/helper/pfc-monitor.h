/*
 * ns3-mfs: packet-level model of disaggregated MoE serving networks.
 * SPDX-License-Identifier: GPL-2.0-only (as ns-3)
 */
#ifndef NS3_MFS_PFC_MONITOR_H
#define NS3_MFS_PFC_MONITOR_H

#include "fabric-monitor.h"

#include "ns3/traced-callback.h"

#include <functional>
#include <map>
#include <tuple>
#include <vector>

namespace ns3
{

/** @ingroup ns3mfs A PFC anomaly at one (port, class), as the PfcMonitor reports it. */
struct PfcAnomaly
{
    /** What was found. */
    enum Kind : uint8_t
    {
        DEADLOCK = 0,    //!< member of a cycle of blocked classes
        PAUSE_STORM = 1, //!< paused without a break for too long
        DROP = 2,        //!< a lossless switch dropped a frame (headroom exceeded; recorded by FabricRecorder)
    };

    int64_t timePs;  //!< detection (ps)
    int64_t sincePs; //!< the pause began (ps)
    uint32_t node;   //!< node index
    uint32_t port;   //!< port index (DROP: the ingress port)
    uint8_t cls;     //!< class
    Kind kind;       //!< deadlock member, pause storm or drop
    uint64_t bytes;  //!< bytes queued in that class of the port's egress queue (DROP: of its ingress queue)
    int64_t flow{-1}; //!< DROP: the dropped frame's flow; -1 otherwise
};

/**
 * @ingroup ns3mfs
 * Watches a fabric for PFC trouble every Interval of simulated time while
 * traffic is active (a FabricMonitor, installed by FabricMonitorHelper as
 * ns-3's FlowMonitor is by FlowMonitorHelper).
 *
 * A pause storm is a (port, class) paused without a break for longer than
 * StormThreshold. A deadlock is a cycle of switch egress classes, each paused
 * by the next switch of the cycle, holding packets and having dequeued none
 * since the previous check (a cyclic buffer dependency making no progress).
 * Each is reported once through the Anomaly trace source; a deadlock always
 * calls the stop callback, a pause storm if StopOnStorm.
 */
class PfcMonitor : public FabricMonitor
{
  public:
    /**
     * @brief Get the type ID.
     * @return the object TypeId
     */
    static TypeId GetTypeId();
    /** Create a monitor that is off (Interval 0). */
    PfcMonitor();

    /**
     * TracedCallback signature of Anomaly.
     * @param anomaly what was found, where
     */
    typedef void (*AnomalyTracedCallback)(const PfcAnomaly& anomaly);

    /** Asked to stop the run (the kind of the first anomaly that requires it). */
    using StopCallback = std::function<void(PfcAnomaly::Kind)>;

    /** @param cb called when an anomaly must stop the run */
    void SetStopCallback(StopCallback cb);

    /** Schedule the first check one Interval from now, unless checks already run or the monitor is off. */
    void Start();

    /** @return the longest pause of any (port, class) seen at a check (ps) */
    int64_t GetLongestPausePs() const;

  protected:
    void DoDispose() override;
    Time GetInterval() const override;
    /** One check: pause storms, then cycles of blocked switch egress classes. */
    void DoRound() override;

  private:
    /** A (node, port, class). */
    using Key = std::tuple<uint32_t, uint32_t, uint8_t>;

    /**
     * Search the wait-for graph of blocked classes for a cycle and report it.
     * @param blocked index of each blocked class in @p members
     * @param members the blocked classes
     * @param now the time of the check (ps)
     */
    void FindDeadlock(const std::map<Key, uint32_t>& blocked, const std::vector<Key>& members, int64_t now);

    /**
     * Report an anomaly.
     * @param a the anomaly
     */
    void Report(const PfcAnomaly& a);

    Time m_interval;                 //!< check period (0 = off)
    Time m_stormThreshold;           //!< pause-storm threshold
    bool m_stopOnStorm;              //!< stop the run at a pause storm
    StopCallback m_stop;             //!< stops the run
    std::map<Key, int64_t> m_stormSeen; //!< reported pause start + 1, per class
    std::vector<std::vector<uint64_t>> m_lastDequeued; //!< per node: per port x class
    int64_t m_longestPausePs{0};     //!< longest pause seen at a check
    TracedCallback<const PfcAnomaly&> m_anomalyTrace; //!< anomalies
};

} // namespace ns3

#endif
