/*
 * ns3-mfs: packet-level model of disaggregated MoE serving networks.
 * SPDX-License-Identifier: GPL-2.0-only (as ns-3)
 */
#ifndef NS3_MFS_QUAD_HEAP_SCHEDULER_H
#define NS3_MFS_QUAD_HEAP_SCHEDULER_H

#include "ns3/scheduler.h"

#include <vector>

namespace ns3
{

/**
 * @ingroup ns3mfs
 * An ns-3 event scheduler on an implicit 4-ary min-heap of events.
 *
 * Events leave in the order of their keys (time stamp, then uid), the
 * order every ns-3 scheduler gives, so a run's results do not depend on
 * which scheduler is chosen. A 4-ary heap is half as deep as a binary
 * one and keeps a node's children in one or two cache lines, so removing
 * the next event (the hottest scheduler operation of a packet simulation)
 * touches fewer cache lines than std::priority_queue does.
 *
 * Remove() of an arbitrary event searches the heap linearly (O(n)) and
 * restores the heap around the hole in O(log n); ns-3 only calls it for
 * Simulator::Remove of a pending event.
 *
 * @par Time Complexity
 * Insert, RemoveNext: O(log n); PeekNext, IsEmpty: O(1); Remove: O(n).
 */
class QuadHeapScheduler : public Scheduler
{
  public:
    /**
     * @brief Get the type ID.
     * @return the object TypeId
     */
    static TypeId GetTypeId();
    QuadHeapScheduler();
    ~QuadHeapScheduler() override;

    void Insert(const Scheduler::Event& ev) override;
    bool IsEmpty() const override;
    Scheduler::Event PeekNext() const override;
    Scheduler::Event RemoveNext() override;
    void Remove(const Scheduler::Event& ev) override;

  private:
    /**
     * Move the event at @p i towards the root until its parent is smaller.
     * @param i heap index
     */
    void SiftUp(std::size_t i);
    /**
     * Move the event at @p i towards the leaves until its children are larger.
     * @param i heap index
     */
    void SiftDown(std::size_t i);

    std::vector<Scheduler::Event> m_heap; //!< the heap; children of i are 4i+1 .. 4i+4
};

} // namespace ns3

#endif
