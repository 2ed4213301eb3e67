/*
 * SPDX-License-Identifier: GPL-2.0-only
 */
#ifndef MFS_SCHEDULER_H
#define MFS_SCHEDULER_H

#include "ns3/object-factory.h"
#include "ns3/simulator.h"

#include <algorithm>
#include <iterator>
#include <stdexcept>
#include <string>

namespace ns3
{
namespace mfs
{

/// The event schedulers a fabric (packet or flow model) may run on; the first is the default.
inline const char* const kSchedulers[] = {"QuadHeapScheduler",
                                          "PriorityQueueScheduler",
                                          "MapScheduler",
                                          "CalendarScheduler",
                                          "ListScheduler"};

/**
 * Make ns-3's simulator use the event scheduler \p name (one of kSchedulers).
 * @param name scheduler TypeId name without the "ns3::" prefix
 * @throws std::invalid_argument naming the allowed schedulers for any other name
 */
inline void
SetSimulatorScheduler(const std::string& name)
{
    if (std::find(std::begin(kSchedulers), std::end(kSchedulers), name) == std::end(kSchedulers))
    {
        std::string allowed;
        for (const char* s : kSchedulers)
        {
            allowed += (allowed.empty() ? "" : ", ") + std::string(s);
        }
        throw std::invalid_argument("unknown scheduler '" + name + "'; allowed: " + allowed);
    }
    ObjectFactory f;
    f.SetTypeId("ns3::" + name);
    Simulator::SetScheduler(f);
}

} // namespace mfs
} // namespace ns3

#endif // MFS_SCHEDULER_H
