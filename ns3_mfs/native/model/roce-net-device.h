/*
 * ns3-mfs: packet-level model of disaggregated MoE serving networks.
 * SPDX-License-Identifier: GPL-2.0-only (as ns-3)
 */
#ifndef NS3_MFS_ROCE_NET_DEVICE_H
#define NS3_MFS_ROCE_NET_DEVICE_H

#include "rmlq-queue-disc.h"
#include "roce-link-event.h"
#include "roce-queue-item.h"

#include "ns3/channel.h"
#include "ns3/data-rate.h"
#include "ns3/event-id.h"
#include "ns3/mac48-address.h"
#include "ns3/net-device.h"
#include "ns3/nstime.h"
#include "ns3/traced-callback.h"

#include <array>
#include <deque>
#include <unordered_map>
#include <vector>

namespace ns3
{

class RoceNetDevice;
class RoceTxDoneEvent;
class RoceRxEvent;

/**
 * @ingroup ns3mfs
 * Something that owns fabric ports: a switch or a host's RDMA NIC.
 */
class RocePortOwner
{
  public:
    /** Owners are switches and NICs, held by their own Ptr. */
    virtual ~RocePortOwner() = default;
    /**
     * A data or transport-control frame arrived on a port.
     * @param port port index
     * @param item the frame
     */
    virtual void PortReceive(uint32_t port, Ptr<RoceQueueItem> item) = 0;
    /**
     * A frame left the port's queue disc for the wire (buffer release point).
     * @param port port index
     * @param item the frame
     */
    virtual void PortDequeued(uint32_t port, Ptr<RoceQueueItem> item);
    /**
     * The port is idle and its queue disc has nothing eligible: offer a frame
     * of a class not in @p pausedMask, or nothing. Lets a NIC generate packets
     * on demand instead of polling.
     * @param port port index
     * @param pausedMask classes the port may not send
     * @return the next frame, or nullptr
     */
    virtual Ptr<RoceQueueItem> PortPull(uint32_t port, uint8_t pausedMask);
};

/**
 * @ingroup ns3mfs
 * Full-duplex point-to-point link between two RoceNetDevices.
 */
class RoceChannel : public Channel
{
  public:
    /**
     * @brief Get the type ID.
     * @return the object TypeId
     */
    static TypeId GetTypeId();
    /** Create an unconnected channel. */
    RoceChannel();

    /**
     * Connect a device; a channel takes exactly two.
     * @param dev the device
     */
    void Attach(Ptr<RoceNetDevice> dev);

    /**
     * Put a frame on the wire: it reaches the peer after @p txTime + Delay.
     * @param item the frame
     * @param src sending device
     * @param txTime serialisation time of the frame
     */
    void Transmit(Ptr<RoceQueueItem> item, const RoceNetDevice* src, Time txTime);

    /**
     * @param dev one end
     * @return the other end
     */
    Ptr<RoceNetDevice> GetPeer(const RoceNetDevice* dev) const;

    /** @return the one-way propagation delay. */
    Time GetDelay() const;

    /** @return the number of attached devices (0..2) */
    std::size_t GetNDevices() const override;
    /**
     * @param i 0 or 1
     * @return the device at end @p i
     */
    Ptr<NetDevice> GetDevice(std::size_t i) const override;

  private:
    Time m_delay;                          //!< propagation delay
    std::array<Ptr<RoceNetDevice>, 2> m_dev; //!< the two ends
    uint32_t m_nDevices{0};                //!< attached devices
};

/**
 * @ingroup ns3mfs
 * Lossless point-to-point RoCE port (host NIC port or switch port).
 *
 * Serialises one frame at a time at DataRate, charging the frame bytes plus
 * preamble, SFD and inter-frame gap (RoceHeader::kPreambleIfg). Egress
 * scheduling is an RmlqQueueDisc. MAC control frames (PFC) bypass it and go
 * out right after the frame being serialised, whatever classes are paused.
 *
 * PFC receive side: a PAUSE for class c with q quanta stops class c for
 * q x 512 bit times from its arrival (the frame being serialised finishes
 * first); zero quanta (RESUME) restarts it at once. An idle port restarts the
 * moment the RESUME arrives.
 *
 * Per-packet work is event driven: one event when serialisation ends and one
 * when the frame reaches the peer; an owner with data to send is asked for a
 * frame (PortPull) only when the port has nothing eligible, so no polling.
 */
class RoceNetDevice : public NetDevice
{
  public:
    /**
     * @brief Get the type ID.
     * @return the object TypeId
     */
    static TypeId GetTypeId();
    /** Create a port with default attributes. */
    RoceNetDevice();
    ~RoceNetDevice() override;

