/*
 * ns3-mfs: packet-level model of disaggregated MoE serving networks.
 * SPDX-License-Identifier: GPL-2.0-only (as ns-3)
 */
#ifndef NS3_MFS_ROCE_LINK_EVENT_H
#define NS3_MFS_ROCE_LINK_EVENT_H

#include "roce-queue-item.h"

#include "ns3/event-impl.h"
#include "ns3/ptr.h"

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
 * - RoceRxEvent delivers a frame to the far end of a link. The receiving
 *   device keeps its delivered events and hands them out again for the
 *   next frames sent to it, so after the first frames in flight no event
 *   is allocated, constructed or destroyed.
 * - RoceTxDoneEvent ends the serialisation of a frame. A device owns one
 *   and schedules it again for every frame (a port serialises one frame
 *   at a time, so it is never pending twice).
 */
class RoceRxEvent : public EventImpl
{
  public:
    /** @param dev the receiving device (not owned: it keeps this event when idle) */
    explicit RoceRxEvent(RoceNetDevice* dev);

    /**
     * Load the frame to deliver (before the event is scheduled).
     * @param item the frame
     */
    void SetFrame(Ptr<RoceQueueItem> item);

  protected:
    void Notify() override;

  private:
    RoceNetDevice* m_dev;      //!< receiver
    Ptr<RoceQueueItem> m_item; //!< the frame to deliver (null once delivered)
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
