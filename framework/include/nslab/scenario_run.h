// Running a scenario's expectations against its lab, with a result per
// expectation that the command line, JUnit output and fixtures all print.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "nslab/lab.h"
#include "nslab/matrix.h"
#include "nslab/rule_hits.h"
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
  std::optional<MatrixReport> matrix;  // a matrix's cells, as `details` shows them
};

// Where captures are kept: under dir, when their expectation fails, or always.
struct ArtifactOptions {
  std::string dir;  // empty: keep nothing
  bool always = false;
};

// What the firewall's counters should tell (see nslab/rule_hits.h): rule
// coverage, and an explanation of what decided each probe expectation that
// failed (or of every one, with `explain`). Off by default: they cost a
// counter read per node, and a probe re-run alone per explanation.
struct InsightOptions {
  bool coverage = false;
  bool explain = false;        // every probe expectation, not only failed ones
  bool explain_failed = true;  // failed probe expectations
};

struct ScenarioOutcome {
  std::vector<ExpectationOutcome> expectations;
  // With coverage: every rule and policy line nslab loaded, with the packets
  // it matched while the expectations ran.
  std::vector<RuleHit> rule_hits;
  bool passed() const;
};

// One action of a step (nslab/step.h), through the Lab and Node API.
void apply_action(Lab& lab, const StepAction& action);

// The top-level expectations (step 0), then each step: its actions, then its
// expectations, titled "step 2 'uplink down': ...".
// The probes of every probe and matrix expectation of a step run together in one batch.
// Captures run after that, each during its own probe.
ScenarioOutcome run_expectations(Lab& lab, const Scenario& scenario, const ArtifactOptions& artifacts = {},
                                 const InsightOptions& insight = {});

}  // namespace nslab
