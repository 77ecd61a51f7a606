// Bridges as switches (bridge_options.h) and nexthop objects (nexthop.h) in
// a scenario and in C++: every key is loaded, every mistake named at
// file:line:column with the closest valid word, a C++ description passes
// the same checks, and `nslab graph` labels the ports' VLANs. No privilege.
#include <boost/test/unit_test.hpp>

#include <string>

#include "nslab/graph.h"
#include "nslab/scenario.h"
#include "scenario_errors.h"
#include "text.h"

using nslab::testing::has;
using nslab::testing::scenario_errors;

namespace {

// A switch node "sw" with bridge br0 (its YAML body `br0`, indented by six)
// and three hosts on ports veth-a, veth-b and trunk0.
std::string office(const std::string& br0, const std::string& sw_extra = "") {
  return "name: office\nnodes:\n  sw:\n" + sw_extra + "    bridges:\n      br0:\n" + br0 +
         "  a:\n  b:\n  r:\nlinks:\n"
         "  - [ \"a:eth0 10.0.10.1/24\", \"sw:veth-a@br0\" ]\n"
         "  - [ \"b:eth0 10.0.20.1/24\", \"sw:veth-b@br0\" ]\n"
         "  - [ \"r:eth0 10.0.30.1/24\", \"sw:trunk0@br0\" ]\n";
}

std::string problems_of(const nslab::Topology& t) {
  std::string s;
  for (const auto& e : t.problems()) s += e.message() + "\n";
  return s;
}

nslab::Topology office_topology() {
  nslab::Topology t("office");
  t.add_node("sw").bridge("br0");
  t.add_node("a");
  t.add_node("b");
  t.link("a:eth0 10.0.10.1/24", "sw:veth-a@br0");
  t.link("b:eth0 10.0.10.2/24", "sw:veth-b@br0");
  return t;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(switching_validation)

BOOST_AUTO_TEST_CASE(every_bridge_key_loads) {
  auto s = nslab::parse_scenario(office(R"(        vlan_filtering: true
        stp: on
        forward_delay: 4
        ageing: 30
        nf_call_iptables: true
        mcast_snooping: false
        ports:
          veth-a: { pvid: 10, isolated: true }
          veth-b: { pvid: 20, hairpin: true, learning: false }
          trunk0: { vlans: [ 10, 20, "100-102" ], pvid: 1 }
)"),
                                 "lab.yaml");
  const auto& o = s.topology.node("sw").bridges.at(0).switching;
  BOOST_TEST(o.vlan_filtering.value());
  BOOST_TEST(o.stp.value());
  BOOST_TEST(o.forward_delay.value() == 4);
  BOOST_TEST(o.ageing.value() == 30);
  BOOST_TEST(o.nf_call_iptables.value());
  BOOST_TEST(!o.mcast_snooping.value());
  BOOST_REQUIRE(o.ports.size() == 3u);
  BOOST_TEST(o.find_port("veth-a")->pvid.value() == 10);
  BOOST_TEST(o.find_port("veth-a")->isolated.value());
  BOOST_TEST(!o.find_port("veth-b")->learning.value());
  BOOST_TEST(o.find_port("veth-b")->hairpin.value());
  BOOST_TEST(o.find_port("trunk0")->vlan_label() == "pvid 1 vlans 10,20,100,101,102");
  BOOST_TEST(o.find_port("veth-a")->where.line == 13);
  // A bridge without options is what it always was.
  auto plain = nslab::parse_scenario(office("        addresses: [ 10.0.0.1/24 ]\n"), "lab.yaml");
  BOOST_TEST(plain.topology.node("sw").bridges.at(0).switching.empty());
}

BOOST_AUTO_TEST_CASE(bridge_mistakes_are_named_at_their_position) {
  auto e = scenario_errors(office(R"(        vlan_filter: true
        ageing: -1
        stp: maybe
        ports:
          veth-a: { pvid: 5000, isolate: true }
          veth-c: { pvid: 10 }
          trunk0: { vlans: [ 10, "20-19", 0 ] }
)"));
  BOOST_TEST(has(e, "lab.yaml:6:9: unknown key \"vlan_filter\" in bridge \"br0\"; did you mean \"vlan_filtering\"?"),
             e);
  BOOST_TEST(has(e, "lab.yaml:7:17: ageing (seconds) must be a whole number from 0 to 1000000, not \"-1\""), e);
  BOOST_TEST(has(e, "lab.yaml:8:14: stp must be true or false, not \"maybe\""), e);
  BOOST_TEST(has(e,
                 "lab.yaml:10:33: unknown key \"isolate\" in port \"veth-a\" of bridge \"br0\"; did you mean "
                 "\"isolated\"?"),
             e);
  BOOST_TEST(has(e, "lab.yaml:10:27: pvid (a VLAN id) must be a whole number from 1 to 4094, not \"5000\""), e);
  BOOST_TEST(has(e, "lab.yaml:12:34: \"20-19\" is not a VLAN id from 1 to 4094 or a range LO-HI of them"), e);
  BOOST_TEST(has(e, "lab.yaml:12:43: \"0\" is not a VLAN id"), e);
}

BOOST_AUTO_TEST_CASE(ports_and_vlans_are_checked_against_the_lab) {
  auto e = scenario_errors(office(R"(        forward_delay: 3
        ports:
          veth-c: { pvid: 10 }
          veth-b: { pvid: 20 }
          trunk0: { pvid: 10, vlans: [ 10, 20, 20 ] }
)"));
  BOOST_TEST(has(e, "bridge \"sw:br0\": forward_delay is an STP timer; it needs stp: true"), e);
  BOOST_TEST(has(e,
                 "lab.yaml:8:11: bridge \"sw:br0\": \"veth-c\" is no port of this bridge; did you mean "
                 "\"veth-a\"?"),
             e);
  BOOST_TEST(has(e,
                 "lab.yaml:9:11: bridge \"sw:br0\" port \"veth-b\": a pvid or vlans need vlan_filtering: "
                 "true on the bridge"),
             e);
  BOOST_TEST(has(e, "port \"trunk0\": VLAN 10 is the pvid (untagged) and in vlans (tagged); give it once"), e);
  BOOST_TEST(has(e, "port \"trunk0\": VLAN 20 is listed twice"), e);
}

BOOST_AUTO_TEST_CASE(the_builder_passes_the_same_checks) {
  auto t = office_topology();
  t.node("sw").bridge_options(
      "br0",
      {.vlan_filtering = true, .ports = {{.name = "veth-a", .pvid = 10}, {.name = "veth-b", .vlans = {10, 20}}}});
  BOOST_TEST(problems_of(t) == "");
  t.node("sw").bridge_options("br0", {.ports = {{.name = "veth-x", .pvid = 10}, {.name = "veth-a", .pvid = 4095}}});
  auto p = problems_of(t);
  BOOST_TEST(has(p, "\"veth-x\" is no port of this bridge; did you mean \"veth-a\"?"), p);
  BOOST_TEST(has(p, "port \"veth-a\": a pvid or vlans need vlan_filtering: true"), p);
  BOOST_TEST(has(p, "port \"veth-a\": pvid must be a VLAN id from 1 to 4094, not 4095"), p);
  BOOST_CHECK_THROW(t.node("sw").bridge_options("br1", {}), nslab::ConfigError);
}

BOOST_AUTO_TEST_CASE(nexthops_load_and_routes_name_them) {
  auto s = nslab::parse_scenario(R"(name: nh
nodes:
  r:
    nexthops:
      - id 1 via 10.0.1.2 dev eth0
      - id 2 via 10.0.2.2 dev eth1
      - id 3 group 1/2,3
      - id 9 blackhole
    routes:
      - 10.9.0.0/16 nhid 3
      - { to: 10.8.0.0/16, nhid: 9 }
  a:
  b:
links:
  - [ "r:eth0 10.0.1.1/24", "a:eth0 10.0.1.2/24" ]
  - [ "r:eth1 10.0.2.1/24", "b:eth0 10.0.2.2/24" ]
)",
                                 "lab.yaml");
  const auto& r = s.topology.node("r");
  BOOST_REQUIRE(r.nexthops.size() == 4u);
  BOOST_TEST(r.nexthops[2].str() == "id 3 group 1/2,3");
  BOOST_TEST(r.nexthops[0].str() == "id 1 via 10.0.1.2 dev eth0");
  BOOST_TEST(r.nexthops[3].blackhole);
  BOOST_TEST(r.routes.at(0).nhid == 3u);
  BOOST_TEST(r.routes.at(0).str() == "10.9.0.0/16 nhid 3");
  BOOST_TEST(r.routes.at(1).nhid == 9u);
}

// Mistakes in a nexthop's own words are the loader's; those against the
// node (ids, devices, groups, routes) come once the file reads.
BOOST_AUTO_TEST_CASE(nexthop_word_mistakes_are_named) {
  auto e = scenario_errors(R"(name: nh
nodes:
  r:
    nexthops:
      - id 2 vai 10.0.1.3 dev eth0
      - id 4 via 10.0.1.3
      - id 10 blackhole group 1
      - id 11 group 1,300
      - id 12 dev eth0 family ipv7
    routes:
      - 10.7.0.0/16 nhid 1 via 10.0.1.2
      - { to: 10.6.0.0/16, nhid: 0 }
  a:
links:
  - [ "r:eth0 10.0.1.1/24", "a:eth0 10.0.1.2/24" ]
)");
  BOOST_TEST(has(e, "lab.yaml:5:9: unknown nexthop word \"vai\"; did you mean \"via\"?"), e);
  BOOST_TEST(has(e, "lab.yaml:6:9: nexthop 4: a gateway needs its device"), e);
  BOOST_TEST(has(e, "lab.yaml:7:9: nexthop 10 is one of: via GATEWAY dev IF, dev IF, blackhole, group"), e);
  BOOST_TEST(has(e, "lab.yaml:8:9: a group member's weight must be a whole number from 1 to 256, not \"300\""), e);
  BOOST_TEST(has(e, "lab.yaml:9:9: nexthop family \"ipv7\" is not ipv4 or ipv6"), e);
  BOOST_TEST(has(e, "lab.yaml:11:9: a route with nhid takes its gateway and device from the nexthop object"), e);
  BOOST_TEST(has(e, "lab.yaml:12:34: nhid must be a whole number from 1 to 4294967295, not \"0\""), e);
}

BOOST_AUTO_TEST_CASE(nexthops_are_checked_against_the_node) {
  auto e = scenario_errors(R"(name: nh
nodes:
  r:
    nexthops:
      - id 1 via 10.0.1.2 dev eth0
      - id 1 via 10.0.5.2 dev eth0
      - id 5 dev eht0
      - id 6 group 1/7
      - id 8 group 6
      - id 9 via 10.0.9.9 dev eth0
    routes:
      - 10.9.0.0/16 nhid 42
      - 2001:db8::/32 nhid 1
  a:
links:
  - [ "r:eth0 10.0.1.1/24", "a:eth0 10.0.1.2/24" ]
)");
  BOOST_TEST(has(e, "lab.yaml:6:9: nexthop \"id 1 via 10.0.5.2 dev eth0\" on node \"r\": id 1 is taken"), e);
  BOOST_TEST(has(e,
                 "lab.yaml:7:9: nexthop \"id 5 dev eht0\" on node \"r\": no interface \"eht0\"; did you mean "
                 "\"eth0\"?"),
             e);
  BOOST_TEST(has(e, "lab.yaml:8:9: nexthop group 6 on node \"r\": no nexthop 7 in the node"), e);
  BOOST_TEST(has(e, "lab.yaml:9:9: nexthop group 8 on node \"r\": member 6 is a group itself"), e);
  BOOST_TEST(has(e,
                 "lab.yaml:10:9: nexthop \"id 9 via 10.0.9.9 dev eth0\" on node \"r\": gateway 10.0.9.9 is not "
                 "on a subnet of \"eth0\" (or say onlink)"),
             e);
  BOOST_TEST(has(e, "lab.yaml:12:9: route \"10.9.0.0/16 nhid 42\" on node \"r\": no nexthop 42 in the node"), e);
  BOOST_TEST(has(e, "lab.yaml:13:9: route \"2001:db8::/32 nhid 1\" on node \"r\": nexthop 1 is IPv4, the route IPv6"),
             e);
}

BOOST_AUTO_TEST_CASE(the_graph_labels_port_vlans) {
  auto t = office_topology();
  t.node("sw").bridge_options("br0", {.vlan_filtering = true,
                                      .stp = true,
                                      .ports = {{.name = "veth-a", .pvid = 10, .isolated = true},
                                                {.name = "veth-b", .pvid = 1, .vlans = {10, 20}}}});
  BOOST_TEST(problems_of(t) == "");
  auto dot = nslab::to_dot(t);
  BOOST_TEST(has(dot, "label=\"br0 (bridge, vlan_filtering, stp)\""), dot);
  BOOST_TEST(has(dot, "\"sw:veth-a\" -- \"sw:br0\" [style=dashed, label=\"port\\npvid 10\\nisolated\"];"), dot);
  BOOST_TEST(has(dot, "\"sw:veth-b\" -- \"sw:br0\" [style=dashed, label=\"port\\npvid 1 vlans 10,20\"];"), dot);
  // Without options the drawing is as before.
  auto plain = nslab::to_dot(office_topology());
  BOOST_TEST(has(plain, "\"sw:veth-a\" -- \"sw:br0\" [style=dashed, label=\"port\"];"), plain);
  BOOST_TEST(has(plain, "label=\"br0 (bridge)\""), plain);
}

BOOST_AUTO_TEST_SUITE_END()
