// An in-process traceroute (nslab/path.h): one probe per TTL, 1..max_hops,
// all in one batch of the probe engine, which sets each probe's TTL or hop
// limit (IP_TTL on its socket, or per request on the node's raw ICMP
// socket). Each answer is read back from the engine's evidence: an ICMP time
// exceeded names a router on the way, the target's answer ends the path.
#include <linux/icmp.h>
#include <netinet/icmp6.h>

#include <chrono>
#include <fmt/format.h>
#include <map>

#include "nslab/error.h"
#include "nslab/lab.h"
#include "nslab/scenario_run.h"
#include "probe_engine.h"
#include "probe_series.h"

namespace nslab {

namespace {

// Why a TCP trace cannot be one flow: each TTL is a connection of its own.
constexpr const char* kTcpOneFlow =
    "; each TTL of a TCP trace is a connection of its own, and the kernel gives each a random flow hash that its "
    "packets carry across a veth, which an ECMP router hashes on instead of the ports";

// The lab node that has `a` on one of its interfaces, or empty.
std::string owner_of(const Lab& lab, const IpAddress& a) {
  for (const Node* n : lab.nodes())
    for (const auto& i : n->interfaces())
      for (const auto& p : i.addresses)
        if (p.address() == a) return n->name();
  return {};
}

bool time_exceeded(const ProbeResult::Icmp& m, Family f) {
  return f == Family::ipv4 ? m.type == ICMP_TIME_EXCEEDED : m.type == ICMP6_TIME_EXCEEDED;
}

// What one TTL's probe tells about the hop at that TTL.
Hop hop_of(const Lab& lab, const ProbeResult& r, int ttl, const std::string& target_node) {
  Hop h;
  h.ttl = ttl;
  h.evidence = r.detail;
  if (r.icmp) {
    h.address = r.icmp->from;
    h.node = owner_of(lab, r.icmp->from);
    if (h.node.empty()) h.node = r.icmp->from.str();
    h.time_exceeded = time_exceeded(*r.icmp, r.target.family());
    // An echo reply, or the target's own error (port unreachable, a REJECT
    // there): the destination answered.
    h.destination = !h.time_exceeded && (r.verdict == Verdict::reachable || h.node == target_node);
    return h;
  }
  // No ICMP: a TCP connection or RST, a UDP reply — the target's own answer.
  if (r.verdict == Verdict::reachable || (r.verdict == Verdict::refused && r.probe.protocol == Protocol::tcp)) {
    h.address = r.target;
    h.node = target_node.empty() ? r.target.str() : target_node;
    h.destination = true;
  }
  // Else silence, or a local error at the source (no route): `*`, with it as the evidence.
  return h;
}

}  // namespace

TraceResult run_trace(Lab& lab, const PathTrace& trace, const ProbeOptions& options) {
  const Probe& p = trace.probe;
  if (trace.max_hops < 1 || trace.max_hops > 255)
    throw ConfigError(fmt::format("trace {}: max_hops must be from 1 to 255, not {}", p.str(), trace.max_hops));
  if (p.ttl != 0)
    throw ConfigError(fmt::format("trace {}: a trace sets the TTL of each hop's probe; leave ttl unset", p.str()));
  if (p.sport != 0 && p.protocol != Protocol::udp)
    throw ConfigError(fmt::format("trace {}: a source port (one flow for every TTL) needs a udp trace{}", p.str(),
                                  p.protocol == Protocol::tcp ? kTcpOneFlow : ""));
  std::vector<Probe> probes;
  for (int ttl = 1; ttl <= trace.max_hops; ++ttl) {
    probes.push_back(p);
    probes.back().ttl = ttl;
  }
  auto t0 = std::chrono::steady_clock::now();
  // With a fixed source port, every TTL's probe is one flow, the same
  // 5-tuple (a Paris traceroute): the TTLs go one after another, each
  // decided before the next is sent (its answer names it, as only one is in
  // flight), and the trace stops where the path ends. Else all at once.
  const bool one_flow = p.sport != 0;
  std::vector<ProbeResult> results;
  if (!one_flow) results = run_probes(lab, probes, options);
  auto result = [&](std::size_t k) -> const ProbeResult& {
    while (results.size() <= k) results.push_back(run_probes(lab, {probes[results.size()]}, options).front());
    return results[k];
  };
  TraceResult out;
  out.trace = trace;
  out.target = result(0).target;
  out.target_node = owner_of(lab, out.target);
  std::map<std::string, int> seen;  // a router on the way, and the TTL it first answered
  for (std::size_t k = 0; k < probes.size(); ++k) {
    Hop h = hop_of(lab, result(k), static_cast<int>(k) + 1, out.target_node);
    out.hops.push_back(h);
    if (h.destination) {
      out.reached = true;
      break;
    }
    if (!h.address) continue;
    if (!h.time_exceeded) break;  // a router's error ends the path there
    auto [at, fresh] = seen.emplace(h.node, h.ttl);
    if (!fresh) {
      out.loop_node = h.node;
      out.loop_first = at->second;
      out.loop_again = h.ttl;
      break;
    }
  }
  out.elapsed_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

TraceResult Lab::trace(const PathTrace& trace, const ProbeOptions& options) {
  std::lock_guard lock(probe_mutex_);
  return run_trace(*this, trace, options);
}

ExpectationOutcome run_path_expectation(Lab& lab, const ProbeExpectation& e, const ProbeOptions& options) {
  ExpectationOutcome o;
  o.title = e.str();
  o.where = e.where;
  auto r = lab.trace(PathTrace{.probe = e.probe, .max_hops = e.path->max_hops}, options);
  o.ms = r.elapsed_ms;
  std::optional<std::string> problem;
  if (!e.path->path.empty()) problem = r.path_problem(e.path->path);
  if (!problem && !e.path->via.empty()) problem = r.via_problem(e.path->via);
  o.passed = !problem;
  o.summary = problem ? *problem : "observed path " + r.str();
  o.details = r.table();
  return o;
}

}  // namespace nslab
