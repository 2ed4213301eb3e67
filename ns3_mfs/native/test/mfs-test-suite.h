/*
 * ns3-mfs: packet-level model of disaggregated MoE serving networks.
 * SPDX-License-Identifier: GPL-2.0-only (as ns-3)
 */
#ifndef MFS_TEST_SUITE_H
#define MFS_TEST_SUITE_H

#include "ns3/nstime.h"
#include "ns3/test.h"

#include <string>

namespace ns3
{

/**
 * @ingroup mfs
 * A unit-test suite of this module: it runs at picosecond resolution, as the
 * fabric does (a frame's serialisation at 100-400 Gbit/s takes a fraction of
 * a nanosecond, so at ns-3's default nanosecond resolution the models' times
 * round to zero). ns-3's own DataRate test switches its resolution the same
 * way. ns-3's test.py runs each suite in its own test-runner process, so the
 * other modules' suites are not affected there.
 */
class MfsTestSuite : public TestSuite
{
  public:
    /**
     * @param name the suite's name (./test.py --suite=NAME)
     */
    explicit MfsTestSuite(const std::string& name)
        : TestSuite(name, Type::UNIT)
    {
    }

  private:
    void DoSetup() override
    {
        if (Time::GetResolution() != Time::PS)
        {
            Time::SetResolution(Time::PS);
        }
    }
};

} // namespace ns3

#endif /* MFS_TEST_SUITE_H */
