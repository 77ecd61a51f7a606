// Policy routing in scenario files (ip_rules, tables, routes' policy words,
// neighbours, arp): what is accepted, and every mistake reported at its
// file:line:column with the closest valid word. No privilege.
#include <boost/test/unit_test.hpp>

#include <fmt/format.h>

#include "nslab/scenario.h"
#include "text.h"

using nslab::testing::has;

namespace {

std::string lab(const std::string& a) {
  return "nodes:\n  a: " + a +
         "\n  b:\nlinks:\n  - [ \"a:eth0 10.0.0.1/24 fd00::1/64\", \"b:eth0 10.0.0.2/24 fd00::2/64\" ]\n"
         "  - [ \"a:eth1 10.0.1.1/24\", \"b:eth1 10.0.1.2/24\" ]\n";
}

// The first problem of `yaml` ("lab.yaml:L:C: message"), or "" when it loads.
std::string first_problem(const std::string& yaml) {
  try {
    nslab::parse_scenario(yaml, "lab.yaml");
  } catch (const nslab::ScenarioError& e) {
    return e.problems().front().what();
  }
  return {};
}

}  // namespace

BOOST_AUTO_TEST_CASE(policy_routing_keys_load) {
  auto s = nslab::parse_scenario(lab(R"({ tables: { wan2: 200 },
        ip_rules: [ "from 10.0.5.0/24 table wan2 priority 1000", "fwmark 0x1/0xff lookup 300", "iif eth1 table 200",
                    "to 10.9.0.0/16 table main", "not from all prohibit", "from fd00:1::/64 table wan2",
                    "fwmark 2 table 7 family ipv6" ],
        routes: [ "default via 10.0.0.2 table wan2 src 10.0.1.1 proto bird metric 5",
                  "10.8.0.0/16 nexthop via 10.0.0.2 weight 1 nexthop via 10.0.1.2 dev eth1 weight 2",
                  "default6 nexthop via fd00::2 dev eth0", "throw 10.4.0.0/16 table 200",
                  "local 10.3.3.3 dev lo", "10.7.0.0/16 via 192.0.2.1 dev eth0 onlink scope global",
                  { to: 10.6.0.0/16, table: wan2, nexthops: [ "via 10.0.0.2", "via 10.0.1.2 weight 3" ] },
                  { to: 10.5.0.0/16, via: 10.0.0.2, dev: eth0, src: 10.0.0.1, proto: 42, scope: 0, onlink: true, type: unicast } ],
        neighbours: [ "10.0.0.9 lladdr 02:00:00:00:00:09 dev eth0" ], arp: dynamic })"),
                                 "lab.yaml");
  const auto& a = s.topology.node("a");
  BOOST_TEST(a.tables.size() == 1u);
  BOOST_TEST(a.table_id("wan2").value() == 200u);
  BOOST_TEST(a.rules.size() == 7u);
  BOOST_TEST(a.rules[0].str() == "from 10.0.5.0/24 priority 1000 table wan2");
  BOOST_TEST(a.rules[1].str() == "from all fwmark 0x1/0xff table 300");
  BOOST_TEST(a.rules[4].str() == "not from all prohibit");
  BOOST_TEST((a.rules[5].family == nslab::Family::ipv6));
  BOOST_TEST((a.rules[6].family == nslab::Family::ipv6));
  BOOST_TEST(a.routes[0].str() == "default via 10.0.0.2 metric 5 table wan2 src 10.0.1.1 proto bird");
  BOOST_TEST(a.routes[1].nexthops.size() == 2u);
  BOOST_TEST(a.routes[1].nexthops[1].weight == 2);
  BOOST_TEST((a.routes[2].family == nslab::Family::ipv6));
  BOOST_TEST((a.routes[3].type == nslab::RouteType::throw_));
  BOOST_TEST((a.routes[4].type == nslab::RouteType::local));
  BOOST_TEST(a.routes[5].onlink);
  BOOST_TEST(a.routes[6].str() == "10.6.0.0/16 table wan2 nexthop via 10.0.0.2 nexthop via 10.0.1.2 weight 3");
  BOOST_TEST(a.routes[7].str() == "10.5.0.0/16 via 10.0.0.2 dev eth0 src 10.0.0.1 onlink proto babel scope global");
  BOOST_TEST(a.neighbours.at(0).str() == "10.0.0.9 lladdr 02:00:00:00:00:09 dev eth0");
  BOOST_TEST((a.arp == nslab::ArpMode::dynamic));
}

