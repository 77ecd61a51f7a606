// Reuse in scenario files: anchors, aliases and merge keys (<<), `defaults`
// for every node and `groups` of alike nodes; problems in reused text point
// where that text is written. No privilege.
#include <boost/test/unit_test.hpp>

#include "nslab/scenario.h"
#include "text.h"

using nslab::testing::has;

namespace {

std::string first_problem(const std::string& yaml) {
  try {
    nslab::parse_scenario(yaml, "lab.yaml");
  } catch (const nslab::ScenarioError& e) {
    return e.problems().front().what();
  }
  return {};
}

const std::string kLinks = R"(links:
  - [ "a:eth0 10.0.0.1/24", "gw:a 10.0.0.254/24" ]
  - [ "b:eth0 10.0.1.2/24", "gw:b 10.0.1.254/24" ]
)";

}  // namespace

BOOST_AUTO_TEST_CASE(merge_keys_fill_in_what_a_map_does_not_have) {
  auto s = nslab::parse_scenario(R"(x-host: &host
  routes: [ default via 10.0.0.254 ]
  sysctl: { net.ipv4.ip_forward: 1 }
x-svc: &svc
  services: [ tcp/80 ]
  routes: [ default via 10.0.0.253 ]
nodes:
  a:
    <<: [ *host, *svc ]
  b:
    <<: *host
    routes: [ default via 10.0.1.254 ]
  gw: *svc
)" + kLinks,
                                 "lab.yaml");
  const auto& a = s.topology.node("a");
  BOOST_TEST(a.routes.size() == 1u);
  BOOST_TEST(a.routes[0].str() == "default via 10.0.0.254");  // the first map of the list wins
  BOOST_TEST(a.services.size() == 1u);
  BOOST_TEST(a.sysctls.size() == 1u);
  const auto& b = s.topology.node("b");
  BOOST_TEST(b.routes.at(0).str() == "default via 10.0.1.254");  // its own key wins
  BOOST_TEST(b.services.empty());
  BOOST_TEST(s.topology.node("gw").services.size() == 1u);  // a plain alias
}

BOOST_AUTO_TEST_CASE(a_problem_in_merged_text_points_into_the_anchor) {
  auto p = first_problem(R"(x-host: &host
  routes: [ default via 10.0.0.254 ]
  sysctls: { net.ipv4.ip_forward: 1 }
nodes:
  a: { <<: *host }
  b:
  gw:
)" + kLinks);
  BOOST_TEST(has(p, "lab.yaml:3:3: unknown key \"sysctls\" in node \"a\"; did you mean \"sysctl\"?"), p);
  p = first_problem("nodes:\n  a: { <<: 5 }\n  b:\n");
  BOOST_TEST(has(p, "lab.yaml:2:12: a merge key (<<) takes a mapping or a list of mappings"), p);
  // A quoted "<<" is an ordinary key.
  p = first_problem("nodes:\n  a: { \"<<\": {} }\n  b:\n");
  BOOST_TEST(has(p, "lab.yaml:2:8: unknown key \"<<\" in node \"a\""), p);
}

BOOST_AUTO_TEST_CASE(aliases_of_aliases_are_bounded) {
  std::string yaml = "x-0: &a0 [ 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 ]\n";
  for (int i = 1; i < 9; ++i)
    yaml += "x-" + std::to_string(i) + ": &a" + std::to_string(i) + " [ *a" + std::to_string(i - 1) + ", *a" +
            std::to_string(i - 1) + ", *a" + std::to_string(i - 1) + ", *a" + std::to_string(i - 1) + " ]\n";
  yaml += "nodes:\n  a:\n";
  auto p = first_problem(yaml);
  BOOST_TEST(has(p, "the scenario expands to more than 200000 YAML nodes"), p);
}

BOOST_AUTO_TEST_CASE(defaults_apply_to_every_node) {
  auto s = nslab::parse_scenario(R"(defaults:
  sysctl: { net.ipv4.ip_forward: 1, net.ipv4.conf.all.rp_filter: 0 }
  routes: [ default via 10.0.0.254 ]
nodes:
  a:
  b:
    routes: [ default via 10.0.1.254 ]
    sysctl: { net.ipv4.ip_forward: 0 }
  gw:
    routes: []
)" + kLinks,
                                 "lab.yaml");
  const auto& a = s.topology.node("a");
  BOOST_TEST(a.routes.at(0).str() == "default via 10.0.0.254");
  BOOST_TEST(a.sysctls.size() == 2u);
  const auto& b = s.topology.node("b");
  BOOST_TEST(b.routes.at(0).str() == "default via 10.0.1.254");
  BOOST_TEST_REQUIRE(b.sysctls.size() == 2u);
  BOOST_TEST(b.sysctls[0].value == "0");  // the node's own value wins, key by key
  BOOST_TEST(s.topology.node("gw").routes.empty());
  auto p = first_problem("defaults: { route: [] }\nnodes:\n  a:\n");
  BOOST_TEST(has(p, "lab.yaml:1:13: unknown key \"route\" in defaults; did you mean \"routes\"?"), p);
  // A default's problem is reported where the default is written.
  p = first_problem("defaults: { routes: [ default via 10.9.9.9 ] }\nnodes:\n  a:\n");
  BOOST_TEST(has(p, "lab.yaml:1:23:"), p);
}

BOOST_AUTO_TEST_CASE(a_group_makes_alike_nodes_and_their_links) {
  auto s = nslab::parse_scenario(R"(nodes:
  sw:
    bridges: { br0: 10.0.1.1/24 }
groups:
  pc:
    count: 20
    node: { routes: [ default via 10.0.1.1 ] }
    links: [ [ "pc{i}:eth0 10.0.1.{i+9}/24", "sw:p{i}@br0" ] ]
)",
                                 "lab.yaml");
  BOOST_TEST(s.topology.nodes().size() == 21u);
  BOOST_TEST(s.topology.links().size() == 20u);
  BOOST_TEST(s.topology.node("pc20").routes.at(0).str() == "default via 10.0.1.1");
  BOOST_TEST(s.topology.links().back().a.label() == "pc20:eth0");
  BOOST_TEST(s.topology.links().back().a.addresses.at(0).str() == "10.0.1.29/24");
  BOOST_TEST(s.topology.links().back().b.bridge == "br0");
  auto p = first_problem(R"(nodes:
  sw: { bridges: [ br0 ] }
groups:
  pc:
    count: 2
    links: [ [ "pc{i}:eth0 10.0.1.{j}/24", "sw:p{i}@br0" ] ]
)");
  BOOST_TEST(has(p, "lab.yaml:6:16: \"pc{i}:eth0 10.0.1.{j}/24\": \"{j}\" is not {i}, {i+N} or {i-N}"), p);
  p = first_problem("nodes:\n  pc1:\ngroups:\n  pc: { count: 2 }\n");
  BOOST_TEST(has(p, "lab.yaml:4:3: duplicate node \"pc1\""), p);
  p = first_problem("nodes:\n  a:\ngroups:\n  pc: { cuont: 2 }\n");
  BOOST_TEST(has(p, "unknown key \"cuont\" in group \"pc\"; did you mean \"count\"?"), p);
}
