// The steps' impair, start, stop and wait actions in a scenario file: what
// each reads as, and every bad one refused at file:line:column by
// validation. No privilege needed.
#include <boost/test/unit_test.hpp>

#include <string>
#include <variant>

#include "nslab/scenario.h"
#include "scenario_errors.h"
#include "text.h"

using nslab::testing::has;
using nslab::testing::scenario_errors;

BOOST_AUTO_TEST_SUITE(step_action_validation)

namespace {

// As test_scenario_steps.cpp: the first step is on line 8.
const std::string kLab =
    "nodes:\n"
    "  a: {}\n"
    "  b: { bridges: { br0: { addresses: [ 10.0.1.1/24 ] } } }\n"
    "links: [ [ \"a:eth0 10.0.0.1/24\", \"b:eth0 10.0.0.2/24\" ] ]\n"
    "expect:\n"
    "  - { from: a, to: b, icmp: reachable }\n"
    "steps:\n";

}  // namespace

BOOST_AUTO_TEST_CASE(impair_start_stop_and_wait_read_in_order) {
  auto s = nslab::parse_scenario(
      kLab +
          "  - name: slow\n"                                                                               // 8
          "    impair: { \"a:eth0\": { rate: 1mbit, loss: 5%, direction: forward }, \"b:eth0\": none }\n"  // 9
          "    start: { node: b, name: srv, run: \"python3 -m http.server 80\", ready: { tcp: 80 }, timeout: 3s }\n"
          "    wait: { from: a, to: b, tcp: 80, verdict: reachable, within: 2s }\n"  // 11
          "  - stop: srv\n"                                                          // 12
          "    wait: { link: \"a:eth0\", state: up, within: 500ms }\n"
          "  - start: { node: b, name: srv, run: [ sleep, \"100\" ] }\n"  // 14
          "    stop: { name: srv, signal: KILL }\n",
      "lab.yaml");
  BOOST_REQUIRE(s.steps.size() == 3u);
  const auto& slow = s.steps[0].actions;
  BOOST_REQUIRE(slow.size() == 4u);
  const auto& im = std::get<nslab::ImpairAction>(slow[0]);
  BOOST_TEST(im.interface == "a:eth0");
  BOOST_REQUIRE(im.impair.rate.has_value());
  BOOST_TEST(im.impair.rate->bits_per_second == 1'000'000u);
  BOOST_TEST(*im.impair.loss_percent == 5.0);
  BOOST_TEST((im.impair.direction == nslab::Impairment::Direction::a_to_b));
  BOOST_TEST(im.where.line == 9);
  BOOST_TEST(std::get<nslab::ImpairAction>(slow[1]).impair.empty());  // none
  BOOST_TEST(nslab::to_string(slow[1]) == "impair b:eth0: none");
  const auto& start = std::get<nslab::StartAction>(slow[2]);
  BOOST_TEST(start.node == "b");
  BOOST_TEST(start.name == "srv");
  BOOST_TEST(start.run.argv.back() == "python3 -m http.server 80");
  BOOST_REQUIRE(start.run.ready_port.has_value());
  BOOST_TEST(start.run.ready_port->second == 80);
  BOOST_TEST(start.run.timeout.count() == 3000);
  BOOST_TEST(start.where.line == 10);
  const auto& wait = std::get<nslab::WaitAction>(slow[3]);
  BOOST_REQUIRE(wait.condition != nullptr);
  BOOST_TEST(wait.within.count() == 2000);
  const auto& probe = std::get<nslab::ProbeExpectation>(wait.condition->expectation);
  BOOST_TEST(probe.probe.port == 80);
  BOOST_TEST(has(nslab::to_string(slow[3]), "wait until a -> b tcp/80"));

  const auto& stop = std::get<nslab::StopAction>(s.steps[1].actions[0]);
  BOOST_TEST(stop.name == "srv");
  BOOST_TEST(!stop.kill);
  const auto& link = std::get<nslab::WaitAction>(s.steps[1].actions[1]);
  BOOST_TEST(!link.condition);
  BOOST_TEST(link.link == "a:eth0");
  BOOST_TEST(link.up);
  BOOST_TEST(link.within.count() == 500);
  BOOST_TEST(std::get<nslab::StopAction>(s.steps[2].actions[1]).kill);
}

