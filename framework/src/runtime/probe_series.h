// Probes that are series of probes: a path trace (one probe per TTL,
// probe_path.cpp) and a counted probe (N single-shot copies,
// probe_counted.cpp), both run through the probe engine in one batch, and
// their expectations judged for the scenario runner.
#pragma once

#include <cstddef>

#include "nslab/options.h"
#include "nslab/path.h"
#include "nslab/probe_count.h"

namespace nslab {

class Lab;
struct ExpectationOutcome;
struct ProbeExpectation;

// Lab::trace and Lab::count_answers call these under the lab's probe lock.
TraceResult run_trace(Lab& lab, const PathTrace& trace, const ProbeOptions& options);
CountResult run_count(Lab& lab, const Probe& probe, std::size_t count, const ProbeOptions& options);

// A `path:`/`via:` or a `count:` expectation run and judged (run_expectations' hook).
ExpectationOutcome run_path_expectation(Lab& lab, const ProbeExpectation& e, const ProbeOptions& options);
ExpectationOutcome run_count_expectation(Lab& lab, const ProbeExpectation& e, const ProbeOptions& options);

}  // namespace nslab
