// `nslab check --report`'s page (framework/src/report/report.cpp) with text from a hostile
// scenario: markup in node names, titles, evidence and program output,
// control characters, bytes that are not UTF-8; a failed matrix cell marked;
// pcap links relative to the page.
#include <boost/test/unit_test.hpp>

#include <cstdlib>

#include "nslab/matrix.h"
#include "report.h"

using namespace nslab;
using namespace nslab::detail;

namespace {

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A two-node matrix, "<script>" and "b", all reachable expected; the probe
// from "<script>" to b is blocked.
MatrixReport hostile_matrix() {
  MatrixSpec spec;
  spec.nodes = {"<script>", "b"};
  std::vector<ProbeResult> results;
  for (auto [from, to] : {std::pair{"<script>", "b"}, std::pair{"b", "<script>"}}) {
    ProbeResult r;
    r.probe.from = from;
    r.probe.to = to;
    r.verdict = from == std::string("b") ? Verdict::reachable : Verdict::blocked;
    r.detail = r.verdict == Verdict::blocked ? "no reply \"in\" 1000 ms\x01" : "echo reply";
    results.push_back(r);
  }
  return matrix_report(spec, results, 12);
}

SuiteResult hostile_suite() {
  SuiteResult s;
  s.file = "scen<b>arios/odd.yaml";
  s.name = "odd <img src=x onerror=alert(1)> lab";
  ExpectationOutcome m;
  m.title = "matrix icmp over 2 nodes";
  m.where = {"odd.yaml", 7, 5};
  m.summary = "1 of 2 cells as expected";
  m.matrix = hostile_matrix();
  m.details = m.matrix->text();
  s.outcome.expectations.push_back(m);
  ExpectationOutcome cap;
  cap.title = "capture on <script>:eth0";
  cap.passed = true;
  cap.where = {"odd.yaml", 9, 5};
  cap.summary = "3 packets\r\n</td></tr></table>";
  cap.artifacts = {"/tmp/rep/odd/01-a-eth0.pcap", "/tmp/rep/odd/02 b#c.pcap", "/elsewhere/x.pcap"};
  cap.ms = 0.042;  // decided in microseconds
  s.outcome.expectations.push_back(cap);
  s.program_logs = "  log of b (running), the end:\n    | <script>alert(2)</script>\x1b[31m\xff\n";
  return s;
}

}  // namespace

BOOST_AUTO_TEST_CASE(escapes_markup_controls_and_bad_bytes) {
  BOOST_TEST(html_escape("<a href='x'>&\"</a>") == "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;");
  BOOST_TEST(html_escape("a\x01\x1b\x7f"
                         "b\rc") == "a\\x01\\x1B\\x7Fb\\x0Dc");
  BOOST_TEST(html_escape("\xff\xc2\x85 é ✓") == "\\xFF\\xC2\\x85 é ✓");  // not UTF-8; C1 control; kept
  BOOST_TEST(html_escape("a\tb\nc") == "a\tb\nc");
  BOOST_TEST(html_escape("a\tb\nc", true) == "a&#9;b&#10;c");
}

BOOST_AUTO_TEST_CASE(hostile_names_render_as_text) {
  ReportSuite rs{hostile_suite(), 12.5, "graph {}", {}, "not drawn: <dot> said \"no\""};
  std::string html = html_report({rs}, {"/tmp/rep", "nslab <test>"});
  // Nothing from the scenario is markup: no script, image or stray cell end.
  BOOST_TEST(!has(html, "<script"), html);
  BOOST_TEST(!has(html, "<img"), html);
  BOOST_TEST(!has(html, "<b>"), html);
  BOOST_TEST(!has(html, "</td></tr></table>"), html);
  BOOST_TEST(!has(html, "\x1b"), html);
  BOOST_TEST(has(html, "<th>&lt;script&gt;</th>"), html);
  BOOST_TEST(has(html, "odd &lt;img src=x onerror=alert(1)&gt; lab"), html);
  BOOST_TEST(has(html, "&lt;script&gt;alert(2)&lt;/script&gt;\\x1B[31m\\xFF"), html);
  BOOST_TEST(has(html, "3 packets\\x0D\n&lt;/td&gt;"), html);
  BOOST_TEST(has(html, "not drawn: &lt;dot&gt; said &quot;no&quot;"), html);
  BOOST_TEST(has(html, "nslab &lt;test&gt;"), html);
  // The page needs nothing from elsewhere.
  BOOST_TEST(!has(html, "http://"));
  BOOST_TEST(!has(html, "https://"));
  BOOST_TEST(!has(html, "<link"));
}

