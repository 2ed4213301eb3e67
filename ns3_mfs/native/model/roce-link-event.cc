/*
 * ns3-mfs: packet-level model of disaggregated MoE serving networks.
 * SPDX-License-Identifier: GPL-2.0-only (as ns-3)
 */
#include "roce-link-event.h"

#include "roce-net-device.h"

namespace ns3
{

RoceRxEvent::RoceRxEvent(RoceNetDevice* dev)
    : m_dev(dev)
{
}

void
RoceRxEvent::SetFrame(Ptr<RoceQueueItem> item)
{
    m_item = std::move(item);
}

void
RoceRxEvent::Notify()
{
    m_dev->Receive(m_item);
    m_item = nullptr; // ns-3's Ptr has no move: drop the frame here, not when the event is reused
    m_dev->RecycleRxEvent(this);
}

RoceTxDoneEvent::RoceTxDoneEvent(RoceNetDevice* dev)
    : m_dev(dev)
{
}

void
RoceTxDoneEvent::Detach()
{
    m_dev = nullptr;
}

void
RoceTxDoneEvent::Notify()
{
    if (m_dev)
    {
        m_dev->TxComplete();
    }
}

} // namespace ns3
