/*
 * ns3-mfs: packet-level model of disaggregated MoE serving networks.
 * SPDX-License-Identifier: GPL-2.0-only (as ns-3)
 *
 * SwitchBufferManager on its own: region sizes and headroom, static and
 * dynamic XOFF thresholds, XON, headroom absorption, drops without PFC.
 */
#include "ns3/switch-buffer-manager.h"

#include "ns3/boolean.h"
#include "ns3/double.h"
#include "ns3/simulator.h"
#include "ns3/test.h"

#include "mfs-test-suite.h"
#include "ns3/uinteger.h"

#include <cmath>
#include <vector>

using namespace ns3;

namespace
{

/** One PFC frame the buffer manager asked for. */
struct PfcSent
{
    uint32_t port;  //!< port
    uint8_t cls;    //!< class
    uint16_t quanta; //!< quanta (0 = RESUME)
};

constexpr uint32_t kPorts = 2;        //!< ports of the test switch
constexpr uint32_t kClasses = 8;      //!< classes
constexpr uint32_t kMtu = 4158;       //!< largest frame
constexpr uint64_t kBps = 100000000000ull; //!< 100 Gbit/s
constexpr uint32_t kFrame = 1000;     //!< test frame size

/** A buffer manager set up for kPorts ports at 100G with 1 us links, recording its PFC frames. */
class BufferTestCase : public TestCase
{
  public:
    /** @param name test name */
    explicit BufferTestCase(const std::string& name)
        : TestCase(name)
    {
    }

  protected:
    /**
     * @param mmu the buffer manager (attributes already set)
     * @return Setup's error string
     */
    std::string SetUp(Ptr<SwitchBufferManager> mmu)
    {
        m_sent.clear();
        return mmu->Setup(std::vector<uint64_t>(kPorts, kBps),
                          std::vector<Time>(kPorts, MicroSeconds(1)),
                          kClasses,
                          kMtu,
                          [this](uint32_t port, uint8_t cls, uint16_t quanta) {
                              m_sent.push_back(PfcSent{port, cls, quanta});
                          });
    }

    void DoTeardown() override
    {
        Simulator::Destroy();
    }

    std::vector<PfcSent> m_sent; //!< PFC frames asked for
};

/** Headroom = factor x rate x delay + 2 MTU per queue; the shared pool is what reserves and headroom leave. */
class BufferRegionsTestCase : public BufferTestCase
{
  public:
    BufferRegionsTestCase()
        : BufferTestCase("headroom and shared pool sizes; too small a buffer is refused")
    {
    }

  private:
    void DoRun() override
    {
        auto mmu = CreateObject<SwitchBufferManager>();
        mmu->SetAttribute("BufferSize", UintegerValue(4000000));
        mmu->SetAttribute("ReservePerQueue", UintegerValue(4096));
        mmu->SetAttribute("HeadroomFactor", DoubleValue(3.0));
        NS_TEST_ASSERT_MSG_EQ(SetUp(mmu), "", "setup succeeds");
        const uint64_t headroom = static_cast<uint64_t>(std::ceil(3.0 * kBps / 8.0 * 1e-6) + 2.0 * kMtu);
        NS_TEST_ASSERT_MSG_EQ(mmu->GetHeadroom(0), headroom, "headroom per queue");
        NS_TEST_ASSERT_MSG_EQ(mmu->GetSharedCapacity(),
                              4000000 - 4096ull * kPorts * kClasses - headroom * kPorts * kClasses,
                              "shared pool");
        // A 150 ns link (inside a server): a round trip plus three frames exceeds 3 x rate x delay + 2 frames.
        auto shortLink = CreateObject<SwitchBufferManager>();
        shortLink->SetAttribute("BufferSize", UintegerValue(4000000));
        NS_TEST_ASSERT_MSG_EQ(shortLink->Setup(std::vector<uint64_t>(kPorts, kBps),
                                               std::vector<Time>(kPorts, NanoSeconds(150)),
                                               kClasses,
                                               kMtu,
                                               [](uint32_t, uint8_t, uint16_t) {}),
                              "",
                              "setup with short links");
        NS_TEST_ASSERT_MSG_EQ(shortLink->GetHeadroom(0),
                              static_cast<uint64_t>(std::ceil(2.0 * kBps / 8.0 * 150e-9 + 3.0 * kMtu)),
                              "short link: a round trip plus three frames");
        auto small = CreateObject<SwitchBufferManager>();
        small->SetAttribute("BufferSize", UintegerValue(100000));
        NS_TEST_ASSERT_MSG_NE(SetUp(small), "", "a buffer smaller than reserves + headroom is refused");
        auto lossy = CreateObject<SwitchBufferManager>();
        lossy->SetAttribute("BufferSize", UintegerValue(4000000));
        lossy->SetAttribute("ReservePerQueue", UintegerValue(4096));
        lossy->SetAttribute("PfcEnabled", BooleanValue(false));
        NS_TEST_ASSERT_MSG_EQ(SetUp(lossy), "", "setup without PFC");
        NS_TEST_ASSERT_MSG_EQ(lossy->GetSharedCapacity(),
                              4000000 - 4096ull * kPorts * kClasses,
                              "without PFC there is no headroom region");
    }
};

/**
 * Static threshold: the reserve fills first, then the shared pool; the frame
 * that takes the queue's shared bytes over StaticXoff sends PAUSE; while
 * paused, frames go to the headroom and are dropped when it is full. Draining,
 * RESUME goes once the headroom is empty and shared + ResumeOffset <= XOFF.
 */
class BufferStaticThresholdTestCase : public BufferTestCase
{
  public:
    BufferStaticThresholdTestCase()
        : BufferTestCase("static XOFF and XON thresholds, headroom absorption, drop when headroom is full")
    {
    }

