/*
 * ns3-mfs: packet-level model of disaggregated MoE serving networks.
 * SPDX-License-Identifier: GPL-2.0-only (as ns-3)
 */
#include "mfs-fabric.h"

#include "../model/rdma-nic.h"
#include "../model/rmlq-queue-disc.h"
#include "../model/roce-net-device.h"
#include "../model/roce-switch.h"

#include "ns3/callback.h"
#include "ns3/boolean.h"
#include "ns3/data-rate.h"
#include "ns3/double.h"
#include "ns3/node.h"
#include "ns3/object-factory.h"
#include "ns3/packet.h"
#include "ns3/rng-seed-manager.h"
#include "ns3/simulator.h"
#include "ns3/string.h"
#include "ns3/uinteger.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <cmath>
#include <thread>
#include <tuple>
#include <map>
#include <queue>
#include <sstream>
#include <stdexcept>

using namespace ns3;

namespace ns3mfs
{

namespace
{

constexpr uint32_t kNoHost = 0xFFFFFFFFu;

double
PsToS(int64_t ps)
{
    return ps < 0 ? std::nan("") : static_cast<double>(ps) * 1e-12;
}

Time
SecondsToTime(double s)
{
    return PicoSeconds(static_cast<int64_t>(std::llround(s * 1e12)));
}

/** One frame that started on a logged port. */
struct TxRecord
{
    int64_t timePs;
    uint32_t node;
    uint32_t port;
    uint8_t cls;
    uint8_t type;
    uint32_t bytes;
    uint32_t flow;
};

/** A PFC anomaly at one (port, class). */
struct Anomaly
{
    int64_t timePs;  //!< detection
    int64_t sincePs; //!< the pause began
    uint32_t node;
    uint32_t port;
    uint8_t cls;
    uint8_t kind;    //!< 0 deadlock cycle member, 1 pause storm
    uint64_t bytes;  //!< queued in that class of the egress queue
};

/** Stop reasons; the watchdog thread writes them, so they are plain integers. */
enum StopCode : int
{
    STOP_NONE = 0,
    STOP_DEADLOCK,
    STOP_PAUSE_STORM,
    STOP_MAX_WALL,
    STOP_STALLED,
};

/** Set while a Run() is in progress: a watchdog event left over from an earlier run does nothing. */
std::atomic<bool> g_runActive{false};

void
StopFromWatchdog()
{
    if (g_runActive)
    {
        Simulator::Stop();
    }
}

/** One queue sample of one (switch port, band). */
struct QueueSample
{
    int64_t timePs;
    uint32_t node;
    uint32_t port;
    uint8_t band;
    uint64_t bytes;
};

/** Receives PhyTxBegin of one port. */
class TxLogger : public SimpleRefCount<TxLogger>
{
  public:
    TxLogger(std::vector<TxRecord>* out, uint32_t node, uint32_t port)
        : m_out(out),
          m_node(node),
          m_port(port)
    {
    }

    void Log(Ptr<const QueueDiscItem> item)
    {
        const RoceHeader& h = StaticCast<const RoceQueueItem>(item)->Hdr();
        m_out->push_back(TxRecord{Simulator::Now().GetPicoSeconds(),
                                  m_node,
                                  m_port,
                                  h.cls,
                                  static_cast<uint8_t>(h.type),
                                  item->GetSize(),
                                  h.flow});
    }

  private:
    std::vector<TxRecord>* m_out;
    uint32_t m_node;
    uint32_t m_port;
};

template <class C, class F>
std::vector<double>
ColumnD(const C& rows, F get)
{
    std::vector<double> out;
    out.reserve(rows.size());
    for (const auto& r : rows)
    {
        out.push_back(get(r));
    }
    return out;
}

template <class C, class F>
std::vector<uint64_t>
ColumnU(const C& rows, F get)
{
    std::vector<uint64_t> out;
    out.reserve(rows.size());
    for (const auto& r : rows)
    {
        out.push_back(static_cast<uint64_t>(get(r)));
    }
    return out;
}

[[noreturn]] void
UnknownColumn(const std::string& table, const std::string& name)
{
    throw std::invalid_argument("unknown " + table + " column '" + name + "'");
}

/** The time_s column of any record table (every record has timePs). */
template <class C>
std::vector<double>
TimeColumn(const C& rows, const char* table, const std::string& name)
{
    if (name != "time_s")
    {
        UnknownColumn(table, name);
    }
    return ColumnD(rows, [](const auto& r) { return PsToS(r.timePs); });
}

template <class R>
using Getter = std::function<uint64_t(const R&)>;

/** The integer column @p name of @p rows, looked up in @p cols. */
template <class R, class C>
std::vector<uint64_t>
Select(const C& rows,
       const char* table,
       const std::string& name,
       const std::map<std::string, Getter<R>>& cols)
{
    auto it = cols.find(name);
    if (it == cols.end())
    {
        UnknownColumn(table, name);
    }
    return ColumnU(rows, it->second);
}

} // namespace

struct Fabric::Impl
{
    struct NodeInfo
    {
        uint32_t host{kNoHost};       //!< host index, or kNoHost for a switch
        Ptr<Node> node;
        Ptr<RoceSwitch> sw;
        Ptr<RdmaNic> nic;
        std::vector<Ptr<RoceNetDevice>> ports;
        std::vector<uint32_t> peer;   //!< node index behind each port
    };

