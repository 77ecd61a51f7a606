#include "rule_watch.h"

#include <fmt/format.h>

#include <optional>

#include "kernel_drops.h"
#include "nft_trace.h"

namespace nslab::detail {

namespace {

bool has_iptables(const NodeSpec& n) {
  return !n.iptables.empty() || !n.ip6tables.empty();
}

// "-j REJECT --reject-with tcp-reset" from a rule's text; empty without -j.
std::string target_of(const std::string& rule) {
  auto j = rule.find(" -j ");
  if (j == std::string::npos) j = rule.find(" --jump ");
  return j == std::string::npos ? std::string() : rule.substr(j + 1);
}

std::string verb_of(const RuleHit& h, const std::string& target) {
  if (h.policy) return h.rule.ends_with(" DROP") ? "blocked by" : "accepted by";
  if (target.starts_with("-j DROP")) return "dropped by";
  if (target.starts_with("-j REJECT")) return "refused by";
  if (target.starts_with("-j ACCEPT")) return "accepted by";
  return {};
}

std::string line_of_hit(const RuleHit& h) {
  return fmt::format("{}:{}", h.where.file, h.where.line);
}

}  // namespace

CounterSnapshot read_counters(Lab& lab, bool named) {
  CounterSnapshot s;
  for (const auto& n : lab.topology().nodes()) {
    if (has_iptables(n)) s.rules[n.name] = rule_hits(lab, n.name);
    if (named && !n.nftables.empty()) s.named[n.name] = nft_counters(lab, n.name);
  }
  return s;
}

std::vector<RuleHit> hits_between(const CounterSnapshot& before, const CounterSnapshot& after) {
  std::vector<RuleHit> out;
  for (const auto& [node, hits] : after.rules) {
    auto b = before.rules.find(node);
    for (std::size_t i = 0; i < hits.size(); ++i) {
      RuleHit h = hits[i];
      if (b != before.rules.end() && i < b->second.size()) {
        h.packets -= std::min(h.packets, b->second[i].packets);
        h.bytes -= std::min(h.bytes, b->second[i].bytes);
      }
      out.push_back(std::move(h));
    }
  }
  return out;
}

RuleWatch::RuleWatch(Lab& lab, const Scenario& scenario, const InsightOptions& insight) : lab_(lab) {
  bool counters = insight.coverage;
  for (const auto& e : scenario.expectations) counters = counters || std::holds_alternative<CounterExpectation>(e);
  if (counters) baseline_ = read_counters(lab, true);
}

ExpectationOutcome RuleWatch::check(const CounterExpectation& c) {
  ExpectationOutcome o;
  o.title = c.str();
  o.where = c.where;
  if (!last_) last_ = read_counters(lab_, true);
  const CounterSnapshot& now = *last_;
  const CounterSnapshot& before = baseline_ ? *baseline_ : now;
  std::optional<std::uint64_t> packets;
  std::string what;
  if (c.rule.find(':') == std::string::npos) {
    auto value = [&](const CounterSnapshot& s) -> std::optional<std::uint64_t> {
      auto n = s.named.find(c.node);
      if (n == s.named.end()) return std::nullopt;
      auto k = n->second.find(c.rule);
      return k == n->second.end() ? std::nullopt : std::optional(k->second);
    };
    auto a = value(now), b = value(before);
    if (a) packets = *a - std::min(*a, b.value_or(0));
    what = fmt::format("nftables counter {}", c.rule);
  } else {
    // The rule line FILE:LINE (FILE a file name or a path ending in it).
    auto colon = c.rule.rfind(':');
    std::string file = c.rule.substr(0, colon);
    int line = std::stoi(c.rule.substr(colon + 1));
    for (const auto& h : hits_between(before, now)) {
      const std::string& f = h.where.file;
      bool same = f == file || (f.ends_with(file) && f[f.size() - file.size() - 1] == '/');
      if (h.node == c.node && same && h.where.line == line) {
        packets = packets.value_or(0) + h.packets;
        what = h.rule;
      }
    }
  }
  if (!packets) {
    o.summary = fmt::format("node {} has no {}", c.node, c.rule);
    return o;
  }
  o.passed = c.packets.holds(static_cast<std::size_t>(*packets));
  o.summary = fmt::format("{} packet{} matched {} during the expectations", *packets, *packets == 1 ? "" : "s", what);
  return o;
}

std::vector<RuleHit> RuleWatch::hits_so_far() {
  if (!baseline_) return {};
  return hits_between(*baseline_, last_ ? *last_ : read_counters(lab_, false));
}

std::string explain_probe(Lab& lab, const Probe& probe, const ProbeOptions& options) {
  bool rules = false, nft = false;
  for (const auto& n : lab.topology().nodes()) {
    rules = rules || has_iptables(n);
    nft = nft || !n.nftables.empty();
  }
  CounterSnapshot before;
  std::vector<RuleHit> moved;
  std::vector<std::string> dropped, traced;
  ProbeResult r;
  try {
    std::optional<NftTrace> trace;
    if (nft) trace.emplace(lab);
    if (rules) before = read_counters(lab, false);
    DropSnapshot drops = read_drop_counters(lab);
    r = lab.probe(probe, options);
    DropSnapshot after = read_drop_counters(lab);
    if (rules) moved = hits_between(before, read_counters(lab, false));
    if (trace) traced = trace->causes();
    dropped = kernel_drops(lab, drops, after, probe, r.target);
  } catch (const Error& e) {
    return fmt::format("cause not known: {}", e.what());
  }
  std::vector<std::string> causes = traced;
  for (const auto& h : moved) {
    // Only the filter table decides; nat, mangle and raw translate and mark.
    if (h.packets == 0 || (h.table != "filter" && h.table != "security")) continue;
    std::string target = h.policy ? std::string() : target_of(h.rule);
    std::string verb = verb_of(h, target);
    if (verb.empty()) continue;  // a jump, a log, a translation: not what decided
    if (h.policy)
      causes.push_back(fmt::format("{} {}: {} policy {} ({})", verb, h.node, h.chain,
                                   h.rule.substr(h.rule.rfind(' ') + 1), line_of_hit(h)));
    else
      causes.push_back(fmt::format("{} {}: {} rule {} `{}`", verb, h.node, h.chain, line_of_hit(h), target));
  }
  causes.insert(causes.end(), dropped.begin(), dropped.end());
  std::string again = fmt::format("re-run alone: {}", to_string(r.verdict));
  if (causes.empty()) {
    // Nothing to say of a probe that got through a lab without rules.
    if (!rules && !nft && r.verdict == Verdict::reachable) return {};
    return fmt::format(
        "cause not known: {}{}no drop counter of the kernel moved (no route, forwarding off, rp_filter) ({})",
        rules ? "no ACCEPT, DROP or REJECT rule or policy of the lab's iptables rules counted the probe, " : "",
        nft ? "no nftables rule or policy gave the traced packets a verdict, " : "", again);
  }
  std::string out;
  for (const auto& c : causes) out += (out.empty() ? "" : "; ") + c;
  return out + " (" + again + ")";
}

}  // namespace nslab::detail

namespace nslab {

std::string explain(Lab& lab, const Probe& probe, const ProbeOptions& options) {
  return detail::explain_probe(lab, probe, options);
}

std::string explain(Lab& lab, const ProbeResult& result, const ProbeOptions& options) {
  return detail::explain_probe(lab, result.probe, options);
}

}  // namespace nslab
