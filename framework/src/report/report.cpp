// The HTML report (report.h).
#include "report.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <iterator>
#include <map>
#include <utility>

#include "subprocess.h"
#include "xml_text.h"

namespace nslab::detail {

std::string html_escape(std::string_view s, bool attribute) {
  std::string out;
  out.reserve(s.size());
  auto hex = [&](std::string_view bytes) {
    for (char b : bytes) out += fmt::format("\\x{:02X}", static_cast<unsigned char>(b));
  };
  for (std::size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      std::size_t n = detail::xml_char_length(s, i);
      // C1 controls (U+0080..U+009F) are valid UTF-8 but control characters.
      bool c1 = n == 2 && c == 0xC2 && static_cast<unsigned char>(s[i + 1]) < 0xA0;
      if (n == 0 || c1) {
        hex(s.substr(i, n == 0 ? 1 : n));
        i += n == 0 ? 1 : n;
      } else {
        out.append(s.substr(i, n));
        i += n;
      }
      continue;
    }
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      case '\t': out += attribute ? "&#9;" : "\t"; break;
      case '\n': out += attribute ? "&#10;" : "\n"; break;
      default:
        if (c < 0x20 || c == 0x7f)
          hex(s.substr(i, 1));
        else
          out += static_cast<char>(c);
    }
    ++i;
  }
  return out;
}

