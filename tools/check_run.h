// Checking scenario files, as `nslab check` does: each file validated, its
// lab built and its expectations run (or run against a kept lab with --lab),
// files in parallel with their output in order. cmd_check.cpp reads the
// flags and writes JUnit, summary, report and coverage from the results.
#pragma once

#include <fmt/format.h>

#include <cstdio>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "junit.h"
#include "kept_lab.h"
#include "nslab/scenario_run.h"

namespace nslab::cli {

using detail::SuiteResult;

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

  // The file did not run through: one failed outcome that says where it
  // stopped and why.
  void fail(std::string title, std::string why);
  void invalid_because(std::string why);  // the scenario is not valid
  void skipped_because(std::string why);  // the machine cannot build its lab
};

// Checks the files on up to `jobs` threads; writes each file's output as
// soon as it and every file before it are done.
std::vector<FileRun> check_files(const std::vector<std::string>& files, const CheckOptions& opt, unsigned jobs);

}  // namespace nslab::cli
