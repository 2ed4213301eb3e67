/*
 * ns3-mfs: packet-level model of disaggregated MoE serving networks.
 * SPDX-License-Identifier: GPL-2.0-only (as ns-3)
 *
 * RdmaNic on its own: two NICs joined through a relay that can drop a data
 * frame (go-back-N), and the DCQCN reaction point driven by injected CNPs.
 */
#include "ns3/rdma-nic.h"

#include "ns3/double.h"
#include "ns3/boolean.h"
#include "ns3/data-rate.h"
#include "ns3/node.h"
#include "ns3/simulator.h"
#include "ns3/test.h"

#include "mfs-test-suite.h"
#include "ns3/uinteger.h"

#include <cmath>
#include <vector>

using namespace ns3;

namespace
{

/** The middle of the test wire: forwards frames between its two ports and can drop one data frame. */
class Relay : public RocePortOwner
{
  public:
    void PortReceive(uint32_t port, Ptr<RoceQueueItem> item) override
    {
        const RoceHeader& h = item->Hdr();
        if (h.type == RoceFrameType::DATA && ++m_data == m_dropNth)
        {
            m_droppedPsn = h.psn;
            return;
        }
        m_nacks += h.type == RoceFrameType::NACK;
        m_ports[1 - port]->Enqueue(item);
    }

    std::array<Ptr<RoceNetDevice>, 2> m_ports; //!< toward host 0, toward host 1
    uint32_t m_dropNth{0};                     //!< data frame to drop (1-based; 0 = none)
    uint32_t m_data{0};                        //!< data frames seen
    uint64_t m_droppedPsn{0};                  //!< PSN of the dropped frame
    uint32_t m_nacks{0};                       //!< NACKs forwarded
};

/** Host 0 --- relay --- host 1, 100 Gbit/s links of 1 us, one flow from host 0 to host 1. */
class NicTestCase : public TestCase
{
  public:
    /** @param name test name */
    explicit NicTestCase(const std::string& name)
        : TestCase(name)
    {
    }

  protected:
    /**
     * Build the wire and the NICs.
     * @param dcqcn run DCQCN
     * @param bytes the flow's size
     */
    void Build(bool dcqcn, uint64_t bytes)
    {
        for (uint32_t h = 0; h < 2; ++h)
        {
            m_nic[h] = CreateObject<RdmaNic>();
            m_nic[h]->SetAttribute("Dcqcn", BooleanValue(dcqcn));
            m_nic[h]->SetAttribute("RateAi", DataRateValue(DataRate("1Gbps")));
            m_nic[h]->SetAttribute("IncreaseTimer", TimeValue(MicroSeconds(55)));
            m_nic[h]->SetAttribute("ByteCounter", UintegerValue(1ull << 40)); // timer stages only
            Ptr<RoceNetDevice> hostPort = Port(m_nic[h], 0, h);
            m_hostPorts[h] = hostPort;
            Ptr<RoceNetDevice> relayPort = Port(nullptr, h, 2);
            m_relay.m_ports[h] = relayPort;
            Ptr<RoceChannel> ch = CreateObject<RoceChannel>();
            ch->SetAttribute("Delay", TimeValue(MicroSeconds(1)));
            hostPort->Attach(ch);
            relayPort->Attach(ch);
            m_nic[h]->Setup(h, hostPort, &m_flows, [this](uint32_t id) { m_done.push_back(id); });
        }
        RdmaFlow& f = m_flows.emplace_back();
        f.id = 0;
        f.src = 0;
        f.dst = 1;
        f.size = bytes;
        m_nic[0]->TraceConnectWithoutContext("Rewind", MakeCallback(&NicTestCase::Rewound, this));
        m_nic[0]->TraceConnectWithoutContext("Rate", MakeCallback(&NicTestCase::RateChanged, this));
    }

    /**
     * A CNP for the flow reaches its sender now.
     */
    void InjectCnp()
    {
        RoceHeader h;
        h.type = RoceFrameType::CNP;
        h.src = 1;
        h.dst = 0;
        h.flow = 0;
        Ptr<Packet> p = Create<Packet>();
        p->AddHeader(h);
        m_nic[0]->PortReceive(0, Create<RoceQueueItem>(p, h));
    }

