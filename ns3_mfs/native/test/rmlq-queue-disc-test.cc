/*
 * ns3-mfs: packet-level model of disaggregated MoE serving networks.
 * SPDX-License-Identifier: GPL-2.0-only (as ns-3)
 *
 * RmlqQueueDisc on its own: strict-priority band order, paused bands, the
 * band cap, the RED/ECN marking law, and the classification of stock ns-3
 * packets (IPv4 DSCP, socket priority, default band).
 */
#include "ns3/rmlq-queue-disc.h"
#include "ns3/roce-queue-item.h"

#include "ns3/arp-header.h"
#include "ns3/arp-queue-disc-item.h"
#include "ns3/boolean.h"
#include "ns3/double.h"
#include "ns3/ipv4-address.h"
#include "ns3/ipv4-header.h"
#include "ns3/ipv4-queue-disc-item.h"
#include "ns3/mac48-address.h"
#include "ns3/packet.h"
#include "ns3/socket.h"
#include "ns3/rng-seed-manager.h"
#include "ns3/simulator.h"
#include "ns3/test.h"

#include "mfs-test-suite.h"
#include "ns3/uinteger.h"

#include <cmath>
#include <vector>

using namespace ns3;

namespace
{

/**
 * @param cls traffic class
 * @param payload payload bytes
 * @param flow flow id (to tell items apart)
 * @return an ECN-capable data frame
 */
Ptr<RoceQueueItem>
Frame(uint8_t cls, uint32_t payload, uint32_t flow = 0)
{
    RoceHeader h;
    h.cls = cls;
    h.ecn = ECN_ECT0;
    h.flow = flow;
    h.payload = payload;
    Ptr<Packet> p = Create<Packet>(payload);
    p->AddHeader(h);
    return Create<RoceQueueItem>(p, h);
}

/** Frames leave in strict priority of their class, FIFO within a class; paused classes wait. */
class RmlqBandOrderTestCase : public TestCase
{
  public:
    RmlqBandOrderTestCase()
        : TestCase("strict priority across bands, FIFO within a band, paused bands skipped")
    {
    }

  private:
    void DoRun() override
    {
        auto q = CreateObject<RmlqQueueDisc>();
        q->Initialize();
        const std::vector<uint8_t> classes = {5, 1, 7, 1, 0, 3};
        for (uint32_t i = 0; i < classes.size(); ++i)
        {
            q->Enqueue(Frame(classes[i], 100, i));
        }
        NS_TEST_ASSERT_MSG_EQ(q->GetBandPackets(1), 2, "two frames in band 1");
        NS_TEST_ASSERT_MSG_EQ(q->GetBandBytes(1), 2 * (100 + RoceHeader::kDataOverhead), "band 1 bytes");
        // Pause class 0: its frame must wait while the others go.
        q->SetPausedMask(1u << 0);
        const std::vector<uint32_t> pausedOrder = {1, 3, 5, 0, 2}; // flow ids: band 1 (x2), 3, 5, 7
        for (uint32_t id : pausedOrder)
        {
            Ptr<QueueDiscItem> item = q->Dequeue();
            NS_TEST_ASSERT_MSG_NE(item, nullptr, "a frame is eligible");
            NS_TEST_ASSERT_MSG_EQ(StaticCast<RoceQueueItem>(item)->Hdr().flow, id, "dequeue order");
        }
        NS_TEST_ASSERT_MSG_EQ(q->HasEligible(), false, "only the paused band holds a frame");
        NS_TEST_ASSERT_MSG_EQ(q->Dequeue(), nullptr, "nothing while class 0 is paused");
        q->SetPausedMask(0);
        Ptr<QueueDiscItem> last = q->Dequeue();
        NS_TEST_ASSERT_MSG_NE(last, nullptr, "class 0 resumes");
        NS_TEST_ASSERT_MSG_EQ(StaticCast<RoceQueueItem>(last)->Hdr().flow, 4, "the class-0 frame");
        NS_TEST_ASSERT_MSG_EQ(q->GetBandDequeued(1), 2, "band 1 dequeued two");
        q->Dispose();
    }
};

/** The fabric's fast path (EnqueueDirect/DequeueDirect) serves the bands like the QueueDisc path. */
class RmlqDirectPathTestCase : public TestCase
{
  public:
    RmlqDirectPathTestCase()
        : TestCase("EnqueueDirect and DequeueDirect: same band order, pause handling and band counters")
    {
    }

