// nslab check FILE...: build each lab, run its expectations, tear it down.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>

#include "commands.h"
#include "junit.h"
#include "nslab/environment.h"
#include "nslab/scenario.h"
#include "nslab/scenario_run.h"

namespace nslab::cli {

namespace {

const char* kHelp = R"(usage: nslab check [--junit FILE] [--artifacts DIR [--keep-pcaps]] [--tables] [--quiet] SCENARIO...

For each scenario file: validate it, build its lab (in namespaces of its own),
run all its expectations' probes at once (a scenario costs about one probe
timeout), print one line per expectation and, for a failed matrix, the
expected / observed / difference tables, then tear the lab down.

options:
  --junit FILE   also write the results as JUnit XML
  --artifacts DIR  write the packets of every failed capture expectation to
                 DIR/SCENARIO/NN-NODE-IFACE.pcap (tcpdump -r, Wireshark)
  --keep-pcaps   with --artifacts, write every capture, failed or not
  --tables       print every matrix's tables, not only failed ones
  --quiet        print only failures and the summary line per file

exit codes: 0 every expectation held, 1 an expectation failed, 2 a scenario
is invalid (or its rules failed to load), 4 this environment cannot build labs
(the reason is printed).
)";

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The end of every program's log, so that a failed scenario shows what its
// servers and daemons said.
void print_program_logs(Lab& lab) {
  for (const auto& p : lab.processes()) {
    auto code = p->exit_code();
    std::string tail = p->log_tail();
    std::printf("  log of %s (%s)%s\n", p->label().c_str(),
                code ? ("exited with code " + std::to_string(*code)).c_str() : "running",
                tail.empty() ? ": nothing" : ", the end:");
    std::size_t start = 0;
    while (start < tail.size()) {
      auto end = tail.find('\n', start);
      if (end == std::string::npos) end = tail.size();
      std::printf("    | %s\n", tail.substr(start, end - start).c_str());
      start = end + 1;
    }
  }
}

}  // namespace

int check(const Args& args) {
  if (wants_help(args)) {
    std::fputs(kHelp, stdout);
    return kOk;
  }
  std::string junit;
  bool quiet = false, tables = false;
  ArtifactOptions artifacts;
  std::vector<std::string> files;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--junit" && i + 1 < args.size()) junit = args[++i];
    else if (args[i] == "--quiet") quiet = true;
    else if (args[i] == "--tables") tables = true;
    else if (args[i] == "--artifacts" && i + 1 < args.size()) artifacts.dir = args[++i];
    else if (args[i] == "--keep-pcaps") artifacts.always = true;
    else if (!args[i].empty() && args[i][0] == '-') {
      std::fprintf(stderr, "nslab check: unknown option \"%s\"\n\n%s", args[i].c_str(), kHelp);
      return kUsage;
    } else files.push_back(args[i]);
  }
  if (files.empty()) {
    std::fputs(kHelp, stderr);
    return kUsage;
  }

  std::vector<SuiteResult> suites;
  std::optional<std::optional<std::string>> environment;  // checked once, when first needed
  bool any_invalid = false, any_failed = false, any_ran = false, any_skipped = false;
  for (const auto& file : files) {
    SuiteResult suite;
    suite.file = file;
    suite.name = file;
    auto t0 = std::chrono::steady_clock::now();
    Scenario scenario;
    try {
      scenario = load_scenario(file);
      suite.name = scenario.name;
    } catch (const ScenarioError& e) {
      std::fprintf(stderr, "%s\nINVALID %s\n", e.what(), file.c_str());
      suite.kind = SuiteResult::Kind::invalid;
      suite.message = e.what();
      any_invalid = true;
      suites.push_back(std::move(suite));
      continue;
    }
    if (!environment) environment = lab_environment_problem();
    if (*environment) {
      std::printf("SKIP %s: %s\n", file.c_str(), (*environment)->c_str());
      suite.kind = SuiteResult::Kind::skipped;
      suite.message = **environment;
      any_skipped = true;
      suites.push_back(std::move(suite));
      continue;
    }
    try {
      auto lab = std::make_unique<Lab>(scenario.topology, scenario.lab_options);
      double build_ms = lab->build_times().total_ms;
      suite.outcome = run_expectations(*lab, scenario, artifacts);
      any_ran = true;
      std::size_t passed = 0;
      for (const auto& x : suite.outcome.expectations) {
        passed += x.passed;
        if (x.passed && quiet) continue;
        std::printf("  %-4s %s: %s — %s\n", x.passed ? "ok" : "FAIL", x.where.str().c_str(), x.title.c_str(),
                    x.summary.c_str());
        if ((!x.passed || tables) && !x.details.empty()) std::printf("%s", x.details.c_str());
        for (const auto& a : x.artifacts) std::printf("       packets kept in %s\n", a.c_str());
      }
      bool ok = suite.outcome.passed();
      if (!ok) print_program_logs(*lab);
      lab.reset();
      any_failed = any_failed || !ok;
      std::printf("%s %s: %zu of %zu expectations held (build %.1f ms, total %.0f ms)\n", ok ? "PASS" : "FAIL",
                  file.c_str(), passed, suite.outcome.expectations.size(), build_ms, seconds_since(t0) * 1000);
    } catch (const ConfigError& e) {
      // The lab could not be built as described: a rule the kernel or a tool
      // refused, a route that does not apply. That is a bad scenario.
      std::fprintf(stderr, "%s\nINVALID %s\n", e.what(), file.c_str());
      suite.kind = SuiteResult::Kind::invalid;
      suite.message = e.what();
      any_invalid = true;
    } catch (const EnvironmentError& e) {
      std::printf("SKIP %s: %s\n", file.c_str(), e.what());
      suite.kind = SuiteResult::Kind::skipped;
      suite.message = e.what();
      any_skipped = true;
    } catch (const Error& e) {
      // The lab was built but did not come up as described: a program that
      // exited early, a port that never opened.
      std::printf("FAIL %s: %s\n", file.c_str(), e.what());
      ExpectationOutcome o;
      o.title = "the lab comes up";
      o.summary = e.what();
      suite.outcome.expectations.push_back(std::move(o));
      any_failed = true;
      any_ran = true;
    }
    std::fflush(stdout);
    suite.seconds = seconds_since(t0);
    suites.push_back(std::move(suite));
  }
  if (!junit.empty()) {
    std::ofstream out(junit);
    out << junit_xml(suites);
    if (!out) {
      std::fprintf(stderr, "nslab check: cannot write %s\n", junit.c_str());
      return kUsage;
    }
  }
  if (any_invalid) return kUsage;
  if (any_failed) return kFailed;
  if (any_skipped && !any_ran) return kSkipped;
  return kOk;
}

}  // namespace nslab::cli
