/*
 * ns3-mfs: packet-level model of disaggregated MoE serving networks.
 * SPDX-License-Identifier: GPL-2.0-only (as ns-3)
 */
#ifndef NS3_MFS_RMLQ_QUEUE_DISC_H
#define NS3_MFS_RMLQ_QUEUE_DISC_H

#include "ns3/queue-disc.h"
#include "ns3/random-variable-stream.h"
#include "ns3/traced-callback.h"

#include <deque>
#include <vector>

namespace ns3
{

/**
 * @ingroup ns3mfs
 * Reverse Multi-Level Queue: the egress scheduler of every fabric port.
 *
 * K strict-priority bands (attribute NumBands, 1..8, default 8); band 0 is
 * served first. The band of a packet is its traffic class, read from the DS
 * field of the queue item (DSCP = class), capped at K-1, exactly as a switch
 * classifies RoCE traffic by DSCP. Stock ns-3 IPv4 and IPv6 packets are
 * classified the same way (Ipv4QueueDiscItem reports the TOS byte: DSCP 0
 * goes to band 0, DSCP 3 to band 3). An item without a DS field (ARP, a raw
 * packet) goes to the band of its SocketPriorityTag (priority, capped at K-1)
 * or, without that tag, to band DefaultBand. Bands whose class is paused by PFC
 * (SetPausedMask) are skipped by Dequeue and Peek, so a paused class never
 * blocks another class (no head-of-line blocking across classes).
 *
 * "Reverse" refers to how MFS uses the bands: flows start low and are promoted
 * (never demoted) as their laxity shrinks. The promotion decisions are made by
 * the sender (the RDMA NIC sets the class of the packets of a flow), so the
 * queue disc itself stays a strict-priority multi-band scheduler with per-band
 * accounting.
 *
 * ECN (EcnMarking): when a packet leaves band b holding q bytes (the packet
 * included), it is marked Congestion Experienced with probability 0 for
 * q <= EcnKmin, EcnPmax (q - EcnKmin) / (EcnKmax - EcnKmin) between the
 * thresholds and 1 above EcnKmax (RED on instantaneous per-band bytes, as
 * DCQCN switches do). EcnBandMask selects the bands that mark; only
 * ECN-capable packets can be marked.
 *
 * Each band is an internal DropTailQueue<QueueDiscItem> without a practical
 * limit: admission is the job of the switch buffer manager (shared buffer,
 * PFC), not of the queue disc.
 *
 * Trace sources: the QueueDisc ones (Enqueue, Dequeue, Drop, Mark, ...) plus
 * BandEnqueue and BandDequeue (band, item), BandBytes (band, bytes queued
 * in that band after the change) and EcnMark (band, item).
 *
 * Two ways in. A plain ns-3 program uses the QueueDisc interface
 * (TrafficControlHelper, QueueDisc::Enqueue/Dequeue): frames go through the
 * internal queues and every QueueDisc statistic and trace source works.
 * The fabric's own ports (RoceNetDevice) use EnqueueDirect/DequeueDirect
 * instead: frames wait in per-band rings of this class, with the same
 * band order, pause handling, ECN marking, band counters and band trace
 * sources (BandEnqueue, BandDequeue, BandBytes, EcnMark), but without the
 * QueueDisc base class's per-packet work (a list node per frame, traced
 * counters, statistics maps, log checks): for those frames the base class's
 * Enqueue/Dequeue/Drop traces, PacketsInQueue/BytesInQueue and GetStats()
 * stay at zero. GetQueuedPackets/GetQueuedBytes count both ways. One queue
 * disc takes frames one way only (mixing aborts).
 */
class RmlqQueueDisc : public QueueDisc
{
  public:
    /**
     * @brief Get the type ID.
     * @return the object TypeId
     */
    static TypeId GetTypeId();
    /** Create a queue disc with default attributes. */
    RmlqQueueDisc();
    ~RmlqQueueDisc() override;

    /**
     * TracedCallback signature of BandEnqueue, BandDequeue and EcnMark.
     * @param band the band
     * @param item the packet
     */
    typedef void (*BandItemTracedCallback)(uint32_t band, Ptr<const QueueDiscItem> item);

    /**
     * TracedCallback signature of BandBytes.
     * @param band the band
     * @param bytes bytes queued in the band after the change
     */
    typedef void (*BandBytesTracedCallback)(uint32_t band, uint64_t bytes);

    /** @return the number of bands K. */
    uint32_t GetNumBands() const;

