/*
 * ns3-mfs: packet-level model of disaggregated MoE serving networks.
 * SPDX-License-Identifier: GPL-2.0-only (as ns-3)
 */
#include "fabric-monitor-helper.h"

namespace ns3
{

FabricMonitorHelper::FabricMonitorHelper()
{
    m_pfcMonitorFactory.SetTypeId(PfcMonitor::GetTypeId());
    m_queueSamplerFactory.SetTypeId(QueueSampler::GetTypeId());
}

void
FabricMonitorHelper::SetPfcMonitorAttribute(const std::string& name, const AttributeValue& value)
{
    m_pfcMonitorFactory.Set(name, value);
}

void
FabricMonitorHelper::SetQueueSamplerAttribute(const std::string& name, const AttributeValue& value)
{
    m_queueSamplerFactory.Set(name, value);
}

Ptr<PfcMonitor>
FabricMonitorHelper::InstallPfcMonitor(const RoceFabricHelper& fabric) const
{
    Ptr<PfcMonitor> monitor = m_pfcMonitorFactory.Create<PfcMonitor>();
    monitor->SetFabric(&fabric.GetNodes());
    return monitor;
}

Ptr<QueueSampler>
FabricMonitorHelper::InstallQueueSampler(const RoceFabricHelper& fabric) const
{
    Ptr<QueueSampler> sampler = m_queueSamplerFactory.Create<QueueSampler>();
    sampler->SetFabric(&fabric.GetNodes());
    return sampler;
}

} // namespace ns3