    std::vector<NodeInfo> nodes;
    std::vector<uint32_t> hostNode;
    std::map<std::string, std::vector<std::pair<std::string, std::string>>> attrs;
    uint64_t seed{1};
    bool built{false};
    RoceFabricStats stats;
    RdmaFlowTable flows;
    std::function<void(uint32_t)> onFlowDone;
    std::function<void(uint64_t)> onTimer;
    Time sampleInterval{MicroSeconds(10)};
    bool sampling{false};
    uint64_t activeFlows{0};
    std::vector<QueueSample> samples;
    std::vector<TxRecord> txLog;
    std::vector<RdmaDeliveryRecord> deliveries;
    bool rateScaling{true};
    int64_t nextStream{0};
    std::vector<Ptr<TxLogger>> txLoggers;
    // PFC watch and watchdog
    Time watchInterval{0};
    int64_t stormPs{0};
    bool stopOnStorm{true};
    bool watching{false};
    EventId sampleEvent;
    EventId watchEvent;
    std::vector<Anomaly> anomalies;
    std::map<std::tuple<uint32_t, uint32_t, uint8_t>, int64_t> stormSeen; //!< reported pause start
    std::vector<std::vector<uint64_t>> lastDequeued; //!< per node: per port x band
    double maxWallS{0};
    double stallWallS{0};
    std::atomic<int> stopCode{STOP_NONE};
    bool cutShort{false}; //!< the last Run() ended with events left (time limit or Stop())

    /** The stop time of Run(): only cuts the run short if other events are left. */
    void StopAtTime()
    {
        cutShort = cutShort || !Simulator::IsFinished();
        Simulator::Stop();
    }

    template <class T>
    Ptr<T> Make(const std::string& type)
    {
        ObjectFactory f;
        f.SetTypeId(T::GetTypeId());
        for (const auto& [name, value] : attrs[type])
        {
            f.Set(name, StringValue(value));
        }
        return f.Create<T>();
    }

    const NodeInfo& NodeAt(uint32_t i, const char* what) const
    {
        if (i >= nodes.size())
        {
            std::ostringstream os;
            os << what << " " << i << " does not exist; allowed: 0.." << int64_t(nodes.size()) - 1;
            throw std::invalid_argument(os.str());
        }
        return nodes[i];
    }

    RdmaFlow& FlowAt(uint32_t id)
    {
        if (id >= flows.size())
        {
            throw std::invalid_argument("flow " + std::to_string(id) + " does not exist");
        }
        return flows[id];
    }

    void FlowDone(uint32_t id)
    {
        if (--activeFlows == 0)
        {
            // Periodic samplers must not outlive the traffic: the run's end time stays that of the last real event.
            // Removed, not cancelled: a cancelled event still advances the clock when it is reached.
            for (EventId* e : {&sampleEvent, &watchEvent})
            {
                if (e->IsPending())
                {
                    Simulator::Remove(*e);
                }
            }
            sampling = watching = false;
        }
        if (flows[id].notify && onFlowDone)
        {
            onFlowDone(id);
        }
    }

    void StartSampler()
    {
        if (!sampling && sampleInterval.IsStrictlyPositive())
        {
            sampling = true;
            sampleEvent = Simulator::ScheduleNow(&Impl::Sample, this);
        }
    }

