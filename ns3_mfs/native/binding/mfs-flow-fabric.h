/*
 * ns3-mfs: packet-level model of disaggregated MoE serving networks.
 * SPDX-License-Identifier: GPL-2.0-only (as ns-3)
 *
 * The Python-facing API of the flow-level fabric (cppyy binding; no ns-3
 * header). Its methods have the names and meanings of Fabric's (mfs-fabric.h)
 * for everything a flow-level model has, so the Python Network drives either.
 */
#ifndef NS3_MFS_FLOW_FABRIC_BINDING_H
#define NS3_MFS_FLOW_FABRIC_BINDING_H

#include "mfs-fabric.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace ns3mfs
{

/**
 * @ingroup ns3mfs
 * A flow-level fabric (ns3::FlowFabric): same topology, routes, ECMP hash,
 * classes and rate caps as Fabric; rates by strict priority and max-min
 * fairness, recomputed at flow events. Only one Fabric or FlowLevelFabric may
 * exist at a time (ns-3's simulator is process-global).
 */
class FlowLevelFabric
{
  public:
    FlowLevelFabric();
    ~FlowLevelFabric();
    FlowLevelFabric(const FlowLevelFabric&) = delete;
    FlowLevelFabric& operator=(const FlowLevelFabric&) = delete;

    /** As Fabric::SetScheduler. */
    void SetScheduler(const std::string& name);
    /** @param seed seed of the ECMP hashes (as Fabric) */
    void SetSeed(uint64_t seed);
    /** @param mtu RoCE payload bytes per frame (1024, 2048, 4096) */
    void SetMtu(uint32_t mtu);
    /**
     * @param frames the receiver ACKs every @p frames data frames (FabricConfig.ack_interval, default 1);
     *        the ACKs load the reverse path as in the packet model (0 = no ACK load)
     */
    void SetAckInterval(uint32_t frames);
    /** @return node index of a new host */
    uint32_t AddHost();
    /** @return node index of a new switch */
    uint32_t AddSwitch();
    /** As Fabric::AddLink. */
    void AddLink(uint32_t a, uint32_t b, double bps, double delayS);
    /** Compute routes (RoceRouting::ComputeRoutes, the packet model's). */
    void Build();

    /** As Fabric::AddFlow. */
    uint32_t AddFlow(uint32_t srcHost, uint32_t dstHost, uint64_t bytes, uint32_t cls, double startS, bool notify);
    /** Change a flow's class: at once, or with @p atomic at its next message boundary (FlowFabric::SetClass). */
    void SetPriority(uint32_t flow, uint32_t cls, bool atomic = false);
    /** Cap a flow's rate in wire bit/s (0 = no cap). */
    void SetRateCap(uint32_t flow, double bps);
    /** PIAS demotion by payload bytes sent. */
    void SetDemotion(uint32_t flow, const std::vector<uint64_t>& thresholds);
    /** Hold a flow while a higher-class flow of its NIC is sending. */
    void SetHold(uint32_t flow, bool held);
    /** @return current class */
    uint32_t FlowPriority(uint32_t flow) const;
    /** @return payload bytes transmitted so far */
    uint64_t FlowBytesSent(uint32_t flow) const;
    /** @return payload bytes delivered (the whole flow once complete) */
    uint64_t FlowBytesDelivered(uint32_t flow) const;
    /** @return the flow's current rate (wire bit/s) */
    double FlowRate(uint32_t flow) const;
    /** @return wire bytes that left a port */
    uint64_t PortTxBytes(uint32_t node, uint32_t port) const;

    /** As Fabric::SetFlowDoneCallback. */
    void SetFlowDoneCallback(std::function<void(uint64_t)> cb);
    /** As Fabric::SetTimerCallback. */
    void SetTimerCallback(std::function<void(uint64_t)> cb);
    /** As Fabric::ScheduleTimer. */
    void ScheduleTimer(double atS, uint64_t token);
    /** As Fabric::SetWatchdog (wall-clock and stall limits of Run). */
    void SetWatchdog(double maxWallS, double stallWallS);
    /** Run until no event is left, or until @p stopAtS if not 0. */
    void Run(double stopAtS);
    /** @return "" or max_wall / stalled */
    std::string StopReason() const;
    /** Stop after the current event. */
    void Stop();
    /** @return simulated time (s) */
    double Now() const;
    /** @return true if the last run drained its events */
    bool Drained() const;

    /** @return number of hosts */
    uint32_t NumHosts() const;
    /** @return number of flows */
    uint32_t NumFlows() const;
    /** @return node indices along a flow's path (the packet model's path) */
    std::vector<uint32_t> FlowPath(uint32_t flow) const;
    /**
     * @return node indices along the path a flow from @p srcHost to @p dstHost with id @p flow
     *         would take (both models' routes and ECMP hash; no such flow need exist)
     */
    std::vector<uint32_t> PathOf(uint32_t srcHost, uint32_t dstHost, uint32_t flow);
    /**
     * @param name events, reallocations, reallocated_flows, active_flows
     *        (the packet model's other counters are not defined: 0)
     */
    uint64_t Counter(const std::string& name) const;

    /** @return the record tables: flows */
    std::vector<std::string> Tables() const;
    /** As Fabric::TableColumns (the flows table; PFC, ECN and DCQCN columns are f64 NaN). */
    std::vector<ColumnInfo> TableColumns(const std::string& table) const;
    /** As Fabric::Column. */
    ColumnData Column(const std::string& table, const std::string& name) const;
    /** As Fabric::TableSchema. */
    std::string TableSchema(const std::string& table) const;
    /** As Fabric::TableRows. */
    uint64_t TableRows(const std::string& table) const;
    /** As Fabric::CopyColumn. */
    void CopyColumn(const std::string& table, const std::string& name, double* real, uint64_t* count) const;

  private:
    struct Impl;
    std::unique_ptr<Impl> m; //!< the flow fabric and the Python callbacks
};

} // namespace ns3mfs

#endif
