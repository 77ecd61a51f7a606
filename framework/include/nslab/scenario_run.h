// Running a scenario's expectations against its lab, with a result per
// expectation that the command line, JUnit output and fixtures all print.
#pragma once

#include <string>
#include <vector>

#include "nslab/scenario.h"

namespace nslab {

struct ExpectationOutcome {
  std::string title;    // "red -> blue icmp: reachable"
  bool passed = false;
  std::string summary;  // what was observed, with the evidence
  std::string details;  // the truth tables of a matrix
  SourceLocation where;
  double ms = 0;
};

struct ScenarioOutcome {
  std::vector<ExpectationOutcome> expectations;
  bool passed() const;
};

// Single probes run together in one batch; each matrix runs as one batch.
ScenarioOutcome run_expectations(Lab& lab, const Scenario& scenario);

}  // namespace nslab