    void Sample()
    {
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
                        samples.push_back(QueueSample{now, n, p, static_cast<uint8_t>(b), bytes});
                    }
                }
            }
        }
        if (activeFlows > 0)
        {
            sampleEvent = Simulator::Schedule(sampleInterval, &Impl::Sample, this);
        }
        else
        {
            sampling = false;
        }
    }

    void StartWatch()
    {
        if (!watching && watchInterval.IsStrictlyPositive())
        {
            watching = true;
            watchEvent = Simulator::Schedule(watchInterval, &Impl::Watch, this);
        }
    }

    /** One PFC check: pause storms, then cycles of blocked switch egress classes. */
    void Watch()
    {
        const int64_t now = Simulator::Now().GetPicoSeconds();
        const uint32_t n = nodes.size();
        if (lastDequeued.size() != n)
        {
            lastDequeued.assign(n, {});
        }
        // Blocked: a switch egress class that is paused, holds packets and dequeued none since the last check.
        std::map<std::tuple<uint32_t, uint32_t, uint8_t>, uint32_t> blocked;
        std::vector<std::tuple<uint32_t, uint32_t, uint8_t>> members;
        for (uint32_t v = 0; v < n; ++v)
        {
            const auto& ports = nodes[v].ports;
            auto& last = lastDequeued[v];
            last.resize(ports.size() * RoceHeader::kNumClasses, 0);
            for (uint32_t p = 0; p < ports.size(); ++p)
            {
                Ptr<RmlqQueueDisc> q = ports[p]->GetQueueDisc();
                for (uint8_t c = 0; c < RoceHeader::kNumClasses; ++c)
                {
                    int64_t since = ports[p]->GetPausedSincePs(c);
                    uint64_t deq = c < q->GetNumBands() ? q->GetBandDequeued(c) : 0;
                    uint64_t& seen = last[p * RoceHeader::kNumClasses + c];
                    bool progress = deq != seen;
                    seen = deq;
                    if (since < 0)
                    {
                        continue;
                    }
                    stats.longestPausePs = std::max(stats.longestPausePs, now - since);
                    auto key = std::make_tuple(v, p, c);
                    uint64_t bytes = c < q->GetNumBands() ? q->GetBandBytes(c) : 0;
                    if (now - since > stormPs && stormSeen[key] != since + 1)
                    {
                        stormSeen[key] = since + 1;
                        anomalies.push_back(Anomaly{now, since, v, p, c, 1, bytes});
                        if (stopOnStorm)
                        {
                            Stop(STOP_PAUSE_STORM);
                        }
                    }
                    if (nodes[v].sw && bytes > 0 && !progress)
                    {
                        blocked.emplace(key, members.size());
                        members.push_back(key);
                    }
                }
            }
        }
        FindDeadlock(blocked, members, now);
        if (activeFlows > 0 && stopCode == STOP_NONE)
        {
            watchEvent = Simulator::Schedule(watchInterval, &Impl::Watch, this);
        }
        else
        {
            watching = false;
        }
    }

    /**
     * A blocked class (v, p, c) waits for the switch w behind port p, whose
     * ingress from v drains only through w's own egress queues of class c
     * (except the one back to v): an edge to each of them that is blocked too.
     * A cycle is a deadlock.
     */
    void FindDeadlock(const std::map<std::tuple<uint32_t, uint32_t, uint8_t>, uint32_t>& blocked,
                      const std::vector<std::tuple<uint32_t, uint32_t, uint8_t>>& members,
                      int64_t now)
    {
        const uint32_t m = members.size();
        std::vector<std::vector<uint32_t>> next(m);
        for (uint32_t i = 0; i < m; ++i)
        {
            auto [v, p, c] = members[i];
            uint32_t w = nodes[v].peer[p];
            for (uint32_t q = 0; q < nodes[w].ports.size(); ++q)
            {
                if (nodes[w].peer[q] == v)
                {
                    continue; // shortest-path routing never sends a frame back where it came from
                }
                auto it = blocked.find(std::make_tuple(w, q, c));
                if (it != blocked.end())
                {
                    next[i].push_back(it->second);
                }
            }
        }
        // Iterative depth-first search with colours; a back edge closes a cycle.
        std::vector<uint8_t> colour(m, 0);
        std::vector<uint32_t> parent(m, UINT32_MAX);
        for (uint32_t root = 0; root < m; ++root)
        {
            if (colour[root])
            {
                continue;
            }
            std::vector<std::pair<uint32_t, uint32_t>> stack{{root, 0}};
            colour[root] = 1;
            while (!stack.empty())
            {
                auto& [u, k] = stack.back();
                if (k == next[u].size())
                {
                    colour[u] = 2;
                    stack.pop_back();
                    continue;
                }
                uint32_t x = next[u][k++];
                if (colour[x] == 0)
                {
                    colour[x] = 1;
                    parent[x] = u;
                    stack.emplace_back(x, 0);
                }
                else if (colour[x] == 1)
                {
                    std::vector<uint32_t> cycle{x};
                    for (uint32_t y = u; y != x; y = parent[y])
                    {
                        cycle.push_back(y);
                    }
                    for (auto it = cycle.rbegin(); it != cycle.rend(); ++it)
                    {
                        auto [v, p, c] = members[*it];
                        Ptr<RoceNetDevice> d = nodes[v].ports[p];
                        anomalies.push_back(Anomaly{now, d->GetPausedSincePs(c), v, p, c, 0,
                                                    d->GetQueueDisc()->GetBandBytes(c)});
                    }
                    Stop(STOP_DEADLOCK);
                    return;
                }
            }
        }
    }

    void Stop(StopCode code)
    {
        int none = STOP_NONE;
        stopCode.compare_exchange_strong(none, code);
        Simulator::Stop();
    }

    /** Shortest-path next hops from every switch to every host (BFS per destination). */
    void ComputeRoutes()
    {
        const uint32_t n = nodes.size();
        const uint32_t h = hostNode.size();
        std::vector<std::vector<uint32_t>> offsets(n);
        std::vector<std::vector<uint16_t>> ports(n);
        for (uint32_t s = 0; s < n; ++s)
        {
            if (nodes[s].sw)
            {
                offsets[s].reserve(h + 1);
                offsets[s].push_back(0);
            }
        }
        std::vector<uint32_t> dist(n);
        std::vector<uint32_t> frontier;
        for (uint32_t d = 0; d < h; ++d)
        {
            const uint32_t dn = hostNode[d];
            std::fill(dist.begin(), dist.end(), UINT32_MAX);
            dist[dn] = 0;
            frontier.assign(1, dn);
            for (size_t i = 0; i < frontier.size(); ++i)
            {
                uint32_t u = frontier[i];
                if (u != dn && !nodes[u].sw)
                {
                    continue; // hosts do not forward
                }
                for (uint32_t v : nodes[u].peer)
                {
                    if (dist[v] == UINT32_MAX)
                    {
                        dist[v] = dist[u] + 1;
                        frontier.push_back(v);
                    }
                }
            }
            for (uint32_t s = 0; s < n; ++s)
            {
                if (!nodes[s].sw)
                {
                    continue;
                }
                const auto& peer = nodes[s].peer;
                for (uint32_t p = 0; p < peer.size(); ++p)
                {
                    uint32_t v = peer[p];
                    if (dist[s] != UINT32_MAX && dist[v] + 1 == dist[s] && (nodes[v].sw || v == dn))
                    {
                        ports[s].push_back(static_cast<uint16_t>(p));
                    }
                }
                offsets[s].push_back(ports[s].size());
            }
            for (uint32_t src = 0; src < h; ++src)
            {
                if (src != d && dist[hostNode[src]] == UINT32_MAX)
                {
                    std::ostringstream os;
                    os << "host " << src << " cannot reach host " << d
                       << ": the topology is not connected";
                    throw std::runtime_error(os.str());
                }
            }
        }
        for (uint32_t s = 0; s < n; ++s)
        {
            if (nodes[s].sw)
            {
                nodes[s].sw->SetRoutes(std::move(offsets[s]), std::move(ports[s]));
            }
        }
    }

    /** Links along a flow's path: (device, peer node) per hop. */
    std::vector<Ptr<RoceNetDevice>> PathDevices(const RdmaFlow& f) const
    {
        std::vector<Ptr<RoceNetDevice>> hops;
        Ptr<RoceNetDevice> dev = nodes[hostNode[f.src]].ports.at(0);
        for (uint32_t guard = 0; guard < nodes.size() + 1; ++guard)
        {
            hops.push_back(dev);
            uint32_t next = dev->GetRoceChannel()->GetPeer(PeekPointer(dev))->GetNodeIndex();
            if (!nodes[next].sw)
            {
                break;
            }
            int port = nodes[next].sw->SelectPort(f.src, f.dst, f.id);
            dev = nodes[next].ports.at(port);
        }
        return hops;
    }

    /**
     * Completion time of the flow alone on its path: store and forward of
     * MTU-sized frames (the last one shorter) with RoCE framing. For k equal
     * frames through hops of serialisation times tx_1..tx_H, the k-th frame
     * finishes hop h at sum(d_j, j<h) + sum(tx_m, m<=h) + (k-1) max(tx_j, j<=h)
     * (a tandem of deterministic queues); a shorter last frame is then carried
     * hop by hop behind it. Exact for this model, whatever the link rates.
     */
    double IdealFct(const RdmaFlow& f) const
    {
        auto hops = PathDevices(f);
        const double frame = RoceHeader::kDataOverhead + RoceHeader::kPreambleIfg;
        const uint64_t mtu = hops.front()->GetMtu();
        uint64_t full = f.size / mtu;
        uint64_t rest = f.size % mtu;
        double delaySum = 0; // propagation before hop h
        double txSum = 0;    // serialisation of one full frame over hops 1..h
        double txMax = 0;    // slowest hop so far for a full frame
        double lastDone = 0; // the last (short) frame finishes hop h
        for (const auto& d : hops)
        {
            double bps = d->GetBitRate();
            double txFull = (mtu + frame) * 8 / bps;
            txSum += txFull;
            txMax = std::max(txMax, txFull);
            double fullDone = full ? delaySum + txSum + (full - 1) * txMax : 0;
            if (rest)
            {
                lastDone = std::max(lastDone, fullDone) + (rest + frame) * 8 / bps;
            }
            else
            {
                lastDone = fullDone;
            }
            double prop = d->GetRoceChannel()->GetDelay().GetSeconds();
            delaySum += prop;
            lastDone += prop; // arrival at the next node
        }
        return lastDone;
    }
};

