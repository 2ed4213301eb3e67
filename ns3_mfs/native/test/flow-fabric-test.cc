/*
 * ns3-mfs: packet-level model of disaggregated MoE serving networks.
 * SPDX-License-Identifier: GPL-2.0-only (as ns-3)
 *
 * FlowFabric on its own: max-min sharing on one link, strict priority across
 * classes, a rate cap, and a lone flow finishing at its ideal FCT.
 */
#include "ns3/flow-fabric.h"
#include "ns3/nstime.h"
#include "ns3/roce-header.h"
#include "ns3/roce-routing.h"
#include "ns3/simulator.h"
#include "ns3/test.h"

#include "mfs-test-suite.h"

#include <cmath>
#include <memory>
#include <vector>

using namespace ns3;

namespace
{

constexpr double kRate = 100e9;
constexpr double kDelay = 1e-6;

/** A star: @p hosts hosts on one switch at 100G, routes installed. */
std::unique_ptr<FlowFabric>
Star(uint32_t hosts, std::vector<uint32_t>* done)
{
    auto f = std::make_unique<FlowFabric>();
    f->SetMtu(4096);
    f->SetIdealFct([](const std::vector<std::pair<double, double>>& hops, uint64_t size) {
        return RoceRouting::IdealFctOnHops(hops, 4096, size);
    });
    for (uint32_t h = 0; h < hosts; ++h)
    {
        f->AddHost();
    }
    uint32_t sw = f->AddSwitch();
    for (uint32_t h = 0; h < hosts; ++h)
    {
        f->AddLink(h, sw, kRate, kDelay);
    }
    RouteTables t = RoceRouting::ComputeRoutes(f->GetPeers(), f->GetIsSwitch(), f->GetHostNodes());
    std::vector<uint32_t> seeds(hosts + 1, 0);
    seeds[sw] = RoceRouting::EcmpSeed(1, sw);
    f->SetRoutes(std::move(t.offsets), std::move(t.ports), std::move(seeds));
    f->SetDoneCallback([done](uint32_t id) { done->push_back(id); });
    return f;
}

/** Wire bytes of a payload (4096-byte frames, 82 bytes of framing each). */
double
Wire(uint64_t payload)
{
    return payload + std::ceil(payload / 4096.0) * (RoceHeader::kDataOverhead + RoceHeader::kPreambleIfg);
}

/** n flows into one host share its link equally and end together. */
class FlowFabricShareTestCase : public TestCase
{
  public:
    FlowFabricShareTestCase()
        : TestCase("n flows on one link: a share of 1 over n each, one completion time")
    {
    }

  private:
    void DoRun() override
    {
        std::vector<uint32_t> done;
        auto f = Star(5, &done);
        const uint64_t bytes = 1000000;
        for (uint32_t h = 1; h <= 4; ++h)
        {
            f->AddFlow(h, 0, bytes, 3, 0, true);
        }
        std::vector<double> rates;
        Simulator::Schedule(MicroSeconds(5), [&]() {
            for (uint32_t i = 0; i < 4; ++i)
            {
                rates.push_back(f->Rate(i));
            }
        });
        Simulator::Run();
        NS_TEST_ASSERT_MSG_EQ(done.size(), 4, "every flow completes");
        for (double r : rates)
        {
            NS_TEST_ASSERT_MSG_EQ_TOL(r, kRate / 4, 1e-3, "each flow gets a quarter of the link");
        }
        // After its last byte leaves the source: two propagation delays and the switch's store-and-forward of
        // one full frame (the ideal FCT's pipeline on two equal hops).
        const double latency = 2 * kDelay + Wire(4096) * 8 / kRate;
        double expect = 4 * Wire(bytes) * 8 / kRate + latency;
        for (uint32_t i = 0; i < 4; ++i)
        {
            NS_TEST_ASSERT_MSG_EQ_TOL(f->GetFlow(i).endPs * 1e-12, expect, 2e-12, "all end at 4 x wire / C");
        }
        NS_TEST_ASSERT_MSG_EQ_TOL(f->GetFlow(0).idealS - Wire(bytes) * 8 / kRate, latency, 1e-12,
                                  "latency = ideal - tx");
        f.reset();
        Simulator::Destroy();
    }
};

/** A higher class takes the whole link; a capped flow leaves the rest to its neighbour. */
class FlowFabricPriorityCapTestCase : public TestCase
{
  public:
    FlowFabricPriorityCapTestCase()
        : TestCase("strict priority across classes; a rate cap frees capacity for the others")
    {
    }

  private:
    void DoRun() override
    {
        std::vector<uint32_t> done;
        auto f = Star(4, &done);
        uint32_t low = f->AddFlow(1, 0, 10000000, 5, 0, false);
        uint32_t high = f->AddFlow(2, 0, 10000000, 1, 0, false);
        uint32_t capped = f->AddFlow(3, 0, 10000000, 1, 0, false);
        f->SetRateCap(capped, 30e9);
        double rLow = -1;
        double rHigh = -1;
        double rCapped = -1;
        Simulator::Schedule(MicroSeconds(5), [&]() {
            rLow = f->Rate(low);
            rHigh = f->Rate(high);
            rCapped = f->Rate(capped);
        });
        Simulator::Stop(MicroSeconds(10));
        Simulator::Run();
        NS_TEST_ASSERT_MSG_EQ_TOL(rCapped, 30e9, 1e-3, "the capped flow runs at its cap");
        NS_TEST_ASSERT_MSG_EQ_TOL(rHigh, 70e9, 1e-3, "its class-1 neighbour takes the rest");
        NS_TEST_ASSERT_MSG_EQ(rLow, 0.0, "class 5 waits for class 1");
        f.reset();
        Simulator::Destroy();
    }
};

/** The FlowFabric test suite. */
class FlowFabricTestSuite : public MfsTestSuite
{
  public:
    FlowFabricTestSuite()
        : MfsTestSuite("flow-fabric")
    {
        AddTestCase(new FlowFabricShareTestCase, Duration::QUICK);
        AddTestCase(new FlowFabricPriorityCapTestCase, Duration::QUICK);
    }
};

FlowFabricTestSuite g_flowFabricTestSuite; //!< registers the suite

} // namespace
