/*
 * ns3-mfs: packet-level model of disaggregated MoE serving networks.
 * SPDX-License-Identifier: GPL-2.0-only (as ns-3)
 */
#ifndef NS3_MFS_FREE_LIST_H
#define NS3_MFS_FREE_LIST_H

#include <cstddef>
#include <new>

namespace ns3
{

/**
 * @ingroup ns3mfs
 * A free list of storage blocks for objects of type T, for class-specific
 * operator new/delete of per-frame objects (events, queue items).
 *
 * A released block is kept for the next allocation instead of going back
 * to malloc, so after the first frames in flight a packet-hop allocates
 * nothing for these objects. The list only grows to the largest number of
 * objects alive at once. ns-3 runs its events on one thread and these
 * objects never cross threads, so the list needs no lock.
 *
 * @tparam T the class whose storage is pooled
 */
template <typename T>
class MfsFreeList
{
  public:
    /**
     * @param size the size asked for (sizeof(T), or more for a derived class)
     * @return storage for one object
     */
    static void* Allocate(std::size_t size)
    {
        if (size <= sizeof(T) && s_head)
        {
            Block* b = s_head;
            s_head = b->next;
            return b;
        }
        return ::operator new(size < sizeof(T) ? sizeof(T) : size);
    }

    /**
     * Keep a block (at least sizeof(T) bytes) for later allocations.
     * @param p the storage, or nullptr
     */
    static void Release(void* p)
    {
        if (p)
        {
            auto b = static_cast<Block*>(p);
            b->next = s_head;
            s_head = b;
        }
    }

  private:
    /** A free block. */
    struct Block
    {
        Block* next; //!< next free block
    };

    static_assert(sizeof(T) >= sizeof(Block), "pooled objects hold at least a pointer");
    static inline Block* s_head = nullptr; //!< first free block
};

} // namespace ns3

#endif
