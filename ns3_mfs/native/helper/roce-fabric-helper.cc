/*
 * ns3-mfs: packet-level model of disaggregated MoE serving networks.
 * SPDX-License-Identifier: GPL-2.0-only (as ns-3)
 */
#include "roce-fabric-helper.h"

#include "mfs-time.h"

#include "ns3/data-rate.h"
#include "ns3/log.h"
#include "ns3/object-factory.h"
#include "ns3/rng-seed-manager.h"
#include "ns3/string.h"
#include "ns3/uinteger.h"

#include <cmath>
#include <sstream>
#include <stdexcept>

namespace ns3
{

NS_LOG_COMPONENT_DEFINE("RoceFabricHelper");

RoceFabricHelper::RoceFabricHelper()
    : m_routing(m_nodes, m_hostNode)
{
}

void
RoceFabricHelper::SetAttribute(const std::string& type, const std::string& name, const std::string& value)
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
        throw std::invalid_argument("invalid value '" + value + "' for " + type + "::" + name + " (expected " +
                                    info.checker->GetValueTypeName() + ")");
    }
    m_attrs[type].emplace_back(name, value);
}

void
RoceFabricHelper::SetSeed(uint64_t seed)
{
    if (seed == 0 || seed > 0xFFFFFFFFull)
    {
        throw std::invalid_argument("seed must be in 1..4294967295");
    }
    m_seed = seed;
    RngSeedManager::SetSeed(static_cast<uint32_t>(seed));
    RngSeedManager::SetRun(1);
}

void
RoceFabricHelper::SetRateScaling(bool on)
{
    m_rateScaling = on;
}

template <class T>
Ptr<T>
RoceFabricHelper::Make(const std::string& type)
{
    ObjectFactory f;
    f.SetTypeId(T::GetTypeId());
    for (const auto& [name, value] : m_attrs[type])
    {
        f.Set(name, StringValue(value));
    }
    return f.Create<T>();
}

void
RoceFabricHelper::CheckNotBuilt(const char* what) const
{
    if (m_built)
    {
        throw std::logic_error(std::string(what) + " after Build");
    }
}

uint32_t
RoceFabricHelper::AddHost()
{
    CheckNotBuilt("AddHost");
    FabricNode info;
    info.host = m_hostNode.size();
    info.node = CreateObject<Node>();
    info.nic = Make<RdmaNic>("RdmaNic");
    m_hostNode.push_back(m_nodes.size());
    m_nodes.push_back(info);
    return m_nodes.size() - 1;
}

uint32_t
RoceFabricHelper::AddSwitch()
{
    CheckNotBuilt("AddSwitch");
    FabricNode info;
    info.node = CreateObject<Node>();
    info.sw = Make<RoceSwitch>("RoceSwitch");
    info.sw->SetBufferManager(Make<SwitchBufferManager>("SwitchBufferManager"));
    uint32_t index = m_nodes.size();
    info.sw->SetIndex(index);
    // Per-switch ECMP seed, derived from the run seed unless set explicitly.
    bool explicitSeed = false;
    for (const auto& [name, value] : m_attrs["RoceSwitch"])
    {
        explicitSeed |= (name == "EcmpSeed");
    }
    if (!explicitSeed)
    {
        info.sw->SetAttribute("EcmpSeed", UintegerValue(RoceRouting::EcmpSeed(m_seed, index)));
    }
    m_nodes.push_back(info);
    return index;
}

void
RoceFabricHelper::AddLink(uint32_t a, uint32_t b, double bps, double delayS)
{
    CheckNotBuilt("AddLink");
    GetNode(a);
    GetNode(b);
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
        if (!m_nodes[x].sw && !m_nodes[x].ports.empty())
        {
            throw std::invalid_argument("host node " + std::to_string(x) +
                                        " already has a link; a host (NIC) has exactly one port");
        }
    }
    Ptr<RoceChannel> ch = Make<RoceChannel>("RoceChannel");
    ch->SetAttribute("Delay", TimeValue(TimeFromSeconds(delayS)));
    for (uint32_t x : {a, b})
    {
        auto& info = m_nodes[x];
        Ptr<RoceNetDevice> dev = Make<RoceNetDevice>("RoceNetDevice");
        dev->SetAttribute("DataRate", DataRateValue(DataRate(static_cast<uint64_t>(bps))));
        dev->SetAddress(Mac48Address::Allocate());
        info.node->AddDevice(dev);
        uint32_t port = info.ports.size();
        RocePortOwner* owner = info.sw ? static_cast<RocePortOwner*>(PeekPointer(info.sw))
                                       : static_cast<RocePortOwner*>(PeekPointer(info.nic));
        dev->SetOwner(owner, port, x);
        Ptr<RmlqQueueDisc> qdisc = Make<RmlqQueueDisc>("RmlqQueueDisc");
        if (m_rateScaling)
        {
            for (const char* attr : {"EcnKmin", "EcnKmax"})
            {
                UintegerValue v;
                qdisc->GetAttribute(attr, v);
                qdisc->SetAttribute(attr, UintegerValue(static_cast<uint64_t>(std::llround(v.Get() * bps / 100e9))));
            }
        }
        qdisc->AssignStreams(m_nextStream++);
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
RoceFabricHelper::Build(RdmaFlowTable* flows, RdmaNic::FlowDoneCallback done)
{
    if (m_built)
    {
        return;
    }
    if (m_hostNode.size() < 2)
    {
        throw std::runtime_error("a fabric needs at least two hosts");
    }
    for (uint32_t h = 0; h < m_hostNode.size(); ++h)
    {
        auto& info = m_nodes[m_hostNode[h]];
        if (info.ports.size() != 1)
        {
            throw std::runtime_error("host " + std::to_string(h) + " has no link");
        }
        info.nic->Setup(h, info.ports[0], flows, done);
        if (m_rateScaling)
        {
            info.nic->ScaleIncreaseToLineRate();
        }
    }
    for (uint32_t n = 0; n < m_nodes.size(); ++n)
    {
        auto& info = m_nodes[n];
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
    m_routing.Install();
    m_built = true;
    NS_LOG_INFO("fabric built: " << m_nodes.size() << " nodes, " << m_hostNode.size() << " hosts");
}

bool
RoceFabricHelper::IsBuilt() const
{
    return m_built;
}

const FabricNodes&
RoceFabricHelper::GetNodes() const
{
    return m_nodes;
}

const std::vector<uint32_t>&
RoceFabricHelper::GetHostNodes() const
{
    return m_hostNode;
}

const FabricNode&
RoceFabricHelper::GetNode(uint32_t i) const
{
    if (i >= m_nodes.size())
    {
        std::ostringstream os;
        os << "node " << i << " does not exist; allowed: 0.." << int64_t(m_nodes.size()) - 1;
        throw std::invalid_argument(os.str());
    }
    return m_nodes[i];
}

Ptr<RoceNetDevice>
RoceFabricHelper::GetPort(uint32_t node, uint32_t port) const
{
    const auto& info = GetNode(node);
    if (port >= info.ports.size())
    {
        throw std::invalid_argument("node " + std::to_string(node) + " has no port " + std::to_string(port));
    }
    return info.ports[port];
}

const RoceRouting&
RoceFabricHelper::GetRouting() const
{
    return m_routing;
}

} // namespace ns3
