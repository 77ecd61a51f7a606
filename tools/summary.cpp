// Markdown summaries (summary.h).
#include "summary.h"

#include <fmt/format.h>

namespace nslab::cli {

namespace {

using State = SuiteState;

const char* mark(State s) {
  switch (s) {
    case State::passed: return "✅";
    case State::failed: return "❌";
    case State::invalid: return "⛔";
    case State::skipped: return "⏭️";
    case State::empty: return "⚠️";
  }
  return "";
}

std::string seconds(double s) {
  return s < 10 ? fmt::format("{:.2f} s", s) : fmt::format("{:.1f} s", s);
}

std::size_t held(const SuiteResult& s) {
  std::size_t n = 0;
  for (const auto& x : s.outcome.expectations) n += x.passed;
  return n;
}

std::string result_text(const SuiteResult& s) {
  switch (state_of(s)) {
    case State::invalid: return "invalid scenario";
    case State::skipped: return "skipped: " + s.message;
    case State::empty: return "no expectations (nothing checked)";
    default: return fmt::format("{} of {} held", held(s), s.outcome.expectations.size());
  }
}

// A fenced block that no line of the text can close.
std::string fenced(const std::string& text) {
  std::string fence = "```";
  while (text.find(fence) != std::string::npos) fence += '`';
  std::string body = text;
  while (!body.empty() && body.back() == '\n') body.pop_back();
  return fmt::format("{}text\n{}\n{}\n", fence, body, fence);
}

// Text for a `code span` in a table cell: entities would show as typed
// there, so only '|' is escaped, and what would end the span goes.
std::string code_cell(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '|')
      out += "\\|";
    else if (c != '`' && c != '\n' && c != '\r')
      out += c;
  }
  return out;
}

std::string expectation_table(const SuiteResult& s, bool failed_only) {
  std::string out = "| | where | expectation | observed | time |\n|---|---|---|---|---:|\n";
  for (const auto& x : s.outcome.expectations) {
    if (failed_only && x.passed) continue;
    out += fmt::format("| {} | `{}` | {} | {} | {:.0f} ms |\n", x.passed ? "✅" : "❌", code_cell(x.where.str()),
                       markdown_cell(x.title), markdown_cell(x.summary), x.ms);
  }
  return out;
}

}  // namespace

std::string markdown_cell(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '|': out += "\\|"; break;
      case '`': out += "&#96;"; break;
      case '\r': break;
      case '\n': out += "<br>"; break;
      default: out += c;
    }
  }
  return out;
}

std::string markdown_summary(const std::vector<SuiteResult>& suites) {
  std::size_t passed = 0, expectations = 0, expectations_held = 0;
  for (const auto& s : suites) {
    passed += state_of(s) == State::passed;
    expectations += s.outcome.expectations.size();
    expectations_held += held(s);
  }
  std::string out = fmt::format("## nslab check: {} of {} scenarios passed ({} of {} expectations held)\n\n", passed,
                                suites.size(), expectations_held, expectations);
  out += "| | scenario | file | result | time |\n|---|---|---|---|---:|\n";
  for (const auto& s : suites)
    out += fmt::format("| {} | {} | `{}` | {} | {} |\n", mark(state_of(s)), markdown_cell(s.name), code_cell(s.file),
                       markdown_cell(result_text(s)), seconds(s.seconds));
  std::string passing;
  for (const auto& s : suites) {
    State st = state_of(s);
    if (st == State::passed || st == State::skipped) {
      if (st == State::passed)
        passing +=
            fmt::format("\n#### {} `{}`\n\n{}", markdown_cell(s.name), code_cell(s.file), expectation_table(s, false));
      continue;
    }
    out += fmt::format("\n### {} {} (`{}`): {}\n\n", mark(st), markdown_cell(s.name), code_cell(s.file),
                       markdown_cell(result_text(s)));
    if (st == State::invalid) {
      out += fenced(s.message);
      continue;
    }
    if (st == State::empty) {
      out += "The lab was built and torn down; add an `expect:` list to check something.\n";
      continue;
    }
    out += expectation_table(s, true);
    for (const auto& x : s.outcome.expectations) {
      if (x.passed) continue;
      if (!x.details.empty())
        out += fmt::format("\n<details><summary>{}</summary>\n\n{}\n</details>\n", markdown_cell(x.title),
                           fenced(x.details));
      for (const auto& a : x.artifacts) out += fmt::format("\nPackets kept: `{}`\n", code_cell(a));
    }
    if (!s.program_logs.empty())
      out += fmt::format("\n<details><summary>programs' output</summary>\n\n{}\n</details>\n", fenced(s.program_logs));
  }
  if (!passing.empty())
    out += fmt::format("\n<details><summary>scenarios that passed</summary>\n{}\n</details>\n", passing);
  return out;
}

}  // namespace nslab::cli
