// nslab check FILE...: the flags, then check_run.h checks the files; the
// JUnit, summary, report and coverage files are written from the results.
#include <fmt/format.h>

#include <charconv>
#include <cstdio>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "check_run.h"
#include "commands.h"
#include "junit.h"
#include "kept_lab.h"
#include "nslab/coverage.h"
#include "report.h"
#include "summary.h"

namespace nslab::cli {

namespace {

using detail::junit_xml;
using detail::ReportSuite;
using detail::write_report;

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
