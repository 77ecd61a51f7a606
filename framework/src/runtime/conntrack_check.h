// A scenario's conntrack expectation run against its lab: the node's table
// read before and after the expectation's own probe, and the entries that
// probe made matched against what is expected.
#pragma once

#include "nslab/lab.h"
#include "nslab/scenario.h"
#include "nslab/scenario_run.h"

namespace nslab::detail {

// Turns on conntrack's packet counters (net.netfilter.nf_conntrack_acct) in
// every node a conntrack expectation reads, before any probe runs: an entry
// an earlier probe made (two ICMP probes on one path share an entry) then
// counts as this probe's when its packets grew while it ran. A node without
// conntrack (no such sysctl) is left alone.
void count_conntrack_packets(Lab& lab, const Scenario& scenario);

ExpectationOutcome check_conntrack(Lab& lab, const ConntrackExpectation& c, const ProbeOptions& options);

}  // namespace nslab::detail
