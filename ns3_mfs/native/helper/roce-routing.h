/*
 * ns3-mfs: packet-level model of disaggregated MoE serving networks.
 * SPDX-License-Identifier: GPL-2.0-only (as ns-3)
 */
#ifndef NS3_MFS_ROCE_ROUTING_H
#define NS3_MFS_ROCE_ROUTING_H

#include "fabric-node.h"

#include <utility>
#include <vector>

namespace ns3
{

/**
 * @ingroup ns3mfs
 * Next-hop tables of every node of a fabric: for switch s and host d, the
 * ports of s that lead one hop closer to d are
 * ports[s][offsets[s][d] .. offsets[s][d + 1]) (empty vectors for hosts).
 */
struct RouteTables
{
    std::vector<std::vector<uint32_t>> offsets; //!< per node: host -> first entry in ports
    std::vector<std::vector<uint16_t>> ports;   //!< per node: next-hop ports, host by host
};

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
     * Shortest-path next hops of a fabric given as plain adjacency, shared by
     * the packet model (Install) and the flow model (FlowFabric), so a flow
     * takes the same path in both. One BFS per destination host; hosts do not
     * forward. Throws std::runtime_error when some host cannot reach another.
     * @param peer per node, the node behind each port
     * @param isSwitch per node, whether it forwards
     * @param hostNodes node index of each host
     * @return the tables
     */
    static RouteTables ComputeRoutes(const std::vector<std::vector<uint32_t>>& peer,
                                     const std::vector<bool>& isSwitch,
                                     const std::vector<uint32_t>& hostNodes);

    /**
     * @param runSeed the run's seed
     * @param switchIndex node index of a switch
     * @return the switch's ECMP hash seed (RoceSwitch EcmpSeed)
     */
    static uint32_t EcmpSeed(uint64_t runSeed, uint32_t switchIndex);

    /**
     * Completion time of @p size payload bytes alone on a path: store and
     * forward of MTU-sized frames (the last one shorter) with RoCE framing.
     * @param hops (line rate in bit/s, propagation delay in s) of each port
     *        along the path, source NIC first
     * @param mtu payload bytes per frame
     * @param size payload bytes
     * @return the ideal FCT (s)
     */
    static double IdealFctOnHops(const std::vector<std::pair<double, double>>& hops, uint64_t mtu, uint64_t size);

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
