// nslab check FILE...: build each lab, run its expectations, tear it down.
#include <algorithm>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "commands.h"
#include "kept_lab.h"
#include "kept_lab_inspect.h"
#include "junit.h"
#include "nslab/coverage.h"
#include "nslab/environment.h"
#include "nslab/graph.h"
#include "nslab/scenario.h"
#include "nslab/scenario_run.h"
#include "report.h"
#include "summary.h"

namespace nslab::cli {

namespace {

const char* kHelp =
    R"(usage: nslab check [-j N] [--junit FILE] [--summary FILE] [--artifacts DIR [--keep-pcaps]] [--tables]
                   [--quiet] [--coverage FILE] [--coverage-min PERCENT] [--explain] [--lab LAB]
                   [--report DIR] SCENARIO...

For each scenario file: validate it, build its lab (in namespaces of its own),
run all its expectations' probes at once (a scenario costs about one probe
timeout), print one line per expectation and, for a failed matrix, the
expected / observed / difference tables, then tear the lab down.

options:
  -j N, --jobs N  check up to N files at once (labs are independent); each
                 file's output stays together, in the order the files were given
  --junit FILE   also write the results as JUnit XML
  --summary FILE  also write them as Markdown for a CI job's summary page
                 (--summary "$GITHUB_STEP_SUMMARY" appends to it)
  --report DIR   also write DIR/index.html, one page that works offline: each
                 file's topology drawing, expectations, matrix grids, programs'
                 output; every capture's pcap is kept beside it, linked
  --artifacts DIR  write the packets of every failed capture expectation to
                 DIR/SCENARIO/NN-NODE-IFACE.pcap (tcpdump -r, Wireshark)
  --keep-pcaps   with --artifacts, write every capture, failed or not
  --tables       print every matrix's tables, not only failed ones
  --quiet        print only failures and the summary line per file
  --coverage FILE  report which firewall rule lines no expectation hit, and
                 write the rule coverage to FILE (LCOV; Cobertura XML for *.xml)
  --coverage-min PERCENT  fail (exit 3) when fewer rule lines were hit
  --explain      name the rule or policy that decided every probe expectation
                 (a failed one is always explained)
  --lab LAB      build nothing: run the expectations against LAB, a lab kept
                 up by `nslab up` (as it stands, changed by hand or not); warns
                 when the file describes another lab than LAB was built from

exit codes (the worst over all files): 0 every expectation held, 1 an
expectation failed, 2 a scenario is invalid (or its rules failed to load),
3 the rule coverage is under --coverage-min, 4 this environment cannot build
labs (the reason is printed).
)";

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// What checking one file printed, in order, kept until it can be written
// after the files before it.
struct Output {
  std::vector<std::pair<FILE*, std::string>> parts;
  template <typename... A>
  void out(fmt::format_string<A...> f, A&&... a) {
    parts.emplace_back(stdout, fmt::format(f, std::forward<A>(a)...));
  }
  template <typename... A>
  void err(fmt::format_string<A...> f, A&&... a) {
    parts.emplace_back(stderr, fmt::format(f, std::forward<A>(a)...));
  }
  void write() const {
    for (const auto& [stream, text] : parts) {
      if (stream == stderr) std::fflush(stdout);
      std::fputs(text.c_str(), stream);
      if (stream == stderr) std::fflush(stderr);
    }
    std::fflush(stdout);
  }
};

// The end of every program's log, so that a failed scenario shows what its
// servers and daemons said; returns what it printed.
std::string print_program_logs(Lab& lab, Output& o) {
  std::string text;
  for (const auto& p : lab.processes()) {
    auto code = p->exit_code();
    std::string tail = p->log_tail();
    text += fmt::format("  log of {} ({}){}\n", p->label(),
                        code ? "exited with code " + std::to_string(*code) + p->exit_note(*code) : "running",
                        tail.empty() ? ": nothing" : ", the end:");
    std::size_t start = 0;
    while (start < tail.size()) {
      auto end = tail.find('\n', start);
      if (end == std::string::npos) end = tail.size();
      text += fmt::format("    | {}\n", tail.substr(start, end - start));
      start = end + 1;
    }
  }
  o.out("{}", text);
  return text;
}

// The rule lines of one file's lab that no packet matched.
void print_coverage(const std::vector<RuleHit>& hits, Output& o) {
  RuleCoverage c;
  c.add(hits);
  if (c.lines() == 0) return;
  o.out("  rule coverage: {} of {} rule lines hit ({:.0f} %)\n", c.lines_hit(), c.lines(), c.percent());
  for (const auto& h : c.missed()) o.out("    not hit: {}:{}: {} ({})\n", h.where.file, h.where.line, h.rule, h.node);
}

