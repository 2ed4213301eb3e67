/*
 * ns3-mfs: packet-level model of disaggregated MoE serving networks.
 * SPDX-License-Identifier: GPL-2.0-only (as ns-3)
 */
#ifndef NS3_MFS_ROCE_QUEUE_ITEM_H
#define NS3_MFS_ROCE_QUEUE_ITEM_H

#include "roce-header.h"

#include "ns3/queue-item.h"

#include <cstddef>

namespace ns3
{

/**
 * @ingroup ns3mfs
 * A RoCE frame in flight: the packet plus its parsed header.
 *
 * The item travels with the packet from port to port, the way a switch ASIC
 * carries a parsed header vector beside the frame, so switches never re-parse
 * bytes on the hot path. In flight the parsed header is authoritative:
 * Mark() changes only it (rewriting the packet bytes at every mark cost a
 * quarter of the simulator's speed under deep queues); SyncWireHeader()
 * writes it back into the packet for whoever needs the bytes (a pcap tap).
 *
 * Frames made by NewFrame() do not write their header into the packet at
 * all (its bytes are unspecified until SyncWireHeader()), and their packet
 * comes from RocePacketPool, to which every item gives its packet back when
 * it dies: the fabric creates no ns-3 Packet per frame in steady state.
 */
class RoceQueueItem : public QueueDiscItem
{
  public:
    /**
     * @param p the packet, whose first header is @p h
     * @param h a copy of the packet's RoceHeader
     */
    RoceQueueItem(Ptr<Packet> p, const RoceHeader& h);

    /** Gives the packet back to RocePacketPool (kept if nothing else holds it). */
    ~RoceQueueItem() override;

    /**
     * A frame of the fabric: a packet of the frame's size from
     * RocePacketPool, the header not written into it (see SyncWireHeader).
     * @param h the header (its type and payload decide the size)
     * @return the frame
     */
    static Ptr<RoceQueueItem> NewFrame(const RoceHeader& h);

    /**
     * Storage from a free list (MfsFreeList): a frame's item is created and
     * destroyed once per packet, so its memory is recycled, not freed.
     * @param size object size
     * @return the storage
     */
    static void* operator new(std::size_t size);
    /**
     * Return storage to the free list.
     * @param p the storage
     */
    static void operator delete(void* p);

    /** @return the parsed header (read/write for the model's own fields). */
    RoceHeader& Hdr()
    {
        return m_hdr;
    }

    /** @return the parsed header. */
    const RoceHeader& Hdr() const
    {
        return m_hdr;
    }

    /** @return the frame size (cached: frames never change size in flight) */
    uint32_t GetSize() const override
    {
        return m_size;
    }

    /** Nothing to add: the RoCE header is already in the packet. */
    void AddHeader() override;

    /**
     * Set ECN Congestion Experienced if the packet is ECN-capable.
     * @return true if the packet was marked
     */
    bool Mark() override;

    /**
     * Write the parsed header into the packet's first bytes (over whatever
     * they hold: an older header, or nothing yet for a NewFrame() frame).
     */
    void SyncWireHeader();

    /** Exposes the DS field: DSCP = traffic class, ECN in the low two bits. */
    bool GetUint8Value(Uint8Values field, uint8_t& value) const override;

    /** 5-tuple style hash (src, dst, UDP source port from the flow id). */
    uint32_t Hash(uint32_t perturbation = 0) const override;

    uint16_t m_inPort{0}; //!< ingress port at the switch currently holding the frame

  private:
    RoceHeader m_hdr; //!< parsed header
    uint32_t m_size;  //!< frame size in bytes
};

/**
 * 64-bit mixing function used for ECMP and for flow hashes (SplitMix64 finaliser).
 * @param x input
 * @return mixed value
 */
inline uint64_t
MfsMix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/**
 * Flow hash of the RoCEv2 5-tuple: source, destination, UDP source port
 * (derived from the flow id, as RoCE NICs put QP entropy there), UDP
 * destination port 4791 and protocol 17, mixed with a seed.
 * @param src source host
 * @param dst destination host
 * @param flow flow id
 * @param seed per-switch (or per-use) seed
 * @return the hash
 */
inline uint64_t
RoceFlowHash(uint32_t src, uint32_t dst, uint32_t flow, uint64_t seed)
{
    uint64_t h = MfsMix64((uint64_t(src) << 32) | dst);
    h = MfsMix64(h ^ (uint64_t(flow) << 20) ^ (uint64_t(4791) << 4) ^ 17);
    return MfsMix64(h ^ seed);
}

} // namespace ns3

#endif