    void DoTeardown() override
    {
        for (auto& nic : m_nic)
        {
            nic->Dispose();
        }
        for (auto& n : m_nodes)
        {
            n->Dispose();
        }
        Simulator::Destroy();
    }

    /**
     * @param flow flow id
     * @param psn rewound to
     */
    void Rewound(uint32_t flow, uint64_t psn)
    {
        m_rewinds.push_back(psn);
    }

    /**
     * @param flow flow id
     * @param bps new rate
     */
    void RateChanged(uint32_t flow, double bps)
    {
        m_rates.emplace_back(Simulator::Now(), bps);
    }

    Relay m_relay;                                   //!< the wire's middle
    std::array<Ptr<RoceNetDevice>, 2> m_hostPorts;   //!< the NICs' ports
    std::array<Ptr<RdmaNic>, 2> m_nic;               //!< the two NICs
    RdmaFlowTable m_flows;                           //!< one flow, 0 -> 1
    std::vector<uint32_t> m_done;                    //!< completed flows
    std::vector<uint64_t> m_rewinds;                 //!< Rewind trace
    std::vector<std::pair<Time, double>> m_rates;    //!< Rate trace
    std::vector<Ptr<Node>> m_nodes;                  //!< nodes of the ports

  private:
    /**
     * @param nic the owner, or null for the relay
     * @param port port index at the owner
     * @param node node index
     * @return a 100 Gbit/s port with its queue disc
     */
    Ptr<RoceNetDevice> Port(Ptr<RdmaNic> nic, uint32_t port, uint32_t node)
    {
        Ptr<Node> n = CreateObject<Node>();
        m_nodes.push_back(n);
        Ptr<RoceNetDevice> dev = CreateObject<RoceNetDevice>();
        dev->SetAttribute("DataRate", DataRateValue(DataRate("100Gbps")));
        dev->SetAddress(Mac48Address::Allocate());
        n->AddDevice(dev);
        dev->SetOwner(nic ? static_cast<RocePortOwner*>(PeekPointer(nic)) : &m_relay, port, node);
        dev->SetQueueDisc(CreateObject<RmlqQueueDisc>());
        return dev;
    }
};

/** A dropped data frame: the receiver NACKs the gap, the sender rewinds to it, and every byte arrives once. */
class NicGoBackNTestCase : public NicTestCase
{
  public:
    NicGoBackNTestCase()
        : NicTestCase("go-back-N: a drop leads to a NACK, a rewind to the lost PSN and full delivery")
    {
    }

  private:
    void DoRun() override
    {
        const uint64_t bytes = 40 * 4096 + 1000;
        Build(false, bytes);
        m_nic[0]->SetAttribute("RetxTimeout", TimeValue(Time(0))); // NACK alone must recover
        m_relay.m_dropNth = 5;
        m_nic[0]->StartFlow(0);
        Simulator::Run();
        const RdmaFlow& f = m_flows[0];
        NS_TEST_ASSERT_MSG_EQ(m_relay.m_droppedPsn, 4 * 4096, "the fifth frame was dropped");
        NS_TEST_ASSERT_MSG_GT(m_relay.m_nacks, 0, "the receiver sent a NACK");
        NS_TEST_ASSERT_MSG_EQ(m_rewinds.empty(), false, "the sender rewound");
        NS_TEST_ASSERT_MSG_EQ(m_rewinds[0], m_relay.m_droppedPsn, "to the lost PSN");
        NS_TEST_ASSERT_MSG_EQ(f.rewinds, m_rewinds.size(), "rewinds counted on the flow");
        NS_TEST_ASSERT_MSG_EQ(f.rcvNxt, bytes, "every byte delivered in order");
        NS_TEST_ASSERT_MSG_EQ(f.sndUna, bytes, "and acknowledged");
        NS_TEST_ASSERT_MSG_GT(f.bytesSent, bytes, "the lost bytes were sent again");
        NS_TEST_ASSERT_MSG_EQ(m_done.size(), 1, "completion reported once");
        NS_TEST_ASSERT_MSG_EQ((f.endPs >= 0 && f.ackedPs >= f.endPs), true, "delivered, then acknowledged");
    }
};

/**
 * DCQCN reaction point: a CNP updates alpha <- (1-g) alpha + g (after the
 * decay of (1-g) per AlphaUpdateInterval) and cuts Rc <- Rc (1 - alpha/2),
 * Rt <- Rc; a CNP within RateDecreaseInterval waits for it; then each
 * increase-timer stage does fast recovery Rc <- (Rt + Rc)/2 for F stages and
 * additive increase Rt <- Rt + R_AI afterwards.
 */
class NicDcqcnTestCase : public NicTestCase
{
  public:
    NicDcqcnTestCase()
        : NicTestCase("DCQCN: rate cut by half of alpha on a CNP, alpha update, deferred cut, increase stages")
    {
    }

