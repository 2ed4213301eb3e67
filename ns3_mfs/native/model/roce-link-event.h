/*
 * ns3-mfs: packet-level model of disaggregated MoE serving networks.
 * SPDX-License-Identifier: GPL-2.0-only (as ns-3)
 */
#ifndef NS3_MFS_ROCE_LINK_EVENT_H
#define NS3_MFS_ROCE_LINK_EVENT_H

#include "roce-queue-item.h"

#include "ns3/event-impl.h"
#include "ns3/ptr.h"

#include <cstddef>

namespace ns3
{

class RoceNetDevice;

/**
 * @ingroup ns3mfs
 * The two per-frame events of a link, as plain ns-3 EventImpls.
 *
 * Simulator::Schedule(delay, &Class::Method, obj, args...) wraps the call
 * in a std::function inside a heap-allocated EventImpl: two allocations and
 * two frees per event, about a third of the cost of a packet-hop. These
 * events are scheduled with Simulator::Schedule(delay, Ptr<EventImpl>), so
 * they take the same place in ns-3's event order (same time, same uid) as
 * the generic ones they replace:
 *
 * - RoceRxEvent delivers a frame to the far end of a link. Its storage
 *   comes from a free list (class-specific operator new/delete), so after
 *   the first frames in flight no event allocates.
 * - RoceTxDoneEvent ends the serialisation of a frame. A device owns one
 *   and schedules it again for every frame (a port serialises one frame
 *   at a time, so it is never pending twice).
 */
class RoceRxEvent : public EventImpl
{
  public:
    /**
     * @param dev the receiving device
     * @param item the frame
     */
    RoceRxEvent(RoceNetDevice* dev, Ptr<RoceQueueItem> item);
    ~RoceRxEvent() override;

    /**
     * Storage from the free list (or the heap when it is empty).
     * @param size object size (sizeof(RoceRxEvent))
     * @return the storage
     */
    static void* operator new(std::size_t size);
    /**
     * Return storage to the free list.
     * @param p the storage
     */
    static void operator delete(void* p);

  protected:
    void Notify() override;

  private:
    RoceNetDevice* m_dev;    //!< receiver
    Ptr<RoceQueueItem> m_item; //!< the frame (handed over on delivery)
};

/**
 * @ingroup ns3mfs
 * The reusable end-of-serialisation event of a RoceNetDevice (see RoceRxEvent).
 */
class RoceTxDoneEvent : public EventImpl
{
  public:
    /** @param dev the transmitting device (not owned: the device owns this event) */
    explicit RoceTxDoneEvent(RoceNetDevice* dev);
    /** Forget the device (called when it is disposed). */
    void Detach();

  protected:
    void Notify() override;

  private:
    RoceNetDevice* m_dev; //!< transmitter, or nullptr once disposed
};

} // namespace ns3

#endif