  private:
    void DoRun() override
    {
        const uint64_t xoff = 20000;
        const uint64_t offset = 3072;
        auto mmu = CreateObject<SwitchBufferManager>();
        mmu->SetAttribute("BufferSize", UintegerValue(4000000));
        mmu->SetAttribute("ReservePerQueue", UintegerValue(4096));
        mmu->SetAttribute("Dynamic", BooleanValue(false));
        mmu->SetAttribute("StaticXoff", UintegerValue(xoff));
        mmu->SetAttribute("ResumeOffset", UintegerValue(offset));
        SetUp(mmu);
        const uint8_t cls = 3;
        // 4 frames fit the 4096-byte reserve; shared bytes exceed 20000 at the 21st shared frame.
        uint32_t admitted = 0;
        while (m_sent.empty())
        {
            NS_TEST_ASSERT_MSG_EQ(mmu->Admit(1, cls, kFrame), true, "admitted below XOFF");
            admitted++;
        }
        NS_TEST_ASSERT_MSG_EQ(admitted, 4 + xoff / kFrame + 1, "PAUSE at the first frame over XOFF");
        NS_TEST_ASSERT_MSG_EQ(m_sent[0].port, 1, "PAUSE goes upstream on the ingress port");
        NS_TEST_ASSERT_MSG_EQ(int(m_sent[0].cls), int(cls), "for the class");
        NS_TEST_ASSERT_MSG_NE(m_sent[0].quanta, 0, "a PAUSE, not a RESUME");
        NS_TEST_ASSERT_MSG_EQ(mmu->IsPaused(1, cls), true, "queue paused");
        // While paused, arrivals fill the headroom, then are dropped.
        const uint64_t room = mmu->GetHeadroom(1) / kFrame;
        for (uint64_t i = 0; i < room; ++i)
        {
            NS_TEST_ASSERT_MSG_EQ(mmu->Admit(1, cls, kFrame), true, "absorbed by the headroom");
        }
        NS_TEST_ASSERT_MSG_EQ(mmu->Admit(1, cls, kFrame), false, "dropped once the headroom is full");
        NS_TEST_ASSERT_MSG_EQ(mmu->GetStats().drops, 1, "one drop counted");
        NS_TEST_ASSERT_MSG_EQ(mmu->GetStats().dropBytes, kFrame, "its bytes counted");
        NS_TEST_ASSERT_MSG_EQ(m_sent.size(), 1, "PAUSE sent once");
        // Drain: no RESUME while headroom bytes remain or shared + offset > XOFF.
        uint64_t held = mmu->GetQueueBytes(1, cls);
        while (m_sent.size() == 1)
        {
            mmu->Release(1, cls, kFrame);
            held -= kFrame;
            NS_TEST_ASSERT_MSG_EQ(mmu->GetQueueBytes(1, cls), held, "queue bytes follow releases");
        }
        NS_TEST_ASSERT_MSG_EQ(m_sent[1].quanta, 0, "RESUME");
        // At RESUME: headroom empty, shared bytes at XON = XOFF - offset (rounded down to frames).
        const uint64_t reserve = 4 * kFrame;
        NS_TEST_ASSERT_MSG_EQ(held - reserve, ((xoff - offset) / kFrame) * kFrame, "RESUME at XON");
        NS_TEST_ASSERT_MSG_EQ(mmu->IsPaused(1, cls), false, "queue resumed");
        NS_TEST_ASSERT_MSG_EQ(mmu->GetUsedBytes(), held, "used bytes");
    }
};

/** Dynamic threshold: PAUSE when the queue's shared bytes exceed Alpha x (free shared pool). */
class BufferDynamicThresholdTestCase : public BufferTestCase
{
  public:
    BufferDynamicThresholdTestCase()
        : BufferTestCase("dynamic XOFF = alpha x free shared buffer, and the PAUSE refresh")
    {
    }