    /**
     * Counters of one port (as QueueDisc::Stats): each event is counted by
     * the object it happens in, and fabric-wide figures are sums over objects.
     */
    struct Stats
    {
        uint64_t txFrames{0};      //!< frames put on the link (data, control and PFC)
        uint64_t txDataFrames{0};  //!< data frames put on the link
        uint64_t pauseSent{0};     //!< PFC PAUSE frames sent (refreshes included)
        uint64_t resumeSent{0};    //!< PFC RESUME (zero-quanta) frames sent
        uint64_t maxQueueBytes{0}; //!< largest egress queue seen (bytes)
        int64_t longestPausePs{0}; //!< longest pause of a class by the peer that has ended (ps)
    };

    /** @return the port's counters */
    const Stats& GetStats() const;

    /**
     * TracedCallback signature of PfcTx and PfcRx.
     * @param cls the class
     * @param quanta pause time in 512-bit-time quanta (0 = RESUME)
     */
    typedef void (*PfcTracedCallback)(uint8_t cls, uint16_t quanta);

    /**
     * @param owner the switch or NIC that receives and feeds this port
     * @param port index of this port at the owner
     * @param nodeIndex fabric node index (for logs)
     */
    void SetOwner(RocePortOwner* owner, uint32_t port, uint32_t nodeIndex);

    /** @param ch the link */
    void Attach(Ptr<RoceChannel> ch);

    /** @param qdisc the egress scheduler (initialised here) */
    void SetQueueDisc(Ptr<RmlqQueueDisc> qdisc);

    /** @return the egress scheduler */
    Ptr<RmlqQueueDisc> GetQueueDisc() const;

    /**
     * Queue a frame for transmission (switch forwarding, NIC control frames).
     * @param item the frame
     */
    void Enqueue(Ptr<RoceQueueItem> item);

    /** The owner has data it could offer through PortPull: start sending if idle. */
    void Kick();

    /**
     * Send a PFC frame for one class (quanta 0 = RESUME).
     * @param cls class
     * @param quanta pause time in 512-bit-time quanta
     */
    void SendPfc(uint8_t cls, uint16_t quanta);

    /**
     * A frame arrived from the link (called by the channel).
     * @param item the frame
     */
    void Receive(Ptr<RoceQueueItem> item);

    /** @return the classes this port may not send now */
    uint8_t GetPausedMask() const;

    /**
     * @param cls class
     * @return when class @p cls became paused without a break since (ps), or -1 if it is not paused
     */
    int64_t GetPausedSincePs(uint8_t cls) const;

    /** @return link rate in bit/s */
    uint64_t GetBitRate() const;

    /**
     * @param bytes frame bytes (without preamble/IFG)
     * @return serialisation time of the frame including preamble and IFG
     */
    Time TxTime(uint32_t bytes) const;

    /** @return the link */
    Ptr<RoceChannel> GetRoceChannel() const;

    /** @return true while a frame is being serialised */
    bool IsBusy() const;

    /**
     * @return true when the port holds nothing and sends nothing: no frame
     *         being serialised, none still propagating to the peer (a frame
     *         arriving at exactly the current time counts as propagating), no
     *         control frame and no packet in the egress queue disc
     */
    bool IsIdle() const;

    /** @return bytes of all frames started on this port (preamble and IFG included) */
    uint64_t GetTxBytes() const;

    /** @return the port index at the owner */
    uint32_t GetPortIndex() const;

    /** @return the fabric node index of the owner */
    uint32_t GetNodeIndex() const;

