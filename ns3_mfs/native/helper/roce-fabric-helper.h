/*
 * ns3-mfs: packet-level model of disaggregated MoE serving networks.
 * SPDX-License-Identifier: GPL-2.0-only (as ns-3)
 */
#ifndef NS3_MFS_ROCE_FABRIC_HELPER_H
#define NS3_MFS_ROCE_FABRIC_HELPER_H

#include "fabric-node.h"
#include "roce-routing.h"

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace ns3
{

/**
 * @ingroup ns3mfs
 * Builds a RoCE fabric, as ns-3's PointToPointHelper builds links: object
 * factories per model type (attributes set once, applied to every object
 * created afterwards), hosts (node + RdmaNic), switches (node + RoceSwitch +
 * SwitchBufferManager), full-duplex links (two RoceNetDevices with an
 * RmlqQueueDisc each and a RoceChannel), then Build(): NICs attached to their
 * port and flow table, switch buffers sized, routes installed.
 *
 * Nodes are numbered in creation order; hosts also get a host index
 * (creation order among hosts). Bad arguments throw std::invalid_argument,
 * an impossible network std::runtime_error, calls out of order
 * std::logic_error.
 */
class RoceFabricHelper
{
  public:
    /** An empty fabric. */
    RoceFabricHelper();

    /**
     * Set an attribute on every object of @p type created afterwards.
     * @param type RoceNetDevice, RoceChannel, RmlqQueueDisc, SwitchBufferManager, RoceSwitch or RdmaNic
     * @param name attribute name (checked against the type's TypeId)
     * @param value attribute value (checked)
     */
    void SetAttribute(const std::string& type, const std::string& name, const std::string& value);

    /** @param seed run seed (1..2^32-1): ns-3's RNG seed and the ECMP seeds of switches */
    void SetSeed(uint64_t seed);

    /** @param on scale ECN thresholds and DCQCN increase steps (given for 100G) with each port's rate */
    void SetRateScaling(bool on);

    /** @return the node index of a new host */
    uint32_t AddHost();

    /** @return the node index of a new switch */
    uint32_t AddSwitch();

    /**
     * Connect two nodes with a full-duplex link.
     * @param a node index
     * @param b node index
     * @param bps line rate (bit/s)
     * @param delayS one-way propagation delay (s)
     */
    void AddLink(uint32_t a, uint32_t b, double bps, double delayS);

    /**
     * Attach the NICs, size the switch buffers and install the routes.
     * @param flows the flow table the NICs serve
     * @param done called when a flow's last byte is delivered
     */
    void Build(RdmaFlowTable* flows, RdmaNic::FlowDoneCallback done);

    /** @return true once Build() succeeded */
    bool IsBuilt() const;

    /** @return all nodes */
    const FabricNodes& GetNodes() const;

    /** @return node index of each host */
    const std::vector<uint32_t>& GetHostNodes() const;

    /**
     * @param i node index (checked)
     * @return the node
     */
    const FabricNode& GetNode(uint32_t i) const;

    /**
     * @param node node index (checked)
     * @param port port index (checked)
     * @return the port's device
     */
    Ptr<RoceNetDevice> GetPort(uint32_t node, uint32_t port) const;

    /** @return the fabric's routing (paths and ideal FCT once built) */
    const RoceRouting& GetRouting() const;

  private:
    /**
     * @param type factory name
     * @return a new object with the attributes set for @p type
     */
    template <class T>
    Ptr<T> Make(const std::string& type);

    /** @param what the call that must come before Build() */
    void CheckNotBuilt(const char* what) const;

    FabricNodes m_nodes;                  //!< all nodes
    std::vector<uint32_t> m_hostNode;     //!< node index of each host
    std::map<std::string, std::vector<std::pair<std::string, std::string>>> m_attrs; //!< per type
    uint64_t m_seed{1};                   //!< run seed
    bool m_rateScaling{true};             //!< scale 100G parameters with the port rate
    int64_t m_nextStream{0};              //!< next random stream for a queue disc
    bool m_built{false};                  //!< Build() succeeded
    RoceRouting m_routing;                //!< paths over m_nodes
};

} // namespace ns3

#endif
