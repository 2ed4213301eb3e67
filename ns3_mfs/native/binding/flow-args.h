/*
 * ns3-mfs: packet-level model of disaggregated MoE serving networks.
 * SPDX-License-Identifier: GPL-2.0-only (as ns-3)
 */
#ifndef NS3_MFS_FLOW_ARGS_H
#define NS3_MFS_FLOW_ARGS_H

#include "../model/roce-header.h"

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>

namespace ns3mfs
{

/**
 * Checks of the flow arguments both fabric models take from Python (one message each, naming the argument).
 * @param cls a traffic class; throws std::invalid_argument when out of range
 */
inline void
CheckClass(uint32_t cls)
{
    if (cls >= ns3::RoceHeader::kNumClasses)
    {
        throw std::invalid_argument("priority " + std::to_string(cls) + " is out of range; allowed: 0..7");
    }
}

/**
 * @param srcHost source host
 * @param dstHost destination host
 * @param hosts hosts of the fabric
 * @param bytes flow size
 * Throws std::invalid_argument for a host that does not exist, a flow to itself or an empty flow.
 */
inline void
CheckFlowEnds(uint32_t srcHost, uint32_t dstHost, uint32_t hosts, uint64_t bytes)
{
    for (auto [what, h] : {std::pair<const char*, uint32_t>{"src", srcHost}, {"dst", dstHost}})
    {
        if (h >= hosts)
        {
            throw std::invalid_argument(std::string(what) + " host " + std::to_string(h) +
                                        " does not exist; allowed: 0.." + std::to_string(hosts - 1));
        }
    }
    if (srcHost == dstHost)
    {
        throw std::invalid_argument("src and dst are the same host " + std::to_string(srcHost));
    }
    if (bytes == 0)
    {
        throw std::invalid_argument("bytes must be > 0");
    }
}

} // namespace ns3mfs

#endif
