// `steps:` in a scenario file: what each action reads as, and every bad
// action refused at file:line:column by validation. No privilege needed.
#include <boost/test/unit_test.hpp>

#include <string>
#include <variant>

#include "nslab/scenario.h"
#include "scenario_errors.h"
#include "text.h"

using nslab::testing::has;
using nslab::testing::scenario_errors;

BOOST_AUTO_TEST_SUITE(scenario_steps)

namespace {

// Lines 1-6: two nodes on one veth pair, one top-level expectation; the
// steps start at line 7 ("steps:"), so the first step is on line 8.
const std::string kLab =
    "nodes:\n"
    "  a: {}\n"
    "  b: { iptables: \"-A INPUT -j ACCEPT\\n\" }\n"
    "links: [ [ \"a:eth0 10.0.0.1/24\", \"b:eth0 10.0.0.2/24\" ] ]\n"
    "expect:\n"
    "  - { from: a, to: b, icmp: reachable }\n"
    "steps:\n";

}  // namespace

BOOST_AUTO_TEST_CASE(every_action_reads_in_file_order_with_its_expectations) {
  auto s = nslab::parse_scenario(
      kLab +
          "  - name: cut\n"
          "    link: { \"a:eth0\": down }\n"
          "    expect: [ { from: a, to: b, icmp: unreachable } ]\n"
          "  - name: rules\n"
          "    rules: { node: b, iptables: \"-A INPUT -p icmp -j DROP\\n\" }\n"
          "    flush: { node: a }\n"
          "    route: { node: a, add: \"10.9.0.0/16 via 10.0.0.2\" }\n"
          "    sysctl: { node: a, net.ipv4.ip_forward: 0 }\n"
          "    expect: [ { from: a, to: b, icmp: blocked }, { from: b, to: a, icmp: reachable } ]\n"
          "  - route: { node: a, del: \"10.9.0.0/16 via 10.0.0.2\" }\n",
      "lab.yaml");
  BOOST_TEST(s.expectations.size() == 1u);  // the steps' own stay theirs
  BOOST_REQUIRE(s.steps.size() == 3u);
  const auto& cut = s.steps[0];
  BOOST_TEST(cut.name == "cut");
  BOOST_TEST(cut.where.line == 8);
  BOOST_REQUIRE(cut.actions.size() == 1u);
  const auto& link = std::get<nslab::LinkAction>(cut.actions[0]);
  BOOST_TEST(link.interface == "a:eth0");
  BOOST_TEST(!link.up);
  BOOST_TEST(link.where.line == 9);
  BOOST_REQUIRE(cut.expectations.size() == 1u);
  BOOST_TEST(std::get<nslab::ProbeExpectation>(cut.expectations[0]).verdict == nslab::Verdict::unreachable);

  const auto& rules = s.steps[1];
  BOOST_REQUIRE(rules.actions.size() == 4u);
  const auto& r = std::get<nslab::RulesAction>(rules.actions[0]);
  BOOST_TEST(r.node == "b");
  BOOST_TEST(!r.flush_only);
  BOOST_TEST(has(r.rules.iptables.text, "-A INPUT -p icmp -j DROP"));
  BOOST_TEST(std::get<nslab::RulesAction>(rules.actions[1]).flush_only);
  const auto& route = std::get<nslab::RouteAction>(rules.actions[2]);
  BOOST_TEST(route.add);
  BOOST_TEST(route.route.str() == "10.9.0.0/16 via 10.0.0.2");
  const auto& sysctl = std::get<nslab::SysctlAction>(rules.actions[3]);
  BOOST_REQUIRE(sysctl.sysctls.size() == 1u);
  BOOST_TEST(sysctl.sysctls[0].key == "net.ipv4.ip_forward");
  BOOST_TEST(sysctl.sysctls[0].value == "0");
  BOOST_TEST(rules.expectations.size() == 2u);

  BOOST_TEST(s.steps[2].name == "step 3");  // unnamed: its number
  BOOST_TEST(!std::get<nslab::RouteAction>(s.steps[2].actions[0]).add);
  BOOST_TEST(nslab::to_string(s.steps[0].actions[0]) == "link a:eth0 down");
}

BOOST_AUTO_TEST_CASE(a_file_with_only_steps_checks_something) {
  auto s = nslab::parse_scenario(
      "nodes: { a: {}, b: {} }\n"
      "links: [ [ \"a:eth0 10.0.0.1/24\", \"b:eth0 10.0.0.2/24\" ] ]\n"
      "steps: [ { link: { \"a:eth0\": down }, expect: [ { from: a, to: b, icmp: unreachable } ] } ]\n",
      "lab.yaml");
  BOOST_TEST(s.warnings.empty());
  BOOST_TEST(s.steps.size() == 1u);
}

