/*
 * ns3-mfs: packet-level model of disaggregated MoE serving networks.
 * SPDX-License-Identifier: GPL-2.0-only (as ns-3)
 *
 * The flow-level fabric's binding: a thin front over ns3::FlowFabric, with
 * the packet model's routes (RoceRouting::ComputeRoutes, EcmpSeed) and ideal
 * FCT (RoceRouting::IdealFctOnHops), the Python callbacks and the run.
 */
#include "mfs-flow-fabric.h"

#include "flow-args.h"

#include "../helper/mfs-scheduler.h"
#include "../helper/mfs-time.h"
#include "../helper/roce-routing.h"
#include "../helper/run-watchdog.h"
#include "../model/flow-fabric.h"
#include "../model/roce-header.h"

#include "ns3/object-factory.h"
#include "ns3/simulator.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <stdexcept>

using namespace ns3;

namespace ns3mfs
{

namespace
{

enum FlowStopCode : int
{
    FLOW_STOP_NONE = 0,
    FLOW_STOP_MAX_WALL,
    FLOW_STOP_STALLED,
};

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

} // namespace

struct FlowLevelFabric::Impl
{
    FlowFabric fabric;
    uint64_t seed{1};
    uint32_t ackInterval{1};
    bool built{false};
    std::function<void(uint64_t)> onFlowDone;
    std::function<void(uint64_t)> onTimer;
    RunWatchdog watchdog;
    double maxWallS{0};
    double stallWallS{0};
    std::atomic<int> stopCode{FLOW_STOP_NONE};
    bool cutShort{false};

    void StopAtTime()
    {
        cutShort = cutShort || !Simulator::IsFinished();
        Simulator::Stop();
    }

