// Kept connections in a scenario run: see kept_check.h.
#include "kept_check.h"

#include <fmt/format.h>

namespace nslab::detail {

ExpectationOutcome open_kept(Lab& lab, const ProbeExpectation& e, KeptConnections& kept, const ProbeOptions& options) {
  ExpectationOutcome o;
  o.title = fmt::format("{}, kept as {}", e.str(), *e.keep);
  o.where = e.where;
  Connection c = lab.open_connection(e.probe, options);
  const ProbeResult& r = c.opened();
  o.ms = std::chrono::duration<double, std::milli>(r.rtt).count();
  o.passed = r.verdict == e.verdict;
  if (o.passed && e.served_by && r.served_by != *e.served_by) o.passed = false;
  if (o.passed && e.seen_from && r.seen_from != e.seen_from->str()) o.passed = false;
  auto payload = r.verdict == Verdict::reachable ? r.payload_problem() : std::nullopt;
  if (payload) o.passed = false;
  o.summary = fmt::format("observed {} ({})", to_string(r.verdict), r.detail);
  if (payload) o.summary += "; " + *payload;
  if (e.served_by && r.verdict == Verdict::reachable && r.served_by != *e.served_by)
    o.summary += fmt::format("; expected to be served by {}, served by {}", *e.served_by,
                             r.served_by.empty() ? std::string("no nslab service") : r.served_by);
  if (e.seen_from && r.verdict == Verdict::reachable && r.seen_from != e.seen_from->str())
    o.summary += fmt::format("; expected the service to see {}, it saw {}", e.seen_from->str(),
                             r.seen_from.empty() ? std::string("nothing") : r.seen_from);
  if (c.is_open()) o.summary += fmt::format("; held open (source port {})", c.local_port());
  kept.insert_or_assign(*e.keep, std::move(c));
  return o;
}

ExpectationOutcome check_kept(const KeptExpectation& e, KeptConnections& kept, const ProbeOptions& options) {
  ExpectationOutcome o;
  o.title = e.str();
  o.where = e.where;
  auto it = kept.find(e.name);
  if (it == kept.end()) {
    // The loader sees to it that a `keep:` comes first; only a step that
    // did not run (an action failed) leaves it unopened.
    o.summary = fmt::format("connection \"{}\" was never opened", e.name);
    return o;
  }
  Connection& c = it->second;
  if (!c.is_open()) {
    o.summary = fmt::format("connection \"{}\" is not open: opening it was {} ({})", e.name,
                            to_string(c.opened().verdict), c.opened().detail);
    return o;
  }
  ProbeResult r = c.exchange(e.payload, options.timeout);
  o.ms = std::chrono::duration<double, std::milli>(r.rtt).count();
  auto payload = r.verdict == Verdict::reachable ? r.payload_problem() : std::nullopt;
  o.passed = r.verdict == e.verdict && !payload;
  o.summary = fmt::format("observed {} ({})", to_string(r.verdict), r.detail);
  if (payload) o.summary += "; " + *payload;
  return o;
}

}  // namespace nslab::detail
