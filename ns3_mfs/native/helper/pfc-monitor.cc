/*
 * ns3-mfs: packet-level model of disaggregated MoE serving networks.
 * SPDX-License-Identifier: GPL-2.0-only (as ns-3)
 */
#include "pfc-monitor.h"

#include "ns3/boolean.h"
#include "ns3/log.h"
#include "ns3/simulator.h"

#include <algorithm>

namespace ns3
{

NS_LOG_COMPONENT_DEFINE("PfcMonitor");
NS_OBJECT_ENSURE_REGISTERED(PfcMonitor);

TypeId
PfcMonitor::GetTypeId()
{
    static TypeId tid = TypeId("ns3::PfcMonitor")
                            .SetParent<FabricMonitor>()
                            .SetGroupName("Mfs")
                            .AddConstructor<PfcMonitor>()
                            .AddAttribute("Interval",
                                          "Period of the checks while traffic is active; 0 turns the monitor off.",
                                          TimeValue(Time(0)),
                                          MakeTimeAccessor(&PfcMonitor::m_interval),
                                          MakeTimeChecker(Time(0)))
                            .AddAttribute("StormThreshold",
                                          "A class paused without a break for longer than this is a pause storm.",
                                          TimeValue(MilliSeconds(50)),
                                          MakeTimeAccessor(&PfcMonitor::m_stormThreshold),
                                          MakeTimeChecker(Time(0)))
                            .AddAttribute("StopOnStorm",
                                          "Stop the run at the first pause storm (a deadlock always stops it).",
                                          BooleanValue(true),
                                          MakeBooleanAccessor(&PfcMonitor::m_stopOnStorm),
                                          MakeBooleanChecker())
                            .AddTraceSource("Anomaly",
                                            "A deadlock cycle member or a pause storm was found.",
                                            MakeTraceSourceAccessor(&PfcMonitor::m_anomalyTrace),
                                            "ns3::PfcMonitor::AnomalyTracedCallback");
    return tid;
}

PfcMonitor::PfcMonitor()
    : m_interval(0),
      m_stormThreshold(MilliSeconds(50)),
      m_stopOnStorm(true)
{
}

void
PfcMonitor::DoDispose()
{
    m_stop = nullptr;
    FabricMonitor::DoDispose();
}

void
PfcMonitor::SetStopCallback(StopCallback cb)
{
    m_stop = std::move(cb);
}

Time
PfcMonitor::GetInterval() const
{
    return m_interval;
}

void
PfcMonitor::Start()
{
    StartRounds(false);
}

int64_t
PfcMonitor::GetLongestPausePs() const
{
    return m_longestPausePs;
}

void
PfcMonitor::Report(const PfcAnomaly& a)
{
    NS_LOG_INFO((a.kind == PfcAnomaly::DEADLOCK ? "deadlock" : "pause storm")
                << " at node " << a.node << " port " << a.port << " class " << int(a.cls));
    m_anomalyTrace(a);
}

void
PfcMonitor::DoRound()
{
    const FabricNodes& nodes = Nodes();
    const int64_t now = Simulator::Now().GetPicoSeconds();
    const int64_t stormPs = m_stormThreshold.GetPicoSeconds();
    const uint32_t n = nodes.size();
    if (m_lastDequeued.size() != n)
    {
        m_lastDequeued.assign(n, {});
    }
    // Blocked: a switch egress class that is paused, holds packets and dequeued none since the last check.
    std::map<Key, uint32_t> blocked;
    std::vector<Key> members;
    for (uint32_t v = 0; v < n; ++v)
    {
        const auto& ports = nodes[v].ports;
        auto& last = m_lastDequeued[v];
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
                m_longestPausePs = std::max(m_longestPausePs, now - since);
                auto key = std::make_tuple(v, p, c);
                uint64_t bytes = c < q->GetNumBands() ? q->GetBandBytes(c) : 0;
                if (now - since > stormPs && m_stormSeen[key] != since + 1)
                {
                    m_stormSeen[key] = since + 1;
                    Report(PfcAnomaly{now, since, v, p, c, PfcAnomaly::PAUSE_STORM, bytes});
                    if (m_stopOnStorm && m_stop)
                    {
                        m_stop(PfcAnomaly::PAUSE_STORM);
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
}

/*
 * A blocked class (v, p, c) waits for the switch w behind port p, whose
 * ingress from v drains only through w's own egress queues of class c
 * (except the one back to v): an edge to each of them that is blocked too.
 * A cycle is a deadlock.
 */
void
PfcMonitor::FindDeadlock(const std::map<Key, uint32_t>& blocked, const std::vector<Key>& members, int64_t now)
{
    const FabricNodes& nodes = Nodes();
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
                    Report(PfcAnomaly{now,
                                      d->GetPausedSincePs(c),
                                      v,
                                      p,
                                      c,
                                      PfcAnomaly::DEADLOCK,
                                      d->GetQueueDisc()->GetBandBytes(c)});
                }
                if (m_stop)
                {
                    m_stop(PfcAnomaly::DEADLOCK);
                }
                return;
            }
        }
    }
}

} // namespace ns3
