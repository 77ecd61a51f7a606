// Waiting for a condition in a running lab (a step's `wait:`): polled with a
// short backoff, or woken by the kernel's link notifications, never a fixed
// sleep; each wait ends at its `within` with the last thing it saw.
#include "step_wait.h"

#include <poll.h>

#include <algorithm>
#include <chrono>
#include <fmt/format.h>
#include <thread>

#include "link_watch.h"
#include "node_internals.h"
#include "nslab/error.h"
#include "nslab/lab.h"

namespace nslab {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Calls `holds` until it returns true or `within` has passed (the last try
// may start just before the end); between tries 5 ms, doubling up to
// 100 ms. Returns whether it held, and counts the tries.
template <typename F>
bool poll_until(milliseconds within, std::size_t& tries, F&& holds) {
  const auto deadline = Clock::now() + within;
  milliseconds pause(5);
  for (tries = 1;; ++tries) {
    if (holds()) return true;
    const auto now = Clock::now();
    if (now >= deadline) return false;
    std::this_thread::sleep_for(std::min<Clock::duration>(pause, deadline - now));
    pause = std::min(pause * 2, milliseconds(100));
  }
}

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

}  // namespace

ProbeResult Lab::wait_for(const Probe& probe, Verdict verdict, milliseconds within, const ProbeOptions& options) {
  ProbeResult last;
  std::size_t tries = 0;
  auto t0 = Clock::now();
  if (poll_until(within, tries, [&] {
        last = this->probe(probe, options);
        return last.verdict == verdict;
      }))
    return last;
  throw TimeoutError(fmt::format("{} -> {}: not {} within {} ms ({} tries, {:.0f} ms); last observed {} ({})",
                                 probe.from, probe.to, to_string(verdict), within.count(), tries, ms_since(t0),
                                 to_string(last.verdict), last.detail));
}

void Lab::wait_link(std::string_view label, bool up, milliseconds within) {
  auto colon = label.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == label.size())
    throw ConfigError(fmt::format("\"{}\" is not node:interface", label));
  Node& n = node(label.substr(0, colon));
  const std::string iface(label.substr(colon + 1));
  // Subscribed before the first look: no change between them is missed.
  LinkWatch watch = LinkWatch::open(n.netns().fd(), n.name());
  const auto deadline = Clock::now() + within;
  for (;;) {
    auto li = NodeInternals::netlink(n).find_link(iface);
    if (!li) throw NetlinkError(fmt::format("no link \"{}\"", label), ENODEV);
    if (li->oper_up == up) return;
    auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    if (left.count() <= 0)
      throw TimeoutError(fmt::format("link \"{}\" not {} within {} ms (operstate {})", label, up ? "up" : "down",
                                     within.count(), li->oper_up ? "up" : "not up"));
    pollfd fd{watch.fd(), POLLIN, 0};
    ::poll(&fd, 1, static_cast<int>(std::min<long long>(left.count(), 100)));
    bool overflowed = false;
    (void)watch.read(overflowed);  // news only wakes us: the dump above sees the state
  }
}

namespace detail {

ExpectationOutcome wait_until(Lab& lab, const Scenario& scenario, const WaitAction& wait, KeptConnections& kept) {
  ExpectationOutcome out;
  out.where = wait.where;
  out.title = to_string(StepAction(wait));
  auto t0 = Clock::now();
  if (!wait.condition) {
    try {
      lab.wait_link(wait.link, wait.up, wait.within);
      out.passed = true;
      out.summary = fmt::format("held after {:.1f} ms", ms_since(t0));
    } catch (const TimeoutError& e) {
      out.summary = e.what();
    }
    out.ms = ms_since(t0);
    return out;
  }
  Scenario one = scenario;
  one.steps.clear();
  one.expectations = {wait.condition->expectation};
  const InsightOptions quiet{.coverage = false, .explain = false, .explain_failed = false};
  ExpectationOutcome last;
  std::size_t tries = 0;
  out.passed = poll_until(wait.within, tries, [&] {
    auto o = run_list(lab, one, {}, quiet, 0, kept);
    last = o.expectations.empty() ? ExpectationOutcome{} : std::move(o.expectations.front());
    return last.passed;
  });
  out.ms = ms_since(t0);
  out.summary = out.passed ? fmt::format("held after {:.0f} ms ({} {}): {}", out.ms, tries,
                                         tries == 1 ? "try" : "tries", last.summary)
                           : fmt::format("did not hold within {} ms ({} tries, {:.0f} ms); last observation: {}",
                                         wait.within.count(), tries, out.ms, last.summary);
  out.details = last.details;
  return out;
}

}  // namespace detail

}  // namespace nslab