// The C++ builder accepts the same words and finds the same problems.
BOOST_AUTO_TEST_CASE(the_builder_says_the_same) {
  nslab::Topology t("b");
  t.add_node("a")
      .table("wan2", 200)
      .rule("from 10.0.5.0/24 table wan3")
      .route("default via 10.0.0.2 table wan2")
      .neighbour("10.0.0.9 lladdr 02:00:00:00:00:09 dev eth9");
  t.add_node("b");
  t.link("a:eth0 10.0.0.1/24", "b:eth0 10.0.0.2/24");
  auto problems = t.problems();
  BOOST_TEST_REQUIRE(problems.size() == 2u);
  BOOST_TEST(has(problems[0].what(), "no table \"wan3\""), problems[0].what());
  BOOST_TEST(has(problems[0].what(), "did you mean \"wan2\"?"), problems[0].what());
  BOOST_TEST(has(problems[1].what(), "no interface \"eth9\"; did you mean \"eth0\"?"), problems[1].what());
  BOOST_CHECK_THROW(t.node("a").rule("from 10.0.0.0/8"), nslab::ConfigError);
  BOOST_CHECK_THROW(t.node("a").route("default vai 10.0.0.2"), nslab::ConfigError);
}

BOOST_AUTO_TEST_CASE(address_options) {
  auto two = [](const std::string& a, const std::string& b) {
    return "nodes:\n  r:\n  x:\n  y:\nlinks:\n  - [ \"r:eth0 " + a + "\", \"x:eth0 10.0.0.2/24\" ]\n  - [ \"r:eth1 " +
           b + "\", \"y:eth0 10.1.0.2/24\" ]\n";
  };
  auto s = nslab::parse_scenario(
      two("10.0.0.1/24 10.0.0.5/24 noprefixroute scope link 192.0.2.1/32 shared", "10.1.0.1/24 192.0.2.1/32 shared"),
      "lab.yaml");
  const auto& e = s.topology.links()[0].a;
  BOOST_TEST(e.addresses.size() == 3u);
  BOOST_TEST_REQUIRE(e.address_options.size() == 2u);
  BOOST_TEST(e.address_options[0].str() == "10.0.0.5/24 scope link noprefixroute");
  BOOST_TEST(e.address_options[1].str() == "192.0.2.1/32 shared");
  // Without `shared`, the second is a mistake, as before.
  auto p = first_problem(two("10.0.0.1/24 192.0.2.1/32", "10.1.0.1/24 192.0.2.1/32"));
  BOOST_TEST(has(p, "lab.yaml:7:7: address 192.0.2.1 on \"r:eth1\" is already in use on \"r:eth0\""), p);
  // Shared, it is still refused twice on one segment.
  p = first_problem(two("10.0.0.1/24 10.0.0.1/24 shared", "10.1.0.1/24"));
  BOOST_TEST(has(p, "lab.yaml:6:7: address 10.0.0.1 on \"r:eth0\" is already in use on \"r:eth0\""), p);
  p = first_problem(two("10.0.0.1/24 scope lnik", "10.1.0.1/24"));
  BOOST_TEST(has(p,
                 "lab.yaml:6:7: endpoint \"r:eth0\": address 10.0.0.1/24: scope \"lnik\" is not a number from 0 "
                 "to 255 or a name; did you mean \"link\"?"),
             p);
  p = first_problem(two("noprefixroute 10.0.0.1/24", "10.1.0.1/24"));
  BOOST_TEST(has(p, "\"noprefixroute\" is not an address with a prefix length"), p);
}