  private:
    void DoRun() override
    {
        auto q = CreateObject<RmlqQueueDisc>();
        q->Initialize();
        const std::vector<uint8_t> classes = {5, 1, 7, 1, 0, 3};
        for (uint32_t i = 0; i < classes.size(); ++i)
        {
            q->EnqueueDirect(Frame(classes[i], 100, i));
        }
        const uint32_t frame = 100 + RoceHeader::kDataOverhead;
        NS_TEST_ASSERT_MSG_EQ(q->GetQueuedPackets(), 6, "six frames queued");
        NS_TEST_ASSERT_MSG_EQ(q->GetQueuedBytes(), 6 * frame, "bytes queued");
        NS_TEST_ASSERT_MSG_EQ(q->GetNPackets(), 0, "the QueueDisc base class does not see the fast path");
        NS_TEST_ASSERT_MSG_EQ(q->GetBandPackets(1), 2, "two frames in band 1");
        NS_TEST_ASSERT_MSG_EQ(q->GetBandBytes(1), 2 * frame, "band 1 bytes");
        q->SetPausedMask(1u << 0);
        const std::vector<uint32_t> pausedOrder = {1, 3, 5, 0, 2};
        for (uint32_t id : pausedOrder)
        {
            Ptr<QueueDiscItem> item = q->DequeueDirect();
            NS_TEST_ASSERT_MSG_NE(item, nullptr, "a frame is eligible");
            NS_TEST_ASSERT_MSG_EQ(StaticCast<RoceQueueItem>(item)->Hdr().flow, id, "dequeue order");
        }
        NS_TEST_ASSERT_MSG_EQ(q->HasEligible(), false, "only the paused band holds a frame");
        NS_TEST_ASSERT_MSG_EQ(q->DequeueDirect(), nullptr, "nothing while class 0 is paused");
        NS_TEST_ASSERT_MSG_EQ(q->Peek(), nullptr, "Peek skips the paused band");
        q->SetPausedMask(0);
        Ptr<QueueDiscItem> last = q->DequeueDirect();
        NS_TEST_ASSERT_MSG_NE(last, nullptr, "class 0 resumes");
        NS_TEST_ASSERT_MSG_EQ(StaticCast<RoceQueueItem>(last)->Hdr().flow, 4, "the class-0 frame");
        NS_TEST_ASSERT_MSG_EQ(q->GetBandDequeued(1), 2, "band 1 dequeued two");
        NS_TEST_ASSERT_MSG_EQ(q->GetQueuedPackets(), 0, "empty");
        NS_TEST_ASSERT_MSG_EQ(q->GetQueuedBytes(), 0, "no bytes left");
        q->Dispose();
    }
};

/** With K bands, classes K-1 and above share the last band. */
class RmlqBandCapTestCase : public TestCase
{
  public:
    RmlqBandCapTestCase()
        : TestCase("classes at or above NumBands go to the last band")
    {
    }

