/*
 * ns3-mfs: packet-level model of disaggregated MoE serving networks.
 * SPDX-License-Identifier: GPL-2.0-only (as ns-3)
 */
#ifndef NS3_MFS_FLOW_FABRIC_H
#define NS3_MFS_FLOW_FABRIC_H

#include "ns3/event-id.h"

#include <cstdint>
#include <deque>
#include <functional>
#include <utility>
#include <vector>

namespace ns3
{

/**
 * @ingroup ns3mfs
 * A flow-level fabric: the same nodes, links, routes and classes as the
 * packet model, but each flow is a fluid whose rate is recomputed at flow
 * events (start, end of transmission, class change, rate cap, hold, PIAS
 * demotion) instead of a train of frames.
 *
 * Rates: strict priority across classes (class 0 highest) and max-min
 * fairness within a class on every directed link, by progressive filling; a
 * flow's rate cap acts as a private bottleneck. A change recomputes only the
 * connected component of flows and links it touches (flows sharing a link
 * with a changed flow, transitively), once per simulated instant however
 * many changes happen at it. Rates count wire bits (payload plus RoCE
 * framing, preamble and inter-frame gap), as the packet model's line rates
 * and rate caps do. A flow's ACKs load the links of its reverse ECMP path
 * (SetAckLoad): data sharing those links divides what the ACKs leave, but
 * the ACKs never limit their own flow (they are control class at packet
 * level, ahead of all data).
 *
 * Timing: a flow transmits its wire bytes at its rate; its last byte is
 * delivered a fixed latency later: its ideal completion time on its path
 * (store and forward of MTU frames, RoceRouting::IdealFctOnHops) minus the
 * transmission time of its wire bytes at the path's slowest link. A flow
 * alone on its path therefore completes exactly at the packet model's
 * analytic ideal.
 *
 * Events use ns-3's Simulator, so timers and callbacks of the same process
 * interleave with flow events as in the packet model. Not modelled: PFC,
 * ECN and DCQCN dynamics, buffer occupancy, head-of-line blocking, packet
 * reordering. An atomic class change (SetClass) idles the flow for one
 * unloaded round trip, as the packet model's NIC holds it until its
 * in-flight frames are acknowledged.
 *
 * Memory: a delivered flow keeps only its Flow record (56 bytes); its path,
 * ACK path, thresholds and event live in a State whose storage the next new
 * flow reuses, so states grow with the flows alive at once, not the run.
 */
class FlowFabric
{
  public:
    /** Called with a flow id when its last byte is delivered. */
    using DoneCallback = std::function<void(uint32_t)>;
    /** Ideal FCT (s) of a payload size over (rate, delay) hops. */
    using IdealFctFunction = std::function<double(const std::vector<std::pair<double, double>>&, uint64_t)>;

    /**
     * What the run keeps of a flow: its row of the flows table (56 bytes). What only a flow
     * that has not been delivered needs (its path, rate, events) is a State, whose storage is
     * reused once the flow is delivered.
     */
    struct Flow
    {
        uint64_t size{0};          //!< payload bytes
        int64_t startPs{0};        //!< start time (ps)
        int64_t endPs{-1};         //!< delivery time of its last byte (ps), -1 before
        double idealS{0};          //!< ideal FCT alone on its path (s)
        uint32_t id{0};            //!< flow id
        uint32_t src{0};           //!< source host
        uint32_t dst{0};           //!< destination host
        uint32_t classChanges{0};  //!< class changes so far
        uint32_t slot{0};          //!< its State while not delivered (kNoSlot after)
        uint8_t cls{0};            //!< current class
        uint8_t initialCls{0};     //!< class at start
    };

    /** Flow::slot of a delivered flow. */
    static constexpr uint32_t kNoSlot = 0xFFFFFFFFu;

    FlowFabric();
    ~FlowFabric();
    FlowFabric(const FlowFabric&) = delete;
    FlowFabric& operator=(const FlowFabric&) = delete;

    /** @param seed run seed (ECMP seeds derive from it as in the packet model) */
    void SetSeed(uint64_t seed);
    /** @param mtu RoCE payload bytes per frame */
    void SetMtu(uint32_t mtu);
    /** @param fn the ideal FCT of a path (the packet model's formula) */
    void SetIdealFct(IdealFctFunction fn);
    /** @param cb the completion callback */
    void SetDoneCallback(DoneCallback cb);
    /**
     * ACK load: a receiver acknowledges every @p interval frames with a
     * @p ackWireBytes frame on the flow's reverse path, as the packet model's
     * NIC does; the ACKs take that fraction of the flow's rate on the links
     * they cross (0 frames = no ACK load).
     * @param interval data frames per ACK
     * @param ackWireBytes wire bytes of an ACK (frame, preamble and gap)
     */
    void SetAckLoad(uint32_t interval, double ackWireBytes);

