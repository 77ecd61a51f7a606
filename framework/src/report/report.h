// The HTML report of `nslab check --report DIR`: one self-contained page
// (DIR/index.html; inline CSS, no script, nothing fetched from elsewhere),
// per scenario file its topology drawing, every expectation with its
// verdict, position and evidence, matrices as coloured grids, links to the
// pcaps kept beside the page, and the programs' output of a failed one.
// Everything that comes from a scenario or a lab is text: see html_escape().
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "junit.h"

namespace nslab::detail {

struct ReportSuite {
  SuiteResult result;
  double build_ms = -1;  // how long its lab took to build; negative: it was not built
  std::string dot;       // its topology as Graphviz DOT; empty: none (an invalid file)
  // The drawing, as `dot -Tsvg` made it (see draw_topologies), or why there
  // is none.
  std::optional<std::string> svg;
  std::string no_drawing;
  // pcap files kept for the suite as a whole (a fixture's captures), beside
  // those of its expectations.
  std::vector<std::string> captures;
};

struct ReportOptions {
  std::string dir;                       // where the page is written: pcap links are relative to it
  std::string generated;                 // "nslab 0.1.0, 2026-12-02 07:30 UTC", shown at the top
  std::string units = "scenario files";  // what each suite is: "3 of 4 scenario files passed"
};

// Text made safe for HTML element content and for attribute values in
// double quotes: markup characters become entities; control characters
// (C0 but tab and newline, DEL, C1) and bytes that are not valid UTF-8
// become the text \xNN, one per byte; in an attribute, tab and newline
// become character references.
std::string html_escape(std::string_view text, bool attribute = false);

// The page. A pure function of its arguments.
std::string html_report(const std::vector<ReportSuite>& suites, const ReportOptions& options);

// Fills each suite's svg by running Graphviz's `dot -Tsvg` on its dot, as
// `nslab graph -o X.svg` does; without `dot`, or when it fails, says why in
// no_drawing instead.
void draw_topologies(std::vector<ReportSuite>& suites);

// Draws the topologies and writes DIR/index.html (DIR made if needed); an
// error message, or empty.
std::string write_report(std::vector<ReportSuite> suites, const ReportOptions& options);

}  // namespace nslab::detail
