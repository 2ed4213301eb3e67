/*
 * ns3-mfs: packet-level model of disaggregated MoE serving networks.
 * SPDX-License-Identifier: GPL-2.0-only (as ns-3)
 */
// Tests of QuadHeapScheduler: events leave in (time stamp, uid) order, also
// after Remove() of events anywhere in the heap.

#include "ns3/quad-heap-scheduler.h"

#include "ns3/test.h"

#include "mfs-test-suite.h"

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

using namespace ns3;

namespace
{

/** Random inserts, removals of random pending events and pops, checked against a sorted list. */
class QuadHeapOrderTestCase : public TestCase
{
  public:
    QuadHeapOrderTestCase()
        : TestCase("events leave in (time stamp, uid) order, with removals anywhere in the heap")
    {
    }

  private:
    void DoRun() override
    {
        auto s = CreateObject<QuadHeapScheduler>();
        std::mt19937_64 rng(12345);
        std::vector<Scheduler::Event> pending; // the model: what the heap should hold
        uint32_t uid = 0;
        uint64_t now = 0;
        auto before = [](const Scheduler::Event& a, const Scheduler::Event& b) { return a.key < b.key; };
        for (int step = 0; step < 20000; ++step)
        {
            uint32_t op = rng() % 10;
            if (op < 5 || pending.empty())
            {
                Scheduler::Event ev;
                ev.impl = nullptr;
                ev.key.m_ts = now + rng() % 50; // many equal time stamps: the uid decides
                ev.key.m_uid = ++uid;
                ev.key.m_context = 0;
                s->Insert(ev);
                pending.push_back(ev);
            }
            else if (op < 7)
            {
                std::size_t i = rng() % pending.size();
                s->Remove(pending[i]);
                pending.erase(pending.begin() + i);
            }
            else
            {
                auto it = std::min_element(pending.begin(), pending.end(), before);
                Scheduler::Event peek = s->PeekNext();
                Scheduler::Event next = s->RemoveNext();
                NS_TEST_ASSERT_MSG_EQ(peek.key.m_uid, next.key.m_uid, "PeekNext and RemoveNext agree");
                NS_TEST_ASSERT_MSG_EQ(next.key.m_uid, it->key.m_uid, "the smallest (ts, uid) leaves first");
                now = next.key.m_ts;
                pending.erase(it);
            }
            NS_TEST_ASSERT_MSG_EQ(s->IsEmpty(), pending.empty(), "IsEmpty");
        }
        std::sort(pending.begin(), pending.end(), before);
        for (const auto& ev : pending)
        {
            NS_TEST_ASSERT_MSG_EQ(s->RemoveNext().key.m_uid, ev.key.m_uid, "drain in order");
        }
        NS_TEST_ASSERT_MSG_EQ(s->IsEmpty(), true, "empty after draining");
    }
};

/** The QuadHeapScheduler test suite. */
class QuadHeapSchedulerTestSuite : public MfsTestSuite
{
  public:
    QuadHeapSchedulerTestSuite()
        : MfsTestSuite("quad-heap-scheduler")
    {
        AddTestCase(new QuadHeapOrderTestCase, Duration::QUICK);
    }
};

QuadHeapSchedulerTestSuite g_quadHeapSchedulerTestSuite; //!< registers the suite

} // namespace
