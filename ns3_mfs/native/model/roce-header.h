/*
 * ns3-mfs: packet-level model of disaggregated MoE serving networks.
 * SPDX-License-Identifier: GPL-2.0-only (as ns-3)
 */
#ifndef NS3_MFS_ROCE_HEADER_H
#define NS3_MFS_ROCE_HEADER_H

#include "ns3/header.h"

#include <array>
#include <cstdint>

/**
 * @defgroup ns3mfs ns3-mfs
 * Packet-level RoCE fabric for MoE serving: models (devices, switch, buffer
 * manager, queue disc, RDMA NIC) and helpers (fabric building, routing,
 * monitors, recorder).
 */

namespace ns3
{

/**
 * @ingroup ns3mfs
 * Kind of a frame on the RoCE fabric.
 */
enum class RoceFrameType : uint8_t
{
    DATA = 0,  //!< RDMA WRITE payload of one queue pair
    ACK = 1,   //!< cumulative acknowledgement (BTH + AETH)
    NACK = 2,  //!< go-back-N request: resend from the carried PSN
    CNP = 3,   //!< DCQCN congestion notification packet
    PAUSE = 4, //!< IEEE 802.1Qbb priority flow control frame (MAC control)
};

/** @ingroup ns3mfs ECN codepoints of the IP header (RFC 3168). */
enum RoceEcn : uint8_t
{
    ECN_NOT_ECT = 0,
    ECN_ECT1 = 1,
    ECN_ECT0 = 2,
    ECN_CE = 3,
};

/**
 * @ingroup ns3mfs
 * The headers of one RoCEv2 frame, collapsed into a single ns-3 Header.
 *
 * The serialized size equals the real on-wire header bytes of RoCEv2 so that
 * Packet::GetSize() is the Ethernet frame size including the FCS:
 * Ethernet 14 + IPv4 20 + UDP 8 + BTH 12 + ICRC 4 + FCS 4 = 62 bytes for data
 * frames, plus a 4-byte AETH for ACK/NACK and a 16-byte reserved payload for a
 * CNP. A PFC PAUSE frame is a 64-byte minimum Ethernet frame. The 20 bytes of
 * preamble, start-of-frame delimiter and inter-frame gap are added by the
 * device when it computes serialisation time (kPreambleIfg).
 *
 * The fields the model needs (type, traffic class, ECN, source and destination
 * host, flow id and packet sequence number as a byte offset) are serialized
 * inside those bytes; the remainder is zero padding.
 */
class RoceHeader : public Header
{
  public:
    static constexpr uint32_t kDataOverhead = 62; //!< Eth+IPv4+UDP+BTH+ICRC+FCS
    static constexpr uint32_t kAckBytes = 66;     //!< data overhead + AETH
    static constexpr uint32_t kCnpBytes = 78;     //!< data overhead + 16 B reserved
    static constexpr uint32_t kPauseBytes = 64;   //!< minimum Ethernet frame
    static constexpr uint32_t kPreambleIfg = 20;  //!< preamble + SFD + IFG (bytes)
    static constexpr uint32_t kNumClasses = 8;    //!< 802.1p priorities

    /**
     * @brief Get the type ID.
     * @return the object TypeId
     */
    static TypeId GetTypeId();
    // Header interface (see ns3::Header)
    TypeId GetInstanceTypeId() const override;
    uint32_t GetSerializedSize() const override;
    void Serialize(Buffer::Iterator start) const override;
    uint32_t Deserialize(Buffer::Iterator start) override;
    void Print(std::ostream& os) const override;

    RoceFrameType type{RoceFrameType::DATA}; //!< frame kind
    uint8_t cls{0};                          //!< traffic class / PFC priority (0 = highest)
    uint8_t ecn{ECN_NOT_ECT};                //!< ECN codepoint
    uint32_t src{0};                         //!< source host index
    uint32_t dst{0};                         //!< destination host index
    uint32_t flow{0};                        //!< flow (queue pair) id
    uint64_t psn{0};                         //!< byte offset of the payload / ACK point
    uint32_t payload{0};                     //!< payload bytes carried (DATA only)
    uint8_t pauseClassEnable{0};             //!< PAUSE: class-enable vector
    std::array<uint16_t, kNumClasses> pauseQuanta{}; //!< PAUSE: quanta per class
};

} // namespace ns3

#endif