BOOST_AUTO_TEST_CASE(mistakes_name_their_position_and_the_closest_word) {
  struct Case {
    std::string a;
    std::string at;  // where in `a` the problem is reported
    const char* phrase;
  };
  const std::vector<Case> cases = {
      {"{ ip_rules: [ \"form 10.0.0.0/8 table 100\" ] }", R"(")", "unknown rule word \"form\"; did you mean \"from\"?"},
      {"{ ip_rules: [ \"from 10.0.0.0/8\" ] }", R"(")", "a rule needs an action"},
      {"{ ip_rules: [ \"from 10.0.0.0/8 table 1 blackhole\" ] }", R"(")", "a second action"},
      {"{ ip_rules: [ \"from 10.0.0.0/8 to fd00::/8 table 1\" ] }", R"(")", "mix IPv4 and IPv6"},
      {"{ ip_rules: [ \"fwmark 0x1g table 1\" ] }", R"(")", "rule fwmark must be a whole number"},
      {"{ ip_rules: [ \"priority 0 table 1\" ] }", R"(")", "rule priority must be a whole number from 1"},
      {"{ ip_rules: [ \"iif eht1 table 1\" ] }", R"(")", "no interface \"eht1\"; did you mean \"eth1\"?"},
      {"{ tables: { wan2: 200 }, ip_rules: [ \"iif eth1 table wan3\" ] }", R"("iif)",
       "no table \"wan3\" (name it under \"tables\", or give its number); did you mean \"wan2\"?"},
      {"{ tables: { wan2: 254 } }", R"(wan2)", "number 254 is not free"},
      {"{ tables: { main: 7 } }", R"(main)", "main, local and default are the kernel's own tables"},
      {"{ tables: { wan2: 7, wan3: 7 } }", R"(wan3)", "number 7 is table \"wan2\" already"},
      {"{ tables: { wan2: -1 } }", R"(-1)", "a table number must be a whole number from 1 to 4294967295"},
      {"{ routes: [ \"default via 10.0.0.2 tabel 5\" ] }", R"(")",
       "unknown route word \"tabel\"; did you mean \"table\"?"},
      {"{ routes: [ \"default via 10.0.0.2 proto bgpp\" ] }", R"(")",
       "route proto \"bgpp\" is not a number from 0 to 255 or a name; did you mean \"bgp\"?"},
      {"{ routes: [ \"default via 10.0.0.2 scope lnk\" ] }", R"(")", "did you mean \"link\"?"},
      {"{ routes: [ \"default via 10.0.0.2 src 10.0.0.9\" ] }", R"(")", "source 10.0.0.9 is not an address of \"a\""},
      {"{ routes: [ \"default via 10.0.0.2 table wan9\" ] }", R"(")", "no table \"wan9\""},
      {"{ routes: [ \"default nexthop via 10.9.0.2\" ] }", R"(")",
       "gateway 10.9.0.2 is not on any subnet connected to \"a\""},
      {"{ routes: [ \"default nexthop via 10.0.0.2 dev eth7\" ] }", R"(")", "no interface \"eth7\""},
      {"{ routes: [ \"default nexthop via 10.0.0.2 weight 0\" ] }", R"(")",
       "nexthop weight must be a whole number from 1 to 256"},
      {"{ routes: [ \"default nexthop via 10.0.0.2 wieght 2\" ] }", R"(")",
       "unknown nexthop word \"wieght\"; did you mean \"weight\"?"},
      {"{ routes: [ \"default via 10.0.0.2 nexthop via 10.0.1.2\" ] }", R"(")", "gives via and dev in each nexthop"},
      {"{ routes: [ \"default nexthop via 10.0.0.2 metric 4\" ] }", R"(")", "unknown nexthop word \"metric\""},
      {"{ routes: [ \"default6 nexthop via 10.0.0.2\" ] }", R"(")", "not of the route's family"},
      {"{ routes: [ \"10.7.0.0/16 via 192.0.2.1 onlink\" ] }", R"(")",
       "onlink needs a gateway (via) and a "
       "device (dev)"},
      {"{ routes: [ \"local 10.3.3.3\" ] }", R"(")", "a local route needs a device"},
      {"{ routes: [ \"throw 10.3.0.0/16 via 10.0.0.2\" ] }", R"(")", "a throw route has no gateway"},
      {"{ routes: [ { to: 10.6.0.0/16, tabel: 5 } ] }", R"(tabel)",
       "unknown key \"tabel\" in a route; did you "
       "mean \"table\"?"},
      {"{ routes: [ { to: 10.6.0.0/16, nexthops: [ \"via 10.0.0.2 wait 2\" ] } ] }", R"("via)",
       "unknown nexthop word \"wait\""},
      {"{ routes: [ { to: 10.6.0.0/16, via: 10.0.0.2, proto: 300 } ] }", R"(300)", "route proto \"300\""},
      {"{ routes: [ { to: 10.6.0.0/16, type: throws } ] }", R"(throws)",
       "route type \"throws\" is not unicast, blackhole, unreachable, prohibit, local or throw"},
      {"{ neighbours: [ \"10.0.0.9 lladdr 02:00:00:00:00 dev eth0\" ] }", R"(")",
       "neighbour lladdr \"02:00:00:00:00\" is not a MAC address"},
      {"{ neighbours: [ \"10.0.0.9 lladdr 02:00:00:00:00:09\" ] }", R"(")", "needs \"lladdr MAC\" and \"dev"},
      {"{ neighbours: [ \"10.0.0.9 lladdr 02:00:00:00:00:09 dev eht0\" ] }", R"(")",
       "no interface \"eht0\"; did you mean \"eth0\"?"},
      {"{ neighbours: [ \"10.0.0.1 lladdr 02:00:00:00:00:09 dev eth0\" ] }", R"(")",
       "10.0.0.1 is an address of \"a\" itself"},
      {"{ neighbours: [ \"10.0.0.9 lladdr 03:00:00:00:00:09 dev eth0\" ] }", R"(")", "multicast MAC"},
      {"{ neighbours: [ \"10.0.0.9 lladr 02:00:00:00:00:09 dev eth0\" ] }", R"(")",
       "unknown neighbour word \"lladr\"; did you mean \"lladdr\"?"},
      {"{ arp: dynamc }", R"(dynamc)", "arp \"dynamc\" is not dynamic or static; did you mean \"dynamic\"?"},
      {"{ ip_rule: [] }", R"(ip_rule)", "unknown key \"ip_rule\" in node \"a\"; did you mean \"ip_rules\"?"},
  };
  for (const auto& c : cases) {
    auto p = first_problem(lab(c.a));
    BOOST_TEST_INFO(c.a << " -> " << p);
    BOOST_TEST(has(p, fmt::format("lab.yaml:2:{}:", 6 + c.a.find(c.at))));
    BOOST_TEST(has(p, c.phrase));
  }
}