Fabric::Fabric()
    : m(std::make_unique<Impl>())
{
    static bool resolutionSet = false;
    if (!resolutionSet)
    {
        Time::SetResolution(Time::PS);
        resolutionSet = true;
    }
    Simulator::Destroy();
    SetScheduler("PriorityQueueScheduler");
}

void
Fabric::SetScheduler(const std::string& name)
{
    static const char* allowed[] = {"PriorityQueueScheduler", "MapScheduler", "CalendarScheduler", "ListScheduler"};
    if (std::find(std::begin(allowed), std::end(allowed), name) == std::end(allowed))
    {
        throw std::invalid_argument("unknown scheduler '" + name +
                                    "'; allowed: PriorityQueueScheduler, MapScheduler, "
                                    "CalendarScheduler, ListScheduler");
    }
    if (!m->nodes.empty())
    {
        throw std::logic_error("SetScheduler must come before nodes are added");
    }
    ObjectFactory f;
    f.SetTypeId("ns3::" + name);
    Simulator::SetScheduler(f);
}

Fabric::~Fabric()
{
    m->nodes.clear();
    Simulator::Destroy();
}

void
Fabric::SetAttribute(const std::string& type, const std::string& name, const std::string& value)
{
    static const std::map<std::string, TypeId (*)()> types = {
        {"RoceNetDevice", &RoceNetDevice::GetTypeId},
        {"RoceChannel", &RoceChannel::GetTypeId},
        {"RmlqQueueDisc", &RmlqQueueDisc::GetTypeId},
        {"SwitchBufferManager", &SwitchBufferManager::GetTypeId},
        {"RoceSwitch", &RoceSwitch::GetTypeId},
        {"RdmaNic", &RdmaNic::GetTypeId},
    };
    auto it = types.find(type);
    if (it == types.end())
    {
        throw std::invalid_argument("unknown object type '" + type +
                                    "'; allowed: RoceNetDevice, RoceChannel, RmlqQueueDisc, "
                                    "SwitchBufferManager, RoceSwitch, RdmaNic");
    }
    TypeId tid = it->second();
    TypeId::AttributeInformation info;
    if (!tid.LookupAttributeByName(name, &info))
    {
        std::ostringstream os;
        os << "unknown attribute '" << name << "' of " << type << "; allowed:";
        for (uint32_t i = 0; i < tid.GetAttributeN(); ++i)
        {
            os << " " << tid.GetAttribute(i).name;
        }
        throw std::invalid_argument(os.str());
    }
    if (!info.checker->CreateValidValue(StringValue(value)))
    {
        throw std::invalid_argument("invalid value '" + value + "' for " + type + "::" + name +
                                    " (expected " + info.checker->GetValueTypeName() + ")");
    }
    m->attrs[type].emplace_back(name, value);
}

void
Fabric::SetSeed(uint64_t seed)
{
    if (seed == 0 || seed > 0xFFFFFFFFull)
    {
        throw std::invalid_argument("seed must be in 1..4294967295");
    }
    m->seed = seed;
    RngSeedManager::SetSeed(static_cast<uint32_t>(seed));
    RngSeedManager::SetRun(1);
}

void
Fabric::SetRateScaling(bool on)
{
    m->rateScaling = on;
}

void
Fabric::EnableDeliveryLog(uint32_t flow)
{
    m->FlowAt(flow).logDelivery = true;
}

uint32_t
Fabric::AddHost()
{
    if (m->built)
    {
        throw std::logic_error("AddHost after Build");
    }
    Impl::NodeInfo info;
    info.host = m->hostNode.size();
    info.node = CreateObject<Node>();
    info.nic = m->Make<RdmaNic>("RdmaNic");
    m->hostNode.push_back(m->nodes.size());
    m->nodes.push_back(info);
    return m->nodes.size() - 1;
}

