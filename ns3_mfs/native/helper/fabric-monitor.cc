/*
 * ns3-mfs: packet-level model of disaggregated MoE serving networks.
 * SPDX-License-Identifier: GPL-2.0-only (as ns-3)
 */
#include "fabric-monitor.h"

#include "ns3/log.h"
#include "ns3/simulator.h"

namespace ns3
{

NS_LOG_COMPONENT_DEFINE("FabricMonitor");
NS_OBJECT_ENSURE_REGISTERED(FabricMonitor);

TypeId
FabricMonitor::GetTypeId()
{
    static TypeId tid = TypeId("ns3::FabricMonitor").SetParent<Object>().SetGroupName("Mfs");
    return tid;
}

void
FabricMonitor::DoDispose()
{
    Halt();
    m_nodes = nullptr;
    m_continue = nullptr;
    Object::DoDispose();
}

void
FabricMonitor::SetFabric(const FabricNodes* nodes)
{
    m_nodes = nodes;
}

void
FabricMonitor::SetContinueCallback(ContinueCallback cb)
{
    m_continue = std::move(cb);
}

bool
FabricMonitor::IsEnabled() const
{
    return GetInterval().IsStrictlyPositive();
}

const FabricNodes&
FabricMonitor::Nodes() const
{
    return *m_nodes;
}

void
FabricMonitor::StartRounds(bool now)
{
    if (m_running || !IsEnabled())
    {
        return;
    }
    m_running = true;
    m_event = now ? Simulator::ScheduleNow(&FabricMonitor::Round, this)
                  : Simulator::Schedule(GetInterval(), &FabricMonitor::Round, this);
}

void
FabricMonitor::Halt()
{
    // Removed, not cancelled: a cancelled event still advances the clock when it is reached.
    if (m_event.IsPending())
    {
        Simulator::Remove(m_event);
    }
    m_running = false;
}

void
FabricMonitor::Round()
{
    DoRound();
    if (m_continue && m_continue())
    {
        m_event = Simulator::Schedule(GetInterval(), &FabricMonitor::Round, this);
    }
    else
    {
        m_running = false;
    }
}

} // namespace ns3
