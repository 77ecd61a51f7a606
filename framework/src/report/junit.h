// JUnit XML for `nslab check --junit FILE`: one testsuite per scenario, one
// testcase per expectation, the difference tables in the failure message.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "nslab/scenario_run.h"

namespace nslab::detail {

struct SuiteResult {
  std::string file;
  std::string name;
  double seconds = 0;
  enum class Kind { ran, invalid, skipped } kind = Kind::ran;
  std::string message;  // why invalid or skipped
  ScenarioOutcome outcome;
  std::string program_logs;  // the end of each program's output, when it failed
};

// How a file's check ended, as the summary and the report show it.
enum class SuiteState { passed, failed, invalid, skipped, empty };
inline SuiteState state_of(const SuiteResult& s) {
  if (s.kind == SuiteResult::Kind::invalid) return SuiteState::invalid;
  if (s.kind == SuiteResult::Kind::skipped) return SuiteState::skipped;
  if (s.outcome.expectations.empty()) return SuiteState::empty;
  return s.outcome.passed() ? SuiteState::passed : SuiteState::failed;
}

// The file is always well-formed XML 1.0 in UTF-8, whatever a program in a
// lab printed: see xml_escape().
std::string junit_xml(const std::vector<SuiteResult>& suites);

// Text made safe for XML 1.0 element content (or, with `attribute`, for an
// attribute value in double quotes): markup characters become entities;
// bytes that are not valid UTF-8, and characters that XML 1.0 forbids even
// as references (C0 controls but tab, newline and carriage return; DEL;
// U+FFFE, U+FFFF), become the text \xNN, one per byte. In an attribute,
// tab, newline and carriage return become character references, so that a
// parser does not fold them into spaces.
std::string xml_escape(std::string_view text, bool attribute = false);

}  // namespace nslab::detail
