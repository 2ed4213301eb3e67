/*
 * ns3-mfs: packet-level model of disaggregated MoE serving networks.
 * SPDX-License-Identifier: GPL-2.0-only (as ns-3)
 */
#ifndef NS3_MFS_ROCE_SWITCH_H
#define NS3_MFS_ROCE_SWITCH_H

#include "roce-net-device.h"
#include "switch-buffer-manager.h"

#include "ns3/object.h"

#include <vector>

namespace ns3
{

/**
 * @ingroup ns3mfs
 * A RoCE datacenter switch without an IP stack.
 *
 * Forwards on the destination host over precomputed shortest paths (a CSR
 * table: for each destination host, the egress ports that lie on a shortest
 * path). Among several, per-flow hash ECMP picks one: a hash of the flow's
 * 5-tuple (source, destination, UDP source port derived from the flow id,
 * UDP port 4791, protocol 17) mixed with the switch's EcmpSeed, so one flow
 * always takes one path and different switches decorrelate.
 *
 * Each arriving frame is charged to the SwitchBufferManager on its ingress
 * (port, class) and released when its egress port dequeues it; PFC frames
 * are sent on the ingress port as the buffer manager decides.
 */
class RoceSwitch : public Object, public RocePortOwner
{
  public:
    /**
     * @brief Get the type ID.
     * @return the object TypeId
     */
    static TypeId GetTypeId();
    /** Create a switch without ports. */
    RoceSwitch();

    /** @param nodeIndex fabric node index (for messages) */
    void SetIndex(uint32_t nodeIndex);

    /**
     * Add a port.
     * @param dev the port's device
     * @return the port index
     */
    uint32_t AddPort(Ptr<RoceNetDevice> dev);

    /** @return number of ports */
    uint32_t GetNPorts() const;

    /** @return port @p i */
    Ptr<RoceNetDevice> GetPort(uint32_t i) const;

    /**
     * Install the forwarding table.
     * @param offsets offsets[d] .. offsets[d+1] index the ports for destination host d
     * @param ports the egress ports, concatenated
     */
    void SetRoutes(std::vector<uint32_t> offsets, std::vector<uint16_t> ports);

    /**
     * Size the buffer manager once all ports exist.
     * @param numClasses classes per port
     * @param mtuBytes largest frame on the wire
     * @return an empty string, or why the buffer configuration is impossible
     */
    std::string SetupBuffer(uint32_t numClasses, uint32_t mtuBytes);

    /** @return the buffer manager */
    Ptr<SwitchBufferManager> GetBufferManager() const;

    /** @param mmu a configured buffer manager replacing the default one (before SetupBuffer) */
    void SetBufferManager(Ptr<SwitchBufferManager> mmu);

    /**
     * Egress port for a flow (what ECMP picks).
     * @param src source host
     * @param dst destination host
     * @param flow flow id
     * @return port index, or -1 if there is no route
     */
    int SelectPort(uint32_t src, uint32_t dst, uint32_t flow) const;

    /** @return the number of shortest-path next hops towards host @p dst */
    uint32_t GetNumNextHops(uint32_t dst) const;

    /**
     * Forward a frame: charge it to the buffer manager and queue it on the ECMP egress port.
     * @param port ingress port
     * @param item the frame
     */
    void PortReceive(uint32_t port, Ptr<RoceQueueItem> item) override;
    /**
     * Release a departing frame's buffer.
     * @param port egress port
     * @param item the frame
     */
    void PortDequeued(uint32_t port, Ptr<RoceQueueItem> item) override;

  protected:
    void DoDispose() override;

  private:
    uint32_t m_seed;                           //!< ECMP hash seed
    uint32_t m_nodeIndex{0};                   //!< fabric node index
    std::vector<Ptr<RoceNetDevice>> m_ports;   //!< ports
    std::vector<uint32_t> m_routeOffsets;      //!< CSR offsets per destination host
    std::vector<uint16_t> m_routePorts;        //!< CSR egress ports
    Ptr<SwitchBufferManager> m_mmu;            //!< buffer manager
    TracedCallback<Ptr<const QueueDiscItem>> m_dropTrace; //!< dropped frames
};

} // namespace ns3

#endif