BOOST_AUTO_TEST_CASE(bad_actions_are_positioned_errors) {
  struct Bad {
    std::string step;
    const char* where;
    const char* phrase;
  };
  const Bad cases[] = {
      {"  - { impair: { \"a:eth0\": { rate: fast } } }\n", "lab.yaml:8:35", "rate \"fast\" is not a rate"},
      {"  - { impair: { \"a:eth0\": { loss: 101% } } }\n", "lab.yaml:8:35", "loss \"101%\""},
      {"  - { impair: { \"a:eth0\": { delay: -5ms } } }\n", "lab.yaml:8:36", "delay"},
      {"  - { impair: { \"a:eth0\": { rat: 1mbit } } }\n", "lab.yaml:8:29", "did you mean \"rate\""},
      {"  - { impair: { \"a:eth0\": { } } }\n", "lab.yaml:8:27", "sets nothing"},
      {"  - { impair: { \"a:eth0\": off } }\n", "lab.yaml:8:27", "or none"},
      {"  - { impair: { \"q:eth0\": none } }\n", "lab.yaml:8:17", "no node \"q\""},
      {"  - { impair: { \"a:eth5\": none } }\n", "lab.yaml:8:17", "node \"a\" has no interface \"eth5\""},
      {"  - { impair: { \"b:br0\": none } }\n", "lab.yaml:8:17", "not an end of a link"},
      {"  - { impair: { a: none } }\n", "lab.yaml:8:17", "is not node:interface"},
      {"  - { impair: [ \"a:eth0\" ] }\n", "lab.yaml:8:15", "\"impair\" is a mapping"},
      {"  - { start: { node: a, name: srv } }\n", "lab.yaml:8:14", "needs node, name and run"},
      {"  - { start: { node: z, name: srv, run: \"sleep 9\" } }\n", "lab.yaml:8:22", "no node \"z\""},
      {"  - { start: { node: a, name: \"s v\", run: \"sleep 9\" } }\n", "lab.yaml:8:31", "program name \"s v\""},
      {"  - { start: { node: a, name: srv, run: \"  \" } }\n", "lab.yaml:8:41", "is empty"},
      {"  - { start: { node: a, name: srv, run: x, ready: { tcp: 99999 } } }\n", "lab.yaml:8:58", "port"},
      {"  - { start: { node: a, name: srv, run: x, exit: 0 } }\n", "lab.yaml:8:44", "unknown key \"exit\""},
      {"  - { start: { node: a, name: srv, run: x, env: { 1A: x } } }\n", "lab.yaml:8:51", "environment variable"},
      {"  - { stop: srv }\n", "lab.yaml:8:13", "no running program \"srv\" to stop (no step has started one)"},
      {"  - { stop: { name: srv, signal: HUP } }\n", "lab.yaml:8:34", "signal \"HUP\""},
      {"  - { stop: { name: srv, signal: KILL, grace: 1s } }\n", "lab.yaml:8:47", "with signal KILL there is none"},
      {"  - { stop: { signal: TERM } }\n", "lab.yaml:8:13", "needs the name"},
      {"  - { start: { node: a, name: srv, run: x } }\n  - { start: { node: b, name: srv, run: y } }\n",
       "lab.yaml:9:14", "program \"srv\" is already running (started at lab.yaml:8:14)"},
      {"  - { start: { node: a, name: srv, run: x } }\n  - { stop: srv }\n  - { stop: srv }\n", "lab.yaml:10:13",
       "no running program \"srv\""},
      {"  - { start: { node: a, name: srv, run: x } }\n  - { stop: web }\n", "lab.yaml:9:13", "running: srv"},
      {"  - { wait: { from: a, to: b, icmp: reachable } }\n", "lab.yaml:8:13", "needs \"within\""},
      {"  - { wait: { from: a, to: b, icmp: reachable, within: forever } }\n", "lab.yaml:8:56", "within"},
      {"  - { wait: { from: a, to: b, icmp: reachable, within: 0ms } }\n", "lab.yaml:8:56", "from 10ms to 600s"},
      {"  - { wait: { from: a, to: q, icmp: reachable, within: 1s } }\n", "lab.yaml:8:28", "no node \"q\""},
      {"  - { wait: { from: a, to: b, icmp: maybe, within: 1s } }\n", "lab.yaml:8:37", "\"maybe\" is not a verdict"},
      {"  - { wait: { matrix: { protocol: icmp, nodes: [a, b] }, within: 1s } }\n", "lab.yaml:8:23", "not a matrix"},
      {"  - { wait: { link: \"a:eth9\", within: 1s } }\n", "lab.yaml:8:21", "no interface \"eth9\""},
      {"  - { wait: { link: \"a:eth0\", state: sideways, within: 1s } }\n", "lab.yaml:8:38", "not up or down"},
      {"  - { wait: { link: \"a:eth0\", icmp: reachable, within: 1s } }\n", "lab.yaml:8:31", "unknown key \"icmp\""},
      {"  - { wait: 5s }\n", "lab.yaml:8:13", "\"wait\" is an expectation with \"within\""},
      {"  - { rule: { node: a, add: \"from 10.0.0.0/24 table wan9\" } }\n", "lab.yaml:8:29", "no table \"wan9\""},
      {"  - { rule: { node: a, add: \"from nowhere table main\" } }\n", "lab.yaml:8:29", "not \"nowhere\""},
      {"  - { rule: { node: a } }\n", "lab.yaml:8:13", "one of add: RULE or del: RULE"},
      {"  - { rule: { node: a, add: \"table main\", del: \"table main\" } }\n", "lab.yaml:8:13", "one of add"},
      {"  - { rule: { node: z, add: \"table main\" } }\n", "lab.yaml:8:21", "no node \"z\""},
      {"  - { rule: { node: a, add: \"iif eth7 table main\" } }\n", "lab.yaml:8:29", "no interface \"eth7\""},
      {"  - { rule: { node: a, add: \"table main\", via: x } }\n", "lab.yaml:8:43", "unknown key \"via\""},
      {"  - { rule: { node: a, add: [ x ] } }\n", "lab.yaml:8:29", "must be a single value"},
  };
  for (const auto& c : cases) {
    std::string errors = scenario_errors(kLab + c.step);
    BOOST_TEST_CONTEXT(c.step) {
      BOOST_TEST(has(errors, c.where), errors);
      BOOST_TEST(has(errors, c.phrase), errors);
      BOOST_TEST(!has(errors, "not a ScenarioError"), errors);
      BOOST_TEST(!has(errors, "has no action"), errors);
    }
  }
}