struct CheckOptions {
  bool quiet = false, tables = false, report = false;
  ArtifactOptions artifacts;
  InsightOptions insight;
  std::optional<KeptLab> lab;  // --lab: run against this kept lab instead of building one
};

// Checks one file: its result for JUnit, and what to print.
struct FileRun {
  SuiteResult suite;
  Output output;
  bool invalid = false, failed = false, ran = false, skipped = false;
  double build_ms = -1;
  std::string dot;  // with --report: the topology, to draw
};

// One expectation's lines, as every way of checking prints them.
void print_expectation(const ExpectationOutcome& x, const CheckOptions& opt, Output& o) {
  if (x.passed && opt.quiet) return;
  o.out("  {:<4} {}: {} — {}\n", x.passed ? "ok" : "FAIL", x.where.str(), x.title, x.summary);
  if ((!x.passed || opt.tables) && !x.details.empty()) o.out("{}", x.details);
  for (const auto& a : x.artifacts) o.out("       packets kept in {}\n", a);
}

// --lab: the keeper of a lab kept by `nslab up` runs the file's expectations
// against that lab, as it stands (changed by hand since, maybe).
FileRun check_against_kept_lab(const std::string& file, const KeptLab& lab, const CheckOptions& opt, FileRun run,
                               std::chrono::steady_clock::time_point t0) {
  SuiteResult& suite = run.suite;
  Output& o = run.output;
  try {
    auto got = kept_lab_check(lab, std::filesystem::absolute(file).string(), opt.insight.explain);
    if (!got.same_lab)
      o.err("WARN {}: describes another lab than {} was built from ({}); its expectations run against {} as it is\n",
            file, lab.id, lab.scenario, lab.id);
    suite.outcome.expectations = std::move(got.expectations);
    run.ran = true;
    std::size_t passed = 0;
    for (const auto& x : suite.outcome.expectations) {
      passed += x.passed;
      print_expectation(x, opt, o);
    }
    bool ok = suite.outcome.passed();
    run.failed = !ok;
    if (!ok) o.out("  (the programs' output: nslab logs {})\n", lab.id);
    o.out("{} {}: {} of {} expectations held against lab {} (total {:.0f} ms)\n", ok ? "PASS" : "FAIL", file, passed,
          suite.outcome.expectations.size(), lab.id, seconds_since(t0) * 1000);
  } catch (const std::exception& e) {
    o.out("FAIL {}: {}\n", file, e.what());
    ExpectationOutcome x;
    x.title = "the kept lab answers";
    x.summary = e.what();
    suite.outcome.expectations.push_back(std::move(x));
    run.failed = true;
    run.ran = true;
  }
  suite.seconds = seconds_since(t0);
  return run;
}

FileRun check_file(const std::string& file, const CheckOptions& opt) {
  FileRun run;
  SuiteResult& suite = run.suite;
  Output& o = run.output;
  suite.file = file;
  suite.name = file;
  auto t0 = std::chrono::steady_clock::now();
  Scenario scenario;
  try {
    scenario = load_scenario(file);
    suite.name = scenario.name;
    if (opt.report) run.dot = to_dot(scenario.topology);
    for (const auto& w : scenario.warnings) o.err("{}\n", w);
  } catch (const ScenarioError& e) {
    o.err("{}\nINVALID {}\n", e.what(), file);
    suite.kind = SuiteResult::Kind::invalid;
    suite.message = e.what();
    run.invalid = true;
    return run;
  }
  if (opt.lab) return check_against_kept_lab(file, *opt.lab, opt, std::move(run), t0);
  if (auto why = lab_environment_problem()) {  // asked once per process
    o.out("SKIP {}: {}\n", file, *why);
    suite.kind = SuiteResult::Kind::skipped;
    suite.message = *why;
    run.skipped = true;
    return run;
  }
  try {
    auto lab = std::make_unique<Lab>(scenario.topology, scenario.lab_options);
    double build_ms = run.build_ms = lab->build_times().total_ms;
    suite.outcome = run_expectations(*lab, scenario, opt.artifacts, opt.insight);
    run.ran = true;
    std::size_t passed = 0;
    for (const auto& x : suite.outcome.expectations) {
      passed += x.passed;
      print_expectation(x, opt, o);
    }
    if (opt.insight.coverage) print_coverage(suite.outcome.rule_hits, o);
    bool ok = suite.outcome.passed();
    if (!ok) suite.program_logs = print_program_logs(*lab, o);
    lab.reset();
    run.failed = !ok;
    if (suite.outcome.expectations.empty())
      o.out("WARN {}: no expectations; the lab was built and torn down, nothing was checked (build {:.1f} ms)\n", file,
            build_ms);
    else
      o.out("{} {}: {} of {} expectations held (build {:.1f} ms, total {:.0f} ms)\n", ok ? "PASS" : "FAIL", file,
            passed, suite.outcome.expectations.size(), build_ms, seconds_since(t0) * 1000);
  } catch (const ConfigError& e) {
    // The lab could not be built as described: a rule the kernel or a tool
    // refused, a route that does not apply. That is a bad scenario.
    o.err("{}\nINVALID {}\n", e.what(), file);
    suite.kind = SuiteResult::Kind::invalid;
    suite.message = e.what();
    run.invalid = true;
  } catch (const EnvironmentError& e) {
    o.out("SKIP {}: {}\n", file, e.what());
    suite.kind = SuiteResult::Kind::skipped;
    suite.message = e.what();
    run.skipped = true;
  } catch (const Error& e) {
    // The lab was built but did not come up as described: a program that
    // exited early, a port that never opened.
    o.out("FAIL {}: {}\n", file, e.what());
    ExpectationOutcome x;
    x.title = "the lab comes up";
    x.summary = e.what();
    suite.outcome.expectations.push_back(std::move(x));
    run.failed = true;
    run.ran = true;
  } catch (const std::exception& e) {
    // A fault of nslab's own: what this file printed so far stays, the
    // other files are still checked.
    o.err("nslab check: {}: {}\n", file, e.what());
    ExpectationOutcome x;
    x.title = "nslab checks the file";
    x.summary = e.what();
    suite.outcome.expectations.push_back(std::move(x));
    run.failed = true;
    run.ran = true;
  }
  suite.seconds = seconds_since(t0);
  return run;
}

