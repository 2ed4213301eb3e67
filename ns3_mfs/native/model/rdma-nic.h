/*
 * ns3-mfs: packet-level model of disaggregated MoE serving networks.
 * SPDX-License-Identifier: GPL-2.0-only (as ns-3)
 */
#ifndef NS3_MFS_RDMA_NIC_H
#define NS3_MFS_RDMA_NIC_H

#include "roce-net-device.h"

#include "ns3/data-rate.h"
#include "ns3/event-id.h"
#include "ns3/nstime.h"
#include "ns3/object.h"

#include <array>
#include <deque>
#include <functional>
#include <vector>

namespace ns3
{

/**
 * @ingroup ns3mfs
 * State of one flow: a reliable-connection queue pair writing `size` bytes
 * from host `src` to host `dst`. Sender and receiver halves live together
 * because the simulator owns both ends.
 */
struct RdmaFlow
{
    uint32_t id{0};          //!< flow id
    uint32_t src{0};         //!< source host
    uint32_t dst{0};         //!< destination host
    uint64_t size{0};        //!< bytes to deliver
    uint8_t cls{0};          //!< current class of new packets
    uint8_t initialCls{0};   //!< class at start
    uint32_t classChanges{0}; //!< number of class changes
    int16_t pendingCls{-1};  //!< class taken once nothing is in flight (atomic change); -1 none
    bool held{false};        //!< held at the NIC while a higher-class flow of it has bytes to send
    int64_t startPs{-1};     //!< first packet may leave (ps); -1 not started
    int64_t endPs{-1};       //!< last byte delivered in order at the receiver (ps)
    int64_t ackedPs{-1};     //!< sender saw the final ACK (ps)
    bool notify{false};      //!< report completion to the fabric's callback
    // sender
    uint64_t sndNxt{0};      //!< next byte to send
    uint64_t sndUna{0};      //!< first unacknowledged byte
    uint64_t bytesSent{0};   //!< payload bytes put on the wire (retransmissions included)
    uint32_t rewinds{0};     //!< go-back-N rewinds (NACK or timeout)
    bool inReady{false};     //!< in its class's ready list
    int64_t lastProgressPs{0}; //!< last ACK that advanced sndUna (ps)
    EventId rto;             //!< retransmission timer
    // DCQCN reaction point (sender)
    double rate{0};          //!< current rate Rc (bit/s); line rate when not limited
    double targetRate{0};    //!< target rate Rt (bit/s)
    bool limited{false};     //!< a rate limiter is allocated (from a CNP until the rate is back at line rate)
    double alpha{1.0};       //!< congestion estimate
    int64_t alphaPs{0};      //!< alpha was last brought up to date (ps)
    bool cnpInWindow{false}; //!< AlphaPerWindow: a CNP arrived in the current alpha window
    int64_t decreasePs{-1};  //!< last rate decrease (ps)
    bool decreasePending{false}; //!< a CNP waits for the decrease interval
    uint32_t timerStage{0};  //!< T: increase-timer expirations since the last decrease
    uint32_t byteStage{0};   //!< BC: byte-counter expirations since the last decrease
    uint64_t stageBytes{0};  //!< bytes sent towards the next byte-counter expiration
    int64_t nextTxPs{0};     //!< pacing: earliest start of the next packet (ps)
    double rateCap{0};       //!< policy rate limit (bit/s); 0 = none
    std::vector<uint64_t> demoteAt; //!< PIAS: bytes sent at which the flow moves one class down
    uint32_t demoted{0};     //!< thresholds already crossed
    uint32_t cnpsReceived{0}; //!< CNPs that reached the sender
    uint32_t rateDecreases{0}; //!< DCQCN rate cuts
    EventId increaseTimer;   //!< DCQCN rate-increase timer
    EventId decreaseEvent;   //!< deferred rate decrease
    // receiver
    int64_t lastCnpPs{-1};   //!< last CNP sent for this flow (ps)
    uint64_t rcvNxt{0};      //!< next in-order byte expected
    uint64_t bytesReceived{0}; //!< payload bytes that arrived (duplicates included)
    uint32_t sinceAck{0};    //!< in-order packets since the last ACK
    int64_t lastNackPs{-1};  //!< last NACK sent (ps)
};

/** @ingroup ns3mfs Flows of one fabric, indexed by flow id (stable addresses). */
using RdmaFlowTable = std::deque<RdmaFlow>;

/**
 * @ingroup ns3mfs
 * RDMA NIC of a host: reliable-connection queue pairs over one RoCE port.
 *
 * Sender: one queue pair per flow. The QP scheduler is event driven: when
 * the port is idle and has nothing queued it asks the NIC for a frame
 * (PortPull), and the NIC serves classes in strict priority (0 first),
 * round-robin among the flows of one class, skipping classes the link has
 * paused. A flow sends MTU-sized payloads (the last one shorter) back to
 * back at line rate (congestion control hooks in here).
 *
 * Reliability is go-back-N, as RoCE NICs do: the receiver accepts only the
 * next in-order packet, acknowledges every AckInterval packets and the last
 * one, and answers a gap with a NACK carrying the expected PSN (again at most
 * every NackInterval). The sender rewinds to the NACKed PSN; a retransmission
 * timer (RetxTimeout, 0 = off) rewinds to the last acknowledged byte when
 * nothing advanced for that long, which recovers lost tails.
 *
 * ACK, NACK and CNP frames use the control class (ControlClass).
 *
 * Congestion control (Dcqcn = true) follows the DCQCN paper (Zhu et al.,
 * SIGCOMM 2015). Notification point: a receiver answers CE-marked data with a
 * CNP, at most one per flow per CnpInterval. Reaction point, per flow:
 *  - alpha decays as alpha <- (1-g) alpha every AlphaUpdateInterval without a
 *    CNP (computed lazily, exactly as the timer would) and a CNP sets
 *    alpha <- (1-g) alpha + g;
 *  - a CNP cuts the rate, at most once per RateDecreaseInterval:
 *    Rt <- Rc, Rc <- Rc (1 - alpha/2), and resets the increase stages;
 *    the cut is bounded by MinDecreaseFactor (Rc never falls below that
 *    fraction of its value before the cut) and MinRate;
 *  - the increase timer (IncreaseTimer) and the byte counter (ByteCounter)
 *    each count stages T and BC; at each expiration: fast recovery
 *    Rc <- (Rt + Rc)/2 while max(T, BC) < F; hyper increase
 *    Rt <- Rt + (min(T, BC) - F) R_HAI when min(T, BC) > F; else additive
 *    increase Rt <- Rt + R_AI; then Rc <- (Rt + Rc)/2, capped at line rate.
 * Steps of NVIDIA's ConnectX firmware (ConnectX-4 and later) that the
 * paper leaves open, each an attribute whose default keeps the paper's step:
 *  - InitialAlpha: alpha of a new flow (firmware initial_alpha_value / 1024);
 *  - AlphaPerWindow: alpha is updated once per AlphaUpdateInterval window
 *    (firmware dce_tcp_rtt) as alpha <- (1-g) alpha + g [a CNP arrived in the
 *    window], instead of at each CNP with a restarted timer;
 *  - ClampTargetRate / ClampTargetAfterTimeIncrease: Rt <- Rc at every cut
 *    (paper; firmware clamp_tgt_rate), or only when the rate was raised since
 *    the previous cut, by the byte counter or (with
 *    ClampTargetAfterTimeIncrease, firmware clamp_tgt_rate_after_time_inc) by
 *    the timer; otherwise Rt keeps its value, so a run of back-to-back cuts
 *    recovers towards the rate before the first of them (as QCN does);
 *  - MinDecreaseFactor: firmware rpg_min_dec_fac;
 *  - InitialAlphaAtFirstCnp: the reaction point lives in a rate limiter that
 *    the first CNP allocates, alpha <- InitialAlpha there (firmware
 *    initial_alpha_value: the alpha a flow gets at its first CNP), and that
 *    is released when the rate is back
 *    at line rate (rpg_max_rate 0 = port speed; rates in 1 Mbit/s steps), so
 *    the next congestion episode starts over from InitialAlpha instead of the
 *    alpha that decayed while the flow ran unlimited.
 * A flow below line rate is paced: its next packet may start
 * wire-bytes x 8 / Rc after the previous one. The NIC stays event driven: a
 * single wake-up event per NIC for the earliest paced flow, and the increase
 * timer runs only while a flow is below line rate.
 *
 * Class changes (SetFlowClass) apply to the next packet the NIC generates
 * for the flow; packets already in switch queues keep their class. Raising a
 * flow's class can therefore reorder it: newer packets overtake older queued
 * ones, the receiver discards the gap and NACKs, and go-back-N resends the
 * overtaken bytes in the new class (the stale copies arrive later as
 * duplicates and are dropped by the receiver), so every byte is still
 * delivered once and in order. An atomic class change (SetFlowClass with
 * atomic = true, what MFS uses) avoids this: while packets of the flow are
 * unacknowledged the NIC sends no more of it, and the new class takes effect
 * once all of them are acknowledged (a message boundary), so no packet of
 * the flow sits in a switch queue under the old class when the new one
 * starts.
 */
class RdmaNic : public Object, public RocePortOwner
{
  public:
    /**
     * @brief Get the type ID.
     * @return the object TypeId
     */
    static TypeId GetTypeId();
    /** Create a NIC with default attributes. */
    RdmaNic();