    /** @return the node index of a new host */
    uint32_t AddHost();
    /** @return the node index of a new switch */
    uint32_t AddSwitch();
    /** Full-duplex link (two directed links). */
    void AddLink(uint32_t a, uint32_t b, double bps, double delayS);

    /**
     * Install the routes (RoceRouting::ComputeRoutes tables) and per-switch
     * ECMP seeds. The adjacency (peer of each port) is what AddLink built.
     * @param offsets per node: host -> first entry of ports
     * @param ports per node: next-hop ports
     * @param seeds per node: ECMP seed (switches)
     */
    void SetRoutes(std::vector<std::vector<uint32_t>> offsets,
                   std::vector<std::vector<uint16_t>> ports,
                   std::vector<uint32_t> seeds);

    /** @return per node, the node behind each port */
    const std::vector<std::vector<uint32_t>>& GetPeers() const;
    /** @return per node, whether it is a switch */
    const std::vector<bool>& GetIsSwitch() const;
    /** @return node index of each host */
    const std::vector<uint32_t>& GetHostNodes() const;

    /** Add a flow starting at absolute time @p startPs; @return its id. */
    uint32_t AddFlow(uint32_t src, uint32_t dst, uint64_t bytes, uint8_t cls, int64_t startPs, bool notify);
    /**
     * Change a flow's class. At once, or with @p atomic at its next message boundary, as the packet
     * model's NIC: a flow that is sending stops for one round trip (its last frame's delivery latency
     * plus its ACK's way back, unloaded) so that none of its bytes is in flight, then takes the class.
     * A newer change replaces a pending one.
     */
    void SetClass(uint32_t id, uint8_t cls, bool atomic = false);
    /** Cap a flow's rate (wire bit/s; 0 = none; above the NIC's line rate = the line rate). */
    void SetRateCap(uint32_t id, double bps);
    /** PIAS: one class down at each threshold of payload bytes sent. */
    void SetDemotion(uint32_t id, std::vector<uint64_t> thresholds);
    /** Hold a flow while a higher-class flow of its NIC is sending. */
    void SetHold(uint32_t id, bool held);

    /** @return the flow */
    const Flow& GetFlow(uint32_t id) const;
    /** @return number of flows */
    uint32_t GetNFlows() const;
    /** @return payload bytes sent so far (now) */
    uint64_t BytesSent(uint32_t id) const;
    /** @return payload bytes delivered so far (all once complete) */
    uint64_t BytesDelivered(uint32_t id) const;
    /** @return current rate (wire bit/s) */
    double Rate(uint32_t id) const;
    /** @return wire bytes that left a port so far */
    uint64_t PortTxBytes(uint32_t node, uint32_t port) const;
    /** @return node indices along a flow's path */
    std::vector<uint32_t> Path(uint32_t id) const;
    /**
     * @return node indices along the path a flow with these ends and id takes (the routes and
     *         ECMP hash of AddFlow; the flow need not exist)
     */
    std::vector<uint32_t> PathOf(uint32_t src, uint32_t dst, uint32_t id) const;
    /** @return flows started and not delivered */
    uint64_t GetActive() const;
    /** @return events processed (starts, transmission ends, demotions, deliveries, reallocations) */
    uint64_t GetEvents() const;
    /** @return rate reallocations and flows they recomputed in total */
    std::pair<uint64_t, uint64_t> GetReallocations() const;
    /** @return number of nodes */
    uint32_t GetNNodes() const;
    /** @return number of ports of a node */
    uint32_t GetNPorts(uint32_t node) const;

