/*
 * ns3-mfs: packet-level model of disaggregated MoE serving networks.
 * SPDX-License-Identifier: GPL-2.0-only (as ns-3)
 */
#include "roce-header.h"

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
    uint32_t used = 0;
    it.WriteU8(static_cast<uint8_t>(type));
    used += 1;
    if (type == RoceFrameType::PAUSE)
    {
        it.WriteU8(pauseClassEnable);
        used += 1;
        for (uint16_t q : pauseQuanta)
        {
            it.WriteHtonU16(q);
            used += 2;
        }
    }
    else
    {
        it.WriteU8(cls);
        it.WriteU8(ecn);
        it.WriteHtonU32(src);
        it.WriteHtonU32(dst);
        it.WriteHtonU32(flow);
        it.WriteHtonU64(psn);
        it.WriteHtonU32(payload);
        used += 2 + 4 + 4 + 4 + 8 + 4;
    }
    it.WriteU8(0, GetSerializedSize() - used);
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
