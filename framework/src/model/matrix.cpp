#include "nslab/matrix.h"

#include <algorithm>
#include <chrono>
#include <fmt/format.h>

#include "nslab/error.h"

namespace nslab {

std::string MatrixSpec::str() const {
  std::string t(to_string(protocol));
  if (protocol != Protocol::icmp) t += fmt::format("/{}", port);
  if (family) t += fmt::format(" ({})", to_string(*family));
  return t;
}

Verdict TruthTable::at(const std::string& from, const std::string& to) const {
  auto it = cells_.find({from, to});
  return it == cells_.end() ? Verdict::blocked : it->second;
}

namespace {
// Entries of one node ("fw:eth0", "fw:eth1", "fw") are not probed from each
// other: that is the node talking to itself.
bool same_node(const std::string& a, const std::string& b) {
  return a.substr(0, a.find(':')) == b.substr(0, b.find(':'));
}

std::size_t column_width(const std::vector<std::string>& nodes) {
  std::size_t w = 3;
  for (const auto& n : nodes) w = std::max(w, n.size());
  return w;
}

template <typename CellFn>
std::string render_grid(const std::string& title, const std::vector<std::string>& nodes, CellFn cell) {
  std::size_t w = column_width(nodes);
  std::string out = title + "\n" + std::string(w, ' ');
  for (const auto& n : nodes) out += fmt::format(" {:>{}}", n, w);
  out += "\n";
  for (const auto& from : nodes) {
    out += fmt::format("{:<{}}", from, w);
    for (const auto& to : nodes)
      out += fmt::format(" {:>{}}", same_node(from, to) ? std::string("-") : cell(from, to), w);
    out += "\n";
  }
  return out;
}
}  // namespace

std::string TruthTable::render(const std::string& title) const {
  return render_grid(title, nodes_,
                     [&](const std::string& f, const std::string& t) { return std::string(1, symbol(at(f, t))); });
}

std::string MatrixReport::difference() const {
  return render_grid(fmt::format("difference ({}): expected>observed where they differ", spec.str()), expected.nodes(),
                     [&](const std::string& f, const std::string& t) {
                       Verdict e = expected.at(f, t), o = observed.at(f, t);
                       return e == o ? std::string("=") : fmt::format("{}>{}", symbol(e), symbol(o));
                     });
}

std::string MatrixReport::text() const {
  std::string out = fmt::format("{} matrix over {} nodes: {} of {} cells as expected ({:.0f} ms)\n", spec.str(),
                                spec.nodes.size(), results.size() - mismatches.size(), results.size(), elapsed_ms);
  out += "legend: . reachable   X blocked   R refused   U unreachable\n";
  out += expected.render(fmt::format("expected ({})", spec.str()));
  out += observed.render(fmt::format("observed ({})", spec.str()));
  out += difference();
  for (const auto& m : mismatches)
    out += fmt::format("  {}: expected {}, observed {} ({})\n", m.probe.str(),
                       to_string(expected.at(m.probe.from, m.probe.to)), to_string(m.verdict), m.detail);
  return out;
}

TruthTable expected_table(const MatrixSpec& spec) {
  TruthTable t(spec.nodes);
  for (const auto& f : spec.nodes)
    for (const auto& to : spec.nodes)
      if (!same_node(f, to)) t.set(f, to, spec.default_verdict);
  for (const auto& e : spec.exceptions) {
    auto known = [&](const std::string& n) {
      return std::find(spec.nodes.begin(), spec.nodes.end(), n) != spec.nodes.end();
    };
    if (!known(e.from) || !known(e.to))
      throw ConfigError(fmt::format("matrix exception {} -> {} names a node outside the matrix", e.from, e.to),
                        e.where.known() ? e.where : spec.where);
    t.set(e.from, e.to, e.verdict);
  }
  return t;
}

std::vector<Probe> matrix_probes(const MatrixSpec& spec) {
  std::vector<Probe> probes;
  for (const auto& f : spec.nodes)
    for (const auto& t : spec.nodes)
      if (!same_node(f, t)) {
        Probe p;
        p.from = f;
        p.to = t;
        p.protocol = spec.protocol;
        p.port = spec.port;
        p.family = spec.family;
        probes.push_back(std::move(p));
      }
  return probes;
}

MatrixReport matrix_report(const MatrixSpec& spec, std::vector<ProbeResult> results, double elapsed_ms) {
  MatrixReport r;
  r.spec = spec;
  r.expected = expected_table(spec);
  r.observed = TruthTable(spec.nodes);
  r.results = std::move(results);
  r.elapsed_ms = elapsed_ms;
  for (const auto& res : r.results) {
    r.observed.set(res.probe.from, res.probe.to, res.verdict);
    if (res.verdict != r.expected.at(res.probe.from, res.probe.to)) r.mismatches.push_back(res);
  }
  return r;
}

}  // namespace nslab