  private:
    void DoRun() override
    {
        auto q = CreateObject<RmlqQueueDisc>();
        q->SetAttribute("NumBands", UintegerValue(4));
        q->Initialize();
        NS_TEST_ASSERT_MSG_EQ(q->GetNumBands(), 4, "four bands");
        q->Enqueue(Frame(6, 100, 0));
        q->Enqueue(Frame(3, 100, 1));
        q->Enqueue(Frame(2, 100, 2));
        NS_TEST_ASSERT_MSG_EQ(q->GetBandPackets(3), 2, "classes 3 and 6 share band 3");
        NS_TEST_ASSERT_MSG_EQ(StaticCast<RoceQueueItem>(q->Dequeue())->Hdr().flow, 2, "band 2 first");
        NS_TEST_ASSERT_MSG_EQ(StaticCast<RoceQueueItem>(q->Dequeue())->Hdr().flow, 0, "then band 3 in FIFO order");
        q->Dispose();
    }
};

/**
 * @param dscp DSCP of the packet (TOS = dscp << 2)
 * @param payload payload bytes
 * @return a stock IPv4 queue item, as ns-3's Ipv4Interface hands it to the traffic control layer
 */
Ptr<Ipv4QueueDiscItem>
Ipv4Item(uint8_t dscp, uint32_t payload)
{
    Ipv4Header h;
    h.SetTos(static_cast<uint8_t>(dscp << 2));
    h.SetPayloadSize(payload);
    h.SetProtocol(17);
    return Create<Ipv4QueueDiscItem>(Create<Packet>(payload), Mac48Address::GetBroadcast(), 0x0800, h);
}

/**
 * @param priority the SocketPriorityTag to add, or -1 for none
 * @return an ARP request: a stock item without DS field
 */
Ptr<QueueDiscItem>
ArpItem(int priority)
{
    Ptr<Packet> p = Create<Packet>(0);
    if (priority >= 0)
    {
        SocketPriorityTag tag;
        tag.SetPriority(static_cast<uint8_t>(priority));
        p->AddPacketTag(tag);
    }
    ArpHeader arp;
    arp.SetRequest(Mac48Address("00:00:00:00:00:01"),
                   Ipv4Address("10.0.0.1"),
                   Mac48Address::GetBroadcast(),
                   Ipv4Address("10.0.0.2"));
    return Create<ArpQueueDiscItem>(p, Mac48Address::GetBroadcast(), 0x0806, arp);
}

/**
 * Stock ns-3 packets: IPv4 items go to the band of their DSCP (capped), items
 * without a DS field to the band of their SocketPriorityTag, else DefaultBand.
 */
class RmlqStockPacketTestCase : public TestCase
{
  public:
    RmlqStockPacketTestCase()
        : TestCase("stock IPv4 packets by DSCP, non-IP items by priority tag or DefaultBand")
    {
    }

  private:
    void DoRun() override
    {
        auto q = CreateObject<RmlqQueueDisc>();
        q->SetAttribute("NumBands", UintegerValue(4));
        q->SetAttribute("DefaultBand", UintegerValue(2));
        q->Initialize();
        NS_TEST_ASSERT_MSG_EQ(q->BandOf(Ipv4Item(0, 100)), 0, "DSCP 0 (best effort) -> band 0");
        NS_TEST_ASSERT_MSG_EQ(q->BandOf(Ipv4Item(1, 100)), 1, "DSCP 1 -> band 1");
        NS_TEST_ASSERT_MSG_EQ(q->BandOf(Ipv4Item(46, 100)), 3, "DSCP 46 (EF) capped at the last band");
        NS_TEST_ASSERT_MSG_EQ(q->BandOf(ArpItem(-1)), 2, "no DS field, no tag -> DefaultBand");
        NS_TEST_ASSERT_MSG_EQ(q->BandOf(ArpItem(1)), 1, "no DS field -> socket priority");
        NS_TEST_ASSERT_MSG_EQ(q->BandOf(ArpItem(6)), 3, "socket priority capped at the last band");
        // Through Enqueue/Dequeue: the DSCP-1 packet leaves before the DSCP-3 one enqueued first.
        NS_TEST_ASSERT_MSG_EQ(q->Enqueue(Ipv4Item(3, 500)), true, "DSCP 3 enqueued");
        NS_TEST_ASSERT_MSG_EQ(q->Enqueue(Ipv4Item(1, 200)), true, "DSCP 1 enqueued");
        NS_TEST_ASSERT_MSG_EQ(q->Enqueue(ArpItem(-1)), true, "ARP request enqueued");
        NS_TEST_ASSERT_MSG_EQ(q->GetBandPackets(3), 1, "one packet in band 3");
        NS_TEST_ASSERT_MSG_EQ(q->GetBandBytes(1), 200 + 20, "band 1 holds the packet and its IPv4 header");
        NS_TEST_ASSERT_MSG_EQ(q->Dequeue()->GetSize(), 220, "band 1 first");
        NS_TEST_ASSERT_MSG_EQ(q->Dequeue()->GetProtocol(), 0x0806, "then the default band (2)");
        NS_TEST_ASSERT_MSG_EQ(q->Dequeue()->GetSize(), 520, "then band 3");
        NS_TEST_ASSERT_MSG_EQ(q->GetNPackets(), 0, "empty");
        q->Dispose();
    }
};

/**
 * A band held at a standing queue marks a fraction of dequeued frames equal
 * to the RED line: 0 up to Kmin, Pmax (q - Kmin) / (Kmax - Kmin) between, 1 above Kmax.
 */
class RmlqEcnLawTestCase : public TestCase
{
  public:
    /** @param queueBytes the standing queue to hold */
    explicit RmlqEcnLawTestCase(uint64_t queueBytes)
        : TestCase("RED ECN marking law at a standing queue of " + std::to_string(queueBytes) + " bytes"),
          m_queueBytes(queueBytes)
    {
    }

