// Scenario validation: every error names file:line:column and says what is
// wrong; misspelt keys get the closest valid one. No privilege needed.
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "nslab/scenario.h"
#include "scenario_errors.h"
#include "text.h"

using nslab::testing::has;
using nslab::testing::scenario_errors;

namespace {

const char* kValid = R"(name: ok
nodes:
  host:
    bridges:
      v-net-0: 192.168.1.254/24
    sysctl: { net.ipv4.ip_forward: 1 }
  red:
    routes: [ default via 192.168.1.254 ]
    services: [ tcp/80, udp/53 ]
links:
  - [ "red:eth0 192.168.1.1/24", "host:veth-red@v-net-0" ]
expect:
  - { from: host, to: red, icmp: reachable }
  - { from: host, to: red, tcp: 80, served_by: red }
  - matrix: { protocol: udp, port: 53, nodes: [host, red], default: refused,
              except: [ { from: host, to: red, verdict: reachable } ] }
)";

}  // namespace

BOOST_AUTO_TEST_SUITE(scenario)

BOOST_AUTO_TEST_CASE(a_valid_scenario_loads_every_part) {
  auto s = nslab::parse_scenario(kValid, "lab.yaml");
  BOOST_TEST(s.name == "ok");
  BOOST_TEST(s.topology.nodes().size() == 2u);
  BOOST_TEST(s.topology.node("host").bridges.at(0).addresses.at(0).str() == "192.168.1.254/24");
  BOOST_TEST(s.topology.node("host").sysctls.at(0).key == "net.ipv4.ip_forward");
  BOOST_TEST(s.topology.node("red").routes.at(0).str() == "default via 192.168.1.254");
  BOOST_TEST(s.topology.node("red").services.size() == 2u);
  BOOST_TEST(s.topology.links().at(0).b.bridge == "v-net-0");
  BOOST_TEST(s.expectations.size() == 3u);
  auto& tcp = std::get<nslab::ProbeExpectation>(s.expectations[1]);
  BOOST_TEST(tcp.probe.port == 80);
  BOOST_TEST(*tcp.served_by == "red");
  BOOST_TEST(tcp.where.str() == "lab.yaml:14:5");
  auto& m = std::get<nslab::MatrixSpec>(s.expectations[2]);
  BOOST_TEST(m.default_verdict == nslab::Verdict::refused);
  BOOST_TEST(m.exceptions.size() == 1u);
}

BOOST_AUTO_TEST_CASE(unknown_key_suggests_the_closest) {
  auto e = scenario_errors("nodes:\n  red:\n    bridgs: [ br0 ]\n");
  BOOST_TEST(has(e, "lab.yaml:3:5: unknown key \"bridgs\" in node \"red\"; did you mean \"bridges\"?"), e);
  auto top = scenario_errors("nodes: { red: }\nlnks: []\n");
  BOOST_TEST(has(top, "lab.yaml:2:1: unknown key \"lnks\" in the scenario; did you mean \"links\"?"), top);
}

BOOST_AUTO_TEST_CASE(wrong_types) {
  auto e = scenario_errors("nodes:\n  red:\n    sysctl: [ net.ipv4.ip_forward ]\n");
  BOOST_TEST(has(e, "lab.yaml:3:13: \"sysctl\" must be a mapping"), e);
  auto n = scenario_errors("nodes: [ red, blue ]\n");
  BOOST_TEST(has(n, "lab.yaml:1:8: \"nodes\" must be a mapping"), n);
  auto p = scenario_errors("nodes: { red: , blue: }\nexpect:\n  - { from: red, to: blue, tcp: http }\n");
  BOOST_TEST(has(p, "lab.yaml:3:33: port must be a whole number from 1 to 65535, not \"http\""), p);
}

BOOST_AUTO_TEST_CASE(bad_addresses_and_prefixes) {
  auto e = scenario_errors("nodes: { red: , blue: }\nlinks:\n  - [ \"red:eth0 192.168.1.300/24\", \"blue:eth0\" ]\n");
  BOOST_TEST(has(e, "lab.yaml:3:7: endpoint \"red:eth0\": \"192.168.1.300/24\" is not an address"), e);
  auto p = scenario_errors("nodes:\n  host:\n    bridges: { br0: 10.0.0.1/33 }\n");
  BOOST_TEST(has(p, "lab.yaml:3:21: bridge address \"10.0.0.1/33\" is not an address with a prefix length"), p);
}

BOOST_AUTO_TEST_CASE(links_to_unknown_nodes_and_interfaces) {
  auto e = scenario_errors("nodes: { red: }\nlinks:\n  - [ \"red:eth0 10.0.0.1/24\", \"blu:eth0 10.0.0.2/24\" ]\n");
  BOOST_TEST(has(e, "lab.yaml:3:31: link endpoint \"blu:eth0\" names unknown node \"blu\""), e);
  auto t = scenario_errors(
      "nodes: { red: , blue: }\nlinks: [ [ \"red:eth0 10.0.0.1/24\", \"blue:eth0 10.0.0.2/24\" ] ]\n"
      "expect:\n  - { from: red, to: \"blue:eth9\", icmp: reachable }\n  - { from: rde, to: blue, icmp: reachable }\n");
  BOOST_TEST(has(t, "lab.yaml:4:22: node \"blue\" has no interface \"eth9\""), t);
  BOOST_TEST(has(t, "lab.yaml:5:13: no node \"rde\"; did you mean \"red\"?"), t);
}

