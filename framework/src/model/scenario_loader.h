// The scenario loader: it walks a scenario's YAML with a positioned Reader
// (yaml_reader.h) and fills a Scenario: its topology, options and
// expectations. It collects problems rather than stopping at the first.
// Internal to src/model; its parts follow the file's sections:
//   scenario.cpp               the top level, options, values several sections share
//   scenario_nodes.cpp         nodes: sysctls, routes, services, rules, programs
//   scenario_bridges.cpp       a node's bridges: Linux (VLANs, STP, ports), Open vSwitch (kind: ovs)
//   scenario_limits.cpp        a node's resource limits
//   scenario_defaults.cpp      defaults and groups (reuse; merge keys are yaml_reader.cpp's)
//   scenario_routing.cpp       nodes: ip rules, tables, neighbours, arp; a route's policy keys
//   scenario_links.cpp         links: endpoints and impairments
//   scenario_interfaces.cpp    a node's interfaces: link kinds, lo's addresses
//   scenario_expectations.cpp  expectations: probes, captures, matrices, commands
//   scenario_steps.cpp         steps: actions on the running lab, then expectations
#pragma once

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nslab/scenario.h"
#include "yaml_reader.h"

namespace nslab::detail {

// "IPv4", "IPv6": as messages name a family.
inline std::string family_name(Family f) {
  return f == Family::ipv4 ? "IPv4" : "IPv6";
}

class Loader {
 public:
  // Problems go to `reader`, the description to `scenario`; both outlive the loader.
  Loader(Reader& reader, Scenario& scenario) : r_(reader), s_(scenario) {}

  void load(const YAML::Node& root);

 private:
  // scenario.cpp
  void options(const YAML::Node& o);
  // A command as a list of words, or a string for sh -c.
  std::vector<std::string> command(const YAML::Node& n, std::string_view what);
  // A duration from `lo` to `hi`, or a positioned error saying why not (`range`).
  std::optional<std::chrono::milliseconds> duration(const YAML::Node& n, std::string_view what,
                                                    std::chrono::milliseconds lo, std::chrono::milliseconds hi,
                                                    std::string_view range);
  std::optional<std::chrono::milliseconds> timeout(const YAML::Node& n, std::string_view what);
  std::optional<Family> family(const YAML::Node& n);

  // scenario_nodes.cpp
  void nodes(const YAML::Node& ns);
  void node(NodeSpec& n, const YAML::Node& body);
  void hostname(NodeSpec& n, const YAML::Node& h);
  void sysctls(NodeSpec& n, const YAML::Node& s);
  void run(NodeSpec& n, const YAML::Node& item);
  void environment(RunSpec& r, const YAML::Node& e);
  void rules(const YAML::Node& node, RulesSpec& out, std::string_view what);
  // scenario_rule_files.cpp: `iptables_file:` and the like (`inline_rules`: the node's inline key)
  void rule_file(const YAML::Node& node, const YAML::Node& inline_rules, RulesSpec& out, std::string_view what);
  // scenario_bridges.cpp: a Linux bridge's switch settings and ports
  static const Keys& bridge_switch_keys();
  void bridge_switching(BridgeSpec& b, const YAML::Node& body);
  void bridge_ports(BridgeSpec& b, const YAML::Node& map);
  void vlan_list(BridgePort& p, const YAML::Node& n);
  void route(NodeSpec& n, const YAML::Node& item);
  void service(NodeSpec& n, const YAML::Node& item);

  // scenario_bridges.cpp
  void bridges(NodeSpec& n, const YAML::Node& b);
  void bridge_common(BridgeSpec& spec, const YAML::Node& value);
  void ovs_bridge(BridgeSpec& spec, const YAML::Node& value);
  void ovs_port(OvsOptions& o, const YAML::Node& key, const YAML::Node& body);
  // One of `words`, or a positioned error naming the closest one.
  std::optional<std::string> word_of(const YAML::Node& n, std::string_view what, const Keys& words);

  // scenario_limits.cpp
  void limits(NodeSpec& n, const YAML::Node& body);
  // scenario_interfaces.cpp
  void interfaces(NodeSpec& n, const YAML::Node& map);
  bool interface(NodeSpec& n, NodeInterface& i, const YAML::Node& body);
  void addresses(NodeInterface& i, const YAML::Node& list);
  void mode(NodeInterface& i, const YAML::Node& m);

  // scenario_defaults.cpp
  static const Keys& node_keys();
  void defaults(const YAML::Node& d);
  YAML::Node with_defaults(const YAML::Node& body);
  void groups(const YAML::Node& g);

  // scenario_routing.cpp
  void ip_rules(NodeSpec& n, const YAML::Node& list);
  void tables(NodeSpec& n, const YAML::Node& map);
  void neighbours(NodeSpec& n, const YAML::Node& list);
  void arp(NodeSpec& n, const YAML::Node& a);
  void nexthops(NodeSpec& n, const YAML::Node& list);
  void route_policy(RouteSpec& r, const YAML::Node& item);

  // scenario_links.cpp
  void link(const YAML::Node& item);
  std::optional<Endpoint> endpoint(const YAML::Node& e);
  Impairment impairment(const YAML::Node& im);

