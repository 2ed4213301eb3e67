/*
 * ns3-mfs: packet-level model of disaggregated MoE serving networks.
 * SPDX-License-Identifier: GPL-2.0-only (as ns-3)
 */
#ifndef NS3_MFS_SWITCH_BUFFER_MANAGER_H
#define NS3_MFS_SWITCH_BUFFER_MANAGER_H

#include "ns3/event-id.h"
#include "ns3/nstime.h"
#include "ns3/object.h"
#include "ns3/traced-callback.h"

#include <functional>
#include <vector>

namespace ns3
{

/**
 * @ingroup ns3mfs
 * Shared-buffer memory manager of a switch with ingress accounting and PFC.
 *
 * The buffer (BufferSize) is split into a per (ingress port, class) reserve
 * (ReservePerQueue), a per (ingress port, class) PFC headroom and a shared
 * pool. The headroom of a port absorbs what is still in flight after a PAUSE
 * is sent: HeadroomFactor x rate x one-way delay (default 3 x, as in the
 * HPCC / SimAI RoCE models), plus two MTU-sized frames; with a factor of 2
 * or more, at least a round trip at line rate plus three frames (the one arriving when XOFF is
 * decided, the one upstream is sending when the PAUSE arrives, the one this
 * port is sending ahead of the PAUSE), which decides on short links such as
 * those inside a server.
 *
 * A frame entering on (port, class) is charged to the reserve while it has
 * room, then to the shared pool, then (once that queue is paused, or the
 * pool is full) to the headroom. When the shared bytes of the queue exceed the
 * XOFF threshold a PAUSE is sent upstream on that port: the threshold is
 * dynamic, Alpha x (free shared bytes), or a static byte count (Dynamic =
 * false). XON is XOFF minus ResumeOffset: when the queue's headroom is empty
 * and its shared bytes fall to that level (or to zero) a RESUME is sent.
 * While paused, the PAUSE is refreshed every half pause time.
 *
 * With PfcEnabled = false there is no headroom, the shared pool is the whole
 * buffer less the reserves, and a frame that does not fit is dropped.
 */
class SwitchBufferManager : public Object
{
  public:
    /**
     * @brief Get the type ID.
     * @return the object TypeId
     */
    static TypeId GetTypeId();
    /** Create a buffer manager with default attributes. */
    SwitchBufferManager();

    /** Called to send PFC on a port: (port, class, quanta; 0 = RESUME). */
    using PfcSender = std::function<void(uint32_t, uint8_t, uint16_t)>;

    /**
     * Size the regions for the switch's ports.
     * @param portBps line rate of each port (bit/s)
     * @param portDelay one-way propagation delay of each port's link
     * @param numClasses classes per port
     * @param mtuBytes largest frame on the wire
     * @param sender how to send PFC frames
     * @return an empty string, or why the configuration is impossible
     */
    std::string Setup(const std::vector<uint64_t>& portBps,
                      const std::vector<Time>& portDelay,
                      uint32_t numClasses,
                      uint32_t mtuBytes,
                      PfcSender sender);

    /**
     * Charge an arriving frame, possibly sending PAUSE.
     * @param port ingress port
     * @param cls class
     * @param bytes frame size
     * @return false if the frame must be dropped
     */
    bool Admit(uint32_t port, uint8_t cls, uint32_t bytes);

    /**
     * Return a departing frame's bytes, possibly sending RESUME.
     * @param port ingress port the frame was charged to
     * @param cls class
     * @param bytes frame size
     */
    void Release(uint32_t port, uint8_t cls, uint32_t bytes);

    /** @return bytes currently held (all regions) */
    uint64_t GetUsedBytes() const;
    /** @return bytes in the shared pool */
    uint64_t GetSharedUsed() const;
    /** @return capacity of the shared pool */
    uint64_t GetSharedCapacity() const;
    /** @return headroom bytes reserved per queue of @p port */
    uint64_t GetHeadroom(uint32_t port) const;
    /** @return whether the buffer sends PAUSE instead of dropping (PfcEnabled) */
    bool IsLossless() const;
    /** @return current XOFF threshold (bytes of shared buffer per queue) */
    uint64_t GetXoffThreshold() const;
    /** @return bytes held by one ingress queue */
    uint64_t GetQueueBytes(uint32_t port, uint8_t cls) const;
    /** @return true while the queue has PAUSE asserted upstream */
    bool IsPaused(uint32_t port, uint8_t cls) const;
    /** Counters of one buffer manager (each event counted once, here). */
    struct Stats
    {
        uint64_t drops{0};     //!< frames refused
        uint64_t dropBytes{0}; //!< bytes of the frames refused
    };

    /** @return the counters */
    const Stats& GetStats() const;

    /**
     * TracedCallback signature of Drop.
     * @param port ingress port
     * @param cls class
     * @param bytes frame size
     */
    typedef void (*DropTracedCallback)(uint32_t port, uint8_t cls, uint32_t bytes);
    /** @return whether PFC is on */
    bool IsPfcEnabled() const;

  protected:
    void DoDispose() override;

  private:
    struct Queue
    {
        uint64_t reserve{0}; //!< bytes charged to the reserve
        uint64_t shared{0};  //!< bytes charged to the shared pool
        uint64_t hdrm{0};    //!< bytes charged to the headroom
        bool xoff{false};    //!< PAUSE asserted upstream
        EventId refresh;     //!< next PAUSE refresh
    };

    Queue& Q(uint32_t port, uint8_t cls);        //!< the ingress queue (port, class)
    void SendPause(uint32_t port, uint8_t cls);  //!< assert XOFF and send PAUSE
    void Refresh(uint32_t port, uint8_t cls);    //!< re-send PAUSE while XOFF

    // attributes
    uint64_t m_bufferSize;      //!< BufferSize
    uint64_t m_reservePerQueue; //!< ReservePerQueue
    uint64_t m_resumeOffset;    //!< ResumeOffset
    double m_alpha;             //!< Alpha
    bool m_dynamic;             //!< Dynamic
    uint64_t m_staticXoff;      //!< StaticXoff
    double m_headroomFactor;    //!< HeadroomFactor
    bool m_pfcEnabled;          //!< PfcEnabled
    uint16_t m_pauseQuanta;     //!< PauseQuanta

    // state
    uint32_t m_numClasses{8};
    std::vector<Queue> m_queues;       //!< per (port, class)
    std::vector<uint64_t> m_headroom;  //!< per port
    std::vector<Time> m_pauseTime;     //!< per port: quanta x 512 bit times
    uint64_t m_sharedCap{0};           //!< shared pool size
    uint64_t m_sharedUsed{0};          //!< shared pool in use
    uint64_t m_used{0};                //!< all bytes held
    Stats m_stats; //!< counters
    PfcSender m_sender;                //!< sends PFC frames

    TracedCallback<uint32_t, uint8_t, uint32_t> m_dropTrace; //!< (port, class, bytes)
};

} // namespace ns3

#endif
