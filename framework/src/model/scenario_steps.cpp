// The scenario loader's "steps" section: each step's name, its actions on
// the running lab (checked against the lab the nodes and links sections
// built) and its expectations (read by the "expect" section's own code).
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fmt/format.h>

#include "iptables_text.h"
#include "nftables_text.h"
#include "routing_problems.h"
#include "scenario_loader.h"

namespace nslab {

std::string WaitCondition::str() const {
  return std::visit(
      [](const auto& e) -> std::string {
        if constexpr (requires { e.str(); })
          return e.str();
        else
          return "a condition";
      },
      expectation);
}

std::string to_string(const StepAction& action) {
  struct Show {
    std::string operator()(const LinkAction& a) const {
      return fmt::format("link {} {}", a.interface, a.up ? "up" : "down");
    }
    std::string operator()(const RulesAction& a) const {
      return fmt::format("{} rules of {}", a.flush_only ? "flush" : "replace", a.node);
    }
    std::string operator()(const RouteAction& a) const {
      return fmt::format("route {} on {}: {}", a.add ? "add" : "del", a.node, a.route.str());
    }
    std::string operator()(const SysctlAction& a) const {
      std::string s = fmt::format("sysctl on {}:", a.node);
      for (const auto& x : a.sysctls) s += fmt::format(" {}={}", x.key, x.value);
      return s;
    }
    std::string operator()(const ImpairAction& a) const {
      return fmt::format("impair {}: {}", a.interface, a.impair.empty() ? std::string("none") : a.impair.str());
    }
    std::string operator()(const StartAction& a) const { return fmt::format("start {} on {}", a.name, a.node); }
    std::string operator()(const StopAction& a) const {
      return fmt::format("stop {}{}", a.name, a.kill ? " (KILL)" : "");
    }
    std::string operator()(const RuleAction& a) const {
      return fmt::format("rule {} on {}: {}", a.add ? "add" : "del", a.node, a.rule.str());
    }
    std::string operator()(const WaitAction& a) const {
      std::string what = a.condition ? a.condition->str() : fmt::format("link {} {}", a.link, a.up ? "up" : "down");
      return fmt::format("wait until {} (within {} ms)", what, a.within.count());
    }
  };
  return std::visit(Show{}, action);
}

namespace detail {

namespace {
const Keys kActionKeys{"link", "rules", "flush", "route", "rule", "sysctl", "impair", "start", "stop", "wait"};
}  // namespace

void Loader::steps(const YAML::Node& list) {
  if (!list.IsSequence()) {
    r_.error(list,
             "\"steps\" must be a list, e.g. [ { name: uplink down, link: { \"r1:eth0\": down }, expect: [...] } ]");
    return;
  }
  for (const auto& item : r_.list(list, "steps")) {
    Keys allowed = kActionKeys;
    allowed.insert(allowed.end(), {"name", "expect"});
    if (!r_.keys(item, allowed, "a step")) continue;
    Step step;
    step.where = r_.at(item);
    if (auto n = item["name"]) step.name = r_.scalar(n, "a step's name").value_or("");
    if (step.name.empty()) step.name = fmt::format("step {}", s_.steps.size() + 1);
    if (step.name.find_first_of("\n\r") != std::string::npos) r_.error(item["name"], "a step's name is one line");
    // Actions in the order the file writes them.
    bool acts = false;  // any key but name and expect: an action, or reported as unknown
    for (auto it = item.begin(); it != item.end(); ++it) {
      const std::string key = it->first.Scalar();
      if (key != "name" && key != "expect") acts = true;
      if (std::find(kActionKeys.begin(), kActionKeys.end(), key) != kActionKeys.end())
        step_action(step, key, it->second);
    }
    if (!acts && !item["expect"])
      r_.error(item,
               fmt::format("step \"{}\" has no action ({}) and no \"expect\"", step.name, Reader::join(kActionKeys)));
    // The step's expectations are read by the "expect" section's code, into
    // the scenario's list, then moved to the step.
    if (auto e = item["expect"]) {
      std::vector<Expectation> top;
      std::swap(top, s_.expectations);
      for (const auto& x : r_.list(e, "expect")) expectation(x);
      std::swap(top, s_.expectations);
      step.expectations = std::move(top);
    }
    s_.steps.push_back(std::move(step));
  }
  check_programs();  // scenario_step_actions.cpp
}

void Loader::step_action(Step& step, const std::string& kind, const YAML::Node& body) {
  if (kind == "link")
    link_action(step, body);
  else if (kind == "rules")
    rules_action(step, body, false);
  else if (kind == "flush")
    rules_action(step, body, true);
  else if (kind == "route")
    route_action(step, body);
  else if (kind == "rule")
    rule_action(step, body);
  else if (kind == "sysctl")
    sysctl_action(step, body);
  else if (kind == "impair")
    impair_action(step, body);  // scenario_step_actions.cpp, as the three below
  else if (kind == "start")
    start_action(step, body);
  else if (kind == "stop")
    stop_action(step, body);
  else if (kind == "wait")
    wait_action(step, body);
}

// { "a:eth0": down, "b:eth1": up }: each an action of its own, in order.
void Loader::link_action(Step& step, const YAML::Node& body) {
  if (!body.IsMap() || body.size() == 0) {
    r_.error(body, "\"link\" is a mapping of node:interface to up or down, e.g. { \"r1:eth0\": down }");
    return;
  }
  for (auto it = body.begin(); it != body.end(); ++it) {
    auto label = r_.scalar(it->first, "an interface").value_or("");
    auto state = r_.scalar(it->second, "a link state");
    if (!state) continue;
    LinkAction a;
    a.interface = label;
    a.where = r_.at(it->first);
    if (*state == "up")
      a.up = true;
    else if (*state == "down")
      a.up = false;
    else {
      r_.error(it->second, fmt::format("link state \"{}\" is not up or down", *state));
      continue;
    }
    if (label.find(':') == std::string::npos || IpAddress::parse(label)) {
      r_.error(it->first, fmt::format("\"{}\" is not node:interface", label));
      continue;
    }
    if (label.substr(label.find(':') + 1) == "lo") {
      r_.error(it->first, fmt::format("\"{}\" is the loopback interface; a step sets a link's state", label));
      continue;
    }
    auto before = r_.errors().size();
    check_target(it->first, label);
    if (r_.errors().size() != before) continue;
    step.actions.push_back(std::move(a));
  }
}

void Loader::rules_action(Step& step, const YAML::Node& body, bool flush) {
  const std::string what = flush ? "flush" : "rules";
  if (!r_.keys(body, flush ? Keys{"node"} : Keys{"node", "iptables", "ip6tables", "nftables"},
               fmt::format("a \"{}\" action", what)))
    return;
  if (!body["node"]) {
    r_.error(body, fmt::format("a \"{}\" action needs \"node\": whose firewall", what));
    return;
  }
  RulesAction a;
  a.flush_only = flush;
  a.where = r_.at(body);
  a.node = r_.scalar(body["node"], "node").value_or("");
  if (!check_node(body["node"], a.node, "node")) return;
  if (!flush) {
    if (!body["iptables"] && !body["ip6tables"] && !body["nftables"]) {
      r_.error(body,
               "a \"rules\" action needs iptables, ip6tables or nftables (to only flush, write flush: { node: ... })");
      return;
    }
    rules(body["iptables"], a.rules.iptables, "iptables");
    rules(body["ip6tables"], a.rules.ip6tables, "ip6tables");
    rules(body["nftables"], a.rules.nftables, "nftables");
    // Checked as the node's own rules are at build (topology_problems.cpp).
    for (const auto* r : {&a.rules.iptables, &a.rules.ip6tables}) {
      if (r->empty()) continue;
      try {
        (void)iptables_restore_input(r->text, r->where);
      } catch (const ConfigError& e) {
        r_.error(e.where().known() ? e.where() : a.where, e.message());
      }
    }
    if (!a.rules.nftables.empty())
      if (auto e = nftables_problem(a.rules.nftables.text, a.rules.nftables.where))
        r_.error(e->where().known() ? e->where() : a.where, e->message());
  }
  step.actions.push_back(std::move(a));
}

std::optional<Loader::StepEdit> Loader::step_edit(const YAML::Node& body, const std::string& kind,
                                                  const std::string& word) {
  if (!r_.keys(body, {"node", "add", "del"}, fmt::format("a \"{}\" action", kind))) return std::nullopt;
  if (!body["node"] || (!body["add"] == !body["del"])) {
    r_.error(body, fmt::format("a \"{0}\" action needs \"node\" and one of add: {1} or del: {1}", kind, word));
    return std::nullopt;
  }
  StepEdit e;
  e.node = r_.scalar(body["node"], "node").value_or("");
  if (!check_node(body["node"], e.node, "node")) return std::nullopt;
  e.add = static_cast<bool>(body["add"]);
  e.value = body[e.add ? "add" : "del"];
  auto text = r_.scalar(e.value, kind == "rule" ? "a policy rule" : "a route");
  if (!text) return std::nullopt;
  e.text = *text;
  return e;
}

bool Loader::routing_check(const std::string& node, const std::function<void(NodeSpec&)>& put, const YAML::Node& at) {
  Topology t = s_.topology;
  for (const auto& n : s_.topology.nodes()) {
    NodeSpec& copy = t.node(n.name);
    copy.routes.clear();
    copy.rules.clear();
    copy.neighbours.clear();
    if (n.name != node) copy.tables.clear();
  }
  put(t.node(node));
  std::vector<ConfigError> found;
  routing_problems(t, found);
  for (const auto& e : found) r_.error(at, e.message());
  return found.empty();
}

// { node: r1, add: "10.9.0.0/16 via 10.0.0.2" } or del: the same.
void Loader::route_action(Step& step, const YAML::Node& body) {
  auto e = step_edit(body, "route", "ROUTE");
  if (!e) return;
  RouteAction a;
  a.where = r_.at(body);
  a.node = e->node;
  a.add = e->add;
  const YAML::Node& r = e->value;
  try {
    a.route = RouteSpec::parse(e->text, r_.at(r));
  } catch (const ConfigError& x) {
    r_.error(r, x.message());
    return;
  }
  a.route.where = r_.at(r);
  if (!a.route.dev.empty() && a.route.dev != "lo") {
    auto ifaces = s_.topology.interfaces_of(a.node);
    if (std::none_of(ifaces.begin(), ifaces.end(), [&](auto& i) { return i.name == a.route.dev; }))
      r_.error(r, fmt::format("route \"{}\": node \"{}\" has no interface \"{}\"", e->text, a.node, a.route.dev));
  }
  if (a.route.metric < 0)
    r_.error(r, fmt::format("route \"{}\": metric {} is negative (0 to 2147483647)", e->text, a.route.metric));
  // A table or next hops: checked as a node's own routes are (the table
  // resolves, each next hop's device and gateway).
  if (!a.route.table.empty() || !a.route.nexthops.empty())
    routing_check(
        a.node, [&](NodeSpec& n) { n.routes = {a.route}; }, r);
  step.actions.push_back(std::move(a));
}

// { node: gw, add: "from 10.0.1.0/24 table wan2" } or del: the same, as a
// node's `ip_rules:` entry, and checked as those are (its devices, its table).
void Loader::rule_action(Step& step, const YAML::Node& body) {
  auto e = step_edit(body, "rule", "RULE");
  if (!e) return;
  RuleAction a;
  a.where = r_.at(body);
  a.node = e->node;
  a.add = e->add;
  try {
    a.rule = RuleSpec::parse(e->text, r_.at(e->value));
  } catch (const ConfigError& x) {
    r_.error(e->value, x.message());
    return;
  }
  a.rule.where = r_.at(e->value);
  if (routing_check(
          a.node, [&](NodeSpec& n) { n.rules = {a.rule}; }, e->value))
    step.actions.push_back(std::move(a));
}

// { node: r1, net.ipv4.ip_forward: 0 }: the keys a node's `sysctl:` takes.
void Loader::sysctl_action(Step& step, const YAML::Node& body) {
  if (!body.IsMap() || !body["node"]) {
    r_.error(body, "a \"sysctl\" action is { node: NAME, KEY: VALUE, ... }");
    return;
  }
  SysctlAction a;
  a.where = r_.at(body);
  a.node = r_.scalar(body["node"], "node").value_or("");
  if (!check_node(body["node"], a.node, "node")) return;
  NodeSpec scratch;
  YAML::Node only(YAML::NodeType::Map);
  for (auto it = body.begin(); it != body.end(); ++it)
    if (!(it->first.IsScalar() && it->first.Scalar() == "node")) only.force_insert(it->first, it->second);
  if (only.size() == 0) {
    r_.error(body, "a \"sysctl\" action sets at least one key, e.g. net.ipv4.ip_forward: 0");
    return;
  }
  sysctls(scratch, only);
  a.sysctls = std::move(scratch.sysctls);
  if (!a.sysctls.empty()) step.actions.push_back(std::move(a));
}

}  // namespace detail

}  // namespace nslab
