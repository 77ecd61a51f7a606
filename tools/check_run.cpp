// Checking scenario files for `nslab check` (check_run.h).
#include "check_run.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>

#include "kept_lab_inspect.h"
#include "nslab/coverage.h"
#include "nslab/environment.h"
#include "nslab/graph.h"
#include "nslab/scenario.h"

namespace nslab::cli {

void FileRun::fail(std::string title, std::string why) {
  ExpectationOutcome x;
  x.title = std::move(title);
  x.summary = std::move(why);
  suite.outcome.expectations.push_back(std::move(x));
  failed = ran = true;
}

void FileRun::invalid_because(std::string why) {
  suite.kind = SuiteResult::Kind::invalid;
  suite.message = std::move(why);
  invalid = true;
}

void FileRun::skipped_because(std::string why) {
  suite.kind = SuiteResult::Kind::skipped;
  suite.message = std::move(why);
  skipped = true;
}

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

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
    run.fail("the kept lab answers", e.what());
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
    run.invalid_because(e.what());
    return run;
  }
  if (opt.lab) return check_against_kept_lab(file, *opt.lab, opt, std::move(run), t0);
  if (auto why = lab_environment_problem()) {  // asked once per process
    o.out("SKIP {}: {}\n", file, *why);
    run.skipped_because(*why);
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
    run.invalid_because(e.what());
  } catch (const EnvironmentError& e) {
    o.out("SKIP {}: {}\n", file, e.what());
    run.skipped_because(e.what());
  } catch (const Error& e) {
    // The lab was built but did not come up as described: a program that
    // exited early, a port that never opened.
    o.out("FAIL {}: {}\n", file, e.what());
    run.fail("the lab comes up", e.what());
  } catch (const std::exception& e) {
    // A fault of nslab's own: what this file printed so far stays, the
    // other files are still checked.
    o.err("nslab check: {}: {}\n", file, e.what());
    run.fail("nslab checks the file", e.what());
  }
  suite.seconds = seconds_since(t0);
  return run;
}

}  // namespace

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
        r.fail("the lab comes up", e.what());
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

}  // namespace nslab::cli