BOOST_AUTO_TEST_CASE(duplicate_names) {
  auto e = scenario_errors("nodes:\n  red:\n  red:\n");
  BOOST_TEST(has(e, "lab.yaml:3:3: duplicate"), e);
  BOOST_TEST(has(e, "\"red\""), e);
  auto i = scenario_errors(
      "nodes: { red: , blue: }\nlinks:\n  - [ \"red:eth0\", \"blue:eth0\" ]\n  - [ \"red:eth0\", \"blue:eth1\" ]\n");
  BOOST_TEST(has(i, "lab.yaml:4:7: duplicate interface \"red:eth0\""), i);
}

BOOST_AUTO_TEST_CASE(interface_names_over_15_characters) {
  auto e = scenario_errors("nodes: { red: , blue: }\nlinks:\n  - [ \"red:a-very-long-name0\", \"blue:eth0\" ]\n");
  BOOST_TEST(has(e,
                 "lab.yaml:3:7: link endpoint \"red:a-very-long-name0\": interface name \"a-very-long-name0\" "
                 "is 17 characters long; Linux allows at most 15"),
             e);
}

BOOST_AUTO_TEST_CASE(colliding_addresses) {
  auto e = scenario_errors(
      "nodes: { host: { bridges: [ br0 ] }, red: , blue: }\nlinks:\n"
      "  - [ \"red:eth0 10.0.0.1/24\", \"host:p1@br0\" ]\n"
      "  - [ \"blue:eth0 10.0.0.1/24\", \"host:p2@br0\" ]\n");
  BOOST_TEST(has(e, "lab.yaml:4:7: address 10.0.0.1 on \"blue:eth0\" is already in use on \"red:eth0\""), e);
}

BOOST_AUTO_TEST_CASE(gateway_off_every_subnet) {
  auto e = scenario_errors(
      "nodes:\n  red:\n    routes: [ default via 10.9.9.9 ]\n  blue:\n"
      "links: [ [ \"red:eth0 10.0.0.1/24\", \"blue:eth0 10.0.0.2/24\" ] ]\n");
  BOOST_TEST(has(e,
                 "lab.yaml:3:15: route \"default via 10.9.9.9\" on node \"red\": gateway 10.9.9.9 is not on "
                 "any subnet connected to \"red\""),
             e);
}

BOOST_AUTO_TEST_CASE(verdict_typos_and_bad_services) {
  auto e = scenario_errors(
      "nodes: { red: { services: [ tcp/99999, http ] }, blue: }\n"
      "expect: [ { from: red, to: blue, icmp: reachble } ]\n");
  BOOST_TEST(has(e, "service \"tcp/99999\" must be tcp/PORT or udp/PORT"), e);
  BOOST_TEST(has(e, "service \"http\" must be tcp/PORT or udp/PORT"), e);
  BOOST_TEST(has(e, "lab.yaml:2:40: \"reachble\" is not a verdict; did you mean \"reachable\"?"), e);
}

BOOST_AUTO_TEST_CASE(yaml_syntax_errors_have_a_location) {
  auto e = scenario_errors("nodes:\n  red: { bridges: [ br0 }\n");
  BOOST_TEST(has(e, "lab.yaml:2:"), e);
  BOOST_TEST(has(e, "YAML syntax"), e);
  BOOST_TEST(has(scenario_errors(""), "lab.yaml:1:1: the scenario is empty"));
}

BOOST_AUTO_TEST_CASE(only_net_sysctls_and_every_problem_reported) {
  auto e = scenario_errors("nodes:\n  red:\n    sysctl: { kernel.panic: 1 }\n    rotes: []\n");
  BOOST_TEST(has(e, "lab.yaml:3:15: sysctl \"kernel.panic\" is not per network namespace"), e);
  BOOST_TEST(has(e, "lab.yaml:4:5: unknown key \"rotes\""), e);
}

BOOST_AUTO_TEST_CASE(closest_and_durations) {
  BOOST_TEST(nslab::closest("bridgs", {"bridges", "routes"}) == "bridges");
  BOOST_TEST(nslab::closest("zzzzzz", {"bridges", "routes"}).empty());
  BOOST_TEST(nslab::parse_duration("500ms")->count() == 500);
  BOOST_TEST(nslab::parse_duration("1.5s")->count() == 1500);
  BOOST_TEST(nslab::parse_duration("3600s")->count() == 3600000);
  BOOST_TEST(!nslab::parse_duration("5 minutes"));
  for (const char* bad : {"nans", "nanms", "infs", "-infs", "1e300s", "3600.5s", "-1ms", "-0s", "s", ""})
    BOOST_TEST(!nslab::parse_duration(bad), bad);
}

BOOST_AUTO_TEST_SUITE_END()