// Each bad step is refused with its position and a reason.
BOOST_AUTO_TEST_CASE(bad_steps_are_positioned_errors) {
  struct Bad {
    std::string step;
    const char* where;
    const char* phrase;
  };
  const Bad cases[] = {
      {"  - { name: x, lnk: { \"a:eth0\": down } }\n", "lab.yaml:8:16", "did you mean \"link\""},
      {"  - { link: { \"c:eth0\": down } }\n", "lab.yaml:8:15", "no node \"c\""},
      {"  - { link: { \"a:eth9\": down } }\n", "lab.yaml:8:15", "node \"a\" has no interface \"eth9\""},
      {"  - { link: { \"a:eth0\": sideways } }\n", "lab.yaml:8:25", "link state \"sideways\" is not up or down"},
      {"  - { link: { a: down } }\n", "lab.yaml:8:15", "\"a\" is not node:interface"},
      {"  - { link: { \"10.0.0.1\": down } }\n", "lab.yaml:8:15", "is not node:interface"},
      {"  - { link: { \"a:lo\": down } }\n", "lab.yaml:8:15", "loopback"},
      {"  - { link: [ \"a:eth0\" ] }\n", "lab.yaml:8:13", "\"link\" is a mapping"},
      {"  - { name: idle }\n", "lab.yaml:8:5", "has no action"},
      {"  - { flush: { node: z } }\n", "lab.yaml:8:22", "no node \"z\""},
      {"  - { flush: { node: a, iptables: x } }\n", "lab.yaml:8:25", "unknown key \"iptables\""},
      {"  - { rules: { node: a } }\n", "lab.yaml:8:14", "needs iptables, ip6tables or nftables"},
      {"  - { rules: { iptables: \"-A INPUT -j DROP\" } }\n", "lab.yaml:8:14", "needs \"node\""},
      {"  - { rules: { node: a, nftables: \"include \\\"/etc/passwd\\\"\" } }\n", "lab.yaml:8:", "include"},
      {"  - { rules: { node: a, iptables: \"-A\" } }\n", "lab.yaml:8:", "-A takes a CHAIN"},
      {"  - { route: { node: a, add: \"10.9.0.0/16 via nowhere\" } }\n", "lab.yaml:8:30", "nowhere"},
      {"  - { route: { node: a, add: \"10.9.0.0/16 dev eth7\" } }\n", "lab.yaml:8:30", "no interface \"eth7\""},
      {"  - { route: { node: a } }\n", "lab.yaml:8:14", "one of add: ROUTE or del: ROUTE"},
      {"  - { route: { node: a, add: \"10.9.0.0/16 via 10.0.0.2\", del: \"10.9.0.0/16 via 10.0.0.2\" } }\n",
       "lab.yaml:8:14", "one of add"},
      {"  - { route: { node: a, add: \"10.9.0.0/16 via 10.0.0.2 table wan\" } }\n", "lab.yaml:8:30",
       "no table \"wan\""},
      {"  - { route: { node: a, add: \"10.9.0.0/16 nexthop via 10.0.0.2 dev eth7 nexthop via 10.0.0.3\" } }\n",
       "lab.yaml:8:30", "no interface \"eth7\""},
      {"  - { route: { node: a, add: \"10.9.0.0/16 nexthop via 10.5.0.2 nexthop via 10.0.0.3\" } }\n", "lab.yaml:8:30",
       "gateway 10.5.0.2 is not on any subnet connected"},
      {"  - { sysctl: { node: a, net.core.rmem_max: 1 } }\n", "lab.yaml:8:26", "machine-wide"},
      {"  - { sysctl: { node: a, net.ipv4.ip_forward: \"1\\n2\" } }\n", "lab.yaml:8:47", "one line"},
      {"  - { sysctl: { node: a } }\n", "lab.yaml:8:15", "at least one key"},
      {"  - { sysctl: { net.ipv4.ip_forward: 1 } }\n", "lab.yaml:8:15", "{ node: NAME, KEY: VALUE"},
      {"  - { link: { \"a:eth0\": down }, expect: [ { from: a, to: q, icmp: reachable } ] }\n", "lab.yaml:8:58",
       "no node \"q\""},
      {"  - { link: { \"a:eth0\": down }, expect: [ { from: a, to: b, icmp: maybe } ] }\n", "lab.yaml:8:67",
       "\"maybe\" is not a verdict"},
  };
  for (const auto& c : cases) {
    std::string errors = scenario_errors(kLab + c.step);
    BOOST_TEST_CONTEXT(c.step) {
      BOOST_TEST(has(errors, c.where), errors);
      BOOST_TEST(has(errors, c.phrase), errors);
      BOOST_TEST(!has(errors, "not a ScenarioError"), errors);
      if (std::string(c.phrase) != "has no action") BOOST_TEST(!has(errors, "has no action"), errors);
    }
  }
  // Not a list at all.
  auto errors = scenario_errors(kLab.substr(0, kLab.size() - 7) + "steps: { link: x }\n");
  BOOST_TEST(has(errors, "lab.yaml:7:8: \"steps\" must be a list"), errors);
}

// Hostile values: huge, NaN, NUL-ish and control characters never crash
// the loader and are refused with a position.
BOOST_AUTO_TEST_CASE(hostile_values_are_refused) {
  const char* cases[] = {
      "  - { route: { node: a, add: \"1e300.0.0.0/8 via 10.0.0.2\" } }\n",
      "  - { route: { node: a, add: \"nan\" } }\n",
      "  - { route: { node: a, add: \"10.9.0.0/99 via 10.0.0.2\" } }\n",
      "  - { route: { node: a, add: \"10.9.0.0/16 via 10.0.0.2 metric -1\" } }\n",
      "  - { link: { \"a:eth0\": 1e300 } }\n",
      "  - { name: \"two\\nlines\", link: { \"a:eth0\": down } }\n",
      "  - { sysctl: { node: a, \"../../etc/passwd\": 1 } }\n",
      "  - [ link ]\n",
  };
  for (const char* step : cases) {
    std::string errors = scenario_errors(kLab + step);
    BOOST_TEST_CONTEXT(step) {
      BOOST_TEST(has(errors, "lab.yaml:8:"), errors);
      BOOST_TEST(!has(errors, "not a ScenarioError"), errors);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