  // scenario_expectations.cpp
  void expectation(const YAML::Node& item);
  void probe_expectation(const YAML::Node& item);
  void command_expectation(const YAML::Node& item);
  void capture(const YAML::Node& c);
  void matrix(const YAML::Node& m);
  // scenario_steps.cpp: `steps:` and their actions
  void steps(const YAML::Node& list);
  void step_action(Step& step, const std::string& kind, const YAML::Node& body);
  void link_action(Step& step, const YAML::Node& body);
  void rules_action(Step& step, const YAML::Node& body, bool flush);
  void route_action(Step& step, const YAML::Node& body);
  void rule_action(Step& step, const YAML::Node& body);
  // A route or rule action's common part, { node: N, add: TEXT } or del:
  // its node checked, the add/del value's node and text; empty after an error.
  struct StepEdit {
    std::string node;
    bool add = true;
    YAML::Node value;
    std::string text;
  };
  std::optional<StepEdit> step_edit(const YAML::Node& body, const std::string& kind, const std::string& word);
  // routing_problems over a copy of the lab whose only route, rule and
  // neighbour is what `put` gives `node`, reported at `at`; true when none.
  bool routing_check(const std::string& node, const std::function<void(NodeSpec&)>& put, const YAML::Node& at);
  void sysctl_action(Step& step, const YAML::Node& body);
  // scenario_step_actions.cpp: impair, start, stop, wait; and the programs'
  // names checked across the steps (a stop names a running start)
  void impair_action(Step& step, const YAML::Node& body);
  void start_action(Step& step, const YAML::Node& body);
  void stop_action(Step& step, const YAML::Node& body);
  void wait_action(Step& step, const YAML::Node& body);
  void check_programs();
  // scenario_counters.cpp
  void counter(const YAML::Node& c);
  // scenario_conntrack.cpp
  void conntrack(const YAML::Node& c);
  // scenario_kept.cpp: `keep: NAME` on a probe, `kept: NAME` expectations,
  // and (once every step is read) that each kept name is opened once, before use
  void keep_key(const YAML::Node& item, ProbeExpectation& e);
  void kept_expectation(const YAML::Node& item);
  void check_kept_names();
  // A probe as an expectation or a capture's "during" writes it: from, to,
  // one of icmp, tcp: PORT, udp: PORT, family and payload, with its
  // addresses checked against the lab. Empty when from, to or the protocol
  // is missing (`what` names the item then); the caller reads its own keys
  // (a verdict, served_by) and has checked which keys the item may have.
  std::optional<Probe> probe_of(const YAML::Node& item, std::string_view what);
  // The same, where tcp/udp may name a port set ([22, 80], 1-1024, "22, 80"):
  // the set goes to `ports` (which stays empty for a single port written as
  // a number). `scan: tcp/PORTS` fills `ports` too.
  std::optional<Probe> probe_of(const YAML::Node& item, std::string_view what, std::optional<PortSet>* ports);
  // A port set: a number, "1-1024", "22, 80, 8000-8010", or a list of those.
  std::optional<PortSet> port_set(const YAML::Node& n, std::string_view what);
  void scan_expectation(const YAML::Node& item);
  // scenario_paths.cpp: `path:`/`via:` and `count:` expectations, whose
  // probe may leave its protocol out (an ICMP echo: icmp_by_default_).
  void path_expectation(const YAML::Node& item);
  void count_expectation(const YAML::Node& item);
  std::optional<Probe> series_probe(const YAML::Node& item, std::string_view what);
  // Where a probe starts (README): a node, node:interface or an address of a
  // node; `source` an address of that node. Report at their own keys.
  bool check_source(const YAML::Node& n, const std::string& from);
  std::string source_node(const std::string& from) const;
  void source_keys(const YAML::Node& item, Probe& probe);
  void shape_keys(const YAML::Node& item, Probe& probe);
  // scenario_icmp.cpp: `icmp: timestamp`, `icmp: { type, code }`,
  // `icmpv6: ...` (the probe's message), and an expectation's verdict and
  // `answered_by` for an icmp probe.
  void icmp_kind(const YAML::Node& item, Probe& probe);
  void icmp_expectation(const YAML::Node& item, ProbeExpectation& e, Probe& probe);
  // What a probe's ends may name: a node (check_node) or also node:interface
  // and an address (check_target). Both report at `n`.
  // The count under `key` of `parent` ("3", ">= 1", "<= 2"); at least one
  // when the key is not there.
  CountSpec count_of(const YAML::Node& parent, const char* key);
  void check_target(const YAML::Node& n, const std::string& target);
  bool check_node(const YAML::Node& n, const std::string& name, std::string_view what);
  std::vector<IpAddress> addresses_of(const std::string& target, std::optional<Family> f) const;
  bool lab_has(Family f) const;
  void check_probe_addresses(const YAML::Node& at, const Probe& p);

  Reader& r_;
  Scenario& s_;
  std::optional<YAML::Node> defaults_;  // `defaults`, once read
  bool icmp_by_default_ = false;        // probe_of: no protocol key is an echo
  // scenario_kept.cpp: each `keep:` name (in the order the run opens them)
  // with where it is and its probe; and each `kept:` of a name not opened yet.
  struct KeptName {
    std::string name;
    SourceLocation where;
    std::string probe;
  };
  std::vector<KeptName> kept_opened_, kept_early_;
};

}  // namespace nslab::detail