uint32_t
Fabric::AddSwitch()
{
    if (m->built)
    {
        throw std::logic_error("AddSwitch after Build");
    }
    Impl::NodeInfo info;
    info.node = CreateObject<Node>();
    info.sw = m->Make<RoceSwitch>("RoceSwitch");
    info.sw->SetBufferManager(m->Make<SwitchBufferManager>("SwitchBufferManager"));
    uint32_t index = m->nodes.size();
    info.sw->SetIndex(index, &m->stats);
    // Per-switch ECMP seed, derived from the run seed unless set explicitly.
    bool explicitSeed = false;
    for (const auto& [name, value] : m->attrs["RoceSwitch"])
    {
        explicitSeed |= (name == "EcmpSeed");
    }
    if (!explicitSeed)
    {
        info.sw->SetAttribute(
            "EcmpSeed",
            UintegerValue(static_cast<uint32_t>(MfsMix64(m->seed * 0x100000001b3ULL + index))));
    }
    m->nodes.push_back(info);
    return index;
}

void
Fabric::AddLink(uint32_t a, uint32_t b, double bps, double delayS)
{
    if (m->built)
    {
        throw std::logic_error("AddLink after Build");
    }
    m->NodeAt(a, "node");
    m->NodeAt(b, "node");
    if (a == b)
    {
        throw std::invalid_argument("a link must join two different nodes (got " + std::to_string(a) +
                                    " twice)");
    }
    if (!(bps >= 1e6) || !std::isfinite(bps))
    {
        throw std::invalid_argument("link rate must be at least 1e6 bit/s");
    }
    if (!(delayS >= 0) || !(delayS <= 1.0))
    {
        throw std::invalid_argument("link delay must be between 0 and 1 s, got " + std::to_string(delayS) + " s");
    }
    for (uint32_t x : {a, b})
    {
        if (!m->nodes[x].sw && !m->nodes[x].ports.empty())
        {
            throw std::invalid_argument("host node " + std::to_string(x) +
                                        " already has a link; a host (NIC) has exactly one port");
        }
    }
    Ptr<RoceChannel> ch = m->Make<RoceChannel>("RoceChannel");
    ch->SetAttribute("Delay", TimeValue(SecondsToTime(delayS)));
    for (uint32_t x : {a, b})
    {
        auto& info = m->nodes[x];
        Ptr<RoceNetDevice> dev = m->Make<RoceNetDevice>("RoceNetDevice");
        dev->SetAttribute("DataRate", DataRateValue(DataRate(static_cast<uint64_t>(bps))));
        dev->SetAddress(Mac48Address::Allocate());
        info.node->AddDevice(dev);
        uint32_t port = info.ports.size();
        RocePortOwner* owner = info.sw ? static_cast<RocePortOwner*>(PeekPointer(info.sw))
                                       : static_cast<RocePortOwner*>(PeekPointer(info.nic));
        dev->SetOwner(owner, port, x, &m->stats);
        Ptr<RmlqQueueDisc> qdisc = m->Make<RmlqQueueDisc>("RmlqQueueDisc");
        if (m->rateScaling)
        {
            for (const char* attr : {"EcnKmin", "EcnKmax"})
            {
                UintegerValue v;
                qdisc->GetAttribute(attr, v);
                qdisc->SetAttribute(attr, UintegerValue(static_cast<uint64_t>(std::llround(v.Get() * bps / 100e9))));
            }
        }
        qdisc->AssignStreams(m->nextStream++);
        dev->SetQueueDisc(qdisc);
        dev->Attach(ch);
        if (info.sw)
        {
            info.sw->AddPort(dev);
        }
        info.ports.push_back(dev);
        info.peer.push_back(x == a ? b : a);
    }
}

void
Fabric::Build()
{
    if (m->built)
    {
        return;
    }
    if (m->hostNode.size() < 2)
    {
        throw std::runtime_error("a fabric needs at least two hosts");
    }
    for (uint32_t h = 0; h < m->hostNode.size(); ++h)
    {
        auto& info = m->nodes[m->hostNode[h]];
        if (info.ports.size() != 1)
        {
            throw std::runtime_error("host " + std::to_string(h) + " has no link");
        }
        info.nic->Setup(h, info.ports[0], &m->flows, [this](uint32_t id) { m->FlowDone(id); }, &m->stats,
                        &m->deliveries);
        if (m->rateScaling)
        {
            info.nic->ScaleIncreaseToLineRate();
        }
    }
    for (uint32_t n = 0; n < m->nodes.size(); ++n)
    {
        auto& info = m->nodes[n];
        if (!info.sw)
        {
            continue;
        }
        if (info.ports.empty())
        {
            throw std::runtime_error("switch node " + std::to_string(n) + " has no link");
        }
        uint32_t mtu = info.ports[0]->GetMtu() + RoceHeader::kDataOverhead;
        std::string err = info.sw->SetupBuffer(RoceHeader::kNumClasses, mtu);
        if (!err.empty())
        {
            throw std::runtime_error("switch node " + std::to_string(n) + ": " + err);
        }
    }
    m->ComputeRoutes();
    m->built = true;
}

