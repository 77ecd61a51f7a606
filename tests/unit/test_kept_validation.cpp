// Kept connections in a scenario file (`keep: NAME` on a probe, `kept: NAME`
// later): what they read as, and every misuse refused at file:line:column.
// No privilege needed.
#include <boost/test/unit_test.hpp>

#include <string>
#include <variant>

#include "nslab/scenario.h"
#include "scenario_errors.h"
#include "text.h"

using nslab::testing::has;
using nslab::testing::scenario_errors;

BOOST_AUTO_TEST_SUITE(kept_validation)

namespace {

// Lines 1-4: two nodes on one veth pair, b serves tcp/80 and udp/53; the
// top-level expectations start on line 5.
const std::string kLab =
    "nodes:\n"
    "  a: {}\n"
    "  b: { services: [ tcp/80, udp/53 ] }\n"
    "links: [ [ \"a:eth0 10.0.0.1/24\", \"b:eth0 10.0.0.2/24\" ] ]\n";

}  // namespace

BOOST_AUTO_TEST_CASE(keep_and_kept_read_across_steps) {
  auto s = nslab::parse_scenario(kLab +
                                     "expect:\n"
                                     "  - { from: a, to: b, tcp: 80, verdict: reachable, keep: web }\n"
                                     "  - { from: a, to: b, udp: 53, keep: dns }\n"
                                     "  - { kept: web, verdict: reachable }\n"
                                     "steps:\n"
                                     "  - name: later\n"
                                     "    flush: { node: b }\n"
                                     "    expect:\n"
                                     "      - { kept: web, verdict: blocked, payload: \"hello\\n\" }\n"
                                     "      - { kept: dns, verdict: refused }\n",
                                 "lab.yaml");
  BOOST_REQUIRE(s.expectations.size() == 3u);
  const auto& open = std::get<nslab::ProbeExpectation>(s.expectations[0]);
  BOOST_TEST(open.keep.value_or("") == "web");
  BOOST_TEST(std::get<nslab::ProbeExpectation>(s.expectations[1]).keep.value_or("") == "dns");
  const auto& k0 = std::get<nslab::KeptExpectation>(s.expectations[2]);
  BOOST_TEST(k0.name == "web");
  BOOST_TEST(k0.verdict == nslab::Verdict::reachable);
  BOOST_TEST(k0.payload.empty());
  BOOST_TEST(k0.where.line == 8);
  BOOST_TEST(k0.str() == "kept web (a -> b tcp/80): reachable");
  BOOST_REQUIRE(s.steps.size() == 1u);
  const auto& later = s.steps[0].expectations;
  BOOST_REQUIRE(later.size() == 2u);
  const auto& k1 = std::get<nslab::KeptExpectation>(later[0]);
  BOOST_TEST(k1.verdict == nslab::Verdict::blocked);
  BOOST_TEST(k1.payload == "hello\n");
  BOOST_TEST(std::get<nslab::KeptExpectation>(later[1]).opened == "a -> b udp/53");
}