// An IPv4-only lab turns IPv6 off in its nodes, and the kernel then refuses
// an IPv6 neighbour entry (EINVAL): `check` failed with "cannot add
// neighbour entries in "a": Invalid argument" and no position, where
// `validate` had accepted the file. Now validate says why, at the entry.
BOOST_AUTO_TEST_CASE(an_ipv6_neighbour_needs_ipv6_in_the_lab) {
  const std::string v4 =
      "nodes:\n  a: { neighbours: [ \"fd00::9 lladdr 02:00:00:00:00:09 dev eth0\" ] }\n  b:\n"
      "links:\n  - [ \"a:eth0 10.0.0.1/24\", \"b:eth0 10.0.0.2/24\" ]\n";
  auto p = first_problem(v4);
  BOOST_TEST(has(p, "lab.yaml:2:22:"), p);
  BOOST_TEST(has(p, "an IPv6 neighbour in a lab without IPv6 addresses"), p);
  // An IPv6 address anywhere in the lab (here on b's lo) keeps IPv6 on.
  std::string v6 = v4;
  v6.replace(v6.find("  b:\n"), 5, "  b: { interfaces: { lo: [ \"fd00:9::1/128\" ] } }\n");
  BOOST_TEST(first_problem(v6) == "");
  BOOST_TEST(first_problem(lab("{ neighbours: [ \"fd00::9 lladdr 02:00:00:00:00:09 dev eth0\" ] }")) == "");
}
