/*
 * ns3-mfs: packet-level model of disaggregated MoE serving networks.
 * SPDX-License-Identifier: GPL-2.0-only (as ns-3)
 */
#ifndef NS3_MFS_ROCE_PACKET_POOL_H
#define NS3_MFS_ROCE_PACKET_POOL_H

#include "ns3/packet.h"
#include "ns3/ptr.h"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ns3
{

/**
 * @ingroup ns3mfs
 * Recycled ns-3 packets of the fabric's frames, kept by frame size.
 *
 * Every frame carries an ns-3 Packet so that taps can read it, but the
 * fabric itself only reads the frame's parsed header (RoceQueueItem::Hdr).
 * Creating and destroying a Packet per frame (buffer, tag lists, metadata,
 * the wheel's log checks) cost about a fifth of the event loop, so a frame's
 * packet is given back here when its RoceQueueItem dies, if nothing else
 * holds it, and handed to a later frame of the same size.
 *
 * A recycled packet keeps its uid (Packet::GetUid is unique among the frames
 * alive at one time, not over a run); its tags are removed when it is given
 * back; its bytes are unspecified until RoceQueueItem::SyncWireHeader writes
 * the frame's header. Frame sizes are few (a data frame per MTU, the last
 * segment of a message, the control frames), so the pool keeps at most
 * kMaxSizes sizes and lets packets of other sizes be freed.
 */
class RocePacketPool
{
  public:
    /**
     * @param size packet size in bytes
     * @return a packet of @p size bytes without tags, recycled if one is free
     */
    static Ptr<Packet> Take(uint32_t size);

    /**
     * Keep @p p for a later frame if the caller's reference is the only one
     * besides its frame's (the frame is dying); otherwise do nothing.
     * @param p the packet of a frame being destroyed
     */
    static void Give(Ptr<Packet> p);

    /** @return the number of packets waiting for reuse */
    static std::size_t GetNFree();

    /** Free every waiting packet. */
    static void Clear();

    static constexpr std::size_t kMaxSizes = 16; //!< distinct packet sizes kept

  private:
    /** Free packets of one size. */
    struct Slot
    {
        uint32_t size;                 //!< packet size of this slot
        std::vector<Ptr<Packet>> free; //!< packets waiting for reuse
    };

    /**
     * @param size packet size
     * @param add create the slot if it is missing and there is room
     * @return the slot of @p size, or nullptr
     */
    static Slot* Find(uint32_t size, bool add);

    /**
     * One slot per size seen. Never destroyed: packets still pooled at exit
     * must not outlive ns-3's own buffer free lists.
     * @return the slots
     */
    static std::vector<Slot>& Slots();
};

} // namespace ns3

#endif