uint32_t
Fabric::AddFlow(uint32_t srcHost, uint32_t dstHost, uint64_t bytes, uint32_t cls, double startS, bool notify)
{
    if (!m->built)
    {
        Build();
    }
    uint32_t hosts = m->hostNode.size();
    auto bad = [&](const std::string& what) {
        throw std::invalid_argument(what);
    };
    if (srcHost >= hosts)
    {
        bad("src host " + std::to_string(srcHost) + " does not exist; allowed: 0.." +
            std::to_string(hosts - 1));
    }
    if (dstHost >= hosts)
    {
        bad("dst host " + std::to_string(dstHost) + " does not exist; allowed: 0.." +
            std::to_string(hosts - 1));
    }
    if (srcHost == dstHost)
    {
        bad("src and dst are the same host " + std::to_string(srcHost));
    }
    if (bytes == 0)
    {
        bad("bytes must be > 0");
    }
    if (cls >= RoceHeader::kNumClasses)
    {
        bad("priority " + std::to_string(cls) + " is out of range; allowed: 0..7");
    }
    double now = Now();
    if (!(startS >= now) || !std::isfinite(startS))
    {
        bad("start time must be >= the current time " + std::to_string(now) + " s");
    }
    uint32_t id = m->flows.size();
    RdmaFlow& f = m->flows.emplace_back();
    f.id = id;
    f.src = srcHost;
    f.dst = dstHost;
    f.size = bytes;
    f.cls = f.initialCls = static_cast<uint8_t>(cls);
    f.notify = notify;
    Ptr<RdmaNic> nic = m->nodes[m->hostNode[srcHost]].nic;
    Simulator::Schedule(SecondsToTime(startS) - Simulator::Now(), [this, nic, id]() {
        m->activeFlows++;
        nic->StartFlow(id);
        m->StartSampler();
        m->StartWatch();
    });
    return id;
}

void
Fabric::SetPriority(uint32_t flow, uint32_t cls)
{
    RdmaFlow& f = m->FlowAt(flow);
    if (cls >= RoceHeader::kNumClasses)
    {
        throw std::invalid_argument("priority " + std::to_string(cls) + " is out of range; allowed: 0..7");
    }
    m->nodes[m->hostNode[f.src]].nic->SetFlowClass(flow, static_cast<uint8_t>(cls));
}

void
Fabric::SetRateCap(uint32_t flow, double bps)
{
    RdmaFlow& f = m->FlowAt(flow);
    if (!(bps >= 0) || !std::isfinite(bps))
    {
        throw std::invalid_argument("rate cap must be >= 0 bit/s");
    }
    m->nodes[m->hostNode[f.src]].nic->SetFlowRateCap(flow, bps);
}

void
Fabric::SetDemotion(uint32_t flow, const std::vector<uint64_t>& thresholds)
{
    RdmaFlow& f = m->FlowAt(flow);
    if (!std::is_sorted(thresholds.begin(), thresholds.end()))
    {
        throw std::invalid_argument("demotion thresholds must be increasing");
    }
    m->nodes[m->hostNode[f.src]].nic->SetFlowDemotion(flow, thresholds);
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
    const auto& info = m->NodeAt(node, "node");
    if (port >= info.ports.size())
    {
        throw std::invalid_argument("node " + std::to_string(node) + " has no port " + std::to_string(port));
    }
    return info.ports[port]->GetTxBytes();
}

void
Fabric::SetFlowDoneCallback(std::function<void(uint32_t)> cb)
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
    double now = Now();
    if (!(atS >= now) || !std::isfinite(atS))
    {
        throw std::invalid_argument("timer time must be >= the current time " + std::to_string(now) + " s");
    }
    Simulator::Schedule(SecondsToTime(atS) - Simulator::Now(), [this, token]() {
        if (m->onTimer)
        {
            m->onTimer(token);
        }
    });
}

void
Fabric::SetQueueSampleInterval(double s)
{
    if (!(s >= 0) || !std::isfinite(s))
    {
        throw std::invalid_argument("queue sample interval must be >= 0 s");
    }
    m->sampleInterval = SecondsToTime(s);
}

void
Fabric::SetPfcLog(bool on)
{
    m->stats.logPfc = on;
}

void
Fabric::EnableTxLog(uint32_t node, uint32_t port)
{
    const auto& info = m->NodeAt(node, "node");
    if (port >= info.ports.size())
    {
        throw std::invalid_argument("node " + std::to_string(node) + " has no port " + std::to_string(port));
    }
    auto logger = Create<TxLogger>(&m->txLog, node, port);
    m->txLoggers.push_back(logger);
    info.ports[port]->TraceConnectWithoutContext("PhyTxBegin", MakeCallback(&TxLogger::Log, logger));
}

void
Fabric::SetPfcWatch(double intervalS, double stormS, bool stopOnStorm)
{
    if (!(intervalS >= 0) || !std::isfinite(intervalS) || !(stormS > 0) || !std::isfinite(stormS))
    {
        throw std::invalid_argument("PFC watch: interval must be >= 0 s and the storm threshold > 0 s");
    }
    m->watchInterval = SecondsToTime(intervalS);
    m->stormPs = SecondsToTime(stormS).GetPicoSeconds();
    m->stopOnStorm = stopOnStorm;
}

void
Fabric::SetWatchdog(double maxWallS, double stallWallS)
{
    if (!(maxWallS >= 0) || !(stallWallS >= 0))
    {
        throw std::invalid_argument("watchdog limits must be >= 0 s");
    }
    m->maxWallS = maxWallS;
    m->stallWallS = stallWallS;
}