  private:
    void DoRun() override
    {
        const double alpha = 0.125;
        auto mmu = CreateObject<SwitchBufferManager>();
        mmu->SetAttribute("BufferSize", UintegerValue(4000000));
        mmu->SetAttribute("ReservePerQueue", UintegerValue(0));
        mmu->SetAttribute("Dynamic", BooleanValue(true));
        mmu->SetAttribute("Alpha", DoubleValue(alpha));
        SetUp(mmu);
        const uint64_t cap = mmu->GetSharedCapacity();
        uint64_t shared = 0;
        while (m_sent.empty())
        {
            mmu->Admit(0, 2, kFrame);
            shared += kFrame;
            const auto threshold = static_cast<uint64_t>(alpha * static_cast<double>(cap - shared));
            NS_TEST_ASSERT_MSG_EQ(mmu->GetXoffThreshold(), threshold, "threshold follows the free pool");
            NS_TEST_ASSERT_MSG_EQ(m_sent.empty(), (shared <= threshold), "PAUSE exactly when shared > threshold");
        }
        // Another queue of the same switch still has room: its threshold is the same free pool.
        NS_TEST_ASSERT_MSG_EQ(mmu->IsPaused(0, 3), false, "other classes are not paused");
        // While paused, the PAUSE is refreshed every half pause time.
        Time pauseTime = PicoSeconds(std::llround(65535 * 512.0 * 1e12 / kBps));
        Simulator::Stop(pauseTime / 2 + NanoSeconds(1));
        Simulator::Run();
        NS_TEST_ASSERT_MSG_EQ(m_sent.size(), 2, "one refresh after half the pause time");
        NS_TEST_ASSERT_MSG_NE(m_sent[1].quanta, 0, "the refresh is a PAUSE");
    }
};

/** Without PFC a frame that does not fit the shared pool is dropped and no PFC is sent. */
class BufferLossyTestCase : public BufferTestCase
{
  public:
    BufferLossyTestCase()
        : BufferTestCase("without PFC, frames beyond the shared pool are dropped")
    {
    }

  private:
    void DoRun() override
    {
        auto mmu = CreateObject<SwitchBufferManager>();
        mmu->SetAttribute("BufferSize", UintegerValue(200000));
        mmu->SetAttribute("ReservePerQueue", UintegerValue(0));
        mmu->SetAttribute("PfcEnabled", BooleanValue(false));
        SetUp(mmu);
        uint32_t admitted = 0;
        while (mmu->Admit(0, 1, kFrame))
        {
            admitted++;
        }
        NS_TEST_ASSERT_MSG_EQ(admitted, 200000 / kFrame, "the whole buffer is shared");
        NS_TEST_ASSERT_MSG_EQ(mmu->GetStats().drops, 1, "then a drop");
        NS_TEST_ASSERT_MSG_EQ(m_sent.size(), 0, "no PFC without PFC");
    }
};

/** The SwitchBufferManager test suite. */
class SwitchBufferManagerTestSuite : public MfsTestSuite
{
  public:
    SwitchBufferManagerTestSuite()
        : MfsTestSuite("switch-buffer-manager")
    {
        AddTestCase(new BufferRegionsTestCase, Duration::QUICK);
        AddTestCase(new BufferStaticThresholdTestCase, Duration::QUICK);
        AddTestCase(new BufferDynamicThresholdTestCase, Duration::QUICK);
        AddTestCase(new BufferLossyTestCase, Duration::QUICK);
    }
};

SwitchBufferManagerTestSuite g_switchBufferManagerTestSuite; //!< registers the suite

} // namespace
