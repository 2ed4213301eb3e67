/*
 * ns3-mfs: packet-level model of disaggregated MoE serving networks.
 * SPDX-License-Identifier: GPL-2.0-only (as ns-3)
 */
#include "roce-link-event.h"

#include "mfs-free-list.h"
#include "roce-net-device.h"

namespace ns3
{

RoceRxEvent::RoceRxEvent(RoceNetDevice* dev, Ptr<RoceQueueItem> item)
    : m_dev(dev),
      m_item(std::move(item))
{
}

RoceRxEvent::~RoceRxEvent() = default;

void*
RoceRxEvent::operator new(std::size_t size)
{
    return MfsFreeList<RoceRxEvent>::Allocate(size);
}

void
RoceRxEvent::operator delete(void* p)
{
    MfsFreeList<RoceRxEvent>::Release(p);
}

void
RoceRxEvent::Notify()
{
    m_dev->Receive(std::move(m_item));
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
