/*
 * ns3-mfs: packet-level model of disaggregated MoE serving networks.
 * SPDX-License-Identifier: GPL-2.0-only (as ns-3)
 */
#include "run-watchdog.h"

#include "ns3/log.h"
#include "ns3/simulator.h"

#include <atomic>
#include <chrono>
#include <ctime>

namespace ns3
{

NS_LOG_COMPONENT_DEFINE("RunWatchdog");

namespace
{

/** Set while a run is watched: a stop event left over from an earlier run does nothing. */
std::atomic<bool> g_runActive{false};

void
StopFromWatchdog()
{
    if (g_runActive)
    {
        Simulator::Stop();
    }
}

/** @return CPU time used by this process so far, all threads (s) */
double
ProcessCpuSeconds()
{
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + ts.tv_nsec * 1e-9;
}

} // namespace

RunWatchdog::~RunWatchdog()
{
    Disarm();
}

void
RunWatchdog::Arm(double maxWallS, double stallWallS, TripCallback trip)
{
    Disarm();
    g_runActive = true;
    m_trip = std::move(trip);
    m_done = false;
    if (maxWallS > 0 || stallWallS > 0)
    {
        m_thread = std::thread(&RunWatchdog::Watch, this, maxWallS, stallWallS);
    }
}

void
RunWatchdog::Run(EventId& stopAt)
{
    auto finish = [&]() {
        Disarm();
        if (stopAt.IsPending())
        {
            Simulator::Remove(stopAt);
        }
    };
    try
    {
        Simulator::Run();
    }
    catch (...)
    {
        finish();
        throw;
    }
    finish();
}

void
RunWatchdog::Disarm()
{
    g_runActive = false;
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_done = true;
    }
    m_wake.notify_all();
    if (m_thread.joinable())
    {
        m_thread.join();
    }
}

void
RunWatchdog::Watch(double maxWallS, double stallWallS)
{
    using Clock = std::chrono::steady_clock;
    const auto t0 = Clock::now();
    double movedCpu = ProcessCpuSeconds(); // CPU time when the simulated time last moved
    int64_t simPs = Simulator::Now().GetPicoSeconds();
    while (true)
    {
        {
            std::unique_lock<std::mutex> lock(m_mutex);
            if (m_wake.wait_for(lock, std::chrono::milliseconds(20), [this] { return m_done; }))
            {
                return;
            }
        }
        const auto t = Clock::now();
        const double cpu = ProcessCpuSeconds();
        int64_t ps = Simulator::Now().GetPicoSeconds();
        if (ps != simPs)
        {
            simPs = ps;
            movedCpu = cpu;
        }
        bool overLimit = maxWallS > 0 && std::chrono::duration<double>(t - t0).count() > maxWallS;
        bool stalled = !overLimit && stallWallS > 0 && cpu - movedCpu > stallWallS;
        if (overLimit || stalled)
        {
            NS_LOG_WARN("watchdog stops the run: " << (overLimit ? "wall-clock limit" : "stalled"));
            m_trip(overLimit ? MAX_WALL : STALLED);
            Simulator::ScheduleWithContext(Simulator::NO_CONTEXT, Time(0), &StopFromWatchdog);
            return;
        }
    }
}

} // namespace ns3