    /** Called when a flow's last byte has been delivered in order. */
    using FlowDoneCallback = std::function<void(uint32_t)>;

    /**
     * @param host host index of this NIC
     * @param dev the NIC's port
     * @param flows the fabric's flow table
     * @param done completion callback
     */
    void Setup(uint32_t host, Ptr<RoceNetDevice> dev, RdmaFlowTable* flows, FlowDoneCallback done);

    /** Counters of one NIC (each event counted once, here). */
    struct Stats
    {
        uint64_t cnpsSent{0}; //!< CNPs sent by this receiver
    };

    /** @return the counters */
    const Stats& GetStats() const;

    /**
     * TracedCallback signature of FlowDone and Cnp.
     * @param flow flow id
     */
    typedef void (*FlowTracedCallback)(uint32_t flow);

    /**
     * TracedCallback signature of Rewind.
     * @param flow flow id
     * @param psn the PSN (byte offset) the flow resends from
     */
    typedef void (*RewindTracedCallback)(uint32_t flow, uint64_t psn);

    /**
     * TracedCallback signature of Rate.
     * @param flow flow id
     * @param bps the flow's new current rate (bit/s)
     */
    typedef void (*RateTracedCallback)(uint32_t flow, double bps);

    /**
     * TracedCallback signature of Delivery.
     * @param flow flow id
     * @param delivered bytes delivered in order so far
     */
    typedef void (*DeliveryTracedCallback)(uint32_t flow, uint64_t delivered);

