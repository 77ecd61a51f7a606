#include "nslab/scenario_run.h"

#include <chrono>
#include <fmt/format.h>

namespace nslab {

bool ScenarioOutcome::passed() const {
  for (const auto& e : expectations)
    if (!e.passed) return false;
  return true;
}

ScenarioOutcome run_expectations(Lab& lab, const Scenario& scenario) {
  ScenarioOutcome out;
  std::vector<const ProbeExpectation*> singles;
  std::vector<Probe> probes;
  for (const auto& e : scenario.expectations)
    if (auto* p = std::get_if<ProbeExpectation>(&e)) {
      singles.push_back(p);
      probes.push_back(p->probe);
    }
  auto t0 = std::chrono::steady_clock::now();
  auto results = lab.probe(probes, scenario.probe_options);
  double batch_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  std::size_t next_single = 0;
  for (const auto& e : scenario.expectations) {
    ExpectationOutcome o;
    if (auto* p = std::get_if<ProbeExpectation>(&e)) {
      const ProbeResult& r = results[next_single++];
      o.title = p->str();
      o.where = p->where;
      o.ms = batch_ms;
      o.passed = r.verdict == p->verdict;
      if (o.passed && p->served_by && r.served_by != *p->served_by) o.passed = false;
      if (o.passed && p->seen_from && r.seen_from != p->seen_from->str()) o.passed = false;
      o.summary = fmt::format("observed {} ({})", to_string(r.verdict), r.detail);
      if (p->served_by && r.verdict == Verdict::reachable && r.served_by != *p->served_by)
        o.summary += fmt::format("; expected to be served by {}, served by {}", *p->served_by,
                                 r.served_by.empty() ? std::string("no nslab service") : r.served_by);
      if (p->seen_from && r.verdict == Verdict::reachable && r.seen_from != p->seen_from->str())
        o.summary += fmt::format("; expected the service to see {}, it saw {}", p->seen_from->str(),
                                 r.seen_from.empty() ? std::string("nothing") : r.seen_from);
    } else {
      const auto& m = std::get<MatrixSpec>(e);
      auto report = run_matrix(lab, m, scenario.probe_options);
      o.title = fmt::format("matrix {} over {} nodes", m.title(), m.nodes.size());
      o.where = m.where;
      o.ms = report.elapsed_ms;
      o.passed = report.ok();
      o.summary = fmt::format("{} of {} cells as expected", report.results.size() - report.mismatches.size(),
                              report.results.size());
      if (!o.passed) o.details = report.text();
    }
    out.expectations.push_back(std::move(o));
  }
  return out;
}

}  // namespace nslab
