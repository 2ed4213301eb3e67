/*
 * ns3-mfs: packet-level model of disaggregated MoE serving networks.
 * SPDX-License-Identifier: GPL-2.0-only (as ns-3)
 *
 * Runs the model test suites of this folder with ns-3's TestRunner
 * (--list, --suite=NAME, --verbose, ... as ns-3's test runner).
 */
#include "ns3/nstime.h"
#include "ns3/test.h"

int
main(int argc, char** argv)
{
    ns3::Time::SetResolution(ns3::Time::PS); // as the fabric runs
    return ns3::TestRunner::Run(argc, argv);
}
