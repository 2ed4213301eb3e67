/*
 * ns3-mfs: packet-level model of disaggregated MoE serving networks.
 * SPDX-License-Identifier: GPL-2.0-only (as ns-3)
 *
 * The binding's implementation: a thin front over the helpers. The fabric is
 * built by RoceFabricHelper (routing: RoceRouting), watched by a PfcMonitor
 * and a QueueSampler (installed by FabricMonitorHelper), recorded by a
 * FabricRecorder and guarded by a RunWatchdog; this file keeps the flows,
 * the Python callbacks and the run's stop reason.
 */
#include "mfs-fabric.h"

#include "flow-args.h"

#include "../helper/fabric-monitor-helper.h"
#include "../helper/fabric-recorder.h"
#include "../helper/mfs-scheduler.h"
#include "../helper/mfs-time.h"
#include "../helper/roce-fabric-helper.h"
#include "../helper/run-watchdog.h"

#include "ns3/boolean.h"
#include "ns3/simulator.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <map>
#include <sstream>
#include <stdexcept>
#include <unordered_set>

using namespace ns3;

namespace ns3mfs
{

namespace
{

/** Stop reasons; the watchdog thread writes them, so they are plain integers. */
enum StopCode : int
{
    STOP_NONE = 0,
    STOP_DEADLOCK,
    STOP_PAUSE_STORM,
    STOP_MAX_WALL,
    STOP_STALLED,
};

/** Wire bytes of the largest frame a rate cap may have to pace (a bound on any RoCE frame). */
constexpr double kLargestFrameBytes = 65536;

/**
 * @param d a port
 * @return one field of the port's statistics
 */
template <uint64_t RoceNetDevice::Stats::*Field>
uint64_t
PortStat(const Ptr<RoceNetDevice>& d)
{
    return d->GetStats().*Field;
}

} // namespace

struct Fabric::Impl
{
    RoceFabricHelper fabric;
    RdmaFlowTable flows;
    Ptr<PfcMonitor> pfcMonitor;
    Ptr<QueueSampler> queueSampler;
    Ptr<FabricRecorder> recorder;
    RunWatchdog watchdog;
    std::function<void(uint64_t)> onFlowDone;
    std::function<void(uint64_t)> onTimer;
    uint64_t activeFlows{0};
    std::unordered_set<uint32_t> active; //!< flows started and not yet delivered
    double maxWallS{0};
    double stallWallS{0};
    std::atomic<int> stopCode{STOP_NONE};
    bool cutShort{false}; //!< the last Run() ended with events left (time limit or Stop())

    Impl()
    {
        FabricMonitorHelper monitors;
        pfcMonitor = monitors.InstallPfcMonitor(fabric);
        queueSampler = monitors.InstallQueueSampler(fabric);
        pfcMonitor->SetContinueCallback([this] { return stopCode == STOP_NONE && CanProgress(); });
        pfcMonitor->SetStopCallback([this](PfcAnomaly::Kind k) {
            Stop(k == PfcAnomaly::DEADLOCK ? STOP_DEADLOCK : STOP_PAUSE_STORM);
        });
        queueSampler->SetContinueCallback([this] { return CanProgress(); });
        recorder = CreateObject<FabricRecorder>();
        recorder->Connect(pfcMonitor);
        recorder->Connect(queueSampler);
    }

    ~Impl()
    {
        pfcMonitor->Dispose();
        queueSampler->Dispose();
        recorder->Dispose();
    }

    /**
     * Whether an active flow may still move: some port holds, sends or
     * propagates a frame, or an active flow has data left to send or an armed
     * retransmission timer. When no flow is active, or when flows are active
     * but none of this holds (e.g. a flow's last packet was dropped and no
     * retransmission timer will resend it), the periodic monitors stop, so
     * that they do not keep the event queue alive: the run then drains and
     * the end-of-run checks report the stuck flows. A flow starting later
     * starts the monitors again.
     * @return true while the monitors should go on
     */
    bool CanProgress() const
    {
        if (activeFlows == 0)
        {
            return false;
        }
        for (const auto& n : fabric.GetNodes())
        {
            for (const auto& d : n.ports)
            {
                if (!d->IsIdle())
                {
                    return true;
                }
            }
        }
        for (uint32_t id : active)
        {
            const RdmaFlow& f = flows[id];
            if (f.sndNxt < f.size || f.rto.IsPending())
            {
                return true;
            }
        }
        return false;
    }

