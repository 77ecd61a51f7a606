// Markdown for `nslab check --summary FILE`: what a CI job's summary page
// shows (GitHub's $GITHUB_STEP_SUMMARY, a GitLab merge request note or
// artifact). Compact: one table over the scenarios, then, per scenario that
// did not pass, a table of what failed with its evidence, its matrices'
// tables, its kept packets and its programs' output; the scenarios that
// passed fold into one <details> block.
#pragma once

#include <string>
#include <vector>

#include "junit.h"

namespace nslab::cli {

using detail::state_of;
using detail::SuiteResult;
using detail::SuiteState;

std::string markdown_summary(const std::vector<SuiteResult>& suites);

// Text made safe for one cell of a Markdown table: HTML's markup characters
// escaped, '|' escaped, newlines as <br>.
std::string markdown_cell(const std::string& text);

}  // namespace nslab::cli
