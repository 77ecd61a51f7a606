// Steps: a scenario that changes over time. After the top-level `expect:`
// (step 0), each step applies its actions to the running lab, in order, then
// checks its own expectations. Description only: nothing here builds.
#pragma once

#include <string>
#include <variant>
#include <vector>

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

using StepAction = std::variant<LinkAction, RulesAction, RouteAction, SysctlAction>;

std::string to_string(const StepAction& action);  // "link a:eth0 down"

}  // namespace nslab
