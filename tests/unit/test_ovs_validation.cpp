// Open vSwitch bridges as a scenario writes them: every key read into
// OvsOptions, the C++ builder equal to the YAML, and every bad value refused
// with file:line:column (closest-word hints). No privilege, no OVS needed.
#include <boost/test/unit_test.hpp>

#include <string>

#include "nslab/ovs.h"
#include "nslab/scenario.h"
#include "scenario_errors.h"
#include "text.h"

using nslab::testing::has;
using nslab::testing::scenario_errors;

namespace {

// A switch node with an OVS bridge br0 (its settings: `body`) and ports
// p-red, p-blue, p-trunk.
std::string lab(const std::string& body) {
  return "name: o\nnodes:\n  sw:\n    bridges:\n      br0:\n" + body +
         "  red:\n  blue:\n  up:\n"
         "links:\n"
         "  - [ \"red:eth0 10.0.0.1/24\", \"sw:p-red@br0\" ]\n"
         "  - [ \"blue:eth0 10.0.0.2/24\", \"sw:p-blue@br0\" ]\n"
         "  - [ \"up:eth0 10.0.0.3/24\", \"sw:p-trunk@br0\" ]\n";
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_key_is_read) {
  auto s = nslab::parse_scenario(lab("        kind: ovs\n"
                                     "        datapath: system\n"
                                     "        fail_mode: secure\n"
                                     "        addresses: [ 10.0.0.254/24 ]\n"
                                     "        openflow: |\n"
                                     "          # comment\n"
                                     "          priority=10,arp actions=normal\n"
                                     "        ports:\n"
                                     "          p-red: { tag: 10 }\n"
                                     "          p-trunk: { trunks: [10, 20], vlan_mode: trunk }\n"
                                     "        mirrors:\n"
                                     "          m0: { select: [ p-red ], output: p-blue }\n"),
                                 "o.yaml");
  const auto& b = s.topology.node("sw").bridges.at(0);
  BOOST_TEST((b.kind == nslab::BridgeKind::ovs));
  BOOST_TEST((b.ovs.datapath == nslab::OvsDatapath::system));
  BOOST_TEST((b.ovs.fail_mode == nslab::OvsFailMode::secure));
  BOOST_TEST(b.addresses.size() == 1u);
  BOOST_TEST(has(b.ovs.openflow, "priority=10,arp actions=normal"));
  BOOST_TEST(b.ovs.openflow_where.line == 11);
  BOOST_TEST(b.ovs.openflow_where.column == 11);
  BOOST_TEST(*b.ovs.find_port("p-red")->tag == 10);
  BOOST_TEST((b.ovs.find_port("p-trunk")->trunks == std::vector<std::uint16_t>{10, 20}));
  BOOST_TEST((*b.ovs.find_port("p-trunk")->vlan_mode == nslab::OvsVlanMode::trunk));
  BOOST_TEST(b.ovs.mirrors.at(0).output == "p-blue");
  BOOST_TEST((b.ovs.mirrors.at(0).select == std::vector<std::string>{"p-red"}));
  // The default: netdev, standalone.
  auto d = nslab::parse_scenario(lab("        kind: ovs\n"), "o.yaml");
  BOOST_TEST((d.topology.node("sw").bridges.at(0).ovs.datapath == nslab::OvsDatapath::netdev));
  BOOST_TEST((d.topology.node("sw").bridges.at(0).ovs.fail_mode == nslab::OvsFailMode::standalone));
}

BOOST_AUTO_TEST_CASE(the_builder_says_the_same) {
  nslab::Topology t("o");
  nslab::OvsOptions o{.datapath = nslab::OvsDatapath::netdev, .fail_mode = nslab::OvsFailMode::secure};
  o.port("p-red", {.tag = 10}).port("p-trunk", {.trunks = {10, 20}, .vlan_mode = nslab::OvsVlanMode::trunk});
  o.flows("priority=10,arp actions=normal\n");
  o.mirrors.push_back({.name = "m0", .select = {"p-red"}, .output = "p-blue"});
  t.add_node("sw").ovs_bridge("br0", o);
  for (const char* n : {"red", "blue", "up"}) t.add_node(n);
  t.link("red:eth0 10.0.0.1/24", "sw:p-red@br0");
  t.link("blue:eth0 10.0.0.2/24", "sw:p-blue@br0");
  t.link("up:eth0 10.0.0.3/24", "sw:p-trunk@br0");
  BOOST_TEST(t.problems().empty());
  BOOST_TEST((t.node("sw").bridges.at(0).kind == nslab::BridgeKind::ovs));
  // A port that is not one, and a bad VLAN set, from C++ too.
  t.node("sw").bridges.at(0).ovs.port("p-nope", {.tag = 5000});
  auto problems = t.problems();
  BOOST_TEST(problems.size() == 2u);
}

BOOST_AUTO_TEST_CASE(bad_values_are_refused_where_written) {
  auto e = scenario_errors(lab("        kind: ovz\n"), "o.yaml");
  BOOST_TEST(has(e, "o.yaml:6:15: bridge kind \"ovz\" is not linux or ovs; did you mean \"ovs\"?"), e);
  e = scenario_errors(lab("        kind: ovs\n        datapath: netdevv\n"), "o.yaml");
  BOOST_TEST(has(e, "o.yaml:7:19: datapath \"netdevv\" is not one of netdev, system; did you mean \"netdev\"?"), e);
  e = scenario_errors(lab("        kind: ovs\n        fail_mode: secur\n"), "o.yaml");
  BOOST_TEST(has(e, "o.yaml:7:20: fail_mode \"secur\" is not one of standalone, secure; did you mean \"secure\"?"), e);
  e = scenario_errors(lab("        kind: ovs\n        fail-mode: secure\n"), "o.yaml");
  BOOST_TEST(has(e, "o.yaml:7:9: unknown key \"fail-mode\" in OVS bridge \"br0\"; did you mean \"fail_mode\"?"), e);
  e = scenario_errors(lab("        datapath: netdev\n"), "o.yaml");
  BOOST_TEST(has(e, "o.yaml:6:9: unknown key \"datapath\" in bridge \"br0\""), e);
  e = scenario_errors(lab("        kind: ovs\n        ports: { p-green: { tag: 10 } }\n"), "o.yaml");
  BOOST_TEST(has(e,
                 "o.yaml:7:18: bridge \"sw:br0\": \"p-green\" is not one of its ports; its ports are p-blue, "
                 "p-red, p-trunk"),
             e);
  e = scenario_errors(lab("        kind: ovs\n        ports: { p-red: { tag: 4096 } }\n"), "o.yaml");
  BOOST_TEST(has(e, "o.yaml:7:32: tag must be a whole number from 0 to 4095, not \"4096\""), e);
  e = scenario_errors(lab("        kind: ovs\n        ports: { p-red: { vlan_mode: acces } }\n"), "o.yaml");
  BOOST_TEST(has(e, "did you mean \"access\"?"), e);
  e = scenario_errors(lab("        kind: ovs\n        ports: { p-red: { vlan_mode: access } }\n"), "o.yaml");
  BOOST_TEST(has(e, "o.yaml:7:18: bridge \"sw:br0\" port \"p-red\": vlan_mode access needs a tag"), e);
  e = scenario_errors(lab("        kind: ovs\n        ports: { p-red: { tag: 10, trunks: [ 20 ] } }\n"), "o.yaml");
  BOOST_TEST(has(e, "an access port carries its one VLAN (tag), not trunks"), e);
  e = scenario_errors(lab("        kind: ovs\n        mirrors: { m: { select: [ p-red ], output: p-red } }\n"),
                      "o.yaml");
  BOOST_TEST(has(e, "o.yaml:7:20: bridge \"sw:br0\" mirror \"m\": its output \"p-red\" cannot be mirrored too"), e);
  e = scenario_errors(lab("        kind: ovs\n        mirrors: { m: { select: [ p-red ] } }\n"), "o.yaml");
  BOOST_TEST(has(e, "mirror \"m\" needs an output port"), e);
}

BOOST_AUTO_TEST_CASE(flows_are_checked_without_ovs_ofctl) {
  auto e =
      scenario_errors(lab("        kind: ovs\n        openflow: |\n          # ok\n          priority=1 actions=drop\n"
                          "            priority=2,arp\n"),
                      "o.yaml");
  BOOST_TEST(has(e, "o.yaml:10:13: openflow: flow \"priority=2,arp\" has no actions"), e);
  e = scenario_errors(lab("        kind: ovs\n        openflow: \"priority=1 actions=drop\\x01\"\n"), "o.yaml");
  BOOST_TEST(has(e,
                 "o.yaml:7:43: openflow: a flow is one line of printable text; this one has the control "
                 "character 0x01"),
             e);
  e = scenario_errors(lab("        openflow: \"actions=drop\"\n"), "o.yaml");
  BOOST_TEST(has(e, "unknown key \"openflow\" in bridge \"br0\""), e);
  // Comments and blank lines are no flows; each flow keeps its line.
  auto lines = nslab::openflow_lines("# a\n\n  priority=1 actions=drop  \n#b\nactions=normal");
  BOOST_TEST(lines.size() == 2u);
  BOOST_TEST(lines.at(0).text == "priority=1 actions=drop");
  BOOST_TEST(lines.at(0).line == 2);
  BOOST_TEST(lines.at(0).column == 2);
  BOOST_TEST(lines.at(1).line == 4);
}
