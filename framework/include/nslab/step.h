// Steps: a scenario that changes over time. After the top-level `expect:`
// (step 0), each step applies its actions to the running lab, in order, then
// checks its own expectations. Description only: nothing here builds.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "nslab/impairment.h"
#include "nslab/topology.h"
#include "nslab/values.h"

namespace nslab {

// A node's whole firewall, as a node's own keys write it at build; any part
// may be empty (see Node::replace_rules).
struct FirewallRules {
  RulesSpec iptables, ip6tables, nftables;
};

// `link: { "a:eth0": down }`: an interface's administrative state. The lab
// waits for the kernel to confirm it (operstate) at both ends of a veth.
struct LinkAction {
  std::string interface;  // "node:interface"
  bool up = true;
  SourceLocation where;
};

// `rules: { node: fw, iptables: |..., nftables: |... }` replaces a node's
// firewall (flushed, then loaded as at build); `flush: { node: fw }` only
// flushes it.
struct RulesAction {
  std::string node;
  FirewallRules rules;  // all empty for a flush
  bool flush_only = false;
  SourceLocation where;
};

// `route: { node: r1, add: "10.9.0.0/16 via 10.0.0.2" }`, or `del:`.
struct RouteAction {
  std::string node;
  RouteSpec route;
  bool add = true;
  SourceLocation where;
};

// `sysctl: { node: r1, net.ipv4.ip_forward: 0 }`: written in order.
struct SysctlAction {
  std::string node;
  std::vector<SysctlSpec> sysctls;
  SourceLocation where;
};

// `impair: { "a:eth0": { rate: 1mbit, loss: 5% } }`: the link with this
// endpoint gets this impairment instead of the one it had (the keys of a
// link's `impair:`; `direction: forward` is from the named end to its
// peer); `none` (an empty impairment) removes it. The lab reads the qdiscs
// and loss tables back before it returns.
struct ImpairAction {
  std::string interface;  // "node:interface", an endpoint of a link
  Impairment impair;      // empty: none
  SourceLocation where;
};

// `start: { node: web, name: srv, run: "python3 -m http.server 80",
// ready: { tcp: 80 } }`: a program started as a node's `run:` entry is (its
// keys: ready, cwd, env, timeout), known by its name to a later `stop`.
struct StartAction {
  std::string node;
  std::string name;
  RunSpec run;
  SourceLocation where;
};

// `stop: srv` or `stop: { name: srv, signal: TERM, grace: 1s }`: TERM to the
// program's process group, KILL to its whole tree after `grace` (or KILL at
// once); returns when nothing of the tree is left.
struct StopAction {
  std::string name;
  bool kill = false;  // signal: KILL
  std::chrono::milliseconds grace{1000};
  SourceLocation where;
};

// What a `wait:` polls for: an expectation (scenario.h), defined there.
struct WaitCondition;

// `wait: { from: a, to: b, icmp: reachable, within: 5s }`: the expectation
// checked again and again (a short backoff between tries) until it holds or
// `within` has passed; `wait: { link: "a:eth0", state: up, within: 5s }`:
// until the interface's operstate is up (or not up).
struct WaitAction {
  std::shared_ptr<const WaitCondition> condition;  // the probe form; null for the link form
  std::string link;                                // the link form: "node:interface"
  bool up = true;
  std::chrono::milliseconds within{5000};
  SourceLocation where;
};

// `rule: { node: gw, add: "from 10.0.1.0/24 table wan2" }`, or `del:`: a
// policy rule, written as a node's `ip_rules:` entry.
struct RuleAction {
  std::string node;
  RuleSpec rule;
  bool add = true;
  SourceLocation where;
};

using StepAction = std::variant<LinkAction, RulesAction, RouteAction, SysctlAction, ImpairAction, StartAction,
                                StopAction, WaitAction, RuleAction>;

std::string to_string(const StepAction& action);  // "link a:eth0 down"

}  // namespace nslab