void
Fabric::Run(double stopAtS)
{
    if (!m->built)
    {
        Build();
    }
    m->stopCode = STOP_NONE;
    m->cutShort = false;
    EventId stopAt;
    if (stopAtS > 0)
    {
        stopAt = Simulator::Schedule(SecondsToTime(stopAtS) - Simulator::Now(), &Impl::StopAtTime, m.get());
    }
    if (m->watchInterval.IsStrictlyPositive() && m->activeFlows > 0)
    {
        m->StartWatch();
    }
    g_runActive = true;
    bool done{false};
    std::mutex mutex;
    std::condition_variable wake;
    std::thread dog;
    if (m->maxWallS > 0 || m->stallWallS > 0)
    {
        dog = std::thread([this, &done, &mutex, &wake]() {
            using Clock = std::chrono::steady_clock;
            const auto t0 = Clock::now();
            auto moved = t0;
            int64_t simPs = Simulator::Now().GetPicoSeconds();
            while (true)
            {
                {
                    std::unique_lock<std::mutex> lock(mutex);
                    if (wake.wait_for(lock, std::chrono::milliseconds(20), [&done] { return done; }))
                    {
                        return;
                    }
                }
                const auto t = Clock::now();
                int64_t ps = Simulator::Now().GetPicoSeconds();
                if (ps != simPs)
                {
                    simPs = ps;
                    moved = t;
                }
                StopCode code = STOP_NONE;
                if (m->maxWallS > 0 && std::chrono::duration<double>(t - t0).count() > m->maxWallS)
                {
                    code = STOP_MAX_WALL;
                }
                else if (m->stallWallS > 0 && std::chrono::duration<double>(t - moved).count() > m->stallWallS)
                {
                    code = STOP_STALLED;
                }
                if (code != STOP_NONE)
                {
                    int none = STOP_NONE;
                    m->stopCode.compare_exchange_strong(none, code);
                    Simulator::ScheduleWithContext(Simulator::NO_CONTEXT, Time(0), &StopFromWatchdog);
                    return;
                }
            }
        });
    }
    auto finish = [&]() {
        g_runActive = false;
        {
            std::lock_guard<std::mutex> lock(mutex);
            done = true;
        }
        wake.notify_all();
        if (dog.joinable())
        {
            dog.join();
        }
        if (stopAt.IsPending())
        {
            Simulator::Remove(stopAt);
        }
    };
    try
    {
        Simulator::Run();
    }
    catch (...)
    {
        finish();
        throw;
    }
    finish();
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
    int64_t longest = m->stats.longestPausePs;
    const int64_t now = Simulator::Now().GetPicoSeconds();
    for (const auto& n : m->nodes)
    {
        for (const auto& d : n.ports)
        {
            for (uint8_t c = 0; c < RoceHeader::kNumClasses; ++c)
            {
                if (int64_t since = d->GetPausedSincePs(c); since >= 0)
                {
                    longest = std::max(longest, now - since);
                }
            }
        }
    }
    return PsToS(longest);
}

std::vector<double>
Fabric::AnomalyColumnD(const std::string& name) const
{
    if (name == "since_s")
    {
        return ColumnD(m->anomalies, [](const Anomaly& a) { return PsToS(a.sincePs); });
    }
    return TimeColumn(m->anomalies, "anomaly", name);
}

std::vector<uint64_t>
Fabric::AnomalyColumnU(const std::string& name) const
{
    using R = Anomaly;
    return Select<R>(m->anomalies,
                     "anomaly",
                     name,
                     {{"node", [](const R& r) { return r.node; }},
                      {"port", [](const R& r) { return r.port; }},
                      {"priority", [](const R& r) { return r.cls; }},
                      {"kind", [](const R& r) { return r.kind; }},
                      {"queued_bytes", [](const R& r) { return r.bytes; }}});
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
    return PsToS(Simulator::Now().GetPicoSeconds());
}

uint32_t
Fabric::NumHosts() const
{
    return m->hostNode.size();
}

uint32_t
Fabric::NumNodes() const
{
    return m->nodes.size();
}

uint32_t
Fabric::NumFlows() const
{
    return m->flows.size();
}

uint32_t
Fabric::HostNode(uint32_t host) const
{
    if (host >= m->hostNode.size())
    {
        throw std::invalid_argument("host " + std::to_string(host) + " does not exist");
    }
    return m->hostNode[host];
}

uint32_t
Fabric::NumPorts(uint32_t node) const
{
    return m->NodeAt(node, "node").ports.size();
}

std::vector<double>
Fabric::FlowColumnD(const std::string& name) const
{
    using F = RdmaFlow;
    const Impl& impl = *m;
    static const std::map<std::string, std::function<double(const Impl&, const F&)>> cols = {
        {"start_s", [](const Impl&, const F& f) { return PsToS(f.startPs); }},
        {"end_s", [](const Impl&, const F& f) { return PsToS(f.endPs); }},
        {"acked_s", [](const Impl&, const F& f) { return PsToS(f.ackedPs); }},
        {"ideal_fct_s", [](const Impl& i, const F& f) { return i.IdealFct(f); }},
    };
    auto it = cols.find(name);
    if (it == cols.end())
    {
        UnknownColumn("flow", name);
    }
    return ColumnD(m->flows, [&](const F& f) { return it->second(impl, f); });
}

std::vector<uint64_t>
Fabric::FlowColumnU(const std::string& name) const
{
    using F = RdmaFlow;
    return Select<F>(m->flows,
                     "flow",
                     name,
                     {{"src", [](const F& f) { return f.src; }},
                      {"dst", [](const F& f) { return f.dst; }},
                      {"bytes", [](const F& f) { return f.size; }},
                      {"priority", [](const F& f) { return f.initialCls; }},
                      {"final_priority", [](const F& f) { return f.cls; }},
                      {"class_changes", [](const F& f) { return f.classChanges; }},
                      {"bytes_sent", [](const F& f) { return f.bytesSent; }},
                      {"bytes_received", [](const F& f) { return f.bytesReceived; }},
                      {"bytes_delivered", [](const F& f) { return f.rcvNxt; }},
                      {"bytes_dropped",
                       [this](const F& f) {
                           auto it = m->stats.flowDropPayload.find(f.id);
                           return it == m->stats.flowDropPayload.end() ? uint64_t(0) : it->second;
                       }},
                      {"rewinds", [](const F& f) { return f.rewinds; }},
                      {"completed", [](const F& f) { return uint64_t(f.endPs >= 0); }},
                      {"cnps_received", [](const F& f) { return f.cnpsReceived; }},
                      {"rate_decreases", [](const F& f) { return f.rateDecreases; }}});
}

