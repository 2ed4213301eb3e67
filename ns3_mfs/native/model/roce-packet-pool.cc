/*
 * ns3-mfs: packet-level model of disaggregated MoE serving networks.
 * SPDX-License-Identifier: GPL-2.0-only (as ns-3)
 */
#include "roce-packet-pool.h"

namespace ns3
{

std::vector<RocePacketPool::Slot>&
RocePacketPool::Slots()
{
    static auto* slots = new std::vector<Slot>();
    return *slots;
}

RocePacketPool::Slot*
RocePacketPool::Find(uint32_t size, bool add)
{
    std::vector<Slot>& slots = Slots();
    for (auto& s : slots)
    {
        if (s.size == size)
        {
            return &s;
        }
    }
    if (!add || slots.size() >= kMaxSizes)
    {
        return nullptr;
    }
    slots.push_back(Slot{size, {}});
    return &slots.back();
}

Ptr<Packet>
RocePacketPool::Take(uint32_t size)
{
    Slot* s = Find(size, false);
    if (!s || s->free.empty())
    {
        return Create<Packet>(size);
    }
    Ptr<Packet> p = std::move(s->free.back());
    s->free.pop_back();
    return p;
}

void
RocePacketPool::Give(Ptr<Packet> p)
{
    // Two references: the dying frame's and ours. More: a tap still holds it.
    if (!p || p->GetReferenceCount() != 2)
    {
        return;
    }
    Slot* s = Find(p->GetSize(), true);
    if (!s)
    {
        return;
    }
    p->RemoveAllPacketTags();
    p->RemoveAllByteTags();
    s->free.push_back(std::move(p));
}

std::size_t
RocePacketPool::GetNFree()
{
    std::size_t n = 0;
    for (const auto& s : Slots())
    {
        n += s.free.size();
    }
    return n;
}

void
RocePacketPool::Clear()
{
    Slots().clear();
}

} // namespace ns3