    /**
     * Scale the DCQCN additive and hyper increase steps (given for 100G) to
     * the NIC's line rate.
     */
    void ScaleIncreaseToLineRate();

    /**
     * Start sending a flow from the flow table (its src must be this host).
     * @param id flow id
     */
    void StartFlow(uint32_t id);

    /**
     * Change the class of a running flow; packets generated from now on use it.
     * @param id flow id
     * @param cls new class
     * @param atomic when packets of the flow are in flight, hold the flow
     *        until they are all acknowledged and change the class then
     */
    void SetFlowClass(uint32_t id, uint8_t cls, bool atomic = false);

    /**
     * Cap a flow's sending rate (Karuna's minimum required rate); 0 removes the cap.
     * The NIC paces the flow at min(DCQCN rate, cap).
     * @param id flow id
     * @param bps the cap in bit/s
     */
    void SetFlowRateCap(uint32_t id, double bps);

    /**
     * PIAS-style demotion, applied per packet in the NIC: each time the flow's
     * bytes sent cross the next threshold, its class goes one down (numerically
     * up, at most to the last class).
     * @param id flow id
     * @param thresholds increasing byte counts
     */
    void SetFlowDemotion(uint32_t id, std::vector<uint64_t> thresholds);

    /**
     * Hold a flow at the NIC (the host's software queue): it sends nothing
     * while a flow of a higher class of this NIC has bytes to send, even when
     * that flow is paced or paused, instead of filling the gaps into the
     * switches' lower bands.
     * @param id flow id
     * @param held hold it (true) or send it as usual (false)
     */
    void SetFlowHold(uint32_t id, bool held);

    /** @return the NIC's port */
    Ptr<RoceNetDevice> GetDevice() const;

