/*
 * ns3-mfs: packet-level model of disaggregated MoE serving networks.
 * SPDX-License-Identifier: GPL-2.0-only (as ns-3)
 */
#include "roce-header.h"

#include <array>

namespace ns3
{

NS_OBJECT_ENSURE_REGISTERED(RoceHeader);

TypeId
RoceHeader::GetTypeId()
{
    static TypeId tid = TypeId("ns3::RoceHeader")
                            .SetParent<Header>()
                            .SetGroupName("Mfs")
                            .AddConstructor<RoceHeader>();
    return tid;
}

TypeId
RoceHeader::GetInstanceTypeId() const
{
    return GetTypeId();
}

uint32_t
RoceHeader::GetSerializedSize() const
{
    switch (type)
    {
    case RoceFrameType::DATA:
        return kDataOverhead;
    case RoceFrameType::ACK:
    case RoceFrameType::NACK:
        return kAckBytes;
    case RoceFrameType::CNP:
        return kCnpBytes;
    case RoceFrameType::PAUSE:
        return kPauseBytes;
    }
    return kDataOverhead;
}

void
RoceHeader::Serialize(Buffer::Iterator it) const
{
    // The bytes are laid out in a local array and written with one
    // Buffer::Iterator::Write: writing them one field (and one padding byte)
    // at a time through the iterator's checked accessors cost about a tenth
    // of a packet-hop. The wire bytes are the same as field-by-field writes.
    static_assert(kDataOverhead <= kCnpBytes && kAckBytes <= kCnpBytes && kPauseBytes <= kCnpBytes);
    std::array<uint8_t, kCnpBytes> b{};
    uint32_t n = 0;
    auto put = [&b, &n](uint64_t v, uint32_t bytes) {
        for (uint32_t k = bytes; k-- > 0;)
        {
            b[n++] = static_cast<uint8_t>(v >> (8 * k)); // network byte order
        }
    };
    put(static_cast<uint8_t>(type), 1);
    if (type == RoceFrameType::PAUSE)
    {
        put(pauseClassEnable, 1);
        for (uint16_t q : pauseQuanta)
        {
            put(q, 2);
        }
    }
    else
    {
        put(cls, 1);
        put(ecn, 1);
        put(src, 4);
        put(dst, 4);
        put(flow, 4);
        put(psn, 8);
        put(payload, 4);
    }
    it.Write(b.data(), GetSerializedSize());
}

uint32_t
RoceHeader::Deserialize(Buffer::Iterator it)
{
    uint32_t used = 1;
    type = static_cast<RoceFrameType>(it.ReadU8());
    if (type == RoceFrameType::PAUSE)
    {
        pauseClassEnable = it.ReadU8();
        used += 1;
        for (auto& q : pauseQuanta)
        {
            q = it.ReadNtohU16();
            used += 2;
        }
    }
    else
    {
        cls = it.ReadU8();
        ecn = it.ReadU8();
        src = it.ReadNtohU32();
        dst = it.ReadNtohU32();
        flow = it.ReadNtohU32();
        psn = it.ReadNtohU64();
        payload = it.ReadNtohU32();
        used += 2 + 4 + 4 + 4 + 8 + 4;
    }
    it.Next(GetSerializedSize() - used);
    return GetSerializedSize();
}

void
RoceHeader::Print(std::ostream& os) const
{
    static const char* names[] = {"DATA", "ACK", "NACK", "CNP", "PAUSE"};
    os << names[static_cast<int>(type)];
    if (type == RoceFrameType::PAUSE)
    {
        os << " cev=0x" << std::hex << int(pauseClassEnable) << std::dec;
        return;
    }
    os << " cls=" << int(cls) << " ecn=" << int(ecn) << " " << src << "->" << dst
       << " flow=" << flow << " psn=" << psn << " payload=" << payload;
}

} // namespace ns3