    // NetDevice interface (see ns3::NetDevice; a RoCE port is point to point and has no IP stack)
    void SetIfIndex(const uint32_t index) override;
    uint32_t GetIfIndex() const override;
    Ptr<Channel> GetChannel() const override;
    void SetAddress(Address address) override;
    Address GetAddress() const override;
    bool SetMtu(const uint16_t mtu) override;
    uint16_t GetMtu() const override;
    bool IsLinkUp() const override;
    void AddLinkChangeCallback(Callback<void> callback) override;
    bool IsBroadcast() const override;
    Address GetBroadcast() const override;
    bool IsMulticast() const override;
    Address GetMulticast(Ipv4Address multicastGroup) const override;
    Address GetMulticast(Ipv6Address addr) const override;
    bool IsBridge() const override;
    bool IsPointToPoint() const override;
    bool Send(Ptr<Packet> packet, const Address& dest, uint16_t protocolNumber) override;
    bool SendFrom(Ptr<Packet> packet,
                  const Address& source,
                  const Address& dest,
                  uint16_t protocolNumber) override;
    Ptr<Node> GetNode() const override;
    void SetNode(Ptr<Node> node) override;
    bool NeedsArp() const override;
    void SetReceiveCallback(NetDevice::ReceiveCallback cb) override;
    void SetPromiscReceiveCallback(PromiscReceiveCallback cb) override;
    bool SupportsSendFrom() const override;

  protected:
    void DoDispose() override;

  private:
    friend class RoceTxDoneEvent; //!< calls TxComplete
    friend class RoceRxEvent;     //!< calls RecycleRxEvent
    friend class RoceChannel;     //!< calls TakeRxEvent

    /** @return an idle delivery event of this device (a new one if none is idle) */
    Ptr<RoceRxEvent> TakeRxEvent();
    /**
     * Keep a delivery event that has run, for a later frame.
     * @param ev the event
     */
    void RecycleRxEvent(RoceRxEvent* ev);

    /** Start the next frame: control frames first, then the queue disc, then the owner. */
    void TransmitNext();
    /** Serialisation of the current frame ended. */
    void TxComplete();
    /**
     * Put a frame on the wire.
     * @param item the frame
     */
    void StartTx(Ptr<RoceQueueItem> item);
    /**
     * Pause or resume a class (PFC receive side).
     * @param cls class
     * @param paused new state
     */
    void SetClassPaused(uint8_t cls, bool paused);
    /**
     * A pause timer expired.
     * @param cls class
     */
    void PauseExpired(uint8_t cls);

    DataRate m_rate;              //!< line rate
    double m_psPerByte{0};        //!< serialisation time per byte (ps)
    uint16_t m_mtu;               //!< RoCE payload MTU
    Ptr<RoceChannel> m_channel;   //!< the link
    Ptr<Node> m_node;             //!< ns-3 node
    uint32_t m_ifIndex{0};        //!< interface index
    Mac48Address m_address;       //!< MAC address
    Ptr<RmlqQueueDisc> m_qdisc;   //!< egress scheduler
    RocePortOwner* m_owner{nullptr}; //!< switch or NIC
    uint32_t m_port{0};           //!< port index at the owner
    uint32_t m_nodeIndex{0};      //!< fabric node index
    Stats m_stats;                //!< counters
    bool m_busy{false};           //!< serialising a frame
    bool m_pulling{false};        //!< inside the owner's PortPull (which may Kick: see TransmitNext)
    int64_t m_lastArrivalPs{-1};  //!< the last frame sent reaches the peer then (ps)
    uint64_t m_txBytes{0};        //!< bytes put on the wire
    uint32_t m_txTimeBytes{0};    //!< frame size of m_txTime (0: none yet)
    Time m_txTime;                //!< TxTime(m_txTimeBytes), kept for the next frame of that size
    std::deque<Ptr<RoceQueueItem>> m_ctrl; //!< MAC control frames waiting
    uint8_t m_pausedMask{0};      //!< classes paused by the peer
    std::array<EventId, RoceHeader::kNumClasses> m_pauseExpiry; //!< pause timers
    std::array<int64_t, RoceHeader::kNumClasses> m_pausedSincePs; //!< start of the current pause, or -1
    Ptr<RoceTxDoneEvent> m_txDoneEvent; //!< end of serialisation, scheduled again for every frame
    std::vector<Ptr<RoceRxEvent>> m_idleRxEvents; //!< delivery events that ran, for the next frames sent here

    TracedCallback<Ptr<const QueueDiscItem>> m_phyTxBeginTrace; //!< frame starts on the wire
    TracedCallback<Ptr<const QueueDiscItem>> m_macRxTrace;      //!< frame received
    TracedCallback<uint8_t, uint16_t> m_pfcTxTrace;             //!< PFC sent (class, quanta)
    TracedCallback<uint8_t, uint16_t> m_pfcRxTrace;             //!< PFC received (class, quanta)
};

} // namespace ns3

#endif