  private:
    void DoRun() override
    {
        Build(true, 1ull << 30);
        const double g = 1.0 / 256;
        const double line = 100e9;
        const double rai = 1e9;
        const int fast = 5;
        Simulator::Schedule(MicroSeconds(10), &NicDcqcnTestCase::InjectCnp, this);
        Simulator::Schedule(MicroSeconds(12), &NicDcqcnTestCase::InjectCnp, this);
        Simulator::Stop(MicroSeconds(14 + 55 * (fast + 2)) + NanoSeconds(1));
        m_nic[0]->StartFlow(0);
        Simulator::Run();

        // First CNP at 10 us: alpha decays for 10 intervals from 1, then the CNP raises it.
        double alpha = std::pow(1 - g, 10) * 1.0;
        alpha = (1 - g) * alpha + g;
        double rate = line * (1 - alpha / 2);
        NS_TEST_ASSERT_MSG_EQ((m_rates.size() >= 2), true, "rate changes were traced");
        NS_TEST_ASSERT_MSG_EQ(m_rates[0].first, MicroSeconds(10), "first cut at the CNP");
        NS_TEST_ASSERT_MSG_EQ_TOL(m_rates[0].second, rate, 1e-6 * line, "Rc (1 - alpha/2)");
        double target = line;
        target = rate; // Rt <- Rc at the cut (line rate before it)
        // Second CNP at 12 us (within the 4 us decrease interval): alpha updates now, the cut waits for 14 us.
        alpha = std::pow(1 - g, 2) * alpha;
        alpha = (1 - g) * alpha + g;
        alpha = std::pow(1 - g, 2) * alpha; // decay from 12 us to 14 us
        double second = rate * (1 - alpha / 2);
        NS_TEST_ASSERT_MSG_EQ(m_rates[1].first, MicroSeconds(14), "the deferred cut");
        NS_TEST_ASSERT_MSG_EQ_TOL(m_rates[1].second, second, 1e-6 * line, "cut with the updated alpha");
        target = rate;
        rate = second;
        NS_TEST_ASSERT_MSG_EQ(m_flows[0].rateDecreases, 2, "two cuts");
        NS_TEST_ASSERT_MSG_EQ(m_flows[0].cnpsReceived, 2, "two CNPs");
        // Increase timer stages from 14 us, every 55 us.
        NS_TEST_ASSERT_MSG_EQ(m_rates.size(), 2u + fast + 2, "one change per timer stage");
        for (int stage = 1; stage <= fast + 2; ++stage)
        {
            if (stage >= fast)
            {
                target = std::min(line, target + rai); // additive increase (no byte stages: no hyper)
            }
            rate = std::min(line, (target + rate) / 2);
            const auto& [t, bps] = m_rates[1 + stage];
            NS_TEST_ASSERT_MSG_EQ(t, MicroSeconds(14 + 55 * stage), "stage at the timer");
            NS_TEST_ASSERT_MSG_EQ_TOL(bps, rate, 1e-6 * line, "stage " << stage << " rate");
        }
    }
};

/**
 * RoceNetDevice::IsIdle, what the fabric's monitors use to stop when no flow
 * can progress: a port is busy while it serialises a frame and while the
 * frame propagates; when the only frame of a flow is lost and no
 * retransmission timer is set, every port is idle, the flow stays unfinished
 * and the event queue runs empty.
 */
class NicIdleTestCase : public NicTestCase
{
  public:
    NicIdleTestCase()
        : NicTestCase("IsIdle: busy while a frame is sent or propagates; a lost last frame leaves every port idle")
    {
    }

