// What a scenario run learns from the firewall's counters: counter
// expectations, rule coverage, and which rule decided a probe. Counters are
// read as deltas from a baseline taken when the expectations start, so the
// lab's own setup traffic (links coming up, services starting) never counts
// as a test's hit. Nothing is read unless the scenario or the caller asks.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "nslab/lab.h"
#include "nslab/rule_hits.h"
#include "nslab/scenario.h"
#include "nslab/scenario_run.h"

namespace nslab::detail {

// Every counter of the lab's nodes at one moment.
struct CounterSnapshot {
  std::map<std::string, std::vector<RuleHit>> rules;                  // node -> its rule lines
  std::map<std::string, std::map<std::string, std::uint64_t>> named;  // node -> nftables named counters
};

// The nodes with iptables rules (and, with `named`, nftables rulesets).
CounterSnapshot read_counters(Lab& lab, bool named);
// `after` minus `before`, line by line.
std::vector<RuleHit> hits_between(const CounterSnapshot& before, const CounterSnapshot& after);

class RuleWatch {
 public:
  // Takes the baseline when the scenario has counter expectations or
  // coverage is asked for.
  RuleWatch(Lab& lab, const Scenario& scenario, const InsightOptions& insight);

  ExpectationOutcome check(const CounterExpectation& c);
  // Traffic may have moved since the last read (a capture or command ran):
  // the next check reads again. Counters listed one after another share a read.
  void invalidate() { last_.reset(); }
  // Every rule line's packets since the baseline (coverage).
  std::vector<RuleHit> hits_so_far();

 private:
  Lab& lab_;
  std::optional<CounterSnapshot> baseline_;
  std::optional<CounterSnapshot> last_;
};

// What decided `probe`'s verdict, from the counters that moved while it ran
// again alone: "blocked by fw: FORWARD policy DROP (office.yaml:5)", or
// "cause not known (...)".
std::string explain_probe(Lab& lab, const Probe& probe, const ProbeOptions& options);

}  // namespace nslab::detail
