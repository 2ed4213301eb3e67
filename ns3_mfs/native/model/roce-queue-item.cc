/*
 * ns3-mfs: packet-level model of disaggregated MoE serving networks.
 * SPDX-License-Identifier: GPL-2.0-only (as ns-3)
 */
#include "roce-queue-item.h"

#include "mfs-free-list.h"
#include "roce-packet-pool.h"

#include "ns3/packet.h"

namespace ns3
{

namespace
{
const Address kNoAddress;
}

RoceQueueItem::RoceQueueItem(Ptr<Packet> p, const RoceHeader& h)
    : QueueDiscItem(p, kNoAddress, 0),
      m_hdr(h),
      m_size(p->GetSize())
{
}

RoceQueueItem::~RoceQueueItem()
{
    RocePacketPool::Give(GetPacket());
}

Ptr<RoceQueueItem>
RoceQueueItem::NewFrame(const RoceHeader& h)
{
    uint32_t size = h.GetSerializedSize() + (h.type == RoceFrameType::DATA ? h.payload : 0);
    return Create<RoceQueueItem>(RocePacketPool::Take(size), h);
}

void*
RoceQueueItem::operator new(std::size_t size)
{
    return MfsFreeList<RoceQueueItem>::Allocate(size);
}

void
RoceQueueItem::operator delete(void* p)
{
    MfsFreeList<RoceQueueItem>::Release(p);
}

void
RoceQueueItem::AddHeader()
{
}

bool
RoceQueueItem::Mark()
{
    if (m_hdr.ecn == ECN_NOT_ECT)
    {
        return false;
    }
    m_hdr.ecn = ECN_CE;
    return true;
}

void
RoceQueueItem::SyncWireHeader()
{
    Ptr<Packet> p = GetPacket();
    p->RemoveAtStart(m_hdr.GetSerializedSize());
    p->AddHeader(m_hdr);
}

bool
RoceQueueItem::GetUint8Value(Uint8Values field, uint8_t& value) const
{
    if (field == IP_DSFIELD)
    {
        value = static_cast<uint8_t>((m_hdr.cls << 2) | (m_hdr.ecn & 0x3));
        return true;
    }
    return false;
}

uint32_t
RoceQueueItem::Hash(uint32_t perturbation) const
{
    return static_cast<uint32_t>(RoceFlowHash(m_hdr.src, m_hdr.dst, m_hdr.flow, perturbation));
}

} // namespace ns3
