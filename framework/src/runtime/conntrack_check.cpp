// Conntrack expectations: only the entries of the `during` probe count:
// those of its protocol that were not in the table just before it ran, or
// whose packet counters grew while it ran. An entry an earlier expectation
// left, and no longer used, never passes for this one.
#include "conntrack_check.h"

#include <algorithm>
#include <chrono>
#include <fmt/format.h>
#include <map>
#include <set>
#include <tuple>

#include "nslab/conntrack.h"
#include "sysctl.h"

namespace nslab::detail {

namespace {

using Key = std::tuple<std::uint32_t, std::uint8_t, IpAddress, IpAddress, std::uint16_t, std::uint16_t>;

Key key_of(const ConntrackEntry& e) {
  return {e.id, e.l4proto, e.original.src, e.original.dst, e.original.sport, e.original.dport};
}

std::string plural(std::size_t n, const char* one, const char* many) {
  return fmt::format("{} {}", n, n == 1 ? one : many);
}

// The entries nearest to what is expected, fewest differences first, each
// with what differs.
std::string closest(const std::vector<ConntrackEntry>& entries, const ConntrackMatch& m, std::size_t most) {
  std::vector<std::pair<std::vector<std::string>, const ConntrackEntry*>> ranked;
  ranked.reserve(entries.size());
  for (const auto& e : entries) ranked.emplace_back(m.differences(e), &e);
  std::stable_sort(ranked.begin(), ranked.end(),
                   [](const auto& a, const auto& b) { return a.first.size() < b.first.size(); });
  std::string out;
  for (std::size_t i = 0; i < ranked.size() && i < most; ++i) {
    out += "    " + ranked[i].second->str() + "\n";
    if (!ranked[i].first.empty()) out += fmt::format("      differs: {}\n", fmt::join(ranked[i].first, "; "));
  }
  if (ranked.size() > most) out += fmt::format("    ... and {} more\n", ranked.size() - most);
  return out;
}

bool of_protocol(const ConntrackEntry& e, Protocol p) {
  switch (p) {
    case Protocol::tcp: return e.proto() == "tcp";
    case Protocol::udp: return e.proto() == "udp";
    case Protocol::icmp: return e.proto() == "icmp" || e.proto() == "icmpv6";
  }
  return false;
}

}  // namespace

void count_conntrack_packets(Lab& lab, const Scenario& scenario) {
  std::set<std::string> nodes;
  for (const auto& e : scenario.expectations)
    if (auto* c = std::get_if<ConntrackExpectation>(&e)) nodes.insert(c->node);
  for (const auto& n : nodes)
    lab.node(n).run([] {
      constexpr std::string_view key = "net.netfilter.nf_conntrack_acct";
      try {
        if (sysctl_exists_here(key)) write_sysctl_here(key, "1");
      } catch (const Error&) {
        // Not writable here: only entries the probe made count.
      }
    });
}

ExpectationOutcome check_conntrack(Lab& lab, const ConntrackExpectation& c, const ProbeOptions& options) {
  ExpectationOutcome o;
  o.title = c.str();
  o.where = c.where;
  auto t0 = std::chrono::steady_clock::now();
  std::map<Key, std::optional<std::uint64_t>> before;  // -> packets
  for (const auto& e : conntrack_table(lab, c.node)) before[key_of(e)] = e.packets;
  auto probe = lab.probe(c.during, options);
  auto table = conntrack_table(lab, c.node);
  o.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();

  std::vector<ConntrackEntry> made, matching;
  for (auto& e : table) {
    if (!of_protocol(e, c.during.protocol)) continue;
    auto was = before.find(key_of(e));
    bool fresh = was == before.end();
    if (!fresh && was->second.has_value()) fresh = e.packets > was->second;  // an empty count is less
    if (fresh) made.push_back(e);
  }
  for (const auto& e : made)
    if (c.expect.matches(e)) matching.push_back(e);
  o.passed = c.count.holds(matching.size());
  const std::string proto(to_string(c.during.protocol));
  o.summary = fmt::format("{} of the probe's {} on {} match{} (probe: {}, {})", matching.size(),
                          plural(made.size(), (proto + " entry").c_str(), (proto + " entries").c_str()), c.node,
                          matching.size() == 1 ? "es" : "", to_string(probe.verdict), probe.detail);
  if (o.passed) {
    o.details = closest(matching, c.expect, 3);
    return o;
  }
  if (!made.empty()) {
    o.details = fmt::format("  the probe's entries, closest first:\n{}", closest(made, c.expect, 5));
  } else if (!table.empty()) {
    o.summary += fmt::format("; {}'s table holds {}, none made or used by this probe", c.node,
                             plural(table.size(), "entry", "entries"));
    o.details = fmt::format("  the table's entries closest to it:\n{}", closest(table, c.expect, 5));
  } else {
    o.summary += fmt::format(
        "; {}'s table is empty (the kernel tracks a namespace's connections only once a rule there uses "
        "conntrack: NAT, ct state; and a packet dropped before it left the node leaves no entry)",
        c.node);
  }
  return o;
}

}  // namespace nslab::detail