  private:
    /**
     * @param what the expected state, for the message
     * @param idle expected IsIdle() of host 0's port
     */
    void CheckSender(std::string what, bool idle)
    {
        NS_TEST_EXPECT_MSG_EQ(m_hostPorts[0]->IsIdle(), idle, what);
    }

    /** Every port of the wire is idle. */
    void CheckAllIdle()
    {
        bool idle = m_hostPorts[0]->IsIdle() && m_hostPorts[1]->IsIdle() && m_relay.m_ports[0]->IsIdle() &&
                    m_relay.m_ports[1]->IsIdle();
        NS_TEST_EXPECT_MSG_EQ(idle, true, "nothing queued, sent or propagating once the frame is lost");
    }

    void DoRun() override
    {
        Build(false, 1000); // one frame of about 1.1 KB: 87 ns on the wire, then 1 us of propagation
        m_nic[0]->SetAttribute("RetxTimeout", TimeValue(Time(0)));
        m_relay.m_dropNth = 1;
        Simulator::Schedule(NanoSeconds(50), &NicIdleTestCase::CheckSender, this, "serialising", false);
        Simulator::Schedule(NanoSeconds(500), &NicIdleTestCase::CheckSender, this, "propagating", false);
        Simulator::Schedule(NanoSeconds(1200), &NicIdleTestCase::CheckAllIdle, this);
        m_nic[0]->StartFlow(0);
        Simulator::Run();
        const RdmaFlow& f = m_flows[0];
        NS_TEST_ASSERT_MSG_EQ(m_relay.m_data, 1, "the only data frame reached the relay and was dropped");
        NS_TEST_ASSERT_MSG_EQ(f.sndNxt, f.size, "the sender has nothing left to send");
        NS_TEST_ASSERT_MSG_EQ(f.rcvNxt, 0, "nothing delivered");
        NS_TEST_ASSERT_MSG_EQ(m_done.empty(), true, "the flow never finishes");
        NS_TEST_ASSERT_MSG_EQ(f.rto.IsPending(), false, "no retransmission timer");
        NS_TEST_ASSERT_MSG_EQ(Simulator::IsFinished(), true, "the run ended by itself");
    }
};

/**
 * The ConnectX firmware steps (NVIDIA's DCQCN parameters): the initial alpha
 * at the first CNP, alpha sampled once per window (a CNP counts when its window ends), the
 * minimum decrease factor bounding a cut, and the target rate clamped at a
 * cut only after a timer increase.
 */
class NicDcqcnConnectXTestCase : public NicTestCase
{
  public:
    NicDcqcnConnectXTestCase()
        : NicTestCase("DCQCN ConnectX steps: initial alpha, alpha per window, minimum decrease factor, "
                      "target clamped only after a timer increase")
    {
    }

