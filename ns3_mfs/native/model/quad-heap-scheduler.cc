/*
 * ns3-mfs: packet-level model of disaggregated MoE serving networks.
 * SPDX-License-Identifier: GPL-2.0-only (as ns-3)
 */
#include "quad-heap-scheduler.h"

#include "ns3/assert.h"

namespace ns3
{

NS_OBJECT_ENSURE_REGISTERED(QuadHeapScheduler);

namespace
{
/**
 * Strict order of event keys: time stamp, then uid.
 * @param a a key
 * @param b another key
 * @return true if @p a runs before @p b
 */
inline bool
Before(const Scheduler::EventKey& a, const Scheduler::EventKey& b)
{
    return a.m_ts < b.m_ts || (a.m_ts == b.m_ts && a.m_uid < b.m_uid);
}
} // namespace

TypeId
QuadHeapScheduler::GetTypeId()
{
    static TypeId tid = TypeId("ns3::QuadHeapScheduler")
                            .SetParent<Scheduler>()
                            .SetGroupName("Mfs")
                            .AddConstructor<QuadHeapScheduler>();
    return tid;
}

QuadHeapScheduler::QuadHeapScheduler()
{
    m_heap.reserve(1024);
}

QuadHeapScheduler::~QuadHeapScheduler() = default;

void
QuadHeapScheduler::SiftUp(std::size_t i)
{
    Scheduler::Event ev = m_heap[i];
    while (i > 0)
    {
        std::size_t parent = (i - 1) / 4;
        if (!Before(ev.key, m_heap[parent].key))
        {
            break;
        }
        m_heap[i] = m_heap[parent];
        i = parent;
    }
    m_heap[i] = ev;
}

void
QuadHeapScheduler::SiftDown(std::size_t i)
{
    const std::size_t n = m_heap.size();
    Scheduler::Event ev = m_heap[i];
    while (true)
    {
        std::size_t first = 4 * i + 1;
        if (first >= n)
        {
            break;
        }
        std::size_t last = first + 4 < n ? first + 4 : n;
        std::size_t best = first;
        for (std::size_t c = first + 1; c < last; ++c)
        {
            if (Before(m_heap[c].key, m_heap[best].key))
            {
                best = c;
            }
        }
        if (!Before(m_heap[best].key, ev.key))
        {
            break;
        }
        m_heap[i] = m_heap[best];
        i = best;
    }
    m_heap[i] = ev;
}

void
QuadHeapScheduler::Insert(const Scheduler::Event& ev)
{
    m_heap.push_back(ev);
    SiftUp(m_heap.size() - 1);
}

bool
QuadHeapScheduler::IsEmpty() const
{
    return m_heap.empty();
}

Scheduler::Event
QuadHeapScheduler::PeekNext() const
{
    NS_ASSERT(!m_heap.empty());
    return m_heap.front();
}

Scheduler::Event
QuadHeapScheduler::RemoveNext()
{
    NS_ASSERT(!m_heap.empty());
    Scheduler::Event next = m_heap.front();
    m_heap.front() = m_heap.back();
    m_heap.pop_back();
    if (!m_heap.empty())
    {
        SiftDown(0);
    }
    return next;
}

void
QuadHeapScheduler::Remove(const Scheduler::Event& ev)
{
    for (std::size_t i = 0; i < m_heap.size(); ++i)
    {
        if (m_heap[i].key.m_uid != ev.key.m_uid)
        {
            continue;
        }
        m_heap[i] = m_heap.back();
        m_heap.pop_back();
        if (i < m_heap.size())
        {
            if (i > 0 && Before(m_heap[i].key, m_heap[(i - 1) / 4].key))
            {
                SiftUp(i);
            }
            else
            {
                SiftDown(i);
            }
        }
        return;
    }
    NS_ASSERT_MSG(false, "QuadHeapScheduler::Remove: event not found");
}

} // namespace ns3
