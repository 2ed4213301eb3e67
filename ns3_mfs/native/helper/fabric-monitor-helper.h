/*
 * ns3-mfs: packet-level model of disaggregated MoE serving networks.
 * SPDX-License-Identifier: GPL-2.0-only (as ns-3)
 */
#ifndef NS3_MFS_FABRIC_MONITOR_HELPER_H
#define NS3_MFS_FABRIC_MONITOR_HELPER_H

#include "pfc-monitor.h"
#include "queue-sampler.h"
#include "roce-fabric-helper.h"

#include "ns3/object-factory.h"

#include <string>

namespace ns3
{

/**
 * @ingroup ns3mfs
 * Installs the fabric-wide monitors on a fabric, as ns-3's FlowMonitorHelper
 * installs a FlowMonitor: a PfcMonitor (pause storms, deadlocks) and a
 * QueueSampler (switch queue occupancy). Attributes set here apply to the
 * monitors installed afterwards; each can also be changed on the returned
 * object. The monitors read the fabric's nodes as they are when they run, so
 * they may be installed before all links are added.
 */
class FabricMonitorHelper
{
  public:
    /** Factories with the monitors' default attributes. */
    FabricMonitorHelper();

    /**
     * @param name a PfcMonitor attribute
     * @param value its value
     */
    void SetPfcMonitorAttribute(const std::string& name, const AttributeValue& value);

    /**
     * @param name a QueueSampler attribute
     * @param value its value
     */
    void SetQueueSamplerAttribute(const std::string& name, const AttributeValue& value);

    /**
     * @param fabric the fabric to watch (must outlive the monitor)
     * @return a new PfcMonitor watching it
     */
    Ptr<PfcMonitor> InstallPfcMonitor(const RoceFabricHelper& fabric) const;

    /**
     * @param fabric the fabric to sample (must outlive the sampler)
     * @return a new QueueSampler sampling its switches
     */
    Ptr<QueueSampler> InstallQueueSampler(const RoceFabricHelper& fabric) const;

  private:
    ObjectFactory m_pfcMonitorFactory;   //!< creates PfcMonitors
    ObjectFactory m_queueSamplerFactory; //!< creates QueueSamplers
};

} // namespace ns3

#endif
