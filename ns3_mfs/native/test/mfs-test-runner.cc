/*
 * ns3-mfs: packet-level model of disaggregated MoE serving networks.
 * SPDX-License-Identifier: GPL-2.0-only (as ns-3)
 *
 * Runs the model test suites of this folder with ns-3's TestRunner
 * (--list, --suite=NAME, --verbose, ... as ns-3's test runner). Like ns-3's
 * own test-runner it starts at the default (nanosecond) resolution; each
 * suite switches to picoseconds itself (MfsTestSuite), so the suites run
 * here as they run under ns-3's ./test.py.
 */
#include "ns3/test.h"

int
main(int argc, char** argv)
{
    return ns3::TestRunner::Run(argc, argv);
}