    /**
     * Set which classes are paused (bit c = class c). Paused bands are not served.
     * @param mask the paused-class bit mask
     */
    void SetPausedMask(uint8_t mask);

    /** @return the paused-class bit mask. */
    uint8_t GetPausedMask() const;

    /**
     * @param band band index
     * @return bytes queued in @p band
     */
    uint64_t GetBandBytes(uint32_t band) const;

    /**
     * @param band band index
     * @return packets queued in @p band
     */
    uint32_t GetBandPackets(uint32_t band) const;

    /**
     * Marking probability of the RED line for a band holding @p bytes.
     * @param bytes bytes queued in the band
     * @return probability in [0, 1]
     */
    double MarkProbability(uint64_t bytes) const;

    /**
     * @param band band index
     * @return packets dequeued from @p band so far (progress of a class)
     */
    uint64_t GetBandDequeued(uint32_t band) const;

    /** @return packets marked CE by this queue disc */
    uint64_t GetEcnMarks() const;

    /**
     * Use a fixed random stream (ns-3 stream assignment).
     * @param stream first stream index
     * @return number of streams used (1)
     */
    int64_t AssignStreams(int64_t stream);

    /** @return true if some unpaused band holds a packet. */
    bool HasEligible() const;

    /**
     * Band a queue item maps to.
     * @param item the item
     * @return its band
     */
    uint32_t BandOf(Ptr<const QueueDiscItem> item) const;

    /**
     * Fabric fast path: queue a frame in its band, bypassing the QueueDisc
     * base class (see the class description). Never drops.
     * @param item the frame
     */
    void EnqueueDirect(Ptr<QueueDiscItem> item);

    /**
     * Fabric fast path: the next frame by band order (paused bands skipped,
     * ECN marking as in Dequeue), or nullptr.
     * @return the frame
     */
    Ptr<QueueDiscItem> DequeueDirect();

    /** @return frames queued, whichever way they came in */
    uint32_t GetQueuedPackets() const;

    /** @return bytes queued, whichever way they came in */
    uint64_t GetQueuedBytes() const;

  private:
    /**
     * Take the head of band @p b (non-empty), mark it, count it, trace it.
     * @param b the band
     * @param direct take it from the ring (fast path) or the internal queue
     * @return the frame
     */
    Ptr<QueueDiscItem> TakeFrom(uint32_t b, bool direct);
    // QueueDisc hooks (see ns3::QueueDisc)
    bool DoEnqueue(Ptr<QueueDiscItem> item) override;
    Ptr<QueueDiscItem> DoDequeue() override;
    Ptr<const QueueDiscItem> DoPeek() override;
    bool CheckConfig() override;
    void InitializeParams() override;

    uint32_t m_numBands;                 //!< K
    bool m_ecn;                          //!< ECN marking on
    uint64_t m_kmin;                     //!< RED Kmin (bytes)
    uint64_t m_kmax;                     //!< RED Kmax (bytes)
    double m_pmax;                       //!< RED Pmax
    uint8_t m_ecnBandMask;               //!< bands that mark
    uint32_t m_defaultBand;              //!< band of items without DS field or priority tag
    uint64_t m_ecnMarks{0};              //!< packets marked
    Ptr<UniformRandomVariable> m_uniform; //!< marking coin
    uint8_t m_pausedMask{0};             //!< classes paused by PFC
    std::vector<uint64_t> m_bandBytes;   //!< bytes per band
    std::vector<uint32_t> m_bandPackets; //!< packets per band
    std::vector<uint64_t> m_bandDequeued; //!< packets dequeued per band
    std::vector<InternalQueue*> m_bands; //!< the internal queues (owned by QueueDisc)
    std::vector<std::deque<Ptr<QueueDiscItem>>> m_rings; //!< per-band frames of the fast path
    bool m_direct{false};                //!< the fast path has been used
    uint32_t m_queuedPackets{0};         //!< frames queued (both ways)
    uint64_t m_queuedBytes{0};           //!< bytes queued (both ways)

    TracedCallback<uint32_t, Ptr<const QueueDiscItem>> m_bandEnqueueTrace; //!< packet entered a band
    TracedCallback<uint32_t, Ptr<const QueueDiscItem>> m_bandDequeueTrace; //!< packet left a band
    TracedCallback<uint32_t, uint64_t> m_bandBytesTrace;                   //!< band occupancy changed
    TracedCallback<uint32_t, Ptr<const QueueDiscItem>> m_ecnMarkTrace;     //!< packet marked CE
};

} // namespace ns3

#endif
