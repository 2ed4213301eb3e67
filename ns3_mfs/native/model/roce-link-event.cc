/*
 * ns3-mfs: packet-level model of disaggregated MoE serving networks.
 * SPDX-License-Identifier: GPL-2.0-only (as ns-3)
 */
#include "roce-link-event.h"

#include "roce-net-device.h"

#include <new>

namespace ns3
{

namespace
{
/** A free block of RoceRxEvent storage. */
struct FreeBlock
{
    FreeBlock* next; //!< next free block
};

FreeBlock* g_rxFree = nullptr; //!< free list of RoceRxEvent storage (ns-3 runs events on one thread)
} // namespace

RoceRxEvent::RoceRxEvent(RoceNetDevice* dev, Ptr<RoceQueueItem> item)
    : m_dev(dev),
      m_item(std::move(item))
{
}

RoceRxEvent::~RoceRxEvent() = default;

void*
RoceRxEvent::operator new(std::size_t size)
{
    if (size == sizeof(RoceRxEvent) && g_rxFree)
    {
        FreeBlock* b = g_rxFree;
        g_rxFree = b->next;
        return b;
    }
    return ::operator new(size < sizeof(RoceRxEvent) ? sizeof(RoceRxEvent) : size);
}

void
RoceRxEvent::operator delete(void* p)
{
    if (!p)
    {
        return;
    }
    auto b = static_cast<FreeBlock*>(p);
    b->next = g_rxFree;
    g_rxFree = b;
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
