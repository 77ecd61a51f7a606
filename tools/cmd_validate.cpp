// nslab validate FILE...: check scenario files without building anything.
#include <fmt/format.h>

#include <cstdio>

#include "commands.h"
#include "nslab/scenario.h"

namespace nslab::cli {

bool wants_help(const Args& args) {
  for (const auto& a : args)
    if (a == "-h" || a == "--help") return true;
  return false;
}

int validate(const Args& args) {
  if (wants_help(args) || args.empty()) {
    std::fputs(R"(usage: nslab validate FILE...

Reads each scenario file and reports every problem as FILE:LINE:COLUMN:
message, with the closest valid key for a misspelt one. Builds nothing and
needs no privilege. Warnings (a file with no expectations) go to standard
error and do not make a file invalid. Exit 0 when every file is valid, 2
otherwise.
)",
               args.empty() ? stderr : stdout);
    return args.empty() ? kUsage : kOk;
  }
  int rc = kOk;
  for (const auto& file : args) {
    try {
      Scenario s = load_scenario(file);
      std::size_t expectations = s.expectations.size();
      for (const auto& step : s.steps) expectations += step.expectations.size();
      std::string steps = s.steps.empty() ? "" : fmt::format(", {} steps", s.steps.size());
      std::printf("%s: valid (%zu nodes, %zu links, %zu expectations%s)\n", file.c_str(), s.topology.nodes().size(),
                  s.topology.links().size(), expectations, steps.c_str());
      std::fflush(stdout);
      for (const auto& w : s.warnings) std::fprintf(stderr, "%s\n", w.c_str());
    } catch (const ScenarioError& e) {
      std::fprintf(stderr, "%s\n", e.what());
      rc = kUsage;
    }
  }
  return rc;
}

}  // namespace nslab::cli