// Each misuse is refused with its position and a reason.
BOOST_AUTO_TEST_CASE(misused_keeps_are_positioned_errors) {
  struct Bad {
    std::string expect;
    const char* where;
    const char* phrase;
  };
  const Bad cases[] = {
      // line 6: the first expectation
      {"  - { kept: nope, verdict: reachable }\n", "lab.yaml:6:13", "no probe keeps a connection named \"nope\""},
      {"  - { from: a, to: b, tcp: 80, keep: web }\n  - { kept: wbe, verdict: reachable }\n", "lab.yaml:7:13",
       "did you mean \"web\""},
      {"  - { kept: web, verdict: reachable }\n  - { from: a, to: b, tcp: 80, keep: web }\n", "lab.yaml:6:13",
       "used before it is opened (keep: web at lab.yaml:7:38)"},
      {"  - { from: a, to: b, tcp: 80, keep: web }\n  - { from: a, to: b, tcp: 80, keep: web }\n", "lab.yaml:7:38",
       "already opened at lab.yaml:6:38"},
      {"  - { from: a, to: b, icmp: reachable, keep: ping }\n", "lab.yaml:6:46", "keep needs a tcp or udp probe"},
      {"  - { from: a, to: b, tcp: [80, 81], keep: web }\n", "lab.yaml:6:44", "keep needs a single port"},
      {"  - { from: a, to: b, tcp: 80, verdict: blocked, keep: web }\n", "lab.yaml:6:56",
       "keep needs verdict: reachable"},
      {"  - { from: a, to: b, tcp: 80, keep: \"\" }\n", "lab.yaml:6:38", "name is empty"},
      {"  - { from: a, to: b, tcp: 80, keep: \"web page\" }\n", "lab.yaml:6:38", "must be letters, digits"},
      {"  - { from: a, to: b, tcp: 80, keep: \"-x\" }\n", "lab.yaml:6:38", "starting with a letter or digit"},
      {"  - { from: a, to: b, tcp: 80, keep: [web] }\n", "lab.yaml:6:38", "keep must be a single value"},
      {"  - { from: a, to: b, tcp: 80, keep: " + std::string(65, 'k') + " }\n", "lab.yaml:6:38",
       "at most 64 characters"},
      {"  - { from: a, to: b, tcp: 80, keep: web }\n  - { kept: web }\n", "lab.yaml:7:5", "needs \"verdict\""},
      {"  - { from: a, to: b, tcp: 80, keep: web }\n  - { kept: web, verdict: maybe }\n", "lab.yaml:7:27",
       "\"maybe\" is not a verdict"},
      {"  - { from: a, to: b, tcp: 80, keep: web }\n  - { kept: web, verdict: reachable, tcp: 80 }\n", "lab.yaml:7:38",
       "unknown key \"tcp\" in a kept-connection expectation"},
      {"  - { from: a, to: b, tcp: 80, keep: web }\n  - { kept: web, verdict: reachable, payload: \"\" }\n",
       "lab.yaml:7:47", "payload is empty"},
      {"  - matrix: { protocol: tcp, port: 80, nodes: [a, b], keep: web }\n", "lab.yaml:6:61",
       "a matrix cannot keep connections"},
      {"  - { from: a, to: b, scan: tcp/80, open: [80], keep: web }\n", "lab.yaml:6:", "unknown key \"keep\""},
      {"  - { from: a, to: b, via: b, keep: web }\n", "lab.yaml:6:", "unknown key \"keep\""},
      {"  - capture: { on: \"b:eth0\", during: { from: a, to: b, tcp: 80, keep: web } }\n",
       "lab.yaml:6:", "unknown key \"keep\""},
      {"  - { kept: \"\\x01\\n\", verdict: reachable }\n", "lab.yaml:6:13", "must be letters, digits"},
  };
  for (const auto& c : cases) {
    std::string text = scenario_errors(kLab + "expect:\n" + c.expect);
    BOOST_TEST_CONTEXT(c.expect) {
      BOOST_TEST(!has(text, "not a ScenarioError"), text);
      BOOST_TEST(has(text, c.where), text);
      BOOST_TEST(has(text, c.phrase), text);
    }
  }
}

// One problem, one message: a payload that is not text is not also "empty".
BOOST_AUTO_TEST_CASE(a_payload_list_is_one_error) {
  std::string text = scenario_errors(kLab +
                                     "expect:\n"
                                     "  - { from: a, to: b, tcp: 80, keep: web }\n"
                                     "  - { kept: web, verdict: reachable, payload: [1] }\n");
  BOOST_TEST(has(text, "lab.yaml:7:47: payload must be a single value, not a list"), text);
  BOOST_TEST(!has(text, "empty"), text);
}

// A name opened in a step is usable in later steps only: the top-level list
// runs first, then each step in order.
BOOST_AUTO_TEST_CASE(a_kept_name_is_opened_before_it_is_used_in_run_order) {
  std::string text = scenario_errors(kLab +
                                     "expect:\n"
                                     "  - { kept: web, verdict: reachable }\n"
                                     "steps:\n"
                                     "  - expect: [ { from: a, to: b, tcp: 80, keep: web } ]\n");
  BOOST_TEST(has(text, "lab.yaml:6:13"), text);
  BOOST_TEST(has(text, "used before it is opened"), text);
  // steps written before expect: still run after it.
  auto s = nslab::parse_scenario(kLab +
                                     "steps:\n"
                                     "  - expect: [ { kept: web, verdict: reachable } ]\n"
                                     "expect:\n"
                                     "  - { from: a, to: b, tcp: 80, keep: web }\n",
                                 "lab.yaml");
  BOOST_TEST(s.steps.size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