  private:
    void DoRun() override
    {
        Build(true, 1ull << 30);
        const double g = 5.0 / 1024;
        const double line = 100e9;
        const double a0 = 1023.0 / 1024;
        Ptr<RdmaNic> nic = m_nic[0];
        nic->SetAttribute("DcqcnG", DoubleValue(g));
        nic->SetAttribute("InitialAlpha", DoubleValue(a0));
        nic->SetAttribute("AlphaPerWindow", BooleanValue(true));
        nic->SetAttribute("MinDecreaseFactor", DoubleValue(0.6));
        nic->SetAttribute("ClampTargetRate", BooleanValue(false));
        nic->SetAttribute("ClampTargetAfterTimeIncrease", BooleanValue(true));
        nic->SetAttribute("InitialAlphaAtFirstCnp", BooleanValue(true));
        Simulator::Schedule(NanoSeconds(10500), &NicDcqcnConnectXTestCase::InjectCnp, this);
        Simulator::Schedule(NanoSeconds(100500), &NicDcqcnConnectXTestCase::InjectCnp, this);
        Simulator::Stop(MicroSeconds(156));
        nic->StartFlow(0);
        Simulator::Run();

        NS_TEST_ASSERT_MSG_EQ(m_rates.size(), 4u, "two cuts and two timer stages");
        // 10.5 us: alpha = a0 would cut to 50 %; the minimum decrease factor keeps 60 %.
        NS_TEST_ASSERT_MSG_EQ(m_rates[0].first, NanoSeconds(10500), "first cut at the CNP");
        NS_TEST_ASSERT_MSG_EQ_TOL(m_rates[0].second, 0.6 * line, 1e-6 * line, "cut bounded by MinDecreaseFactor");
        // 65.5 us: fast recovery towards Rt, which the cut left at line rate (no timer increase before it).
        NS_TEST_ASSERT_MSG_EQ(m_rates[1].first, NanoSeconds(65500), "timer stage");
        NS_TEST_ASSERT_MSG_EQ_TOL(m_rates[1].second, 0.8 * line, 1e-6 * line, "Rt was not clamped");
        // 100.5 us: alpha decayed per 1 us window from a0, set by the first CNP (not a sample) and
        // with its windows starting there: 90 windows without a CNP.
        double alpha = a0 * std::pow(1 - g, 90);
        double second = 0.8 * line * (1 - alpha / 2);
        NS_TEST_ASSERT_MSG_EQ(m_rates[2].first, NanoSeconds(100500), "second cut at the CNP");
        NS_TEST_ASSERT_MSG_EQ_TOL(m_rates[2].second, second, 1e-6 * line, "Rc (1 - alpha/2), alpha per window");
        // 155.5 us: the timer had raised the rate before the second cut, so Rt <- Rc (0.8 line) there.
        NS_TEST_ASSERT_MSG_EQ(m_rates[3].first, NanoSeconds(155500), "timer stage");
        NS_TEST_ASSERT_MSG_EQ_TOL(m_rates[3].second, (0.8 * line + second) / 2, 1e-6 * line,
                                  "Rt clamped after a timer increase");
        NS_TEST_ASSERT_MSG_EQ(m_flows[0].cnpInWindow, true, "the second CNP waits for its window's end");
    }
};

/**
 * ConnectX target-rate clamping (ClampTargetRate off): a cut after a byte-counter increase sets
 * Rt <- Rc; a cut with no increase since the previous one keeps Rt, so recovery aims at the rate
 * before that run of cuts.
 */
class NicDcqcnClampTestCase : public NicTestCase
{
  public:
    NicDcqcnClampTestCase()
        : NicTestCase("DCQCN ConnectX steps: target clamped after a byte-counter increase, kept in a run of cuts")
    {
    }

  private:
    void DoRun() override
    {
        Build(true, 1ull << 30);
        Ptr<RdmaNic> nic = m_nic[0];
        nic->SetAttribute("ClampTargetRate", BooleanValue(false));
        nic->SetAttribute("ByteCounter", UintegerValue(10 * 4096)); // a stage every 10 packets
        Simulator::Schedule(MicroSeconds(10), &NicDcqcnClampTestCase::InjectCnp, this);
        Simulator::Schedule(MicroSeconds(30), &NicDcqcnClampTestCase::InjectCnp, this);
        Simulator::Schedule(NanoSeconds(34100), &NicDcqcnClampTestCase::InjectCnp, this);
        Simulator::Stop(MicroSeconds(50));
        nic->StartFlow(0);
        Simulator::Run();

        const double line = 100e9;
        auto at = [this](Time t) {
            for (size_t i = 0; i < m_rates.size(); ++i)
            {
                if (m_rates[i].first == t)
                {
                    return i;
                }
            }
            return m_rates.size();
        };
        size_t c1 = at(MicroSeconds(10));
        size_t c2 = at(MicroSeconds(30));
        size_t c3 = at(NanoSeconds(34100));
        NS_TEST_ASSERT_MSG_EQ((c1 < c2 && c2 < c3 && c3 + 1 < m_rates.size()), true, "three cuts and a stage after");
        NS_TEST_ASSERT_MSG_EQ((c2 > c1 + 1), true, "byte-counter stages between the first two cuts");
        // First stage after cut 1: Rt is still line rate (nothing to clamp before it).
        NS_TEST_ASSERT_MSG_EQ_TOL(m_rates[c1 + 1].second, (line + m_rates[c1].second) / 2, 1e-6 * line,
                                  "fast recovery towards line rate");
        double before = m_rates[c2 - 1].second; // Rc when the second CNP came, after byte-counter stages
        NS_TEST_ASSERT_MSG_EQ(c3, c2 + 1, "no increase between the second and the third cut");
        // Cut 3 followed cut 2 with no increase: Rt stays the rate before cut 2.
        NS_TEST_ASSERT_MSG_EQ_TOL(m_rates[c3 + 1].second, (before + m_rates[c3].second) / 2, 1e-6 * line,
                                  "Rt <- Rc at the cut after a byte-counter stage, kept at the next cut");
    }
};

/**
 * InitialAlphaAtFirstCnp (ConnectX): the first CNP cuts with alpha =
 * InitialAlpha; the rate limiter is released when the rate is back at line
 * rate (firmware rpg_max_rate, 0 = port speed), and the next CNP starts over
 * with InitialAlpha instead of the alpha that decayed meanwhile.
 */
class NicDcqcnReleaseTestCase : public NicTestCase
{
  public:
    NicDcqcnReleaseTestCase()
        : NicTestCase("DCQCN: back at line rate the rate limiter is released; the next CNP starts with InitialAlpha")
    {
    }

