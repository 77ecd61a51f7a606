// Paths: an in-process traceroute (Lab::trace). One probe per TTL, all at
// once, over the probe's protocol (an ICMP echo, a UDP datagram or a TCP
// SYN, as `traceroute -I`, `traceroute -U`, `traceroute -T` send them);
// each router where a probe runs out answers "time exceeded", and the node
// of the lab that owns the answering address names that hop.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "nslab/ip_address.h"
#include "nslab/probe.h"

namespace nslab {

struct PathTrace {
  // As traceroute's -m: the TTLs tried are 1..max_hops.
  static constexpr int kDefaultMaxHops = 30;
  // from, to, protocol, port, family, source, tos, size: as for any probe.
  // Its ttl is set per hop. Without a sport, every TTL's probe goes at once,
  // each from its own source port (as classic traceroute varies its ports),
  // and ECMP routers may hash them onto different paths. With a sport (udp
  // only), every TTL's probe is one flow, the same 5-tuple from unconnected
  // sockets, as a Paris traceroute keeps it: the TTLs go one after another,
  // so the hops are those of the one path that flow takes.
  Probe probe;
  int max_hops = kDefaultMaxHops;
  std::string str() const;  // "office -> web icmp (path, up to 30 hops)"
};

// One TTL of a trace: who answered it, and how.
struct Hop {
  int ttl = 0;
  std::optional<IpAddress> address;  // empty: no answer (`*`)
  std::string node;                  // the lab node owning `address`; else the address itself
  bool destination = false;          // the target answered (an echo reply, a TCP or UDP answer, a refusal)
  bool time_exceeded = false;        // a router on the way
  // Neither: a router's other error ends the path there ("net unreachable").
  std::string evidence;  // "ICMP time exceeded from 10.0.1.1"
  std::string name() const { return address ? node : std::string("*"); }
};

struct TraceResult {
  PathTrace trace;
  IpAddress target;
  std::string target_node;  // the node owning the target address
  // TTL 1 onwards, up to the destination, the first hop whose error ends
  // the path, the first repeated node (a loop) or max_hops.
  std::vector<Hop> hops;
  bool reached = false;
  // A loop: the node that answered at two TTLs before the destination, and
  // those TTLs.
  std::optional<std::string> loop_node;
  int loop_first = 0, loop_again = 0;
  double elapsed_ms = 0;

  // The path as a scenario writes it: node names, `*` for a hop that did
  // not answer; trailing silence (nothing answered from some TTL to
  // max_hops) is one `*`.
  std::vector<std::string> path() const;
  // "gw, r1, core, web" (", ..." for a loop, "(loop: r1 at ttl 1 and 3)").
  std::string str() const;
  // A traceroute-like table, one line per hop: " 1  gw  10.0.1.1  ICMP time exceeded".
  std::string table() const;
  // Empty when the observed path is `expected` (names and `*`); else why not.
  std::optional<std::string> path_problem(const std::vector<std::string>& expected) const;
  // Empty when the destination was reached through each of `nodes`, in that
  // order (not necessarily adjacent); else why not.
  std::optional<std::string> via_problem(const std::vector<std::string>& nodes) const;
};

// What a path expectation asks (README, Paths): the exact path, or nodes
// it must go through.
struct ExpectedPath {
  std::vector<std::string> path;  // [r1, r2, dst]; may hold `*`
  std::vector<std::string> via;   // [r2]: in this order, before the destination
  int max_hops = PathTrace::kDefaultMaxHops;
  std::string str() const;  // "path gw, r1, web" / "via r1"
};

}  // namespace nslab