BOOST_AUTO_TEST_CASE(failed_matrix_cell_is_marked_with_its_evidence) {
  ReportSuite rs{hostile_suite(), 12.5, "", {}, {}};
  std::string html = html_report({rs}, {"/tmp/rep", ""});
  // The blocked cell, in the expected grid and the observed one.
  BOOST_TEST(has(html,
                 "<td class=\"v-reachable diff\" title=\"&lt;script&gt; -&gt; b: expected reachable, observed "
                 "blocked (no reply &quot;in&quot; 1000 ms\\x01)\">.</td>"),
             html);
  BOOST_TEST(has(html,
                 "<td class=\"v-blocked diff\" title=\"&lt;script&gt; -&gt; b: expected reachable, observed "
                 "blocked (no reply &quot;in&quot; 1000 ms\\x01)\">X</td>"),
             html);
  // The cell that held: coloured, not marked.
  BOOST_TEST(has(html,
                 "<td class=\"v-reachable\" title=\"b -&gt; &lt;script&gt;: expected reachable, observed "
                 "reachable (echo reply)\">.</td>"),
             html);
  BOOST_TEST(has(html, "<td class=\"self\">-</td>"));
  // The verdicts, positions and times.
  BOOST_TEST(has(html, "<td class=\"verdict\">FAIL</td><td class=\"where\">odd.yaml:7:5</td>"), html);
  BOOST_TEST(has(html, "<td class=\"verdict\">ok</td><td class=\"where\">odd.yaml:9:5</td>"), html);
  BOOST_TEST(has(html, "lab built in 12.5 ms"), html);
  BOOST_TEST(has(html, "<td class=\"ms\">0.04 ms</td>"), html);  // not "0 ms"
  BOOST_TEST(has(html, "<span class=\"state\">FAIL</span>"), html);
}

BOOST_AUTO_TEST_CASE(pcap_links_are_relative_to_the_page) {
  ReportSuite rs{hostile_suite(), -1, "", {}, {}};
  std::string html = html_report({rs}, {"/tmp/rep/", ""});
  BOOST_TEST(has(html, "<a href=\"odd/01-a-eth0.pcap\" download=\"01-a-eth0.pcap\">01-a-eth0.pcap</a>"), html);
  BOOST_TEST(has(html, "<a href=\"odd/02%20b%23c.pcap\" download=\"02 b#c.pcap\">"), html);
  BOOST_TEST(has(html, "<a href=\"/elsewhere/x.pcap\""), html);
  BOOST_TEST(!has(html, "lab built in"), html);  // not built: no build time
}

BOOST_AUTO_TEST_CASE(a_drawing_is_inline_svg_and_labels_stay_text) {
  std::vector<ReportSuite> suites(1);
  suites[0].dot = "graph g { a [label=\"<script>alert(1)</script>\"]; a -- b; }";
  draw_topologies(suites);
  if (!suites[0].svg) {
    BOOST_TEST(has(suites[0].no_drawing, "dot"), suites[0].no_drawing);
    return;
  }
  const std::string& svg = *suites[0].svg;
  BOOST_TEST(svg.starts_with("<svg"), svg);
  BOOST_TEST(svg.ends_with("</svg>"), svg);
  BOOST_TEST(!has(svg, "<script"), svg);
  BOOST_TEST(has(svg, "&lt;script&gt;"), svg);
  std::string html = html_report(suites, {});
  BOOST_TEST(has(html, "<figure class=\"topology\">\n<svg"), html);
}

BOOST_AUTO_TEST_CASE(without_dot_the_page_says_so) {
  std::string path = std::getenv("PATH") ? std::getenv("PATH") : "";
  ::setenv("PATH", "/nonexistent", 1);  // dot is in /usr/bin, not searched then
  std::vector<ReportSuite> suites(1);
  suites[0].dot = "graph g { a -- b; }";
  draw_topologies(suites);
  ::setenv("PATH", path.c_str(), 1);
  BOOST_TEST(!suites[0].svg.has_value());
  std::string html = html_report(suites, {});
  BOOST_TEST(has(html, "topology: not drawn: Graphviz&#39;s `dot` is not installed"), html);
  BOOST_TEST(!has(html, "<svg"), html);
}
