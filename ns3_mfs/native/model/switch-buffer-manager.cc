/*
 * ns3-mfs: packet-level model of disaggregated MoE serving networks.
 * SPDX-License-Identifier: GPL-2.0-only (as ns-3)
 */
#include "switch-buffer-manager.h"

#include "ns3/boolean.h"
#include "ns3/double.h"
#include "ns3/log.h"
#include "ns3/simulator.h"
#include "ns3/uinteger.h"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace ns3
{

NS_LOG_COMPONENT_DEFINE("SwitchBufferManager");
NS_OBJECT_ENSURE_REGISTERED(SwitchBufferManager);

TypeId
SwitchBufferManager::GetTypeId()
{
    static TypeId tid =
        TypeId("ns3::SwitchBufferManager")
            .SetParent<Object>()
            .SetGroupName("Mfs")
            .AddConstructor<SwitchBufferManager>()
            .AddAttribute("BufferSize",
                          "Total switch packet buffer in bytes.",
                          UintegerValue(32u << 20),
                          MakeUintegerAccessor(&SwitchBufferManager::m_bufferSize),
                          MakeUintegerChecker<uint64_t>(1))
            .AddAttribute("ReservePerQueue",
                          "Guaranteed bytes per (ingress port, class).",
                          UintegerValue(4096),
                          MakeUintegerAccessor(&SwitchBufferManager::m_reservePerQueue),
                          MakeUintegerChecker<uint64_t>())
            .AddAttribute("ResumeOffset",
                          "XON = XOFF - ResumeOffset (bytes).",
                          UintegerValue(3072),
                          MakeUintegerAccessor(&SwitchBufferManager::m_resumeOffset),
                          MakeUintegerChecker<uint64_t>())
            .AddAttribute("Alpha",
                          "Dynamic threshold factor: XOFF = Alpha x free shared bytes.",
                          DoubleValue(1.0 / 8),
                          MakeDoubleAccessor(&SwitchBufferManager::m_alpha),
                          MakeDoubleChecker<double>(0.0))
            .AddAttribute("Dynamic",
                          "Use the dynamic (Alpha) XOFF threshold; false uses StaticXoff.",
                          BooleanValue(true),
                          MakeBooleanAccessor(&SwitchBufferManager::m_dynamic),
                          MakeBooleanChecker())
            .AddAttribute("StaticXoff",
                          "Static XOFF threshold in shared bytes per queue.",
                          UintegerValue(256 * 1024),
                          MakeUintegerAccessor(&SwitchBufferManager::m_staticXoff),
                          MakeUintegerChecker<uint64_t>(1))
            .AddAttribute("HeadroomFactor",
                          "PFC headroom per queue = factor x rate x one-way delay (+2 MTU); with a factor of 2 or "
                          "more, at least a round trip at line rate plus three maximum frames.",
                          DoubleValue(3.0),
                          MakeDoubleAccessor(&SwitchBufferManager::m_headroomFactor),
                          MakeDoubleChecker<double>(0.0))
            .AddAttribute("PfcEnabled",
                          "Lossless mode: send PAUSE instead of dropping.",
                          BooleanValue(true),
                          MakeBooleanAccessor(&SwitchBufferManager::m_pfcEnabled),
                          MakeBooleanChecker())
            .AddAttribute("PauseQuanta",
                          "Pause time carried by a PAUSE frame, in 512-bit-time quanta.",
                          UintegerValue(0xFFFF),
                          MakeUintegerAccessor(&SwitchBufferManager::m_pauseQuanta),
                          MakeUintegerChecker<uint16_t>(1))
            .AddTraceSource("Drop",
                            "A frame was refused (port, class, bytes).",
                            MakeTraceSourceAccessor(&SwitchBufferManager::m_dropTrace),
                            "ns3::SwitchBufferManager::DropTracedCallback");
    return tid;
}

SwitchBufferManager::SwitchBufferManager()
    : m_bufferSize(32u << 20),
      m_reservePerQueue(4096),
      m_resumeOffset(3072),
      m_alpha(1.0 / 8),
      m_dynamic(true),
      m_staticXoff(256 * 1024),
      m_headroomFactor(3.0),
      m_pfcEnabled(true),
      m_pauseQuanta(0xFFFF)
{
}

void
SwitchBufferManager::DoDispose()
{
    m_sender = nullptr;
    for (auto& q : m_queues)
    {
        q.refresh.Cancel();
    }
    Object::DoDispose();
}

std::string
SwitchBufferManager::Setup(const std::vector<uint64_t>& portBps,
                           const std::vector<Time>& portDelay,
                           uint32_t numClasses,
                           uint32_t mtuBytes,
                           PfcSender sender)
{
    m_numClasses = numClasses;
    m_sender = std::move(sender);
    uint32_t ports = portBps.size();
    m_queues.assign(static_cast<size_t>(ports) * numClasses, Queue{});
    m_headroom.assign(ports, 0);
    m_pauseTime.assign(ports, Time(0));
    uint64_t reserved = m_reservePerQueue * ports * numClasses;
    uint64_t headroom = 0;
    // The worst case after XOFF: a round trip of data at line rate, plus three maximum frames (the one
    // arriving when XOFF is decided, the one the upstream port is sending when the PAUSE reaches it, and the
    // one this port is sending, which the PAUSE waits behind). On short links (inside a server) this bound
    // exceeds factor x rate x delay + 2 MTU.
    for (uint32_t p = 0; p < ports; ++p)
    {
        double bytesPerSec = portBps[p] / 8.0;
        double delay = portDelay[p].GetSeconds();
        double byFactor = m_headroomFactor * bytesPerSec * delay + 2.0 * mtuBytes;
        // A factor below 2 (less than a round trip) is a deliberate under-provisioning: no floor then.
        m_headroom[p] = static_cast<uint64_t>(std::ceil(
            m_headroomFactor < 2.0 ? byFactor : std::max(byFactor, 2.0 * bytesPerSec * delay + 3.0 * mtuBytes)));
        m_pauseTime[p] = PicoSeconds(
            static_cast<int64_t>(std::llround(m_pauseQuanta * 512.0 * 1e12 / portBps[p])));
        if (m_pfcEnabled)
        {
            headroom += m_headroom[p] * numClasses;
        }
    }
    if (reserved + headroom >= m_bufferSize)
    {
        std::ostringstream os;
        os << "switch buffer of " << m_bufferSize << " bytes is too small for " << ports
           << " ports: reserves take " << reserved << " bytes and PFC headroom " << headroom
           << " bytes; allowed: buffer_bytes > " << reserved + headroom;
        return os.str();
    }
    m_sharedCap = m_bufferSize - reserved - headroom;
    return "";
}

SwitchBufferManager::Queue&
SwitchBufferManager::Q(uint32_t port, uint8_t cls)
{
    return m_queues[static_cast<size_t>(port) * m_numClasses + cls];
}

uint64_t
SwitchBufferManager::GetXoffThreshold() const
{
    if (!m_dynamic)
    {
        return m_staticXoff;
    }
    return static_cast<uint64_t>(m_alpha * static_cast<double>(m_sharedCap - m_sharedUsed));
}

bool
SwitchBufferManager::Admit(uint32_t port, uint8_t cls, uint32_t bytes)
{
    Queue& q = Q(port, cls);
    if (q.reserve + bytes <= m_reservePerQueue)
    {
        q.reserve += bytes;
    }
    else if (!q.xoff && m_sharedUsed + bytes <= m_sharedCap)
    {
        q.shared += bytes;
        m_sharedUsed += bytes;
        if (m_pfcEnabled && q.shared > GetXoffThreshold())
        {
            SendPause(port, cls);
        }
    }
    else if (m_pfcEnabled && q.hdrm + bytes <= m_headroom[port])
    {
        q.hdrm += bytes;
        if (!q.xoff)
        {
            SendPause(port, cls);
        }
    }
    else
    {
        m_stats.drops++;
        m_stats.dropBytes += bytes;
        m_dropTrace(port, cls, bytes);
        return false;
    }
    m_used += bytes;
    return true;
}

void
SwitchBufferManager::Release(uint32_t port, uint8_t cls, uint32_t bytes)
{
    Queue& q = Q(port, cls);
    m_used -= bytes;
    uint64_t left = bytes;
    uint64_t take = std::min<uint64_t>(left, q.hdrm);
    q.hdrm -= take;
    left -= take;
    take = std::min<uint64_t>(left, q.shared);
    q.shared -= take;
    m_sharedUsed -= take;
    left -= take;
    q.reserve -= left;
    if (q.xoff && q.hdrm == 0)
    {
        uint64_t xoff = GetXoffThreshold();
        if (q.shared == 0 || q.shared + m_resumeOffset <= xoff)
        {
            q.xoff = false;
            Simulator::Remove(q.refresh);
            m_sender(port, cls, 0);
        }
    }
}

void
SwitchBufferManager::SendPause(uint32_t port, uint8_t cls)
{
    Queue& q = Q(port, cls);
    q.xoff = true;
    m_sender(port, cls, m_pauseQuanta);
    Simulator::Remove(q.refresh);
    q.refresh = Simulator::Schedule(m_pauseTime[port] / 2, &SwitchBufferManager::Refresh, this, port, cls);
}

void
SwitchBufferManager::Refresh(uint32_t port, uint8_t cls)
{
    if (Q(port, cls).xoff)
    {
        SendPause(port, cls);
    }
}

uint64_t
SwitchBufferManager::GetUsedBytes() const
{
    return m_used;
}

bool
SwitchBufferManager::IsLossless() const
{
    return m_pfcEnabled;
}

uint64_t
SwitchBufferManager::GetSharedUsed() const
{
    return m_sharedUsed;
}

uint64_t
SwitchBufferManager::GetSharedCapacity() const
{
    return m_sharedCap;
}

uint64_t
SwitchBufferManager::GetHeadroom(uint32_t port) const
{
    return m_headroom.at(port);
}

uint64_t
SwitchBufferManager::GetQueueBytes(uint32_t port, uint8_t cls) const
{
    const Queue& q = m_queues.at(static_cast<size_t>(port) * m_numClasses + cls);
    return q.reserve + q.shared + q.hdrm;
}

bool
SwitchBufferManager::IsPaused(uint32_t port, uint8_t cls) const
{
    return m_queues.at(static_cast<size_t>(port) * m_numClasses + cls).xoff;
}

const SwitchBufferManager::Stats&
SwitchBufferManager::GetStats() const
{
    return m_stats;
}

bool
SwitchBufferManager::IsPfcEnabled() const
{
    return m_pfcEnabled;
}

} // namespace ns3