BOOST_AUTO_TEST_CASE(a_policy_rule_is_added_and_deleted_in_order) {
  auto s = nslab::parse_scenario(kLab +
                                     "  - rule: { node: a, add: \"from 10.0.0.0/24 table main priority 100\" }\n"  // 8
                                     "  - rule: { node: a, del: \"from 10.0.0.0/24 table main priority 100\" }\n",
                                 "lab.yaml");
  BOOST_REQUIRE(s.steps.size() == 2u);
  const auto& add = std::get<nslab::RuleAction>(s.steps[0].actions.at(0));
  BOOST_TEST(add.add);
  BOOST_TEST(add.node == "a");
  BOOST_TEST(*add.rule.priority == 100u);
  BOOST_TEST(add.rule.where.line == 8);
  BOOST_TEST(!std::get<nslab::RuleAction>(s.steps[1].actions.at(0)).add);
  BOOST_TEST(nslab::to_string(s.steps[1].actions.at(0)) == "rule del on a: " + add.rule.str());
}

// Hostile values never crash the loader and are refused with a position.
BOOST_AUTO_TEST_CASE(hostile_values_are_refused) {
  const char* cases[] = {
      "  - { impair: { \"a:eth0\": { rate: 1e300mbit } } }\n",
      "  - { impair: { \"a:eth0\": { loss: nan% } } }\n",
      "  - { impair: { \"a:eth0\": { delay: 1e300s } } }\n",
      "  - { impair: { \"a:eth0\\x01\": none } }\n",
      "  - { start: { node: a, name: \"\\x1b[31m\", run: x } }\n",
      "  - { start: { node: a, name: srv, run: [ \"\" ] } }\n",
      "  - { start: { node: [a], name: srv, run: x } }\n",
      "  - { stop: { name: { x: 1 } } }\n",
      "  - { stop: { name: srv, grace: 1e300s } }\n",
      "  - { wait: { from: a, to: b, icmp: reachable, within: nan } }\n",
      "  - { wait: { within: 1s } }\n",
      "  - { wait: { link: [x], within: 1s } }\n",
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
