/*
 * ns3-mfs: packet-level model of disaggregated MoE serving networks.
 * SPDX-License-Identifier: GPL-2.0-only (as ns-3)
 */
#ifndef NS3_MFS_FABRIC_NODE_H
#define NS3_MFS_FABRIC_NODE_H

#include "ns3/rdma-nic.h"
#include "ns3/roce-net-device.h"
#include "ns3/roce-switch.h"

#include "ns3/node.h"

#include <vector>

namespace ns3
{

/**
 * @ingroup ns3mfs
 * One node of a built fabric, as the helpers see it: a host (RDMA NIC and
 * one port) or a switch, with its ports and the node behind each port.
 */
struct FabricNode
{
    /** Host index given to switches. */
    static constexpr uint32_t kNoHost = 0xFFFFFFFFu;

    uint32_t host{kNoHost};                //!< host index, or kNoHost for a switch
    Ptr<Node> node;                        //!< the ns-3 node
    Ptr<RoceSwitch> sw;                    //!< the forwarder (switches only)
    Ptr<RdmaNic> nic;                      //!< the RDMA NIC (hosts only)
    std::vector<Ptr<RoceNetDevice>> ports; //!< ports in creation order
    std::vector<uint32_t> peer;            //!< node index behind each port
};

/** @ingroup ns3mfs The nodes of a fabric, indexed by node index. */
using FabricNodes = std::vector<FabricNode>;

} // namespace ns3

#endif