// Checks the files on up to `jobs` threads; writes each file's output as
// soon as it and every file before it are done.
std::vector<FileRun> check_files(const std::vector<std::string>& files, const CheckOptions& opt, unsigned jobs) {
  std::vector<FileRun> runs(files.size());
  std::vector<bool> done(files.size(), false);
  std::mutex m;
  std::condition_variable cv;
  std::size_t next = 0;
  auto worker = [&] {
    for (;;) {
      std::size_t i;
      {
        std::lock_guard lock(m);
        if (next == files.size()) return;
        i = next++;
      }
      FileRun r;
      try {
        r = check_file(files[i], opt);
      } catch (const std::exception& e) {
        r.suite.file = r.suite.name = files[i];
        r.output.err("nslab check: {}: {}\n", files[i], e.what());
        ExpectationOutcome x;
        x.title = "the lab comes up";
        x.summary = e.what();
        r.suite.outcome.expectations.push_back(std::move(x));
        r.failed = r.ran = true;
      }
      std::lock_guard lock(m);
      runs[i] = std::move(r);
      done[i] = true;
      cv.notify_all();
    }
  };
  std::vector<std::thread> threads;
  for (unsigned t = 1; t < std::min<std::size_t>(jobs, files.size()); ++t) threads.emplace_back(worker);
  std::thread writer([&] {
    for (std::size_t i = 0; i < files.size(); ++i) {
      std::unique_lock lock(m);
      cv.wait(lock, [&] { return done[i]; });
      lock.unlock();
      runs[i].output.write();
    }
  });
  worker();
  for (auto& t : threads) t.join();
  writer.join();
  return runs;
}

}  // namespace

