// Running a scenario's expectations against its lab, with a result per
// expectation that the command line, JUnit output and fixtures all print.
#pragma once

#include <string>
#include <vector>

#include "nslab/lab.h"
#include "nslab/scenario.h"

namespace nslab {

struct ExpectationOutcome {
  std::string title;  // "red -> blue icmp: reachable"
  bool passed = false;
  std::string summary;  // what was observed, with the evidence
  std::string details;  // the truth tables of a matrix
  SourceLocation where;
  double ms = 0;
  std::vector<std::string> artifacts;  // pcap files written for it
};

// Where captures are kept: under dir, when their expectation fails, or always.
struct ArtifactOptions {
  std::string dir;  // empty: keep nothing
  bool always = false;
};

struct ScenarioOutcome {
  std::vector<ExpectationOutcome> expectations;
  bool passed() const;
};

// The probes of every probe and matrix expectation run together in one batch.
// Captures run after that, each during its own probe.
ScenarioOutcome run_expectations(Lab& lab, const Scenario& scenario, const ArtifactOptions& artifacts = {});

}  // namespace nslab