    void Build()
    {
        if (built)
        {
            return;
        }
        const auto& hosts = fabric.GetHostNodes();
        if (hosts.size() < 2)
        {
            throw std::runtime_error("a fabric needs at least two hosts");
        }
        const auto& peers = fabric.GetPeers();
        for (uint32_t h = 0; h < hosts.size(); ++h)
        {
            if (peers[hosts[h]].size() != 1)
            {
                throw std::runtime_error("host " + std::to_string(h) + " has no link");
            }
        }
        const auto& isSwitch = fabric.GetIsSwitch();
        for (uint32_t n = 0; n < peers.size(); ++n)
        {
            if (isSwitch[n] && peers[n].empty())
            {
                throw std::runtime_error("switch node " + std::to_string(n) + " has no link");
            }
        }
        RouteTables t = RoceRouting::ComputeRoutes(peers, isSwitch, hosts);
        std::vector<uint32_t> seeds(peers.size(), 0);
        for (uint32_t n = 0; n < peers.size(); ++n)
        {
            if (isSwitch[n])
            {
                seeds[n] = RoceRouting::EcmpSeed(seed, n);
            }
        }
        fabric.SetRoutes(std::move(t.offsets), std::move(t.ports), std::move(seeds));
        fabric.SetAckLoad(ackInterval, RoceHeader::kAckBytes + RoceHeader::kPreambleIfg);
        built = true;
    }
};

FlowLevelFabric::FlowLevelFabric()
{
    if (Time::GetResolution() != Time::PS)
    {
        Time::SetResolution(Time::PS); // once per process (shared with the other fabric model)
    }
    Simulator::Destroy();
    m = std::make_unique<Impl>();
    SetScheduler(mfs::kSchedulers[0]);
    Impl* impl = m.get();
    m->fabric.SetDoneCallback([impl](uint32_t id) {
        if (impl->onFlowDone)
        {
            impl->onFlowDone(id);
        }
    });
}

FlowLevelFabric::~FlowLevelFabric()
{
    m.reset();
    Simulator::Destroy();
}

void
FlowLevelFabric::SetScheduler(const std::string& name)
{
    mfs::SetSimulatorScheduler(name);
}

void
FlowLevelFabric::SetSeed(uint64_t seed)
{
    if (seed == 0 || seed > 0xFFFFFFFFull)
    {
        throw std::invalid_argument("seed must be in 1..4294967295");
    }
    m->seed = seed;
}

void
FlowLevelFabric::SetMtu(uint32_t mtu)
{
    m->fabric.SetMtu(mtu);
    m->fabric.SetIdealFct([mtu](const std::vector<std::pair<double, double>>& hops, uint64_t size) {
        return RoceRouting::IdealFctOnHops(hops, mtu, size);
    });
}

void
FlowLevelFabric::SetAckInterval(uint32_t frames)
{
    if (m->built)
    {
        throw std::logic_error("SetAckInterval after Build");
    }
    m->ackInterval = frames;
}

uint32_t
FlowLevelFabric::AddHost()
{
    if (m->built)
    {
        throw std::logic_error("AddHost after Build");
    }
    return m->fabric.AddHost();
}

uint32_t
FlowLevelFabric::AddSwitch()
{
    if (m->built)
    {
        throw std::logic_error("AddSwitch after Build");
    }
    return m->fabric.AddSwitch();
}

void
FlowLevelFabric::AddLink(uint32_t a, uint32_t b, double bps, double delayS)
{
    if (m->built)
    {
        throw std::logic_error("AddLink after Build");
    }
    m->fabric.AddLink(a, b, bps, delayS);
}

void
FlowLevelFabric::Build()
{
    m->Build();
}

uint32_t
FlowLevelFabric::AddFlow(uint32_t srcHost, uint32_t dstHost, uint64_t bytes, uint32_t cls, double startS, bool notify)
{
    m->Build();
    CheckFlowEnds(srcHost, dstHost, NumHosts(), bytes);
    CheckClass(cls);
    Time start = CheckedFutureTime("flow start time", startS, Now());
    return m->fabric.AddFlow(srcHost, dstHost, bytes, static_cast<uint8_t>(cls), start.GetPicoSeconds(), notify);
}

void
FlowLevelFabric::SetPriority(uint32_t flow, uint32_t cls, bool atomic)
{
    CheckClass(cls);
    m->fabric.SetClass(flow, static_cast<uint8_t>(cls), atomic);
}

void
FlowLevelFabric::SetRateCap(uint32_t flow, double bps)
{
    if (!(bps >= 0) || !std::isfinite(bps))
    {
        throw std::invalid_argument("rate cap must be >= 0 bit/s");
    }
    if (bps > 0 && 65536.0 * 8 / bps > kMaxSimSeconds)
    {
        throw std::invalid_argument("rate cap " + std::to_string(bps) +
                                    " bit/s is below the smallest allowed; allowed: 0 (no cap) or >= " +
                                    std::to_string(65536.0 * 8 / kMaxSimSeconds) + " bit/s");
    }
    m->fabric.SetRateCap(flow, bps);
}

void
FlowLevelFabric::SetDemotion(uint32_t flow, const std::vector<uint64_t>& thresholds)
{
    if (!std::is_sorted(thresholds.begin(), thresholds.end()))
    {
        throw std::invalid_argument("demotion thresholds must be increasing");
    }
    m->fabric.SetDemotion(flow, thresholds);
}

void
FlowLevelFabric::SetHold(uint32_t flow, bool held)
{
    m->fabric.SetHold(flow, held);
}

uint32_t
FlowLevelFabric::FlowPriority(uint32_t flow) const
{
    return m->fabric.GetFlow(flow).cls;
}

uint64_t
FlowLevelFabric::FlowBytesSent(uint32_t flow) const
{
    return m->fabric.BytesSent(flow);
}

uint64_t
FlowLevelFabric::FlowBytesDelivered(uint32_t flow) const
{
    return m->fabric.BytesDelivered(flow);
}

double
FlowLevelFabric::FlowRate(uint32_t flow) const
{
    return m->fabric.Rate(flow);
}

uint64_t
FlowLevelFabric::PortTxBytes(uint32_t node, uint32_t port) const
{
    return m->fabric.PortTxBytes(node, port);
}

void
FlowLevelFabric::SetFlowDoneCallback(std::function<void(uint64_t)> cb)
{
    m->onFlowDone = std::move(cb);
}

void
FlowLevelFabric::SetTimerCallback(std::function<void(uint64_t)> cb)
{
    m->onTimer = std::move(cb);
}

void
FlowLevelFabric::ScheduleTimer(double atS, uint64_t token)
{
    Time at = CheckedFutureTime("timer time", atS, Now());
    Impl* impl = m.get();
    // A time given in seconds may round to a picosecond before now: never schedule in the past.
    Simulator::Schedule(Max(at - Simulator::Now(), Time(0)), [impl, token]() {
        if (impl->onTimer)
        {
            impl->onTimer(token);
        }
    });
}

void
FlowLevelFabric::SetWatchdog(double maxWallS, double stallWallS)
{
    if (!(maxWallS >= 0) || !(stallWallS >= 0) || !std::isfinite(maxWallS) || !std::isfinite(stallWallS))
    {
        throw std::invalid_argument("watchdog limits must be >= 0 s");
    }
    m->maxWallS = maxWallS;
    m->stallWallS = stallWallS;
}

void
FlowLevelFabric::Run(double stopAtS)
{
    m->Build();
    Time stopTime;
    if (stopAtS != 0)
    {
        stopTime = CheckedFutureTime("run stop time (until)", stopAtS, Now());
    }
    m->stopCode = FLOW_STOP_NONE;
    m->cutShort = false;
    EventId stopAt;
    if (stopAtS != 0)
    {
        stopAt = Simulator::Schedule(stopTime - Simulator::Now(), &Impl::StopAtTime, m.get());
    }
    Impl* impl = m.get();
    m->watchdog.Arm(m->maxWallS, m->stallWallS, [impl](RunWatchdog::Reason r) {
        int none = FLOW_STOP_NONE;
        impl->stopCode.compare_exchange_strong(none,
                                               r == RunWatchdog::MAX_WALL ? FLOW_STOP_MAX_WALL : FLOW_STOP_STALLED);
    });
    m->watchdog.Run(stopAt);
}

std::string
FlowLevelFabric::StopReason() const
{
    switch (m->stopCode.load())
    {
    case FLOW_STOP_MAX_WALL:
        return "max_wall";
    case FLOW_STOP_STALLED:
        return "stalled";
    default:
        return "";
    }
}

void
FlowLevelFabric::Stop()
{
    m->cutShort = true;
    Simulator::Stop();
}

double
FlowLevelFabric::Now() const
{
    return SecondsFromPs(Simulator::Now().GetPicoSeconds());
}

bool
FlowLevelFabric::Drained() const
{
    return !m->cutShort && m->stopCode == FLOW_STOP_NONE;
}

uint32_t
FlowLevelFabric::NumHosts() const
{
    return m->fabric.GetHostNodes().size();
}

uint32_t
FlowLevelFabric::NumFlows() const
{
    return m->fabric.GetNFlows();
}

std::vector<uint32_t>
FlowLevelFabric::FlowPath(uint32_t flow) const
{
    return m->fabric.Path(flow);
}

std::vector<uint32_t>
FlowLevelFabric::PathOf(uint32_t srcHost, uint32_t dstHost, uint32_t flow)
{
    m->Build();
    return m->fabric.PathOf(srcHost, dstHost, flow);
}

uint64_t
FlowLevelFabric::Counter(const std::string& name) const
{
    if (name == "events")
    {
        return m->fabric.GetEvents();
    }
    if (name == "reallocations")
    {
        return m->fabric.GetReallocations().first;
    }
    if (name == "reallocated_flows")
    {
        return m->fabric.GetReallocations().second;
    }
    if (name == "active_flows")
    {
        return m->fabric.GetActive();
    }
    return 0;
}

std::vector<std::string>
FlowLevelFabric::Tables() const
{
    return {"flows"};
}

std::vector<ColumnInfo>
FlowLevelFabric::TableColumns(const std::string& table) const
{
    if (table != "flows")
    {
        throw std::invalid_argument("the flow-level fabric has no table '" + table + "'; allowed: flows");
    }
    auto col = [](const char* name, const char* type) { return ColumnInfo{name, type, {}}; };
    return {col("flow_id", "i64"),        col("src", "i64"),          col("dst", "i64"),
            col("bytes", "i64"),          col("priority", "i64"),     col("start_s", "f64"),
            col("end_s", "f64"),          col("fct_s", "derived"),    col("ideal_fct_s", "f64"),
            col("slowdown", "derived"),   col("final_priority", "i64"), col("class_changes", "i64"),
            col("bytes_sent", "i64"),     col("bytes_received", "i64"), col("bytes_dropped", "i64"),
            col("bytes_delivered", "i64"), col("rewinds", "f64"),     col("cnps_received", "f64"),
            col("rate_decreases", "f64"), col("completed", "bool")};
}

std::string
FlowLevelFabric::TableSchema(const std::string& table) const
{
    return SchemaText(TableColumns(table));
}

uint64_t
FlowLevelFabric::TableRows(const std::string& table) const
{
    TableColumns(table); // throws for a table the flow model does not have
    return m->fabric.GetNFlows();
}

void
FlowLevelFabric::CopyColumn(const std::string& table, const std::string& name, double* real, uint64_t* count) const
{
    CopyColumnData(Column(table, name), real, count);
}

ColumnData
FlowLevelFabric::Column(const std::string& table, const std::string& name) const
{
    auto cols = TableColumns(table);
    auto it = std::find_if(cols.begin(), cols.end(), [&](const ColumnInfo& c) { return c.name == name; });
    if (it == cols.end() || it->type == "derived")
    {
        throw std::invalid_argument("table " + table + " has no stored column '" + name + "'");
    }
    ColumnData d;
    d.type = it->type;
    const FlowFabric& f = m->fabric;
    const uint32_t n = f.GetNFlows();
    for (uint32_t i = 0; i < n; ++i)
    {
        const FlowFabric::Flow& x = f.GetFlow(i);
        if (d.type == "f64")
        {
            double v = kNaN;
            if (name == "start_s")
            {
                v = SecondsFromPs(x.startPs);
            }
            else if (name == "end_s")
            {
                v = x.endPs >= 0 ? SecondsFromPs(x.endPs) : kNaN;
            }
            else if (name == "ideal_fct_s")
            {
                v = x.idealS;
            }
            d.real.push_back(v);
            continue;
        }
        uint64_t v = 0;
        if (name == "flow_id")
        {
            v = x.id;
        }
        else if (name == "src")
        {
            v = x.src;
        }
        else if (name == "dst")
        {
            v = x.dst;
        }
        else if (name == "bytes")
        {
            v = x.size;
        }
        else if (name == "priority")
        {
            v = x.initialCls;
        }
        else if (name == "final_priority")
        {
            v = x.cls;
        }
        else if (name == "class_changes")
        {
            v = x.classChanges;
        }
        else if (name == "bytes_sent")
        {
            v = f.BytesSent(i);
        }
        else if (name == "bytes_received" || name == "bytes_delivered")
        {
            v = f.BytesDelivered(i);
        }
        else if (name == "completed")
        {
            v = x.endPs >= 0;
        }
        d.count.push_back(v);
    }
    return d;
}

} // namespace ns3mfs