  private:
    void DoRun() override
    {
        const uint64_t kmin = 400000;
        const uint64_t kmax = 1600000;
        const double pmax = 0.2;
        const uint32_t frameBytes = 4158;
        const uint32_t samples = 20000;
        RngSeedManager::SetSeed(11);
        auto q = CreateObject<RmlqQueueDisc>();
        q->SetAttribute("EcnMarking", BooleanValue(true));
        q->SetAttribute("EcnKmin", UintegerValue(kmin));
        q->SetAttribute("EcnKmax", UintegerValue(kmax));
        q->SetAttribute("EcnPmax", DoubleValue(pmax));
        q->Initialize();
        q->AssignStreams(0);
        const uint32_t payload = frameBytes - RoceHeader::kDataOverhead;
        while (q->GetBandBytes(3) + frameBytes <= m_queueBytes)
        {
            q->Enqueue(Frame(3, payload));
        }
        uint64_t marked = 0;
        for (uint32_t i = 0; i < samples; ++i)
        {
            Ptr<QueueDiscItem> item = q->Dequeue();
            marked += StaticCast<RoceQueueItem>(item)->Hdr().ecn == ECN_CE;
            q->Enqueue(Frame(3, payload)); // keep the queue standing
        }
        NS_TEST_ASSERT_MSG_EQ(q->GetEcnMarks(), marked, "GetEcnMarks counts the marked frames");
        q->Dispose();
        // The band holds the standing queue rounded down to whole frames when a frame leaves.
        const double held = static_cast<double>((m_queueBytes / frameBytes) * frameBytes);
        const double p = held <= kmin ? 0.0 : held > kmax ? 1.0 : pmax * (held - kmin) / (kmax - kmin);
        const double sigma = std::sqrt(std::max(p * (1 - p), 1e-12) / samples);
        NS_TEST_ASSERT_MSG_EQ_TOL(static_cast<double>(marked) / samples,
                                  p,
                                  4 * sigma + 1e-9,
                                  "marked fraction follows the RED line");
    }

    uint64_t m_queueBytes; //!< standing queue
};

/** The RmlqQueueDisc test suite. */
class RmlqQueueDiscTestSuite : public MfsTestSuite
{
  public:
    RmlqQueueDiscTestSuite()
        : MfsTestSuite("rmlq-queue-disc")
    {
        AddTestCase(new RmlqBandOrderTestCase, Duration::QUICK);
        AddTestCase(new RmlqBandCapTestCase, Duration::QUICK);
        AddTestCase(new RmlqStockPacketTestCase, Duration::QUICK);
        AddTestCase(new RmlqDirectPathTestCase, Duration::QUICK);
        for (uint64_t kb : {300, 400, 700, 1000, 1300, 1550, 2000})
        {
            AddTestCase(new RmlqEcnLawTestCase(kb * 1000), Duration::QUICK);
        }
    }
};

RmlqQueueDiscTestSuite g_rmlqQueueDiscTestSuite; //!< registers the suite

} // namespace