  private:
    /** What a flow needs until it is delivered (reused by a later flow after that). */
    struct State
    {
        std::vector<uint32_t> links;    //!< directed links of its path, source NIC first
        std::vector<uint32_t> ackLinks; //!< directed links its ACKs take back (their own ECMP path)
        std::vector<uint64_t> demoteAt; //!< PIAS thresholds (payload bytes sent)
        EventId next;                   //!< next transmission event (end or demotion)
        double capBps{0};               //!< rate cap (wire bit/s), 0 = none
        double wire{0};                 //!< wire bytes of the whole flow
        double sent{0};                 //!< wire bytes transmitted at lastPs
        double rate{0};                 //!< current rate (wire bit/s)
        double newRate{0};              //!< rate being computed
        double extraS{0};               //!< latency from end of transmission to delivery (s)
        int64_t lastPs{0};              //!< time of the last update of sent
        int64_t txDonePs{-1};           //!< time its last wire byte left the source (ps), -1 before
        uint64_t mark{0};               //!< component search epoch
        uint32_t id{0};                 //!< flow id
        uint32_t demoted{0};            //!< thresholds crossed so far
        int16_t pendingCls{-1};         //!< class taken at the message boundary (atomic change), -1: none
        EventId apply;                  //!< when the pending class is taken
        bool notify{false};             //!< call the done callback
        bool held{false};               //!< held while a higher class of its NIC sends
        bool sending{false};            //!< started and not all bytes transmitted
        bool frozen{false};             //!< rate fixed in the current filling
        bool dirty{false};              //!< changed since the last reallocation (reschedule its event)
    };

    /** One direction of a link. */
    struct Link
    {
        double bps{0};               //!< line rate
        double delayS{0};            //!< propagation delay
        uint32_t node{0};            //!< sending node
        uint32_t port{0};            //!< its port
        std::vector<uint32_t> flows; //!< flows sending over it
        std::vector<uint32_t> ackFlows; //!< sending flows whose ACKs cross it
        double txBytes{0};           //!< wire bytes sent, up to each flow's lastPs
        double residual{0};          //!< capacity left in the current filling
        double load{0};              //!< unfrozen flows of the class being filled (ACKs count their weight)
        uint64_t mark{0};            //!< component search epoch
        uint64_t bottleneck{0};      //!< filling round in which it is a bottleneck
    };

    Flow& At(uint32_t id);
    /** @return the state of a flow not yet delivered, or nullptr */
    State* Live(uint32_t id);
    /** @return the state of a flow known not to be delivered */
    State& S(uint32_t id);
    const State& S(uint32_t id) const;
    double WireOf(uint64_t payload) const;
    uint64_t PayloadOf(double wire) const;
    double SentNow(const State& f) const;
    void Advance(State& f);
    void Start(uint32_t id);
    void Next(uint32_t id);
    void Delivered(uint32_t id);
    void Touch(uint32_t id);
    void TouchLink(uint32_t link);
    void Reallocate();
    void Fill(std::vector<uint32_t>& flows, const std::vector<uint32_t>& links);
    bool HigherSending(const State& f, uint8_t cls) const;
    void Route(uint32_t src, uint32_t dst, uint32_t id, std::vector<uint32_t>& links) const;
    void Reschedule(State& f);
    void ApplyPendingClass(uint32_t id);
    double RoundTripS(const State& f) const;

    std::vector<std::vector<uint32_t>> m_peer;     //!< per node, node behind each port
    std::vector<std::vector<uint32_t>> m_portLink; //!< per node, directed link of each port
    std::vector<bool> m_isSwitch;                  //!< per node
    std::vector<uint32_t> m_hostNode;              //!< node of each host
    std::vector<std::vector<uint32_t>> m_offsets;  //!< routes
    std::vector<std::vector<uint16_t>> m_ports;    //!< routes
    std::vector<uint32_t> m_seed;                  //!< ECMP seed per node
    std::vector<Link> m_links;                     //!< directed links
    std::deque<Flow> m_flows;                      //!< flows by id (a deque: no copy when it grows)
    std::vector<State> m_states;                   //!< states of the flows not delivered, by slot
    std::vector<uint32_t> m_freeSlots;             //!< slots of m_states free for the next flow
    IdealFctFunction m_ideal;                      //!< ideal FCT of a path
    DoneCallback m_done;                           //!< completion callback
    uint32_t m_mtu{4096};                          //!< payload per frame
    double m_ackWeight{0};                         //!< ACK wire bits per data wire bit
    double m_ackWireBytes{0};                      //!< wire bytes of one ACK
    uint64_t m_active{0};                          //!< flows started, not delivered
    uint64_t m_events{0};                          //!< events processed
    uint64_t m_reallocs{0};                        //!< reallocations
    uint64_t m_reallocFlows{0};                    //!< flows recomputed, summed
    uint64_t m_epoch{0};                           //!< component search epoch
    uint64_t m_round{0};                           //!< filling round
    bool m_pending{false};                         //!< a reallocation is scheduled now
    std::vector<uint32_t> m_dirtyFlows;            //!< flows changed since the last reallocation
    std::vector<uint32_t> m_dirtyLinks;            //!< links a flow left since then
};

} // namespace ns3

#endif
