/*
 * ns3-mfs: packet-level model of disaggregated MoE serving networks.
 * SPDX-License-Identifier: GPL-2.0-only (as ns-3)
 */
#ifndef NS3_MFS_ROCE_ROUTING_H
#define NS3_MFS_ROCE_ROUTING_H

#include "fabric-node.h"

#include <vector>

namespace ns3
{

/**
 * @ingroup ns3mfs
 * Routing of a fabric: shortest paths from every switch to every host, the
 * ECMP tables installed in the switches, the path a flow takes and the
 * flow's ideal completion time on that path.
 *
 * Hosts do not forward. A switch's next hops towards host d are the ports
 * whose peer is one hop closer to d (a switch, or d itself); the switch picks
 * among them by hash ECMP (RoceSwitch::SelectPort), so a flow's path is fixed.
 */
class RoceRouting
{
  public:
    /**
     * @param nodes the fabric's nodes (must outlive this object)
     * @param hostNodes node index of each host
     */
    RoceRouting(const FabricNodes& nodes, const std::vector<uint32_t>& hostNodes);

    /**
     * Compute the shortest-path next hops (one BFS per destination host) and
     * install them in every switch.
     * Throws std::runtime_error when some host cannot reach another.
     */
    void Install() const;

    /**
     * @param flow the flow
     * @return the ports a flow's frames leave from, source NIC first
     */
    std::vector<Ptr<RoceNetDevice>> PathDevices(const RdmaFlow& flow) const;

    /**
     * @param flow the flow
     * @return node indices along the flow's path, source host to destination host
     */
    std::vector<uint32_t> Path(const RdmaFlow& flow) const;

    /**
     * Completion time of the flow alone on its path: store and forward of
     * MTU-sized frames (the last one shorter) with RoCE framing.
     * @param flow the flow
     * @return the ideal FCT (s)
     */
    double IdealFct(const RdmaFlow& flow) const;

  private:
    const FabricNodes& m_nodes;              //!< the fabric
    const std::vector<uint32_t>& m_hostNode; //!< node of each host
};

} // namespace ns3

#endif
