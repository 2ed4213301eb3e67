/*
 * ns3-mfs: packet-level model of disaggregated MoE serving networks.
 * SPDX-License-Identifier: GPL-2.0-only (as ns-3)
 */
// Tests of RocePacketPool and of RoceQueueItem::NewFrame: frames have the
// size of their header and payload, SyncWireHeader writes the same bytes as
// a packet built header first, a frame's packet is reused once the frame
// dies and only if nothing else holds it, and reused packets carry no tags.

#include "ns3/packet.h"
#include "ns3/roce-packet-pool.h"
#include "ns3/roce-queue-item.h"
#include "ns3/socket.h"
#include "ns3/test.h"

#include <vector>

using namespace ns3;

namespace
{

/**
 * @param type frame type
 * @param payload payload bytes (DATA)
 * @return a header with distinct field values
 */
RoceHeader
MakeHeader(RoceFrameType type, uint32_t payload)
{
    RoceHeader h;
    h.type = type;
    h.cls = 3;
    h.ecn = ECN_ECT0;
    h.src = 7;
    h.dst = 11;
    h.flow = 42;
    h.psn = 123456789;
    h.payload = type == RoceFrameType::DATA ? payload : 0;
    if (type == RoceFrameType::PAUSE)
    {
        h.pauseClassEnable = 1u << 3;
        h.pauseQuanta[3] = 0xffff;
    }
    return h;
}

/**
 * @param p a packet
 * @return its bytes
 */
std::vector<uint8_t>
Bytes(Ptr<const Packet> p)
{
    std::vector<uint8_t> b(p->GetSize());
    p->CopyData(b.data(), b.size());
    return b;
}

/** NewFrame sizes and SyncWireHeader bytes, for every frame type. */
class NewFrameBytesTestCase : public TestCase
{
  public:
    NewFrameBytesTestCase()
        : TestCase("NewFrame: frame size; SyncWireHeader writes the header-first packet's bytes")
    {
    }

  private:
    void DoRun() override
    {
        RocePacketPool::Clear();
        for (auto type : {RoceFrameType::DATA,
                          RoceFrameType::ACK,
                          RoceFrameType::NACK,
                          RoceFrameType::CNP,
                          RoceFrameType::PAUSE})
        {
            RoceHeader h = MakeHeader(type, 1000);
            Ptr<Packet> ref = Create<Packet>(h.payload);
            ref->AddHeader(h);
            for (int round = 0; round < 2; ++round) // a new packet, then a recycled one
            {
                Ptr<RoceQueueItem> f = RoceQueueItem::NewFrame(h);
                NS_TEST_ASSERT_MSG_EQ(f->GetSize(), ref->GetSize(), "frame size");
                NS_TEST_ASSERT_MSG_EQ(f->GetPacket()->GetSize(), ref->GetSize(), "packet size");
                f->SyncWireHeader();
                NS_TEST_ASSERT_MSG_EQ((Bytes(f->GetPacket()) == Bytes(ref)), true, "wire bytes");
                f->SyncWireHeader();
                NS_TEST_ASSERT_MSG_EQ((Bytes(f->GetPacket()) == Bytes(ref)), true, "idempotent");
                RoceHeader back;
                f->GetPacket()->PeekHeader(back);
                NS_TEST_ASSERT_MSG_EQ(int(back.type), int(h.type), "header reads back");
                if (type == RoceFrameType::PAUSE)
                {
                    NS_TEST_ASSERT_MSG_EQ(back.pauseQuanta[3], 0xffff, "pause quanta read back");
                }
                else
                {
                    NS_TEST_ASSERT_MSG_EQ(back.flow, h.flow, "flow reads back");
                }
            }
        }
    }
};

/** Packets are reused once their frame dies, never while someone holds them, and lose their tags. */
class PoolReuseTestCase : public TestCase
{
  public:
    PoolReuseTestCase()
        : TestCase("a frame's packet is reused after the frame dies, unless held; tags are removed")
    {
    }

  private:
    void DoRun() override
    {
        RocePacketPool::Clear();
        RoceHeader h = MakeHeader(RoceFrameType::DATA, 4096);
        Ptr<RoceQueueItem> a = RoceQueueItem::NewFrame(h);
        Ptr<Packet> pa = a->GetPacket();
        SocketPriorityTag tag;
        tag.SetPriority(5);
        pa->AddPacketTag(tag);
        Packet* raw = PeekPointer(pa);
        pa = nullptr;
        Ptr<RoceQueueItem> b = RoceQueueItem::NewFrame(h);
        NS_TEST_ASSERT_MSG_NE(PeekPointer(b->GetPacket()), raw, "a live frame's packet is not shared");
        a = nullptr;
        NS_TEST_ASSERT_MSG_EQ(RocePacketPool::GetNFree(), 1, "the dead frame's packet waits for reuse");
        Ptr<RoceQueueItem> c = RoceQueueItem::NewFrame(h);
        NS_TEST_ASSERT_MSG_EQ(PeekPointer(c->GetPacket()), raw, "and is reused by a frame of its size");
        NS_TEST_ASSERT_MSG_EQ(c->GetPacket()->PeekPacketTag(tag), false, "without its tags");
        NS_TEST_ASSERT_MSG_EQ(RocePacketPool::GetNFree(), 0, "taken");

        Ptr<Packet> held = b->GetPacket(); // a tap keeps the packet
        b = nullptr;
        NS_TEST_ASSERT_MSG_EQ(RocePacketPool::GetNFree(), 0, "a held packet is not pooled");
        NS_TEST_ASSERT_MSG_EQ(held->GetReferenceCount(), 1, "the tap owns it alone");

        RoceHeader ack = MakeHeader(RoceFrameType::ACK, 0);
        Ptr<RoceQueueItem> d = RoceQueueItem::NewFrame(ack);
        NS_TEST_ASSERT_MSG_NE(PeekPointer(d->GetPacket()), raw, "sizes are not mixed");
        c = nullptr;
        d = nullptr;
        NS_TEST_ASSERT_MSG_EQ(RocePacketPool::GetNFree(), 2, "one packet per size");
        RocePacketPool::Clear();
        NS_TEST_ASSERT_MSG_EQ(RocePacketPool::GetNFree(), 0, "cleared");
    }
};

/** The RocePacketPool test suite. */
class RocePacketPoolTestSuite : public TestSuite
{
  public:
    RocePacketPoolTestSuite()
        : TestSuite("roce-packet-pool", Type::UNIT)
    {
        AddTestCase(new NewFrameBytesTestCase, Duration::QUICK);
        AddTestCase(new PoolReuseTestCase, Duration::QUICK);
    }
};

RocePacketPoolTestSuite g_rocePacketPoolTestSuite; //!< registers the suite

} // namespace
