/*
 * ns3-mfs: packet-level model of disaggregated MoE serving networks.
 * SPDX-License-Identifier: GPL-2.0-only (as ns-3)
 */
#include "roce-routing.h"

#include "ns3/log.h"

#include <algorithm>
#include <sstream>
#include <stdexcept>

namespace ns3
{

NS_LOG_COMPONENT_DEFINE("RoceRouting");

RoceRouting::RoceRouting(const FabricNodes& nodes, const std::vector<uint32_t>& hostNodes)
    : m_nodes(nodes),
      m_hostNode(hostNodes)
{
}

RouteTables
RoceRouting::ComputeRoutes(const std::vector<std::vector<uint32_t>>& peers,
                           const std::vector<bool>& isSwitch,
                           const std::vector<uint32_t>& hostNodes)
{
    const uint32_t n = peers.size();
    const uint32_t h = hostNodes.size();
    RouteTables t;
    t.offsets.resize(n);
    t.ports.resize(n);
    auto& offsets = t.offsets;
    auto& ports = t.ports;
    for (uint32_t s = 0; s < n; ++s)
    {
        if (isSwitch[s])
        {
            offsets[s].reserve(h + 1);
            offsets[s].push_back(0);
        }
    }
    std::vector<uint32_t> dist(n);
    std::vector<uint32_t> frontier;
    for (uint32_t d = 0; d < h; ++d)
    {
        const uint32_t dn = hostNodes[d];
        std::fill(dist.begin(), dist.end(), UINT32_MAX);
        dist[dn] = 0;
        frontier.assign(1, dn);
        for (size_t i = 0; i < frontier.size(); ++i)
        {
            uint32_t u = frontier[i];
            if (u != dn && !isSwitch[u])
            {
                continue; // hosts do not forward
            }
            for (uint32_t v : peers[u])
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
            if (!isSwitch[s])
            {
                continue;
            }
            const auto& peer = peers[s];
            for (uint32_t p = 0; p < peer.size(); ++p)
            {
                uint32_t v = peer[p];
                if (dist[s] != UINT32_MAX && dist[v] + 1 == dist[s] && (isSwitch[v] || v == dn))
                {
                    ports[s].push_back(static_cast<uint16_t>(p));
                }
            }
            offsets[s].push_back(ports[s].size());
        }
        for (uint32_t src = 0; src < h; ++src)
        {
            if (src != d && dist[hostNodes[src]] == UINT32_MAX)
            {
                std::ostringstream os;
                os << "host " << src << " cannot reach host " << d << ": the topology is not connected";
                throw std::runtime_error(os.str());
            }
        }
    }
    return t;
}

uint32_t
RoceRouting::EcmpSeed(uint64_t runSeed, uint32_t switchIndex)
{
    return static_cast<uint32_t>(MfsMix64(runSeed * 0x100000001b3ULL + switchIndex));
}

void
RoceRouting::Install() const
{
    const uint32_t n = m_nodes.size();
    std::vector<std::vector<uint32_t>> peers(n);
    std::vector<bool> isSwitch(n);
    for (uint32_t s = 0; s < n; ++s)
    {
        peers[s] = m_nodes[s].peer;
        isSwitch[s] = bool(m_nodes[s].sw);
    }
    RouteTables t = ComputeRoutes(peers, isSwitch, m_hostNode);
    for (uint32_t s = 0; s < n; ++s)
    {
        if (m_nodes[s].sw)
        {
            m_nodes[s].sw->SetRoutes(std::move(t.offsets[s]), std::move(t.ports[s]));
        }
    }
    NS_LOG_INFO("routes installed for " << m_hostNode.size() << " hosts");
}

std::vector<Ptr<RoceNetDevice>>
RoceRouting::PathDevices(const RdmaFlow& f) const
{
    std::vector<Ptr<RoceNetDevice>> hops;
    Ptr<RoceNetDevice> dev = m_nodes[m_hostNode[f.src]].ports.at(0);
    for (uint32_t guard = 0; guard < m_nodes.size() + 1; ++guard)
    {
        hops.push_back(dev);
        uint32_t next = dev->GetRoceChannel()->GetPeer(PeekPointer(dev))->GetNodeIndex();
        if (!m_nodes[next].sw)
        {
            break;
        }
        int port = m_nodes[next].sw->SelectPort(f.src, f.dst, f.id);
        dev = m_nodes[next].ports.at(port);
    }
    return hops;
}

std::vector<uint32_t>
RoceRouting::Path(const RdmaFlow& f) const
{
    std::vector<uint32_t> path{m_hostNode[f.src]};
    for (const auto& d : PathDevices(f))
    {
        path.push_back(d->GetRoceChannel()->GetPeer(PeekPointer(d))->GetNodeIndex());
    }
    return path;
}

/*
 * For k equal frames through hops of serialisation times tx_1..tx_H, the
 * k-th frame finishes hop h at sum(d_j, j<h) + sum(tx_m, m<=h) + (k-1)
 * max(tx_j, j<=h) (a tandem of deterministic queues); a shorter last frame is
 * then carried hop by hop behind it. Exact for this model, whatever the link
 * rates.
 */
double
RoceRouting::IdealFct(const RdmaFlow& f) const
{
    auto devs = PathDevices(f);
    std::vector<std::pair<double, double>> hops;
    hops.reserve(devs.size());
    for (const auto& d : devs)
    {
        hops.emplace_back(d->GetBitRate(), d->GetRoceChannel()->GetDelay().GetSeconds());
    }
    return IdealFctOnHops(hops, devs.front()->GetMtu(), f.size);
}

double
RoceRouting::IdealFctOnHops(const std::vector<std::pair<double, double>>& hops, uint64_t mtu, uint64_t size)
{
    const double frame = RoceHeader::kDataOverhead + RoceHeader::kPreambleIfg;
    uint64_t full = size / mtu;
    uint64_t rest = size % mtu;
    double delaySum = 0; // propagation before hop h
    double txSum = 0;    // serialisation of one full frame over hops 1..h
    double txMax = 0;    // slowest hop so far for a full frame
    double lastDone = 0; // the last (short) frame finishes hop h
    for (const auto& [bps, prop] : hops)
    {
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
        delaySum += prop;
        lastDone += prop; // arrival at the next node
    }
    return lastDone;
}

} // namespace ns3
