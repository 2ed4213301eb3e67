/*
 * ns3-mfs: packet-level model of disaggregated MoE serving networks.
 * SPDX-License-Identifier: GPL-2.0-only (as ns-3)
 */
#ifndef NS3_MFS_RUN_WATCHDOG_H
#define NS3_MFS_RUN_WATCHDOG_H

#include "ns3/event-id.h"

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace ns3
{

/**
 * @ingroup ns3mfs
 * Watchdog of one Simulator::Run(): on its own thread it trips when the run
 * has taken MaxWall seconds of wall clock, or when the simulated time has not
 * advanced while the process used StallWall seconds of CPU time, then stops
 * the simulation through a thread-safe scheduled event (which does nothing if
 * the run already ended). The stall measure is process CPU time
 * (CLOCK_PROCESS_CPUTIME_ID), not wall clock: a process that is stopped
 * (SIGSTOP, a suspended machine) uses none, so being stopped is no stall;
 * the MaxWall limit is wall clock and does count the time stopped.
 */
class RunWatchdog
{
  public:
    /** Why the watchdog tripped. */
    enum Reason
    {
        MAX_WALL, //!< the run took too long
        STALLED,  //!< the simulated time stopped advancing
    };

    /** Called on the watchdog thread when it trips, before it stops the simulation. */
    using TripCallback = std::function<void(Reason)>;

    /** A disarmed watchdog. */
    RunWatchdog() = default;
    /** Disarms (joins the thread). */
    ~RunWatchdog();
    RunWatchdog(const RunWatchdog&) = delete;
    RunWatchdog& operator=(const RunWatchdog&) = delete;

    /**
     * Start watching (call right before Simulator::Run()).
     * @param maxWallS wall-clock limit of the run (s); 0 = none
     * @param stallWallS CPU time the process may use without simulated progress (s); 0 = none
     * @param trip told why, when it trips
     */
    void Arm(double maxWallS, double stallWallS, TripCallback trip);

    /** Stop watching (call right after Simulator::Run() returns or throws). */
    void Disarm();

    /**
     * Simulator::Run() on an armed watchdog: however the run ends (returns or throws), disarm and
     * cancel @p stopAt (the run's stop-time event, if any) before returning.
     * @param stopAt the stop-time event (may be empty)
     */
    void Run(EventId& stopAt);

  private:
    /**
     * The watchdog thread.
     * @param maxWallS see Arm
     * @param stallWallS see Arm
     */
    void Watch(double maxWallS, double stallWallS);

    TripCallback m_trip;          //!< told when it trips
    bool m_done{false};           //!< the run ended
    std::mutex m_mutex;           //!< guards m_done
    std::condition_variable m_wake; //!< wakes the thread when the run ends
    std::thread m_thread;         //!< the watchdog thread
};

} // namespace ns3

#endif
