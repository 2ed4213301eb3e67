/*
 * ns3-mfs: packet-level model of disaggregated MoE serving networks.
 * SPDX-License-Identifier: GPL-2.0-only (as ns-3)
 *
 * The Python-facing API of the native module (the cppyy binding). This
 * header includes no ns-3 header on purpose: cppyy parses only it, so importing the package stays
 * fast. Everything per packet stays in C++; Python calls in per flow and is
 * called back per flow completion and per timer.
 */
#ifndef NS3_MFS_FABRIC_H
#define NS3_MFS_FABRIC_H

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace ns3mfs
{

/**
 * @ingroup ns3mfs
 * One column of a record table: how Python turns it into a DataFrame column.
 */
struct ColumnInfo
{
    std::string name;                //!< column name
    std::string type;                //!< f64, i64, bool, label (codes into labels) or derived (computed in Python)
    std::vector<std::string> labels; //!< names of the codes of a label column
};

/**
 * @ingroup ns3mfs
 * The values of one column: in @c real for an f64 column, else in @c count.
 */
struct ColumnData
{
    std::string type;            //!< as in ColumnInfo
    std::vector<double> real;    //!< values of an f64 column
    std::vector<uint64_t> count; //!< values of an i64, bool or label column
};

/**
 * @ingroup ns3mfs
 * A table schema as text (see Fabric::TableSchema).
 * @param columns the columns of a table
 * @return one line per column: name, type and labels, tab-separated
 */
std::string SchemaText(const std::vector<ColumnInfo>& columns);

/**
 * @ingroup ns3mfs
 * Copies the values of a column into caller arrays (see Fabric::CopyColumn).
 * @param data the column
 * @param real receives the values if the column is f64
 * @param count receives the values otherwise
 */
void CopyColumnData(const ColumnData& data, double* real, uint64_t* count);

/**
 * @ingroup ns3mfs
 * A RoCE fabric: hosts (RDMA NICs), switches, links, flows, and the run.
 *
 * Nodes are numbered in creation order; hosts also get a host index
 * (0..H-1, creation order among hosts) that flows use. Errors in the
 * arguments throw std::invalid_argument with a message naming the argument.
 * Only one Fabric may exist at a time in a process (ns-3's simulator is
 * process-global); its destructor calls Simulator::Destroy().
 */
class Fabric
{
  public:
    /** Create an empty fabric (destroys ns-3's simulator state of an earlier one). */
    Fabric();
    /** Destroy the fabric and ns-3's simulator state. */
    ~Fabric();
    Fabric(const Fabric&) = delete;
    Fabric& operator=(const Fabric&) = delete;

    /**
     * Set an ns-3 attribute on every object of @p type created afterwards.
     * @param type one of RoceNetDevice, RoceChannel, RmlqQueueDisc,
     *        SwitchBufferManager, RoceSwitch, RdmaNic
     * @param name attribute name (see the class's TypeId)
     * @param value attribute value as a string, e.g. "100Gbps", "2us", "0.125"
     */
    void SetAttribute(const std::string& type, const std::string& name, const std::string& value);

    /**
     * Choose ns-3's event scheduler (before adding nodes).
     * @param name PriorityQueueScheduler (default, fastest here), MapScheduler,
     *        CalendarScheduler or ListScheduler. HeapScheduler is refused: in
     *        ns-3.44 it breaks when events are removed.
     */
    void SetScheduler(const std::string& name);

    /** @param seed seed of every random choice (ECMP seeds, ECN marking coins) */
    void SetSeed(uint64_t seed);

    /**
     * @param on scale ECN thresholds (RmlqQueueDisc EcnKmin/EcnKmax) and the
     *        DCQCN increase steps (RdmaNic RateAi/RateHai), given for 100G,
     *        with each port's line rate (default on)
     */
    void SetRateScaling(bool on);

    /** Record every in-order delivery of a flow (time, bytes delivered so far). */
    void EnableDeliveryLog(uint32_t flow);

    /** @return the node index of a new host; its host index is NumHosts()-1 */
    uint32_t AddHost();
    /** @return the node index of a new switch */
    uint32_t AddSwitch();

    /**
     * Connect two nodes with a full-duplex link.
     * @param a node index
     * @param b node index
     * @param bps line rate (bit/s)
     * @param delayS one-way propagation delay (s)
     */
    void AddLink(uint32_t a, uint32_t b, double bps, double delayS);

    /** Compute routes and size buffers. Throws std::runtime_error on an impossible network. */
    void Build();

    /**
     * Add a flow that starts at absolute simulated time @p startS.
     * @return the flow id (0, 1, ... in call order)
     */
    uint32_t AddFlow(uint32_t srcHost, uint32_t dstHost, uint64_t bytes, uint32_t cls, double startS, bool notify);

    /** Change a flow's class; new packets of the flow use it (atomic: once none is in flight). */
    void SetPriority(uint32_t flow, uint32_t cls, bool atomic = false);
    /** Cap a flow's rate in bit/s (0 = no cap). */
    void SetRateCap(uint32_t flow, double bps);
    /** PIAS demotion: the class goes one down at each byte threshold crossed. */
    void SetDemotion(uint32_t flow, const std::vector<uint64_t>& thresholds);
    /** Hold a flow at its NIC while a higher-class flow of the NIC has bytes to send. */
    void SetHold(uint32_t flow, bool held);
    /** @return current class of a flow */
    uint32_t FlowPriority(uint32_t flow) const;
    /** @return bytes the flow has put on the wire (payload, resends included) */
    uint64_t FlowBytesSent(uint32_t flow) const;
    /** @return bytes the flow has delivered in order */
    uint64_t FlowBytesDelivered(uint32_t flow) const;
    /** @return bytes that left a port (frames, preamble and IFG) */
    uint64_t PortTxBytes(uint32_t node, uint32_t port) const;

    /**
     * @param cb called with the flow id when a flow added with notify completes (the type of the
     *        timer callback's: cppyy compiles a wrapper per Python callable and std::function
     *        type, so one Python callable can serve both for the cost of one wrapper)
     */
    void SetFlowDoneCallback(std::function<void(uint64_t)> cb);
    /** @param cb called with the token of each timer set by ScheduleTimer */
    void SetTimerCallback(std::function<void(uint64_t)> cb);
    /**
     * Call the timer callback with @p token at absolute time @p atS.
     * Times given to the fabric (flow starts, timers, the stop time of Run,
     * monitor intervals) must be finite and at most 1e6 s (kMaxSimSeconds in
     * helper/mfs-time.h); otherwise std::invalid_argument names the argument
     * and the limit.
     */
    void ScheduleTimer(double atS, uint64_t token);

    /** @param s interval of switch queue sampling (0 = off; default 10 us) */
    void SetQueueSampleInterval(double s);
    /** @param on keep every PFC event (default on) */
    void SetPfcLog(bool on);

    /**
     * Bound the logs (pfc, queues, tx_log, deliveries, anomalies): each keeps
     * at most @p rows rows; later records are only counted (LogRowsDropped).
     * @param rows rows per table (0 = no bound)
     */
    void SetMaxLogRows(uint64_t rows);

    /**
     * @param table a name from Tables()
     * @return records the table did not keep because it was full (0 for flows)
     */
    uint64_t LogRowsDropped(const std::string& table) const;
    /** Record every frame that starts on a port (for tests and debugging). */
    void EnableTxLog(uint32_t node, uint32_t port);

    /**
     * Watch for PFC trouble every @p intervalS of simulated time while flows are active.
     *
     * A pause storm is a (port, class) paused without a break for longer than
     * @p stormS. A deadlock is a cycle of switch egress classes, each paused by
     * the next switch of the cycle, holding packets and having dequeued none
     * since the previous check (a cyclic buffer dependency that makes no
     * progress). Both are recorded in the anomaly table; a deadlock always stops
     * the run, a pause storm if @p stopOnStorm.
     * @param intervalS check period (s); 0 turns the watch off
     * @param stormS pause-storm threshold (s)
     * @param stopOnStorm stop the run at the first pause storm
     */
    void SetPfcWatch(double intervalS, double stormS, bool stopOnStorm);

    /**
     * Watchdog of Run(): stop it when it has taken @p maxWallS seconds of wall
     * clock, or when the simulated time has not advanced while the process
     * used @p stallWallS seconds of CPU time (0 turns either off). CPU time
     * does not advance while the process is stopped (SIGSTOP, a suspended
     * machine), so that is no stall. Runs on its own thread and stops the
     * simulation through a thread-safe scheduled event.
     */
    void SetWatchdog(double maxWallS, double stallWallS);

    /** Run until no event is left, or until absolute time @p stopAtS if not 0 (at most 1e6 s). */
    void Run(double stopAtS);

    /**
     * @return why the last Run() ended early: "" (it ran out of events or reached
     *         its stop time), "deadlock", "pause_storm", "max_wall" or "stalled"
     */
    std::string StopReason() const;

    /** @return the longest continuous pause of any (port, class) so far, ongoing ones included (s) */
    double LongestPauseS() const;
    /** Stop the run after the current event. */
    void Stop();
    /** @return the simulated time (s) */
    double Now() const;
    /** @return true if no event is left (the run drained rather than stopped) */
    bool Drained() const;

    /** @return number of hosts */
    uint32_t NumHosts() const;
    /** @return number of nodes (hosts and switches) */
    uint32_t NumNodes() const;
    /** @return number of flows added so far */
    uint32_t NumFlows() const;
    /** @return node index of host @p host */
    uint32_t HostNode(uint32_t host) const;
    /** @return number of ports of node @p node */
    uint32_t NumPorts(uint32_t node) const;

    /** @return the names of the record tables: flows, pfc, queues, tx_log, deliveries, anomalies */
    std::vector<std::string> Tables() const;

    /**
     * The schema of a record table: its columns in DataFrame order. Python
     * builds each DataFrame from this, so a column is declared once, in C++.
     * @param table a name from Tables()
     */
    std::vector<ColumnInfo> TableColumns(const std::string& table) const;

    /**
     * The values of one column of a record table (not of a derived column).
     * @param table a name from Tables()
     * @param name a column of TableColumns(table)
     */
    ColumnData Column(const std::string& table, const std::string& name) const;

    /**
     * TableColumns() as text, for Python: one line per column, its fields
     * separated by tabs: name, type, then the labels of a label column.
     * (cppyy compiles a proxy for each C++ type it returns at its first use,
     * about 0.2 s in all for the vectors and structs of TableColumns and Column;
     * a string and a copy into a caller's array need none.)
     * @param table a name from Tables()
     */
    std::string TableSchema(const std::string& table) const;

    /** @return the number of rows of a record table */
    uint64_t TableRows(const std::string& table) const;

    /**
     * Column() copied into caller arrays of TableRows(table) elements.
     * @param table a name from Tables()
     * @param name a stored column of TableColumns(table)
     * @param real receives the values of an f64 column (untouched otherwise)
     * @param count receives the values of another column (untouched otherwise)
     */
    void CopyColumn(const std::string& table, const std::string& name, double* real, uint64_t* count) const;

    /** @return node indices along the path of @p flow, source host to destination host */
    std::vector<uint32_t> FlowPath(uint32_t flow) const;

    /**
     * A fabric-wide counter: a sum (or for max_queue_bytes a maximum) over
     * the objects' statistics (GetStats() of devices, buffer managers, NICs).
     * @param name packet_hops, data_hops, drops, drop_bytes, pause_frames,
     *        resume_frames, max_queue_bytes, events, buffer_bytes_in_use,
     *        ecn_marks, cnps
     */
    uint64_t Counter(const std::string& name) const;

    /** @return shared-buffer headroom per queue of a switch port (bytes) */
    uint64_t PortHeadroom(uint32_t node, uint32_t port) const;

  private:
    struct Impl;
    std::unique_ptr<Impl> m; //!< the fabric's helpers, monitors, recorder and flows
};

} // namespace ns3mfs

#endif
