// `nslab check --summary`'s Markdown (tools/summary.cpp) with text that
// would break a table or a page: pipes, markup, newlines, backtick fences.
#include <boost/test/unit_test.hpp>

#include <sstream>

#include "summary.h"

using namespace nslab::cli;
using namespace nslab::detail;

namespace {

// Unescaped '|' in a table row: its cell count plus one.
std::size_t pipes(const std::string& row) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < row.size(); ++i)
    if (row[i] == '|' && (i == 0 || row[i - 1] != '\\')) ++n;
  return n;
}

}  // namespace

BOOST_AUTO_TEST_CASE(hostile_text_stays_in_its_cell_and_block) {
  SuiteResult s;
  s.file = "odd|name.yaml";
  s.name = "odd <b>lab</b>";
  nslab::ExpectationOutcome x;
  x.title = "a | b <script>alert(1)</script>";
  x.summary = "line one\nline two `code`";
  x.details = "a table\n```\nnot a fence end\n````\n";
  x.where = {"odd|name.yaml", 3, 5};
  s.outcome.expectations.push_back(x);
  std::string md = markdown_summary({s});
  BOOST_TEST(md.find("<script>") == std::string::npos, md);
  BOOST_TEST(md.find("<b>") == std::string::npos, md);
  std::istringstream in(md);
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && line[0] == '|') BOOST_TEST(pipes(line) == 6u, line);
  // The details' fence is longer than any run of backticks inside.
  BOOST_TEST(md.find("`````text\na table\n") != std::string::npos, md);
  BOOST_TEST(markdown_cell("a|b\nc") == "a\\|b<br>c");
}

BOOST_AUTO_TEST_CASE(counts_and_states) {
  SuiteResult pass, empty, skipped;
  pass.file = pass.name = "p.yaml";
  nslab::ExpectationOutcome ok;
  ok.passed = true;
  ok.title = "red -> blue icmp: reachable";
  pass.outcome.expectations = {ok, ok};
  empty.file = empty.name = "e.yaml";
  skipped.file = skipped.name = "s.yaml";
  skipped.kind = SuiteResult::Kind::skipped;
  skipped.message = "no CAP_NET_ADMIN";
  std::string md = markdown_summary({pass, empty, skipped});
  BOOST_TEST(md.rfind("## nslab check: 1 of 3 scenarios passed (2 of 2 expectations held)\n", 0) == 0u, md);
  BOOST_TEST(md.find("| ⚠️ | e.yaml | `e.yaml` | no expectations (nothing checked) |") != std::string::npos, md);
  BOOST_TEST(md.find("| ⏭️ | s.yaml | `s.yaml` | skipped: no CAP_NET_ADMIN |") != std::string::npos, md);
  BOOST_TEST(md.find("<details><summary>scenarios that passed</summary>") != std::string::npos, md);
}
