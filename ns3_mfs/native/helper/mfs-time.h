/*
 * ns3-mfs: packet-level model of disaggregated MoE serving networks.
 * SPDX-License-Identifier: GPL-2.0-only (as ns-3)
 */
#ifndef NS3_MFS_TIME_H
#define NS3_MFS_TIME_H

#include "ns3/nstime.h"

#include <cmath>
#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>

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
 * The latest simulated time (s) the fabric accepts: flow starts, timers,
 * run stop times and every duration given from outside (intervals, delays,
 * pacing gaps) must stay within it. ns-3's Time holds 2^63 ps (about
 * 9.2e6 s) at the fabric's picosecond resolution; the limit keeps a
 * margin so that a time plus a duration cannot overflow. Python's
 * ns3_mfs.fabric.network.MAX_SIM_S has the same value.
 */
constexpr double kMaxSimSeconds = 1e6;

/**
 * @ingroup ns3mfs
 * Check a time or duration given from outside, then convert it.
 * Throws std::invalid_argument naming @p what when @p s is not finite, is
 * negative, or exceeds kMaxSimSeconds.
 * @param what the argument, for the message (e.g. "flow start time")
 * @param s seconds
 * @return the time rounded to the picosecond
 */
inline Time
CheckedTimeFromSeconds(const std::string& what, double s)
{
    if (!std::isfinite(s) || s < 0 || s > kMaxSimSeconds)
    {
        std::ostringstream msg;
        msg << what << " " << s << " s is outside the simulated-time range; allowed: 0.." << kMaxSimSeconds
            << " s";
        throw std::invalid_argument(msg.str());
    }
    return TimeFromSeconds(s);
}

/**
 * @ingroup ns3mfs
 * A future time given from outside: checked as CheckedTimeFromSeconds, and not before @p nowS.
 * @param what the argument, for the message
 * @param atS the time (s)
 * @param nowS the current time (s)
 * @return the time rounded to the picosecond
 */
inline Time
CheckedFutureTime(const std::string& what, double atS, double nowS)
{
    Time t = CheckedTimeFromSeconds(what, atS);
    if (!(atS >= nowS))
    {
        throw std::invalid_argument(what + " must be >= the current time " + std::to_string(nowS) + " s");
    }
    return t;
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