  private:
    void DoRun() override
    {
        Build(true, 1ull << 40);
        const double line = 100e9;
        m_nic[0]->SetAttribute("InitialAlphaAtFirstCnp", BooleanValue(true));
        Simulator::Schedule(MicroSeconds(10), &NicDcqcnReleaseTestCase::InjectCnp, this);
        Simulator::Schedule(MicroSeconds(2000), &NicDcqcnReleaseTestCase::InjectCnp, this);
        Simulator::Stop(MicroSeconds(2001));
        m_nic[0]->StartFlow(0);
        Simulator::Run();

        NS_TEST_ASSERT_MSG_EQ_TOL(m_rates.front().second, 0.5 * line, 1e-6 * line, "first cut with alpha 1");
        // Fast recovery halves the gap to Rt = line rate every 55 us; within 1 Mbit/s it is line rate.
        size_t back = 0;
        while (back < m_rates.size() && m_rates[back].second < line)
        {
            ++back;
        }
        NS_TEST_ASSERT_MSG_EQ((back < m_rates.size() && m_rates[back].first < MicroSeconds(2000)), true,
                              "back at line rate before the second CNP");
        NS_TEST_ASSERT_MSG_EQ(m_rates[back].first,
                              MicroSeconds(10 + 55 * 16),
                              "after 16 stages (50 Gbit/s / 2^16 < 1 Mbit/s)");
        // Alpha would have decayed to (1 - 1/256)^1990 ~ 4e-4 (a cut of 0.02 %); it starts over at 1.
        NS_TEST_ASSERT_MSG_EQ(m_rates.back().first, MicroSeconds(2000), "second cut at the CNP");
        NS_TEST_ASSERT_MSG_EQ_TOL(m_rates.back().second, 0.5 * line, 1e-6 * line, "second cut with alpha 1 again");
        NS_TEST_ASSERT_MSG_EQ(m_flows[0].limited, true, "limited again");
    }
};

/** The RdmaNic test suite. */
class RdmaNicTestSuite : public MfsTestSuite
{
  public:
    RdmaNicTestSuite()
        : MfsTestSuite("rdma-nic")
    {
        AddTestCase(new NicGoBackNTestCase, Duration::QUICK);
        AddTestCase(new NicDcqcnTestCase, Duration::QUICK);
        AddTestCase(new NicDcqcnConnectXTestCase, Duration::QUICK);
        AddTestCase(new NicDcqcnClampTestCase, Duration::QUICK);
        AddTestCase(new NicDcqcnReleaseTestCase, Duration::QUICK);
        AddTestCase(new NicIdleTestCase, Duration::QUICK);
    }
};

RdmaNicTestSuite g_rdmaNicTestSuite; //!< registers the suite

} // namespace
