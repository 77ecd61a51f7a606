// Counted probes (nslab/probe_count.h): `ping -c N` as N copies of one probe
// in one batch of the probe engine, each single-shot (the retry interval is
// the timeout, so an echo or a datagram is sent once and a TCP probe makes
// one connection attempt), so that every request lost is a request
// unanswered, as the loss it measures.
#include <algorithm>
#include <chrono>
#include <fmt/format.h>

#include "nslab/error.h"
#include "nslab/lab.h"
#include "nslab/scenario_run.h"
#include "probe_engine.h"
#include "probe_series.h"

namespace nslab {

CountResult run_count(Lab& lab, const Probe& probe, std::size_t count, const ProbeOptions& options) {
  if (count == 0 || count > ExpectedAnswers::kMaxCount)
    throw ConfigError(
        fmt::format("probe {}: count must be from 1 to {}, not {}", probe.str(), ExpectedAnswers::kMaxCount, count));
  ProbeOptions single = options;
  single.retry_interval = std::max(options.retry_interval, options.timeout);
  auto t0 = std::chrono::steady_clock::now();
  auto results = run_probes(lab, std::vector<Probe>(count, probe), single);
  CountResult out;
  out.probe = probe;
  out.count = count;
  out.elapsed_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  out.target = results.front().target;
  for (const auto& r : results) {
    if (r.verdict == Verdict::reachable) ++out.answered;
    auto it = std::find_if(out.tally.begin(), out.tally.end(), [&](const auto& x) { return x.first == r.verdict; });
    if (it == out.tally.end()) {
      out.tally.emplace_back(r.verdict, 1);
      out.evidence.emplace_back(r.verdict, r.detail);
    } else {
      ++it->second;
    }
  }
  return out;
}

CountResult Lab::count_answers(const Probe& probe, std::size_t count, const ProbeOptions& options) {
  std::lock_guard lock(probe_mutex_);
  return run_count(*this, probe, count, options);
}

ExpectationOutcome run_count_expectation(Lab& lab, const ProbeExpectation& e, const ProbeOptions& options) {
  ExpectationOutcome o;
  o.title = e.str();
  o.where = e.where;
  auto r = lab.count_answers(e.probe, e.answers->count, options);
  o.ms = r.elapsed_ms;
  auto problem = e.answers->problem(r);
  o.passed = !problem;
  o.summary = problem ? *problem + "; observed " + r.summary() : "observed " + r.summary();
  return o;
}

}  // namespace nslab