int check(const Args& args) {
  if (wants_help(args)) {
    std::fputs(kHelp, stdout);
    return kOk;
  }
  std::string junit, summary, coverage_file, report_dir;
  std::optional<double> coverage_min;
  CheckOptions opt;
  unsigned jobs = 1;
  std::string lab_name;
  std::vector<std::string> files;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--junit" && i + 1 < args.size())
      junit = args[++i];
    else if (args[i] == "--summary" && i + 1 < args.size())
      summary = args[++i];
    else if (args[i] == "--report" && i + 1 < args.size())
      report_dir = args[++i];
    else if (args[i] == "--quiet")
      opt.quiet = true;
    else if (args[i] == "--tables")
      opt.tables = true;
    else if (args[i] == "--artifacts" && i + 1 < args.size())
      opt.artifacts.dir = args[++i];
    else if (args[i] == "--keep-pcaps")
      opt.artifacts.always = true;
    else if (args[i] == "--explain")
      opt.insight.explain = true;
    else if (args[i] == "--coverage" && i + 1 < args.size()) {
      coverage_file = args[++i];
      opt.insight.coverage = true;
    } else if (args[i] == "--coverage-min" && i + 1 < args.size()) {
      std::string n = args[++i];
      if (!n.empty() && n.back() == '%') n.pop_back();
      double v = -1;
      auto [p, ec] = std::from_chars(n.data(), n.data() + n.size(), v);
      if (ec != std::errc() || p != n.data() + n.size() || v < 0 || v > 100) {
        std::fprintf(stderr, "nslab check: --coverage-min needs a percentage, 0 to 100 (e.g. 90%%), not \"%s\"\n",
                     args[i].c_str());
        return kUsage;
      }
      coverage_min = v;
      opt.insight.coverage = true;
    } else if (args[i] == "--lab" && i + 1 < args.size()) {
      lab_name = args[++i];
    } else if ((args[i] == "-j" || args[i] == "--jobs") && i + 1 < args.size()) {
      const std::string& n = args[++i];
      auto [p, ec] = std::from_chars(n.data(), n.data() + n.size(), jobs);
      if (ec != std::errc() || p != n.data() + n.size() || jobs == 0 || jobs > 1024) {
        std::fprintf(stderr, "nslab check: -j needs a number of files at once, 1 to 1024, not \"%s\"\n", n.c_str());
        return kUsage;
      }
    } else if (!args[i].empty() && args[i][0] == '-') {
      std::fprintf(stderr, "nslab check: unknown option \"%s\"\n\n%s", args[i].c_str(), kHelp);
      return kUsage;
    } else
      files.push_back(args[i]);
  }
  if (files.empty()) {
    std::fputs(kHelp, stderr);
    return kUsage;
  }
  if (!lab_name.empty()) {
    if (opt.insight.coverage || !opt.artifacts.dir.empty() || !report_dir.empty()) {
      std::fprintf(stderr,
                   "nslab check: --lab runs in the lab's keeper, without --coverage, --coverage-min, "
                   "--artifacts or --report\n");
      return kUsage;
    }
    try {
      opt.lab = find_kept_lab(lab_name);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "nslab check: %s\n", e.what());
      return kUsage;
    }
    jobs = 1;  // one keeper answers one request at a time
  }

  if (!report_dir.empty()) {
    if (!opt.artifacts.dir.empty()) {
      std::fprintf(stderr, "nslab check: --report DIR keeps every pcap in DIR itself, without --artifacts\n");
      return kUsage;
    }
    opt.artifacts = {report_dir, true};
    opt.report = true;
  }
  std::vector<SuiteResult> suites;
  std::vector<ReportSuite> report;
  bool any_invalid = false, any_failed = false, any_ran = false, any_skipped = false;
  for (auto& r : check_files(files, opt, jobs)) {
    any_invalid = any_invalid || r.invalid;
    any_failed = any_failed || r.failed;
    any_ran = any_ran || r.ran;
    any_skipped = any_skipped || r.skipped;
    if (opt.report) report.push_back({r.suite, r.build_ms, std::move(r.dot), {}, {}});
    suites.push_back(std::move(r.suite));
  }
  if (!junit.empty()) {
    std::ofstream out(junit);
    out << junit_xml(suites);
    if (!out) {
      std::fprintf(stderr, "nslab check: cannot write %s\n", junit.c_str());
      return kUsage;
    }
  }
  if (!summary.empty()) {
    std::ofstream out(summary, std::ios::app);  // $GITHUB_STEP_SUMMARY is appended to
    out << markdown_summary(suites);
    if (!out) {
      std::fprintf(stderr, "nslab check: cannot write %s\n", summary.c_str());
      return kUsage;
    }
  }
  if (opt.report)
    if (auto err = write_report(std::move(report), {report_dir, "nslab " NSLAB_VERSION}); !err.empty()) {
      std::fprintf(stderr, "nslab check: --report: %s\n", err.c_str());
      return kUsage;
    }
  bool under_min = false;
  if (opt.insight.coverage) {
    RuleCoverage c;
    for (const auto& s : suites) c.add(s.outcome.rule_hits);
    if (!coverage_file.empty()) {
      std::ofstream out(coverage_file);
      out << (coverage_file.ends_with(".xml") ? c.cobertura() : c.lcov());
      if (!out) {
        std::fprintf(stderr, "nslab check: cannot write %s\n", coverage_file.c_str());
        return kUsage;
      }
    }
    std::printf("rule coverage: %zu of %zu rule lines hit (%.1f %%)%s\n", c.lines_hit(), c.lines(), c.percent(),
                coverage_min ? fmt::format(", at least {}% required", *coverage_min).c_str() : "");
    under_min = coverage_min && c.percent() + 1e-9 < *coverage_min;
  }
  if (any_invalid) return kUsage;
  if (any_failed) return kFailed;
  if (under_min) return kCoverage;
  if (any_skipped && !any_ran) return kSkipped;
  return kOk;
}

}  // namespace nslab::cli