    /**
     * A data, ACK, NACK or CNP frame for this host arrived.
     * @param port the port (always 0)
     * @param item the frame
     */
    void PortReceive(uint32_t port, Ptr<RoceQueueItem> item) override;
    /**
     * The QP scheduler: the next data frame of the highest unpaused class with a ready flow.
     * @param port the port (always 0)
     * @param pausedMask classes the port may not send
     * @return the frame, or nullptr
     */
    Ptr<RoceQueueItem> PortPull(uint32_t port, uint8_t pausedMask) override;

  protected:
    void DoDispose() override;

  private:
    void Ready(RdmaFlow& f);
    void Regroup(uint32_t cls);
    void ReceiveData(const RoceHeader& h);
    void ReceiveAck(const RoceHeader& h);
    void SendControl(RoceFrameType type, const RdmaFlow& f, uint64_t psn);
    void ArmRto(RdmaFlow& f);
    void RtoFired(uint32_t id);
    void Rewind(RdmaFlow& f, uint64_t psn);
    /** Apply an atomic class change once nothing of the flow is in flight. */
    void ApplyPendingClass(RdmaFlow& f);
    /** Whether a flow of a class above @p cls has bytes to send. */
    bool HigherPending(uint8_t cls) const;
    void OnCnp(RdmaFlow& f);
    void DecayAlpha(RdmaFlow& f, int64_t now);
    void RateDecrease(uint32_t id);
    void RateIncrease(RdmaFlow& f);
    void IncreaseTimerFired(uint32_t id);
    void WakeAt(int64_t ps);
    void Wake();
    void SetRate(RdmaFlow& f, double rate);

    uint32_t m_ackInterval;   //!< ACK every N in-order packets
    Time m_retxTimeout;       //!< go-back-N timeout (0 = off)
    Time m_nackInterval;      //!< minimum time between NACKs for one gap
    uint8_t m_controlClass;   //!< class of ACK/NACK/CNP
    bool m_dcqcn;             //!< DCQCN on
    Time m_cnpInterval;       //!< minimum time between CNPs of one flow
    double m_g;               //!< DCQCN alpha gain
    DataRate m_rai;           //!< additive increase step
    DataRate m_rhai;          //!< hyper increase step
    Time m_alphaInterval;     //!< alpha update period
    Time m_decreaseInterval;  //!< minimum time between rate cuts
    Time m_increaseTimer;     //!< rate increase timer period
    uint64_t m_byteCounter;   //!< bytes per byte-counter stage
    uint32_t m_fastRecovery;  //!< F: stages of fast recovery
    DataRate m_minRate;       //!< lowest rate
    double m_initialAlpha;    //!< alpha of a new flow
    double m_minDecreaseFactor; //!< a cut keeps at least this fraction of Rc
    bool m_alphaPerWindow;    //!< alpha sampled once per window (ConnectX) instead of at each CNP
    bool m_clampTarget;       //!< Rt <- Rc at every cut
    bool m_clampTargetAfterTimer; //!< also Rt <- Rc at a cut if the timer raised the rate since the last cut
    bool m_alphaAtFirstCnp;   //!< alpha <- InitialAlpha at the first CNP after line rate (ConnectX rate limiter)
    double m_lineRate{0};     //!< port rate (bit/s)
    Stats m_stats;            //!< counters
    EventId m_wake;           //!< wake-up for the earliest paced flow
    int64_t m_wakePs{-1};     //!< when m_wake fires
    uint32_t m_host{0};       //!< host index
    uint32_t m_mtu{4096};     //!< payload MTU
    Ptr<RoceNetDevice> m_dev; //!< the port
    RdmaFlowTable* m_flows{nullptr}; //!< shared flow table
    FlowDoneCallback m_done;  //!< completion callback
    std::array<std::deque<uint32_t>, RoceHeader::kNumClasses> m_ready; //!< flows with data, per class
    std::array<uint32_t, RoceHeader::kNumClasses> m_moved{}; //!< flows that left each list's class

    TracedCallback<uint32_t> m_flowDoneTrace;      //!< flow delivered (flow id)
    TracedCallback<uint32_t, uint64_t> m_rewindTrace; //!< go-back-N (flow id, psn)
    TracedCallback<uint32_t, double> m_rateTrace;     //!< DCQCN rate change (flow id, bit/s)
    TracedCallback<uint32_t> m_cnpTrace;              //!< CNP sent by this receiver (flow id)
    TracedCallback<uint32_t, uint64_t> m_deliveryTrace; //!< in-order delivery (flow id, bytes so far)
};

} // namespace ns3

#endif
