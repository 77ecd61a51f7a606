// Link kinds in a scenario (a node's `interfaces:`) and in C++: every key is
// loaded, every mistake named at file:line:column with the closest valid
// word, and a C++ description passes the same checks. No privilege needed.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <string>

#include "nslab/graph.h"
#include "nslab/scenario.h"
#include "scenario_errors.h"
#include "text.h"

using nslab::testing::has;
using nslab::testing::scenario_errors;
using K = nslab::InterfaceKind;

namespace {

// Two routed nodes with a veth between them; `a_interfaces` is the YAML of
// a's `interfaces:` (indented by six).
std::string lab(const std::string& a_interfaces, const std::string& extra_links = "") {
  return "name: kinds\nnodes:\n  a:\n    interfaces:\n" + a_interfaces +
         "  b:\nlinks:\n  - [ \"a:eth0 10.0.0.1/24\", \"b:eth0 10.0.0.2/24\" ]\n"
         "  - [ \"a:eth1\", \"b:eth1\" ]\n" +
         extra_links;
}

nslab::Topology pair() {
  nslab::Topology t("kinds");
  t.add_node("a");
  t.add_node("b");
  t.link("a:eth0 10.0.0.1/24", "b:eth0 10.0.0.2/24");
  t.link("a:eth1", "b:eth1");
  return t;
}

std::string problems_of(const nslab::Topology& t) {
  std::string s;
  for (const auto& e : t.problems()) s += e.message() + "\n";
  return s;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(link_kinds_validation)

BOOST_AUTO_TEST_CASE(every_kind_loads_with_its_keys) {
  auto s = nslab::parse_scenario(lab(R"(      lo: [ 10.255.0.1/32 ]
      eth0.10: { kind: vlan, parent: eth0, id: 10, addresses: [ 10.0.10.1/24 ], mtu: 1400 }
      mv0: { kind: macvlan, parent: eth0, mode: bridge }
      d0: { kind: dummy, addresses: [ 10.9.9.1/32 ], up: false }
      bond0: { kind: bond, mode: active-backup, members: [ eth1 ] }
      blue: { kind: vrf, table: 100, members: [ d0 ] }
      gre1: { kind: gre, local: 10.0.0.1, remote: 10.0.0.2, ttl: 64, key: 7 }
      vx0: { kind: vxlan, vni: 42, local: 10.0.0.1, remote: 10.0.0.2, dstport: 4789, addresses: [ 10.42.0.1/24 ] }
)"),
                                 "lab.yaml");
  const auto& a = s.topology.node("a");
  BOOST_REQUIRE(a.interfaces.size() == 8u);
  BOOST_TEST((a.interfaces[0].kind == K::loopback));
  BOOST_TEST(a.interfaces[0].addresses.at(0).str() == "10.255.0.1/32");
  const auto* vlan = a.find_interface("eth0.10");
  BOOST_REQUIRE(vlan);
  BOOST_TEST((vlan->kind == K::vlan));
  BOOST_TEST(vlan->parent == "eth0");
  BOOST_TEST(vlan->vlan_id == 10);
  BOOST_TEST(vlan->mtu == 1400);
  BOOST_TEST(vlan->where.str() == "lab.yaml:6:7");
  BOOST_TEST((a.find_interface("mv0")->macvlan_mode == nslab::MacvlanMode::bridge));
  BOOST_TEST(!a.find_interface("d0")->up);
  BOOST_TEST((a.find_interface("bond0")->bond_mode == nslab::BondMode::active_backup));
  BOOST_TEST(a.find_interface("blue")->table == 100u);
  BOOST_TEST(*a.find_interface("gre1")->key == 7u);
  BOOST_TEST(a.find_interface("gre1")->ttl == 64);
  const auto* vx = a.find_interface("vx0");
  BOOST_TEST(vx->vni == 42u);
  BOOST_TEST(vx->remote->str() == "10.0.0.2");
  // The new interfaces are the node's: probes and captures may name them.
  auto ifaces = s.topology.interfaces_of("a");
  BOOST_TEST(std::any_of(ifaces.begin(), ifaces.end(), [](auto& i) { return i.name == "vx0"; }));
}

BOOST_AUTO_TEST_CASE(unknown_kinds_modes_and_keys_suggest_the_closest) {
  BOOST_TEST(has(scenario_errors(lab("      x0: { kind: vxlam, vni: 1, remote: 10.0.0.2 }\n")),
                 "lab.yaml:5:19: unknown interface kind \"vxlam\"; did you mean \"vxlan\"?"));
  BOOST_TEST(has(scenario_errors(lab("      m0: { kind: macvlan, parent: eth0, mode: bridg }\n")),
                 "lab.yaml:5:48: unknown macvlan mode \"bridg\"; did you mean \"bridge\"?"));
  BOOST_TEST(has(scenario_errors(lab("      b0: { kind: bond, mode: active-backpu, members: [ eth1 ] }\n")),
                 "unknown bond mode \"active-backpu\"; did you mean \"active-backup\"?"));
  BOOST_TEST(has(scenario_errors(lab("      v0: { kind: vlan, parent: eth0, idd: 10 }\n")),
                 "lab.yaml:5:39: unknown key \"idd\" in interface \"a:v0\"; did you mean \"id\"?"));
  BOOST_TEST(has(scenario_errors(lab("      v0: { kind: vlan, parent: eth0, id: 10, vni: 3 }\n")),
                 "lab.yaml:5:47: key \"vni\" does not apply to kind vlan"));
  BOOST_TEST(has(scenario_errors(lab("      v0: { parent: eth0, id: 10 }\n")),
                 "lab.yaml:5:11: interface \"a:v0\" needs a \"kind\""));
  BOOST_TEST(has(scenario_errors(lab("      x0: { kind: vxlan, remote: 10.0.0.2 }\n")), "needs a \"vni\""));
}

BOOST_AUTO_TEST_CASE(parents_and_members_must_exist_in_the_node) {
  BOOST_TEST(has(scenario_errors(lab("      v0: { kind: vlan, parent: eth9, id: 10 }\n")),
                 "lab.yaml:5:7: interface \"a:v0\": parent \"eth9\" is no interface of node \"a\""));
  BOOST_TEST(has(scenario_errors(lab("      v0: { kind: vlan, id: 10 }\n")), "a vlan needs a \"parent\""));
  BOOST_TEST(has(scenario_errors(lab("      b0: { kind: bond, members: [ eth1, nope ] }\n")),
                 "lab.yaml:5:7: interface \"a:b0\": member \"nope\" is no interface of node \"a\""));
  BOOST_TEST(has(scenario_errors(lab("      b0: { kind: bond, members: [] }\n")), "a bond needs \"members\""));
  // A member of two bonds: reported at the second.
  BOOST_TEST(has(scenario_errors(lab("      b0: { kind: bond, members: [ eth1 ] }\n"
                                     "      b1: { kind: bond, members: [ eth1 ] }\n")),
                 "lab.yaml:6:7: interface \"a:b1\": member \"eth1\" is already a member of bond \"b0\""));
  BOOST_TEST(has(scenario_errors(lab("      b0: { kind: bond, members: [ eth0 ] }\n")),
                 "member \"eth0\" has addresses; a bond's addresses belong on the bond"));
  BOOST_TEST(has(scenario_errors(
                     lab("      v0: { kind: vlan, parent: v1, id: 1 }\n      v1: { kind: vlan, parent: v0, id: 2 }\n")),
                 "(a cycle)"));
}

BOOST_AUTO_TEST_CASE(numbers_and_names_have_their_ranges) {
  BOOST_TEST(has(scenario_errors(lab("      v0: { kind: vlan, parent: eth0, id: 4095 }\n")),
                 "lab.yaml:5:43: vlan id must be a whole number from 1 to 4094, not \"4095\""));
  BOOST_TEST(has(scenario_errors(lab("      v0: { kind: vlan, parent: eth0, id: 0 }\n")), "from 1 to 4094, not \"0\""));
  BOOST_TEST(has(scenario_errors(lab(
                     "      v0: { kind: vlan, parent: eth0, id: 5 }\n      v1: { kind: vlan, parent: eth0, id: 5 }\n")),
                 "\"v0\" is vlan 5 on \"eth0\" already"));
  BOOST_TEST(has(scenario_errors(lab("      x0: { kind: vxlan, vni: 16777216, remote: 10.0.0.2 }\n")),
                 "vni must be a whole number from 0 to 16777215"));
  BOOST_TEST(has(scenario_errors(lab("      r0: { kind: vrf, table: 254 }\n")), "254 (main)"));
  BOOST_TEST(has(scenario_errors(lab("      averyveryverylongname0: { kind: dummy }\n")), "lab.yaml:5:7"));
  BOOST_TEST(has(scenario_errors(lab("      \"d\\x1b0\": { kind: dummy }\n")), "\\x1b"));
  BOOST_TEST(has(scenario_errors(lab("      eth0: { kind: dummy }\n")), "duplicate interface"));
  BOOST_TEST(has(scenario_errors(lab("      lo: { kind: dummy }\n")), "lo is the node's loopback"));
  // A vlan may carry a dot in its name; other kinds may not.
  BOOST_TEST(scenario_errors(lab("      eth0.10: { kind: vlan, parent: eth0, id: 10 }\n")) == "");
  BOOST_TEST(has(scenario_errors(lab("      d.0: { kind: dummy }\n")), "lab.yaml:5:7"));
  BOOST_TEST(has(scenario_errors(lab("      eth0..10: { kind: vlan, parent: eth0, id: 10 }\n")), "\"..\""));
}

BOOST_AUTO_TEST_CASE(tunnel_ends_are_checked) {
  BOOST_TEST(has(scenario_errors(lab("      g0: { kind: gre, local: 10.0.0.1 }\n")), "a gre needs a \"remote\""));
  BOOST_TEST(has(scenario_errors(lab("      g0: { kind: gre, local: 10.7.0.1, remote: 10.0.0.2 }\n")),
                 "local 10.7.0.1 is no address of node \"a\""));
  BOOST_TEST(has(scenario_errors(lab("      x0: { kind: vxlan, vni: 1, remote: 10.0.0.2, group: 239.1.1.1 }\n")),
                 "a \"remote\" or a \"group\", not both"));
  BOOST_TEST(
      has(scenario_errors(lab("      x0: { kind: vxlan, vni: 1, group: 10.1.1.1 }\n")), "not a multicast address"));
  BOOST_TEST(has(scenario_errors(lab("      x0: { kind: vxlan, vni: 1, remote: nowhere }\n")),
                 "lab.yaml:5:42: remote \"nowhere\" is not an IP address"));
  BOOST_TEST(has(scenario_errors(lab("      i0: { kind: ipip, remote: fd00::2 }\n")), "IPv4"));
  BOOST_TEST(
      has(scenario_errors(lab("      i0: { kind: ipip, remote: 10.0.0.2, key: 5 }\n")), "does not apply to kind ipip"));
}

BOOST_AUTO_TEST_CASE(addresses_and_routes_see_the_new_interfaces) {
  // A route over a vlan, an address collision with a veth end.
  auto y = lab("      v0: { kind: vlan, parent: eth0, id: 10, addresses: [ 10.0.0.1/24 ] }\n");
  BOOST_TEST(has(scenario_errors(y), "address 10.0.0.1 on \"a:v0\" is already in use on \"a:eth0\""));
  auto t = pair();
  t.node("a").interface({.name = "v0",
                         .kind = K::vlan,
                         .addresses = {nslab::Prefix::from_string("10.10.0.1/24")},
                         .parent = "eth0",
                         .vlan_id = 10});
  t.node("a").route("10.20.0.0/16 via 10.10.0.2");
  t.node("a").route("10.30.0.0/16 dev v0");
  BOOST_TEST(problems_of(t) == "");
  // The same address on lo of two nodes (anycast) is fine.
  auto any = pair();
  any.node("a").loopback({"10.255.0.1/32"});
  any.node("b").loopback({"10.255.0.1/32"});
  BOOST_TEST(problems_of(any) == "");
}

// A macvlan or ipvlan sends on its parent's wire: an address it shares with
// the far end of that wire collides there (validate accepted it, and two
// nodes then answered ARP for one address). A vlan is a wire of its own.
BOOST_AUTO_TEST_CASE(a_macvlan_address_meets_its_parents_wire) {
  for (const char* kind : {"macvlan", "ipvlan"}) {
    auto y = lab(std::string("      m0: { kind: ") + kind + ", parent: eth0, addresses: [ 10.0.0.2/24 ] }\n");
    auto e = scenario_errors(y);
    BOOST_TEST(has(e,
                   "lab.yaml:8:29: address 10.0.0.2 on \"b:eth0\" is already in use on \"a:m0\", on the same "
                   "network segment"),
               kind << ": " << e);
    // Another address on that wire is fine, as is the same address on a vlan.
    BOOST_TEST(scenario_errors(lab(std::string("      m0: { kind: ") + kind +
                                   ", parent: eth0, addresses: [ 10.0.0.3/24 ] }\n")) == "");
  }
  BOOST_TEST(scenario_errors(lab("      v0: { kind: vlan, parent: eth0, id: 10, addresses: [ 10.0.0.2/24 ] }\n")) ==
             "");
  // Two nodes' macvlans on one wire, the same address.
  auto t = pair();
  for (const char* n : {"a", "b"})
    t.node(n).interface({.name = "m0",
                         .kind = K::macvlan,
                         .addresses = {nslab::Prefix::from_string("10.0.0.50/24")},
                         .parent = "eth0"});
  BOOST_TEST(has(problems_of(t), "address 10.0.0.50 on \"b:m0\" is already in use on \"a:m0\", on the same network"),
             problems_of(t));
}

BOOST_AUTO_TEST_CASE(a_cpp_description_passes_the_same_checks) {
  auto t = pair();
  t.node("a").interface({.name = "v0", .kind = K::vlan, .parent = "eth0", .vlan_id = 5000});
  t.node("a").interface({.name = "d0", .kind = K::dummy, .vlan_id = 3});
  t.node("a").interface(
      {.name = "m0", .kind = K::macvlan, .parent = "eth1", .macvlan_mode = nslab::MacvlanMode::passthru});
  t.node("a").interface({.name = "m1", .kind = K::macvlan, .parent = "eth1"});
  t.node("a").interface({.name = "b0", .kind = K::bond, .members = {"eth1"}});
  auto p = problems_of(t);
  BOOST_TEST(has(p, "interface \"a:v0\": vlan id 5000 is outside 1..4094"), p);
  BOOST_TEST(has(p, "interface \"a:d0\": key \"id\" does not apply to kind dummy"), p);
  BOOST_TEST(has(p, "a passthru macvlan must be its parent's only one"), p);
  BOOST_TEST(has(p, "parent \"eth1\" is a port of bond \"b0\""), p);
}

BOOST_AUTO_TEST_CASE(the_graph_shows_kinds_and_tunnels) {
  nslab::Topology t("sites");
  t.add_node("a");
  t.add_node("b");
  t.link("a:eth0 10.0.0.1/24", "b:eth0 10.0.0.2/24");
  auto vx = [](std::string local, std::string remote, std::string addr) {
    return nslab::NodeInterface{.name = "vx0",
                                .kind = K::vxlan,
                                .addresses = {nslab::Prefix::from_string(addr)},
                                .local = nslab::IpAddress::from_string(local),
                                .remote = nslab::IpAddress::from_string(remote),
                                .vni = 42};
  };
  t.node("a").interface(vx("10.0.0.1", "10.0.0.2", "10.42.0.1/24"));
  t.node("b").interface(vx("10.0.0.2", "10.0.0.1", "10.42.0.2/24"));
  t.node("a").interface({.name = "eth0.7", .kind = K::vlan, .parent = "eth0", .vlan_id = 7});
  BOOST_TEST(problems_of(t) == "");
  auto dot = nslab::to_dot(t);
  BOOST_TEST(has(dot, "\"a:vx0\" [shape=cds"), dot);
  BOOST_TEST(has(dot, "label=\"vx0 (vxlan 42:4789)\\n10.42.0.1/24\""), dot);
  BOOST_TEST(has(dot, "\"a:eth0.7\" [shape=tab"), dot);
  BOOST_TEST(has(dot, "\"a:eth0\" -- \"a:eth0.7\" [style=dotted, label=\"parent\"]"), dot);
  // One dashed tunnel edge between the two ends, not two.
  BOOST_TEST(has(dot, "\"a:vx0\" -- \"b:vx0\" [style=dashed, penwidth=2"), dot);
  BOOST_TEST(!has(dot, "\"b:vx0\" -- \"a:vx0\""), dot);
}

BOOST_AUTO_TEST_SUITE_END()