namespace {

std::string esc(std::string_view s) {
  return html_escape(s);
}
std::string attr(std::string_view s) {
  return html_escape(s, true);
}

// A relative URL for a file path: every byte but unreserved ones and '/'
// percent-encoded.
std::string url_path(const std::string& path) {
  std::string out;
  for (char ch : path) {
    auto u = static_cast<unsigned char>(ch);
    if (std::isalnum(u) || ch == '-' || ch == '_' || ch == '.' || ch == '~' || ch == '/')
      out += ch;
    else
      out += fmt::format("%{:02X}", u);
  }
  return out;
}

// A pcap's link from the page in `dir`: relative when it lies under dir.
std::string link_to(const std::string& file, const std::string& dir) {
  namespace fs = std::filesystem;
  if (dir.empty()) return url_path(file);
  fs::path rel = fs::path(file).lexically_normal().lexically_relative(fs::path(dir).lexically_normal());
  if (rel.empty() || *rel.begin() == "..") return url_path(fs::absolute(file).string());
  return url_path(rel.string());
}

using State = SuiteState;

const char* state_name(State s) {
  switch (s) {
    case State::passed: return "PASS";
    case State::failed: return "FAIL";
    case State::invalid: return "INVALID";
    case State::skipped: return "SKIP";
    case State::empty: return "EMPTY";
  }
  return "";
}

const char* verdict_class(Verdict v) {
  switch (v) {
    case Verdict::reachable: return "v-reachable";
    case Verdict::blocked: return "v-blocked";
    case Verdict::refused: return "v-refused";
    case Verdict::unreachable: return "v-unreachable";
    case Verdict::delivered: return "v-delivered";
  }
  return "";
}

bool same_node(const std::string& a, const std::string& b) {
  return a.substr(0, a.find(':')) == b.substr(0, b.find(':'));
}

// One table of a matrix: rows are sources, columns destinations; a cell
// that differs from the other table has the class `diff`, and every cell
// tells its probe's evidence as hover text.
std::string grid(const MatrixReport& m, bool observed) {
  std::map<std::pair<std::string, std::string>, const ProbeResult*> evidence;
  for (const auto& r : m.results) evidence[{r.probe.from, r.probe.to}] = &r;
  const auto& nodes = m.expected.nodes();
  std::string out = fmt::format("<table class=\"grid\"><caption>{} ({})</caption>\n<tr><th>from \\ to</th>",
                                observed ? "observed" : "expected", esc(m.spec.str()));
  for (const auto& n : nodes) out += "<th>" + esc(n) + "</th>";
  out += "</tr>\n";
  for (const auto& from : nodes) {
    out += "<tr><th>" + esc(from) + "</th>";
    for (const auto& to : nodes) {
      if (same_node(from, to)) {
        out += "<td class=\"self\">-</td>";
        continue;
      }
      Verdict e = m.expected.at(from, to), o = m.observed.at(from, to);
      Verdict shown = observed ? o : e;
      std::string title = fmt::format("{} -> {}: expected {}, observed {}", from, to, to_string(e), to_string(o));
      if (auto it = evidence.find({from, to}); it != evidence.end() && !it->second->detail.empty())
        title += " (" + it->second->detail + ")";
      out += fmt::format("<td class=\"{}{}\" title=\"{}\">{}</td>", verdict_class(shown), e == o ? "" : " diff",
                         attr(title), symbol(shown));
    }
    out += "</tr>\n";
  }
  return out + "</table>\n";
}

std::string matrix_html(const MatrixReport& m) {
  std::string out = "<div class=\"grids\">\n" + grid(m, false) + grid(m, true) + "</div>\n";
  out +=
      "<p class=\"legend\"><span class=\"v-reachable\">.</span> reachable <span class=\"v-blocked\">X</span> "
      "blocked <span class=\"v-refused\">R</span> refused <span class=\"v-unreachable\">U</span> unreachable; "
      "<span class=\"diff\">outlined</span>: not as expected (hover a cell for its evidence)</p>\n";
  if (!m.mismatches.empty()) {
    out += "<ul class=\"mismatches\">\n";
    for (const auto& r : m.mismatches)
      out += fmt::format("<li>{}: expected {}, observed {} ({})</li>\n", esc(r.probe.str()),
                         to_string(m.expected.at(r.probe.from, r.probe.to)), to_string(r.verdict), esc(r.detail));
    out += "</ul>\n";
  }
  return out;
}

// A time as the page shows it: a probe decided in microseconds reads
// "0.04 ms", not "0 ms".
std::string ms_text(double ms) {
  if (ms < 1) return fmt::format("{:.2f} ms", ms);
  if (ms < 10) return fmt::format("{:.1f} ms", ms);
  return fmt::format("{:.0f} ms", ms);
}

// A kept pcap, as a download link.
std::string pcap_link(const std::string& path, const ReportOptions& opt) {
  std::string name = std::filesystem::path(path).filename().string();
  return fmt::format("<div class=\"pcap\">packets: <a href=\"{}\" download=\"{}\">{}</a></div>\n",
                     attr(link_to(path, opt.dir)), attr(name), esc(name));
}

std::string expectation_row(const ExpectationOutcome& x, const ReportOptions& opt) {
  std::string evidence = "<div class=\"summary\">" + esc(x.summary) + "</div>\n";
  if (x.matrix)
    evidence += matrix_html(*x.matrix);
  else if (!x.details.empty())
    evidence += "<pre>" + esc(x.details) + "</pre>\n";
  for (const auto& a : x.artifacts) evidence += pcap_link(a, opt);
  return fmt::format(
      "<tr class=\"{}\"><td class=\"verdict\">{}</td><td class=\"where\">{}</td><td class=\"title\">{}</td>"
      "<td class=\"evidence\">{}</td><td class=\"ms\">{}</td></tr>\n",
      x.passed ? "ok" : "fail", x.passed ? "ok" : "FAIL", esc(x.where.known() ? x.where.str() : std::string("-")),
      esc(x.title), evidence, ms_text(x.matrix && x.ms == 0 ? x.matrix->elapsed_ms : x.ms));
}

std::string suite_html(const ReportSuite& rs, std::size_t index, const ReportOptions& opt) {
  const SuiteResult& s = rs.result;
  State st = state_of(s);
  std::string out =
      fmt::format("<section id=\"s{}\" class=\"suite {}\">\n<h2><span class=\"state\">{}</span> {}</h2>\n", index,
                  st == State::passed ? "passed" : "not-passed", state_name(st), esc(s.name));
  out += fmt::format("<p class=\"meta\">file {}", esc(s.file));
  if (rs.build_ms >= 0) out += fmt::format("; lab built in {:.1f} ms", rs.build_ms);
  out += fmt::format("; {:.2f} s in all</p>\n", s.seconds);
  if (!s.message.empty()) out += "<pre class=\"message\">" + esc(s.message) + "</pre>\n";
  if (rs.svg)
    out += "<figure class=\"topology\">\n" + *rs.svg + "\n</figure>\n";
  else if (!rs.no_drawing.empty())
    out += "<p class=\"no-drawing\">topology: " + esc(rs.no_drawing) + "</p>\n";
  if (!s.outcome.expectations.empty()) {
    out +=
        "<table class=\"expectations\">\n<tr><th>verdict</th><th>position</th><th>expectation</th>"
        "<th>evidence</th><th>time</th></tr>\n";
    for (const auto& x : s.outcome.expectations) out += expectation_row(x, opt);
    out += "</table>\n";
  }
  for (const auto& c : rs.captures) out += pcap_link(c, opt);
  if (!s.program_logs.empty())
    out += "<details open><summary>the programs' output</summary>\n<pre class=\"logs\">" + esc(s.program_logs) +
           "</pre></details>\n";
  return out + "</section>\n";
}

constexpr const char* kStyle = R"(
body { font-family: sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.5em; }
.state { padding: 0 .3em; border-radius: 3px; color: #fff; background: #b00020; }
.passed .state { background: #2e7d32; }
.meta, .legend, .generated { color: #555; font-size: .9em; }
table { border-collapse: collapse; }
table.expectations { width: 100%; }
.expectations td, .expectations th { border: 1px solid #ccc; padding: .3em .5em; vertical-align: top; text-align: left; }
tr.fail td.verdict { color: #fff; background: #b00020; font-weight: bold; }
tr.ok td.verdict { color: #2e7d32; font-weight: bold; }
.where, .ms { white-space: nowrap; font-family: monospace; }
pre { background: #f6f6f6; padding: .5em; overflow-x: auto; white-space: pre-wrap; }
.grids { display: flex; flex-wrap: wrap; gap: 1.5em; margin: .5em 0; }
.grid td, .grid th { border: 1px solid #999; padding: .2em .5em; text-align: center; font-family: monospace; }
.grid caption { font-weight: bold; text-align: left; }
.v-reachable { background: #c8e6c9; } .v-blocked { background: #e0e0e0; }
.v-refused { background: #ffe0b2; } .v-unreachable { background: #e1bee7; }
.self { background: #fff; color: #aaa; }
.diff { outline: 3px solid #d50000; outline-offset: -3px; font-weight: bold; }
figure.topology svg { max-width: 100%; height: auto; }
nav li.not-passed a { color: #b00020; }
)";

}  // namespace

std::string html_report(const std::vector<ReportSuite>& suites, const ReportOptions& opt) {
  std::size_t passed = 0;
  for (const auto& s : suites) passed += state_of(s.result) == State::passed;
  std::string out = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>nslab check: " +
                    fmt::format("{} of {} scenarios passed", passed, suites.size()) + "</title>\n<style>" + kStyle +
                    "</style>\n</head>\n<body>\n<h1>nslab check</h1>\n";
  if (!opt.generated.empty()) out += "<p class=\"generated\">" + esc(opt.generated) + "</p>\n";
  out += fmt::format("<p>{} of {} {} passed.</p>\n<nav><ul>\n", passed, suites.size(), esc(opt.units));
  for (std::size_t i = 0; i < suites.size(); ++i) {
    State st = state_of(suites[i].result);
    out += fmt::format("<li class=\"{}\"><a href=\"#s{}\">{} {}</a></li>\n",
                       st == State::passed ? "passed" : "not-passed", i, state_name(st), esc(suites[i].result.name));
  }
  out += "</ul></nav>\n";
  for (std::size_t i = 0; i < suites.size(); ++i) out += suite_html(suites[i], i, opt);
  return out + "</body>\n</html>\n";
}

namespace {

// The <svg> element of dot's output, or empty when there is none or it
// holds anything that could run (Graphviz escapes labels; this is a check).
std::string svg_element(const std::string& text) {
  auto start = text.find("<svg");
  if (start == std::string::npos) return {};
  auto end = text.rfind("</svg>");
  if (end == std::string::npos || end < start) return {};
  std::string svg = text.substr(start, end + 6 - start);
  std::string lower = svg;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const char* bad : {"<script", "<foreignobject", "javascript:", " on", "<!entity"}) {
    std::string_view b(bad);
    if (b == " on") {
      // an event handler attribute: ` onload=` and the like
      for (std::size_t p = lower.find(b); p != std::string::npos; p = lower.find(b, p + 1)) {
        std::size_t q = p + 3;
        while (q < lower.size() && std::isalpha(static_cast<unsigned char>(lower[q]))) ++q;
        if (q < lower.size() && lower[q] == '=' && q > p + 3) return {};
      }
    } else if (lower.find(b) != std::string::npos)
      return {};
  }
  return svg;
}

}  // namespace

void draw_topologies(std::vector<ReportSuite>& suites) {
  bool have_dot = !find_program("dot").empty();
  for (auto& s : suites) {
    if (s.dot.empty()) continue;
    if (!have_dot) {
      s.no_drawing = "not drawn: Graphviz's `dot` is not installed (apt-get install graphviz)";
      continue;
    }
    // Into a file: the output of run_program has dot's warnings in it too.
    std::filesystem::path tmp =
        std::filesystem::temp_directory_path() / fmt::format("nslab-report-{}-{}.svg", ::getpid(), &s - suites.data());
    auto r = run_program({"dot", "-Tsvg", "-o", tmp.string()}, s.dot, std::chrono::seconds(30));
    std::string svg;
    if (r.ok()) {
      std::ifstream in(tmp, std::ios::binary);
      svg = svg_element(std::string(std::istreambuf_iterator<char>(in), {}));
    }
    std::error_code ec;
    std::filesystem::remove(tmp, ec);
    if (svg.empty())
      s.no_drawing = fmt::format("not drawn: dot -Tsvg failed (status {}): {}", r.status, r.output.substr(0, 500));
    else
      s.svg = std::move(svg);
  }
}

std::string write_report(std::vector<ReportSuite> suites, const ReportOptions& opt) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(opt.dir, ec);
  if (ec) return fmt::format("cannot create {}: {}", opt.dir, ec.message());
  draw_topologies(suites);
  ReportOptions o = opt;
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  char when[32] = "";
  if (::gmtime_r(&now, &tm)) std::strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
  o.generated += (o.generated.empty() ? "written " : ", written ") + std::string(when);
  std::string file = (fs::path(opt.dir) / "index.html").string();
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << html_report(suites, o);
  out.close();
  if (!out) return "cannot write " + file;
  return {};
}

}  // namespace nslab::detail
