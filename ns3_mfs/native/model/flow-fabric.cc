/*
 * ns3-mfs: packet-level model of disaggregated MoE serving networks.
 * SPDX-License-Identifier: GPL-2.0-only (as ns-3)
 */
#include "flow-fabric.h"

#include "roce-header.h"
#include "roce-queue-item.h"

#include "ns3/log.h"
#include "ns3/simulator.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace ns3
{

NS_LOG_COMPONENT_DEFINE("FlowFabric");

namespace
{
/** Wire bytes a frame adds to its payload (RoCE framing, preamble and gap). */
constexpr double kFrameOverhead = RoceHeader::kDataOverhead + RoceHeader::kPreambleIfg;
/** Wire bytes below which a transmission counts as reached (fluid rounding to 1 ps). */
constexpr double kByteSlack = 1e-6;
/** Capacity left on a link below this fraction of its rate is rounding, not capacity. */
constexpr double kRateSlack = 1e-9;
/** Transmissions further away than this (s) are not scheduled: the next rate change reschedules them. */
constexpr double kFarS = 1e6;
} // namespace

static_assert(sizeof(FlowFabric::Flow) <= 56, "a delivered flow's record stays small (millions per run)");

FlowFabric::FlowFabric() = default;

FlowFabric::~FlowFabric()
{
    for (auto& f : m_states)
    {
        if (f.next.IsPending())
        {
            Simulator::Cancel(f.next);
        }
        if (f.apply.IsPending())
        {
            Simulator::Cancel(f.apply);
        }
    }
}

void
FlowFabric::SetSeed(uint64_t)
{
    // Seeds come with the routes (SetRoutes); kept for symmetry with the packet fabric.
}

void
FlowFabric::SetMtu(uint32_t mtu)
{
    if (mtu == 0)
    {
        throw std::invalid_argument("MTU must be > 0");
    }
    m_mtu = mtu;
}

void
FlowFabric::SetIdealFct(IdealFctFunction fn)
{
    m_ideal = std::move(fn);
}

void
FlowFabric::SetDoneCallback(DoneCallback cb)
{
    m_done = std::move(cb);
}

void
FlowFabric::SetAckLoad(uint32_t interval, double ackWireBytes)
{
    m_ackWeight = interval ? ackWireBytes / (double(interval) * (m_mtu + kFrameOverhead)) : 0.0;
    m_ackWireBytes = interval ? ackWireBytes : 0.0;
}

uint32_t
FlowFabric::AddHost()
{
    m_hostNode.push_back(m_peer.size());
    m_peer.emplace_back();
    m_portLink.emplace_back();
    m_isSwitch.push_back(false);
    return m_peer.size() - 1;
}

uint32_t
FlowFabric::AddSwitch()
{
    m_peer.emplace_back();
    m_portLink.emplace_back();
    m_isSwitch.push_back(true);
    return m_peer.size() - 1;
}

void
FlowFabric::AddLink(uint32_t a, uint32_t b, double bps, double delayS)
{
    const uint32_t n = m_peer.size();
    if (a >= n || b >= n)
    {
        throw std::invalid_argument("node " + std::to_string(std::max(a, b)) + " does not exist; allowed: 0.." +
                                    std::to_string(int64_t(n) - 1));
    }
    if (a == b)
    {
        throw std::invalid_argument("a link must join two different nodes (got " + std::to_string(a) + " twice)");
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
        if (!m_isSwitch[x] && !m_peer[x].empty())
        {
            throw std::invalid_argument("host node " + std::to_string(x) +
                                        " already has a link; a host (NIC) has exactly one port");
        }
    }
    for (auto [x, y] : {std::pair<uint32_t, uint32_t>{a, b}, {b, a}})
    {
        Link l;
        l.bps = bps;
        l.delayS = delayS;
        l.node = x;
        l.port = m_peer[x].size();
        m_portLink[x].push_back(m_links.size());
        m_links.push_back(std::move(l));
        m_peer[x].push_back(y);
    }
}

void
FlowFabric::SetRoutes(std::vector<std::vector<uint32_t>> offsets,
                      std::vector<std::vector<uint16_t>> ports,
                      std::vector<uint32_t> seeds)
{
    m_offsets = std::move(offsets);
    m_ports = std::move(ports);
    m_seed = std::move(seeds);
}

const std::vector<std::vector<uint32_t>>&
FlowFabric::GetPeers() const
{
    return m_peer;
}

const std::vector<bool>&
FlowFabric::GetIsSwitch() const
{
    return m_isSwitch;
}

const std::vector<uint32_t>&
FlowFabric::GetHostNodes() const
{
    return m_hostNode;
}

FlowFabric::Flow&
FlowFabric::At(uint32_t id)
{
    if (id >= m_flows.size())
    {
        throw std::invalid_argument("flow " + std::to_string(id) + " does not exist");
    }
    return m_flows[id];
}

FlowFabric::State*
FlowFabric::Live(uint32_t id)
{
    const Flow& f = At(id);
    return f.slot == kNoSlot ? nullptr : &m_states[f.slot];
}

FlowFabric::State&
FlowFabric::S(uint32_t id)
{
    return m_states[m_flows[id].slot];
}

const FlowFabric::State&
FlowFabric::S(uint32_t id) const
{
    return m_states[m_flows[id].slot];
}

const FlowFabric::Flow&
FlowFabric::GetFlow(uint32_t id) const
{
    if (id >= m_flows.size())
    {
        throw std::invalid_argument("flow " + std::to_string(id) + " does not exist");
    }
    return m_flows[id];
}

uint32_t
FlowFabric::GetNFlows() const
{
    return m_flows.size();
}

double
FlowFabric::WireOf(uint64_t payload) const
{
    uint64_t frames = (payload + m_mtu - 1) / m_mtu;
    return double(payload) + double(frames) * kFrameOverhead;
}

uint64_t
FlowFabric::PayloadOf(double wire) const
{
    const double frame = m_mtu + kFrameOverhead;
    double full = std::floor(wire / frame);
    double rest = wire - full * frame;
    return uint64_t(full) * m_mtu + uint64_t(std::max(0.0, rest - kFrameOverhead));
}

uint32_t
FlowFabric::AddFlow(uint32_t src, uint32_t dst, uint64_t bytes, uint8_t cls, int64_t startPs, bool notify)
{
    if (m_offsets.empty())
    {
        throw std::logic_error("AddFlow before SetRoutes");
    }
    const uint32_t id = m_flows.size();
    uint32_t slot;
    if (m_freeSlots.empty())
    {
        slot = m_states.size();
        m_states.emplace_back();
    }
    else
    {
        slot = m_freeSlots.back();
        m_freeSlots.pop_back();
    }
    State& st = m_states[slot]; // a reused state keeps its vectors' storage
    st.links.clear();
    st.ackLinks.clear();
    st.demoteAt.clear();
    st.next = EventId();
    st.capBps = st.sent = st.rate = st.newRate = 0;
    st.lastPs = 0;
    st.txDonePs = -1;
    st.mark = 0;
    st.id = id;
    st.demoted = 0;
    st.pendingCls = -1;
    st.apply = EventId();
    st.notify = notify;
    st.held = st.sending = st.frozen = st.dirty = false;
    Route(src, dst, id, st.links);
    if (m_ackWeight > 0)
    {
        Route(dst, src, id, st.ackLinks); // ACKs: source and destination swapped, same flow id
    }
    std::vector<std::pair<double, double>> hops;
    double minBps = std::numeric_limits<double>::infinity();
    double delays = 0;
    for (uint32_t l : st.links)
    {
        hops.emplace_back(m_links[l].bps, m_links[l].delayS);
        minBps = std::min(minBps, m_links[l].bps);
        delays += m_links[l].delayS;
    }
    st.wire = WireOf(bytes);
    Flow f;
    f.id = id;
    f.src = src;
    f.dst = dst;
    f.size = bytes;
    f.cls = f.initialCls = cls;
    f.startPs = startPs;
    f.slot = slot;
    f.idealS = m_ideal ? m_ideal(hops, bytes) : st.wire * 8 / minBps + delays;
    st.extraS = std::max(0.0, f.idealS - st.wire * 8 / minBps);
    m_flows.push_back(f);
    Simulator::Schedule(PicoSeconds(std::max<int64_t>(0, startPs - Simulator::Now().GetPicoSeconds())),
                        &FlowFabric::Start,
                        this,
                        id);
    return id;
}

void
FlowFabric::Route(uint32_t src, uint32_t dst, uint32_t id, std::vector<uint32_t>& links) const
{
    // The same next-hop tables, ECMP hash and per-switch seeds as RoceSwitch::SelectPort.
    uint32_t node = m_hostNode.at(src);
    uint32_t port = 0;
    for (uint32_t guard = 0; guard <= m_peer.size(); ++guard)
    {
        uint32_t l = m_portLink[node].at(port);
        links.push_back(l);
        uint32_t next = m_peer[node][port];
        if (!m_isSwitch[next])
        {
            return;
        }
        const auto& off = m_offsets[next];
        uint32_t lo = off.at(dst);
        uint32_t n = off.at(dst + 1) - lo;
        if (n == 0)
        {
            throw std::runtime_error("switch " + std::to_string(next) + " has no route to host " +
                                     std::to_string(dst));
        }
        port = n == 1 ? m_ports[next][lo] : m_ports[next][lo + RoceFlowHash(src, dst, id, m_seed[next]) % n];
        node = next;
    }
}

void
FlowFabric::Start(uint32_t id)
{
    ++m_events;
    State& f = S(id);
    f.sending = true;
    f.lastPs = Simulator::Now().GetPicoSeconds();
    ++m_active;
    for (uint32_t l : f.links)
    {
        m_links[l].flows.push_back(id);
    }
    for (uint32_t l : f.ackLinks)
    {
        m_links[l].ackFlows.push_back(id);
    }
    Touch(id);
}

void
FlowFabric::SetClass(uint32_t id, uint8_t cls, bool atomic)
{
    Flow& f = At(id);
    State* st = f.slot == kNoSlot ? nullptr : &m_states[f.slot];
    if (st && st->pendingCls >= 0)
    {
        st->pendingCls = -1; // a newer change replaces it
        Simulator::Cancel(st->apply);
        Touch(id);
    }
    if (f.cls == cls)
    {
        return;
    }
    if (atomic && st && st->sending && st->rate > 0)
    {
        // Bytes are in flight: stop sending until the last of them is acknowledged, then change.
        st->pendingCls = cls;
        st->apply = Simulator::Schedule(Seconds(RoundTripS(*st)), &FlowFabric::ApplyPendingClass, this, id);
        Touch(id);
        return;
    }
    f.cls = cls;
    f.classChanges++;
    if (st && st->sending)
    {
        Touch(id);
    }
}

double
FlowFabric::RoundTripS(const State& f) const
{
    double back = 0;
    for (uint32_t l : f.ackLinks)
    {
        back += m_links[l].delayS + m_ackWireBytes * 8 / m_links[l].bps;
    }
    return f.extraS + back;
}

void
FlowFabric::ApplyPendingClass(uint32_t id)
{
    ++m_events;
    Flow& f = m_flows[id];
    State& st = S(id);
    f.cls = static_cast<uint8_t>(st.pendingCls);
    f.classChanges++;
    st.pendingCls = -1;
    if (st.sending)
    {
        Touch(id);
    }
}

void
FlowFabric::SetRateCap(uint32_t id, double bps)
{
    State* f = Live(id);
    if (!f)
    {
        return; // delivered: nothing left to pace
    }
    double line = m_links[f->links.front()].bps;
    f->capBps = bps > 0 ? std::min(bps, line) : 0;
    if (f->sending)
    {
        Touch(id);
    }
}

void
FlowFabric::SetDemotion(uint32_t id, std::vector<uint64_t> thresholds)
{
    State* f = Live(id);
    if (!f)
    {
        return;
    }
    f->demoteAt = std::move(thresholds);
    f->demoted = 0;
    if (f->sending)
    {
        Touch(id);
    }
}

void
FlowFabric::SetHold(uint32_t id, bool held)
{
    State* f = Live(id);
    if (!f)
    {
        return;
    }
    f->held = held;
    if (f->sending)
    {
        Touch(id);
    }
}

double
FlowFabric::SentNow(const State& f) const
{
    if (!f.sending)
    {
        return f.sent;
    }
    double dt = (Simulator::Now().GetPicoSeconds() - f.lastPs) * 1e-12;
    return std::min(f.wire, f.sent + f.rate * dt / 8);
}

void
FlowFabric::Advance(State& f)
{
    int64_t now = Simulator::Now().GetPicoSeconds();
    if (f.sending && now > f.lastPs)
    {
        double d = std::min(f.wire - f.sent, f.rate * ((now - f.lastPs) * 1e-12) / 8);
        if (d > 0)
        {
            f.sent += d;
            for (uint32_t l : f.links)
            {
                m_links[l].txBytes += d;
            }
            for (uint32_t l : f.ackLinks)
            {
                m_links[l].txBytes += d * m_ackWeight;
            }
        }
    }
    f.lastPs = now;
}

uint64_t
FlowFabric::BytesSent(uint32_t id) const
{
    const Flow& f = GetFlow(id);
    if (f.slot == kNoSlot || m_states[f.slot].txDonePs >= 0)
    {
        return f.size;
    }
    return std::min(f.size, PayloadOf(SentNow(m_states[f.slot]) + kByteSlack));
}

uint64_t
FlowFabric::BytesDelivered(uint32_t id) const
{
    const Flow& f = GetFlow(id);
    return f.endPs >= 0 ? f.size : std::min(BytesSent(id), f.size - 1);
}

double
FlowFabric::Rate(uint32_t id) const
{
    const Flow& f = GetFlow(id);
    return f.slot == kNoSlot ? 0.0 : m_states[f.slot].rate;
}

uint64_t
FlowFabric::PortTxBytes(uint32_t node, uint32_t port) const
{
    if (node >= m_portLink.size() || port >= m_portLink[node].size())
    {
        throw std::invalid_argument("node " + std::to_string(node) + " has no port " + std::to_string(port));
    }
    const Link& l = m_links[m_portLink[node][port]];
    double bytes = l.txBytes;
    for (uint32_t id : l.flows)
    {
        const State& f = S(id);
        bytes += SentNow(f) - f.sent;
    }
    for (uint32_t id : l.ackFlows)
    {
        const State& f = S(id);
        bytes += (SentNow(f) - f.sent) * m_ackWeight;
    }
    return uint64_t(bytes + kByteSlack);
}

std::vector<uint32_t>
FlowFabric::Path(uint32_t id) const
{
    const Flow& f = GetFlow(id);
    return PathOf(f.src, f.dst, id);
}

std::vector<uint32_t>
FlowFabric::PathOf(uint32_t src, uint32_t dst, uint32_t id) const
{
    const uint32_t hosts = m_hostNode.size();
    if (src >= hosts || dst >= hosts || src == dst)
    {
        throw std::invalid_argument("a path joins two different hosts in 0.." + std::to_string(int64_t(hosts) - 1) +
                                    " (got " + std::to_string(src) + " and " + std::to_string(dst) + ")");
    }
    if (m_offsets.empty())
    {
        throw std::logic_error("PathOf before SetRoutes");
    }
    std::vector<uint32_t> links;
    Route(src, dst, id, links); // the same routes and hash as the flow's, so no per-flow copy is kept
    std::vector<uint32_t> path{m_hostNode[src]};
    for (uint32_t l : links)
    {
        path.push_back(m_peer[m_links[l].node][m_links[l].port]);
    }
    return path;
}

uint64_t
FlowFabric::GetActive() const
{
    return m_active;
}

uint64_t
FlowFabric::GetEvents() const
{
    return m_events;
}

std::pair<uint64_t, uint64_t>
FlowFabric::GetReallocations() const
{
    return {m_reallocs, m_reallocFlows};
}

uint32_t
FlowFabric::GetNNodes() const
{
    return m_peer.size();
}

uint32_t
FlowFabric::GetNPorts(uint32_t node) const
{
    return node < m_peer.size() ? m_peer[node].size() : 0;
}

void
FlowFabric::Touch(uint32_t id)
{
    S(id).dirty = true;
    m_dirtyFlows.push_back(id);
    if (!m_pending)
    {
        m_pending = true;
        Simulator::ScheduleNow(&FlowFabric::Reallocate, this);
    }
}

void
FlowFabric::TouchLink(uint32_t link)
{
    m_dirtyLinks.push_back(link);
    if (!m_pending)
    {
        m_pending = true;
        Simulator::ScheduleNow(&FlowFabric::Reallocate, this);
    }
}

void
FlowFabric::Next(uint32_t id)
{
    ++m_events;
    State& f = S(id);
    Flow& r = m_flows[id];
    Advance(f);
    while (f.demoted < f.demoteAt.size() && f.sent + kByteSlack >= WireOf(f.demoteAt[f.demoted]))
    {
        f.demoted++;
        if (r.cls + 1u < RoceHeader::kNumClasses)
        {
            r.cls++;
            r.classChanges++;
        }
    }
    if (f.sent + kByteSlack >= f.wire)
    {
        if (f.pendingCls >= 0)
        {
            // Its last byte left in the instant of an atomic change: the class applies to nothing left.
            Simulator::Cancel(f.apply);
            r.cls = static_cast<uint8_t>(f.pendingCls);
            r.classChanges++;
            f.pendingCls = -1;
        }
        f.sent = f.wire;
        f.sending = false;
        f.rate = 0;
        f.txDonePs = Simulator::Now().GetPicoSeconds();
        for (uint32_t l : f.links)
        {
            auto& v = m_links[l].flows;
            auto it = std::find(v.begin(), v.end(), id);
            *it = v.back();
            v.pop_back();
            TouchLink(l);
        }
        for (uint32_t l : f.ackLinks)
        {
            auto& v = m_links[l].ackFlows;
            auto it = std::find(v.begin(), v.end(), id);
            *it = v.back();
            v.pop_back();
            TouchLink(l);
        }
        Simulator::Schedule(PicoSeconds(std::llround(f.extraS * 1e12)), &FlowFabric::Delivered, this, id);
    }
    else
    {
        Touch(id); // a demotion: new class, new rates (and the next event)
    }
}

void
FlowFabric::Delivered(uint32_t id)
{
    ++m_events;
    Flow& f = m_flows[id];
    f.endPs = Simulator::Now().GetPicoSeconds();
    --m_active;
    State& st = m_states[f.slot];
    const bool notify = st.notify;
    m_freeSlots.push_back(f.slot); // its path and events are no longer needed: the next flow reuses them
    f.slot = kNoSlot;
    if (notify && m_done)
    {
        m_done(id);
    }
}

bool
FlowFabric::HigherSending(const State& f, uint8_t cls) const
{
    for (uint32_t id : m_links[f.links.front()].flows)
    {
        if (m_flows[id].cls < cls)
        {
            return true;
        }
    }
    return false;
}

void
FlowFabric::Reschedule(State& f)
{
    if (f.next.IsPending())
    {
        Simulator::Cancel(f.next);
    }
    if (!(f.rate > 0))
    {
        return;
    }
    double target = f.wire;
    if (f.demoted < f.demoteAt.size())
    {
        target = std::min(target, WireOf(f.demoteAt[f.demoted]));
    }
    double dt = std::max(0.0, (target - f.sent) * 8 / f.rate);
    if (!(dt <= kFarS))
    {
        return;
    }
    f.next = Simulator::Schedule(PicoSeconds(int64_t(std::ceil(dt * 1e12))), &FlowFabric::Next, this, f.id);
}

void
FlowFabric::Reallocate()
{
    ++m_events;
    ++m_reallocs;
    m_pending = false;
    ++m_epoch;
    std::vector<uint32_t> flows;
    std::vector<uint32_t> links;
    auto addLink = [&](uint32_t l) {
        if (m_links[l].mark != m_epoch)
        {
            m_links[l].mark = m_epoch;
            links.push_back(l);
        }
    };
    for (uint32_t id : m_dirtyFlows)
    {
        State& f = S(id);
        if (f.sending && f.mark != m_epoch)
        {
            f.mark = m_epoch;
            flows.push_back(id);
        }
    }
    for (uint32_t l : m_dirtyLinks)
    {
        addLink(l);
    }
    m_dirtyFlows.clear();
    m_dirtyLinks.clear();
    // The connected component: flows sharing a link with a changed flow or link, transitively.
    size_t fi = 0;
    size_t li = 0;
    while (fi < flows.size() || li < links.size())
    {
        for (; fi < flows.size(); ++fi)
        {
            const State& f = S(flows[fi]);
            for (uint32_t l : f.links)
            {
                addLink(l);
            }
            for (uint32_t l : f.ackLinks)
            {
                addLink(l);
            }
        }
        for (; li < links.size(); ++li)
        {
            for (const auto* list : {&m_links[links[li]].flows, &m_links[links[li]].ackFlows})
            {
                for (uint32_t id : *list)
                {
                    State& f = S(id);
                    if (f.mark != m_epoch)
                    {
                        f.mark = m_epoch;
                        flows.push_back(id);
                    }
                }
            }
        }
    }
    m_reallocFlows += flows.size();
    for (uint32_t id : flows)
    {
        Advance(S(id));
    }
    Fill(flows, links);
    for (uint32_t id : flows)
    {
        State& f = S(id);
        if (f.newRate != f.rate || !f.next.IsPending() || f.dirty)
        {
            f.rate = f.newRate;
            Reschedule(f); // a new rate, or a new demotion threshold
        }
        f.dirty = false;
    }
}

void
FlowFabric::Fill(std::vector<uint32_t>& flows, const std::vector<uint32_t>& links)
{
    for (uint32_t l : links)
    {
        m_links[l].residual = m_links[l].bps;
        m_links[l].load = 0;
    }
    std::array<std::vector<uint32_t>, RoceHeader::kNumClasses> byClass;
    for (uint32_t id : flows)
    {
        State& f = S(id);
        f.newRate = 0;
        f.frozen = false;
        byClass[std::min<uint32_t>(m_flows[id].cls, RoceHeader::kNumClasses - 1)].push_back(id);
    }
    const double w = m_ackWeight;
    // A link's fair share: its residual over its load (a flow counts 1 on its path, w where its ACKs pass,
    // so data sharing a link with ACKs gets what the ACKs leave).
    auto share = [this](uint32_t l) {
        const Link& k = m_links[l];
        return k.residual / k.load;
    };
    auto freeze = [this, w](State& f, double rate) {
        f.newRate = rate;
        f.frozen = true;
        for (uint32_t l : f.links)
        {
            Link& k = m_links[l];
            k.residual -= rate;
            k.load -= 1;
            if (k.residual < k.bps * kRateSlack)
            {
                k.residual = 0; // rounding left-overs are no capacity
            }
        }
        for (uint32_t l : f.ackLinks)
        {
            Link& k = m_links[l];
            k.residual -= w * rate;
            k.load -= w;
            if (k.residual < k.bps * kRateSlack)
            {
                k.residual = 0;
            }
        }
    };
    std::vector<uint32_t> open;
    for (auto& cls : byClass)
    {
        // Strict priority: this class shares what the higher classes left, max-min by progressive filling.
        open.clear();
        for (uint32_t id : cls)
        {
            State& f = S(id);
            if (f.pendingCls >= 0 || (f.held && HigherSending(f, m_flows[id].cls)))
            {
                continue; // waiting for a message boundary, or held at its NIC: rate 0
            }
            open.push_back(id);
            for (uint32_t l : f.links)
            {
                m_links[l].load += 1;
            }
            for (uint32_t l : f.ackLinks)
            {
                m_links[l].load += w;
            }
        }
        while (!open.empty())
        {
            double level = std::numeric_limits<double>::infinity();
            double capMin = std::numeric_limits<double>::infinity();
            for (uint32_t id : open)
            {
                const State& f = S(id);
                // Only a flow's data path limits it: its ACKs (control class, ahead of every data class)
                // take their share of the reverse links without ever holding the flow back.
                for (uint32_t l : f.links)
                {
                    level = std::min(level, share(l));
                }
                if (f.capBps > 0)
                {
                    capMin = std::min(capMin, f.capBps);
                }
            }
            level = std::max(0.0, level);
            if (capMin <= level)
            {
                // Capped flows below the fair share take their cap; that leaves no one else less.
                for (uint32_t id : open)
                {
                    State& f = S(id);
                    if (f.capBps > 0 && f.capBps <= level)
                    {
                        freeze(f, f.capBps);
                    }
                }
            }
            else
            {
                // Every link at the smallest fair share is a bottleneck: its open flows get that share.
                ++m_round;
                const double limit = level * (1 + 1e-12);
                for (uint32_t id : open)
                {
                    for (uint32_t l : S(id).links)
                    {
                        if (share(l) <= limit)
                        {
                            m_links[l].bottleneck = m_round;
                        }
                    }
                }
                for (uint32_t id : open)
                {
                    State& f = S(id);
                    bool hit = false;
                    for (uint32_t l : f.links)
                    {
                        hit = hit || m_links[l].bottleneck == m_round;
                    }
                    if (hit)
                    {
                        freeze(f, level);
                    }
                }
            }
            open.erase(std::remove_if(open.begin(), open.end(), [this](uint32_t id) { return S(id).frozen; }),
                       open.end());
        }
    }
}

} // namespace ns3