    /** The stop time of Run(): only cuts the run short if other events are left. */
    void StopAtTime()
    {
        cutShort = cutShort || !Simulator::IsFinished();
        Simulator::Stop();
    }

    void Stop(StopCode code)
    {
        int none = STOP_NONE;
        stopCode.compare_exchange_strong(none, code);
        Simulator::Stop();
    }

    RdmaFlow& FlowAt(uint32_t id)
    {
        if (id >= flows.size())
        {
            throw std::invalid_argument("flow " + std::to_string(id) + " does not exist");
        }
        return flows[id];
    }

    /** The NIC of a flow's source host. */
    Ptr<RdmaNic> SenderOf(const RdmaFlow& f) const
    {
        return fabric.GetNodes()[fabric.GetHostNodes()[f.src]].nic;
    }

    void FlowDone(uint32_t id)
    {
        active.erase(id);
        if (--activeFlows == 0)
        {
            // Periodic monitors must not outlive the traffic: the run's end time stays that of the last real event.
            queueSampler->Halt();
            pfcMonitor->Halt();
        }
        if (flows[id].notify && onFlowDone)
        {
            onFlowDone(id);
        }
    }

    void Build()
    {
        if (!fabric.IsBuilt())
        {
            fabric.Build(&flows, [this](uint32_t id) { FlowDone(id); });
            recorder->Install(fabric, &flows);
        }
    }

};

Fabric::Fabric()
{
    if (Time::GetResolution() != Time::PS)
    {
        Time::SetResolution(Time::PS); // once per process (shared with the other fabric model)
    }
    Simulator::Destroy();
    m = std::make_unique<Impl>();
    SetScheduler(mfs::kSchedulers[0]);
}

Fabric::~Fabric()
{
    m.reset();
    Simulator::Destroy();
}

void
Fabric::SetScheduler(const std::string& name)
{
    if (!m->fabric.GetNodes().empty())
    {
        throw std::logic_error("SetScheduler must come before nodes are added");
    }
    mfs::SetSimulatorScheduler(name);
}

void
Fabric::SetAttribute(const std::string& type, const std::string& name, const std::string& value)
{
    m->fabric.SetAttribute(type, name, value);
}

void
Fabric::SetSeed(uint64_t seed)
{
    m->fabric.SetSeed(seed);
}

void
Fabric::SetRateScaling(bool on)
{
    m->fabric.SetRateScaling(on);
}

void
Fabric::EnableDeliveryLog(uint32_t flow)
{
    const RdmaFlow& f = m->FlowAt(flow);
    m->recorder->EnableDeliveryLog(f, m->fabric.GetNodes()[m->fabric.GetHostNodes()[f.dst]].nic);
}

uint32_t
Fabric::AddHost()
{
    return m->fabric.AddHost();
}

uint32_t
Fabric::AddSwitch()
{
    return m->fabric.AddSwitch();
}

void
Fabric::AddLink(uint32_t a, uint32_t b, double bps, double delayS)
{
    m->fabric.AddLink(a, b, bps, delayS);
}

void
Fabric::Build()
{
    m->Build();
}

uint32_t
Fabric::AddFlow(uint32_t srcHost, uint32_t dstHost, uint64_t bytes, uint32_t cls, double startS, bool notify)
{
    m->Build();
    CheckFlowEnds(srcHost, dstHost, NumHosts(), bytes);
    CheckClass(cls);
    Time start = CheckedFutureTime("flow start time", startS, Now());
    uint32_t id = m->flows.size();
    RdmaFlow& f = m->flows.emplace_back();
    f.id = id;
    f.src = srcHost;
    f.dst = dstHost;
    f.size = bytes;
    f.cls = f.initialCls = static_cast<uint8_t>(cls);
    f.notify = notify;
    Ptr<RdmaNic> nic = m->SenderOf(f);
    Impl* impl = m.get();
    Simulator::Schedule(start - Simulator::Now(), [impl, nic, id]() {
        impl->activeFlows++;
        impl->active.insert(id);
        nic->StartFlow(id);
        impl->queueSampler->Start();
        impl->pfcMonitor->Start();
    });
    return id;
}

void
Fabric::SetPriority(uint32_t flow, uint32_t cls, bool atomic)
{
    RdmaFlow& f = m->FlowAt(flow);
    CheckClass(cls);
    m->SenderOf(f)->SetFlowClass(flow, static_cast<uint8_t>(cls), atomic);
}

void
Fabric::SetRateCap(uint32_t flow, double bps)
{
    RdmaFlow& f = m->FlowAt(flow);
    if (!(bps >= 0) || !std::isfinite(bps))
    {
        throw std::invalid_argument("rate cap must be >= 0 bit/s");
    }
    if (bps > 0 && kLargestFrameBytes * 8 / bps > kMaxSimSeconds)
    {
        // The pacing gap between two frames would leave the simulated-time range.
        std::ostringstream msg;
        msg << "rate cap " << bps << " bit/s spaces frames further apart than the simulated-time limit of "
            << kMaxSimSeconds << " s; allowed: 0 (no cap) or >= " << kLargestFrameBytes * 8 / kMaxSimSeconds
            << " bit/s";
        throw std::invalid_argument(msg.str());
    }
    m->SenderOf(f)->SetFlowRateCap(flow, bps);
}

void
Fabric::SetHold(uint32_t flow, bool held)
{
    RdmaFlow& f = m->FlowAt(flow);
    m->SenderOf(f)->SetFlowHold(flow, held);
}

void
Fabric::SetDemotion(uint32_t flow, const std::vector<uint64_t>& thresholds)
{
    RdmaFlow& f = m->FlowAt(flow);
    if (!std::is_sorted(thresholds.begin(), thresholds.end()))
    {
        throw std::invalid_argument("demotion thresholds must be increasing");
    }
    m->SenderOf(f)->SetFlowDemotion(flow, thresholds);
}

uint32_t
Fabric::FlowPriority(uint32_t flow) const
{
    return m->FlowAt(flow).cls;
}

uint64_t
Fabric::FlowBytesSent(uint32_t flow) const
{
    return m->FlowAt(flow).bytesSent;
}

uint64_t
Fabric::FlowBytesDelivered(uint32_t flow) const
{
    return m->FlowAt(flow).rcvNxt;
}

uint64_t
Fabric::PortTxBytes(uint32_t node, uint32_t port) const
{
    return m->fabric.GetPort(node, port)->GetTxBytes();
}

void
Fabric::SetFlowDoneCallback(std::function<void(uint64_t)> cb)
{
    m->onFlowDone = std::move(cb);
}

void
Fabric::SetTimerCallback(std::function<void(uint64_t)> cb)
{
    m->onTimer = std::move(cb);
}

void
Fabric::ScheduleTimer(double atS, uint64_t token)
{
    Time at = CheckedFutureTime("timer time", atS, Now());
    Impl* impl = m.get();
    Simulator::Schedule(at - Simulator::Now(), [impl, token]() {
        if (impl->onTimer)
        {
            impl->onTimer(token);
        }
    });
}

void
Fabric::SetQueueSampleInterval(double s)
{
    m->queueSampler->SetAttribute("Interval", TimeValue(CheckedTimeFromSeconds("queue sample interval", s)));
}

void
Fabric::SetPfcLog(bool on)
{
    m->recorder->SetPfcLog(on);
}

void
Fabric::SetMaxLogRows(uint64_t rows)
{
    m->recorder->SetMaxRows(rows);
}

uint64_t
Fabric::LogRowsDropped(const std::string& table) const
{
    return m->recorder->GetRowsDropped(table);
}

void
Fabric::EnableTxLog(uint32_t node, uint32_t port)
{
    m->recorder->EnableTxLog(node, port, m->fabric.GetPort(node, port));
}

void
Fabric::SetPfcWatch(double intervalS, double stormS, bool stopOnStorm)
{
    Time interval = CheckedTimeFromSeconds("PFC watch interval", intervalS);
    Time storm = CheckedTimeFromSeconds("pause-storm threshold", stormS);
    if (!storm.IsStrictlyPositive())
    {
        throw std::invalid_argument("PFC watch: the pause-storm threshold must be > 0 s");
    }
    m->pfcMonitor->SetAttribute("Interval", TimeValue(interval));
    m->pfcMonitor->SetAttribute("StormThreshold", TimeValue(storm));
    m->pfcMonitor->SetAttribute("StopOnStorm", BooleanValue(stopOnStorm));
}

void
Fabric::SetWatchdog(double maxWallS, double stallWallS)
{
    if (!(maxWallS >= 0) || !(stallWallS >= 0) || !std::isfinite(maxWallS) || !std::isfinite(stallWallS))
    {
        throw std::invalid_argument("watchdog limits must be >= 0 s");
    }
    m->maxWallS = maxWallS;
    m->stallWallS = stallWallS;
}

void
Fabric::Run(double stopAtS)
{
    m->Build();
    Time stopTime;
    if (stopAtS != 0)
    {
        stopTime = CheckedFutureTime("run stop time (until)", stopAtS, Now());
    }
    m->stopCode = STOP_NONE;
    m->cutShort = false;
    EventId stopAt;
    if (stopAtS != 0)
    {
        stopAt = Simulator::Schedule(stopTime - Simulator::Now(), &Impl::StopAtTime, m.get());
    }
    if (m->activeFlows > 0)
    {
        m->pfcMonitor->Start();
    }
    Impl* impl = m.get();
    m->watchdog.Arm(m->maxWallS, m->stallWallS, [impl](RunWatchdog::Reason r) {
        int none = STOP_NONE;
        impl->stopCode.compare_exchange_strong(none, r == RunWatchdog::MAX_WALL ? STOP_MAX_WALL : STOP_STALLED);
    });
    m->watchdog.Run(stopAt);
}

std::string
Fabric::StopReason() const
{
    switch (m->stopCode.load())
    {
    case STOP_DEADLOCK:
        return "deadlock";
    case STOP_PAUSE_STORM:
        return "pause_storm";
    case STOP_MAX_WALL:
        return "max_wall";
    case STOP_STALLED:
        return "stalled";
    default:
        return "";
    }
}

double
Fabric::LongestPauseS() const
{
    int64_t longest = m->pfcMonitor->GetLongestPausePs();
    const int64_t now = Simulator::Now().GetPicoSeconds();
    for (const auto& n : m->fabric.GetNodes())
    {
        for (const auto& d : n.ports)
        {
            longest = std::max(longest, d->GetStats().longestPausePs);
            for (uint8_t c = 0; c < RoceHeader::kNumClasses; ++c)
            {
                if (int64_t since = d->GetPausedSincePs(c); since >= 0)
                {
                    longest = std::max(longest, now - since);
                }
            }
        }
    }
    return SecondsFromPs(longest);
}

void
Fabric::Stop()
{
    m->cutShort = true;
    Simulator::Stop();
}

bool
Fabric::Drained() const
{
    return !m->cutShort && m->stopCode == STOP_NONE;
}

double
Fabric::Now() const
{
    return SecondsFromPs(Simulator::Now().GetPicoSeconds());
}

uint32_t
Fabric::NumHosts() const
{
    return m->fabric.GetHostNodes().size();
}

uint32_t
Fabric::NumNodes() const
{
    return m->fabric.GetNodes().size();
}

uint32_t
Fabric::NumFlows() const
{
    return m->flows.size();
}

uint32_t
Fabric::HostNode(uint32_t host) const
{
    if (host >= NumHosts())
    {
        throw std::invalid_argument("host " + std::to_string(host) + " does not exist");
    }
    return m->fabric.GetHostNodes()[host];
}

uint32_t
Fabric::NumPorts(uint32_t node) const
{
    return m->fabric.GetNode(node).ports.size();
}

std::vector<std::string>
Fabric::Tables() const
{
    return m->recorder->GetTableNames();
}

std::vector<ColumnInfo>
Fabric::TableColumns(const std::string& table) const
{
    std::vector<ColumnInfo> out;
    for (const auto& c : m->recorder->GetTable(table).GetSchema())
    {
        out.push_back(ColumnInfo{c.name, c.type, c.labels});
    }
    return out;
}

ColumnData
Fabric::Column(const std::string& table, const std::string& name) const
{
    ColumnData out;
    const RecordTableBase& t = m->recorder->GetTable(table);
    for (const auto& c : t.GetSchema())
    {
        if (c.name == name)
        {
            out.type = c.type;
        }
    }
    t.GetColumn(name, &out.real, &out.count);
    return out;
}

std::string
SchemaText(const std::vector<ColumnInfo>& columns)
{
    std::string out;
    for (const auto& c : columns)
    {
        out += c.name + '\t' + c.type;
        for (const auto& label : c.labels)
        {
            out += '\t' + label;
        }
        out += '\n';
    }
    return out;
}

void
CopyColumnData(const ColumnData& data, double* real, uint64_t* count)
{
    std::copy(data.real.begin(), data.real.end(), real);
    std::copy(data.count.begin(), data.count.end(), count);
}

std::string
Fabric::TableSchema(const std::string& table) const
{
    return SchemaText(TableColumns(table));
}

uint64_t
Fabric::TableRows(const std::string& table) const
{
    return m->recorder->GetTable(table).GetRows();
}

void
Fabric::CopyColumn(const std::string& table, const std::string& name, double* real, uint64_t* count) const
{
    CopyColumnData(Column(table, name), real, count);
}

std::vector<uint32_t>
Fabric::FlowPath(uint32_t flow) const
{
    return m->fabric.GetRouting().Path(m->FlowAt(flow));
}

uint64_t
Fabric::Counter(const std::string& name) const
{
    if (name == "events")
    {
        return Simulator::GetEventCount();
    }
    using PortGet = uint64_t (*)(const Ptr<RoceNetDevice>&);
    using NodeGet = uint64_t (*)(const FabricNode&);
    /** A counter: per port or per node, summed (or the maximum taken) over the fabric. */
    struct Def
    {
        PortGet port;
        NodeGet node;
        bool max;
    };
    using S = RoceNetDevice::Stats;
    static const std::map<std::string, Def> defs = {
        {"packet_hops", {&PortStat<&S::txFrames>, nullptr, false}},
        {"data_hops", {&PortStat<&S::txDataFrames>, nullptr, false}},
        {"pause_frames", {&PortStat<&S::pauseSent>, nullptr, false}},
        {"resume_frames", {&PortStat<&S::resumeSent>, nullptr, false}},
        {"max_queue_bytes", {&PortStat<&S::maxQueueBytes>, nullptr, true}},
        {"ecn_marks", {[](const Ptr<RoceNetDevice>& d) { return d->GetQueueDisc()->GetEcnMarks(); }, nullptr, false}},
        {"drops",
         {nullptr,
          [](const FabricNode& n) -> uint64_t { return n.sw ? n.sw->GetBufferManager()->GetStats().drops : 0; },
          false}},
        {"drop_bytes",
         {nullptr,
          [](const FabricNode& n) -> uint64_t { return n.sw ? n.sw->GetBufferManager()->GetStats().dropBytes : 0; },
          false}},
        {"buffer_bytes_in_use",
         {nullptr, [](const FabricNode& n) -> uint64_t { return n.sw ? n.sw->GetBufferManager()->GetUsedBytes() : 0; },
          false}},
        {"cnps", {nullptr, [](const FabricNode& n) -> uint64_t { return n.nic ? n.nic->GetStats().cnpsSent : 0; }, false}},
    };
    auto it = defs.find(name);
    if (it == defs.end())
    {
        throw std::invalid_argument("unknown counter '" + name + "'");
    }
    const Def& def = it->second;
    uint64_t total = 0;
    auto add = [&](uint64_t v) { total = def.max ? std::max(total, v) : total + v; };
    for (const auto& n : m->fabric.GetNodes())
    {
        if (def.node)
        {
            add(def.node(n));
            continue;
        }
        for (const auto& d : n.ports)
        {
            add(def.port(d));
        }
    }
    return total;
}

uint64_t
Fabric::PortHeadroom(uint32_t node, uint32_t port) const
{
    const auto& info = m->fabric.GetNode(node);
    if (!info.sw)
    {
        throw std::invalid_argument("node " + std::to_string(node) + " is not a switch");
    }
    return info.sw->GetBufferManager()->GetHeadroom(port);
}

} // namespace ns3mfs