std::vector<uint32_t>
Fabric::FlowPath(uint32_t flow) const
{
    const RdmaFlow& f = m->FlowAt(flow);
    std::vector<uint32_t> path{m->hostNode[f.src]};
    for (const auto& d : m->PathDevices(f))
    {
        path.push_back(d->GetRoceChannel()->GetPeer(PeekPointer(d))->GetNodeIndex());
    }
    return path;
}

std::vector<double>
Fabric::PfcColumnD(const std::string& name) const
{
    return TimeColumn(m->stats.pfcLog, "pfc", name);
}

std::vector<uint64_t>
Fabric::PfcColumnU(const std::string& name) const
{
    using R = RocePfcRecord;
    return Select<R>(m->stats.pfcLog,
                     "pfc",
                     name,
                     {{"node", [](const R& r) { return r.node; }},
                      {"port", [](const R& r) { return r.port; }},
                      {"priority", [](const R& r) { return r.cls; }},
                      {"kind", [](const R& r) { return r.kind; }}});
}

std::vector<double>
Fabric::QueueColumnD(const std::string& name) const
{
    return TimeColumn(m->samples, "queue", name);
}

std::vector<uint64_t>
Fabric::QueueColumnU(const std::string& name) const
{
    using R = QueueSample;
    return Select<R>(m->samples,
                     "queue",
                     name,
                     {{"node", [](const R& r) { return r.node; }},
                      {"port", [](const R& r) { return r.port; }},
                      {"priority", [](const R& r) { return r.band; }},
                      {"bytes", [](const R& r) { return r.bytes; }}});
}

std::vector<double>
Fabric::TxLogColumnD(const std::string& name) const
{
    return TimeColumn(m->txLog, "tx log", name);
}

std::vector<uint64_t>
Fabric::TxLogColumnU(const std::string& name) const
{
    using R = TxRecord;
    return Select<R>(m->txLog,
                     "tx log",
                     name,
                     {{"node", [](const R& r) { return r.node; }},
                      {"port", [](const R& r) { return r.port; }},
                      {"priority", [](const R& r) { return r.cls; }},
                      {"type", [](const R& r) { return r.type; }},
                      {"bytes", [](const R& r) { return r.bytes; }},
                      {"flow", [](const R& r) { return r.flow; }}});
}

std::vector<double>
Fabric::DeliveryColumnD(const std::string& name) const
{
    return TimeColumn(m->deliveries, "delivery", name);
}

std::vector<uint64_t>
Fabric::DeliveryColumnU(const std::string& name) const
{
    using R = RdmaDeliveryRecord;
    return Select<R>(m->deliveries,
                     "delivery",
                     name,
                     {{"flow", [](const R& r) { return r.flow; }},
                      {"delivered_bytes", [](const R& r) { return r.delivered; }}});
}

uint64_t
Fabric::ProbeEcnMarks(uint64_t kmin, uint64_t kmax, double pmax, uint64_t queueBytes, uint32_t frameBytes,
                      uint32_t samples, uint32_t seed)
{
    RngSeedManager::SetSeed(seed);
    auto q = CreateObject<RmlqQueueDisc>();
    q->SetAttribute("EcnMarking", BooleanValue(true));
    q->SetAttribute("EcnKmin", UintegerValue(kmin));
    q->SetAttribute("EcnKmax", UintegerValue(kmax));
    q->SetAttribute("EcnPmax", DoubleValue(pmax));
    q->Initialize();
    q->AssignStreams(0);
    RoceHeader h;
    h.cls = 3;
    h.ecn = ECN_ECT0;
    h.payload = frameBytes - RoceHeader::kDataOverhead;
    auto frame = [&h]() {
        Ptr<Packet> p = Create<Packet>(h.payload);
        p->AddHeader(h);
        return Create<RoceQueueItem>(p, h);
    };
    // Standing queue: queueBytes, refilled after each dequeue.
    while (q->GetBandBytes(3) + frameBytes <= queueBytes)
    {
        q->Enqueue(frame());
    }
    uint64_t marked = 0;
    for (uint32_t i = 0; i < samples; ++i)
    {
        Ptr<QueueDiscItem> item = q->Dequeue();
        marked += StaticCast<RoceQueueItem>(item)->Hdr().ecn == ECN_CE;
        q->Enqueue(frame());
    }
    q->Dispose();
    return marked;
}

uint64_t
Fabric::Counter(const std::string& name) const
{
    const auto& s = m->stats;
    if (name == "packet_hops")
        return s.packetHops;
    if (name == "data_hops")
        return s.dataHops;
    if (name == "drops")
        return s.drops;
    if (name == "drop_bytes")
        return s.dropBytes;
    if (name == "pause_frames")
        return s.pauseFrames;
    if (name == "resume_frames")
        return s.resumeFrames;
    if (name == "max_queue_bytes")
        return s.maxQueueBytes;
    if (name == "events")
        return Simulator::GetEventCount();
    if (name == "cnps")
        return s.cnps;
    if (name == "ecn_marks")
    {
        uint64_t marks = 0;
        for (const auto& n : m->nodes)
        {
            for (const auto& d : n.ports)
            {
                marks += d->GetQueueDisc()->GetEcnMarks();
            }
        }
        return marks;
    }
    if (name == "buffer_bytes_in_use")
    {
        uint64_t used = 0;
        for (const auto& n : m->nodes)
        {
            if (n.sw)
            {
                used += n.sw->GetBufferManager()->GetUsedBytes();
            }
        }
        return used;
    }
    throw std::invalid_argument("unknown counter '" + name + "'");
}

uint64_t
Fabric::PortHeadroom(uint32_t node, uint32_t port) const
{
    const auto& info = m->NodeAt(node, "node");
    if (!info.sw)
    {
        throw std::invalid_argument("node " + std::to_string(node) + " is not a switch");
    }
    return info.sw->GetBufferManager()->GetHeadroom(port);
}

} // namespace ns3mfs
