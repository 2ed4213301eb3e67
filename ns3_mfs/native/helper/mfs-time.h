/*
 * ns3-mfs: packet-level model of disaggregated MoE serving networks.
 * SPDX-License-Identifier: GPL-2.0-only (as ns-3)
 */
#ifndef NS3_MFS_TIME_H
#define NS3_MFS_TIME_H

#include "ns3/nstime.h"

#include <cmath>
#include <cstdint>

namespace ns3
{

/**
 * @ingroup ns3mfs
 * @param s seconds
 * @return the time rounded to the picosecond (the fabric's resolution)
 */
inline Time
TimeFromSeconds(double s)
{
    return PicoSeconds(static_cast<int64_t>(std::llround(s * 1e12)));
}

/**
 * @ingroup ns3mfs
 * @param ps picoseconds; negative means "never"
 * @return seconds, or NaN for a negative argument
 */
inline double
SecondsFromPs(int64_t ps)
{
    return ps < 0 ? std::nan("") : static_cast<double>(ps) * 1e-12;
}

} // namespace ns3

#endif
