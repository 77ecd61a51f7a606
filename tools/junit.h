// JUnit XML for `nslab check --junit FILE`: one testsuite per scenario, one
// testcase per expectation, the difference tables in the failure message.
#pragma once

#include <string>
#include <vector>

#include "nslab/scenario_run.h"

namespace nslab::cli {

struct SuiteResult {
  std::string file;
  std::string name;
  double seconds = 0;
  enum class Kind { ran, invalid, skipped } kind = Kind::ran;
  std::string message;  // why invalid or skipped
  ScenarioOutcome outcome;
};

std::string junit_xml(const std::vector<SuiteResult>& suites);

}  // namespace nslab::cli
