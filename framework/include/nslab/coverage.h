// Firewall rule coverage: which rule and policy lines of a lab's rules
// matched a packet while the expectations ran, gathered over any number of
// scenarios and written in the formats CI dashboards show for code coverage
// (LCOV tracefile, Cobertura XML), with the rule files (or the scenario file,
// for inline rules) as the sources and their rule lines as the lines.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "nslab/rule_hits.h"

namespace nslab {

class RuleCoverage {
 public:
  // Adds one scenario's hits (ScenarioOutcome::rule_hits); a line loaded
  // by several nodes or scenarios adds up.
  void add(const std::vector<RuleHit>& hits);

  std::size_t lines() const noexcept { return lines_.size(); }
  std::size_t lines_hit() const;
  double percent() const;  // 100 when there is no rule line at all
  // The lines no packet matched, in file and line order.
  std::vector<RuleHit> missed() const;

  std::string lcov() const;       // lcov's tracefile (geninfo(1)): SF, DA, LF, LH
  std::string cobertura() const;  // Cobertura XML 4

 private:
  std::map<std::pair<std::string, int>, RuleHit> lines_;  // (file, line) -> hits summed
};

}  // namespace nslab
