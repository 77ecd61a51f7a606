// What decided a probe when no firewall rule did: the kernel's own drop
// counters (a missing route, forwarding off, rp_filter) name the node, and
// its routes and sysctls say why. Each case has its independent witness run
// inside the node: `nstat` (iproute2) shows the same counter moving, `ip
// route get` the missing route.
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <regex>
#include <string>

#include "nslab/lab_fixture.h"
#include "nslab/rule_hits.h"
#include "nslab/scenario.h"
#include "nslab/witness.h"
#include "text.h"

using nslab::testing::has;

namespace {

// a -- r -- b. r forwards and has no route to b's 10.9.0.5; b has no route
// back to a's subnet; a also owns 10.0.2.99 (on lo), an address of r's b side.
const char* kLab = R"(nodes:
  a:
    routes: [ default via 10.0.1.1 ]
    interfaces: { lo: [ 10.0.2.99/32 ] }
  r:
    sysctl: { net.ipv4.ip_forward: 1 }
    services: [ tcp/22 ]
  b:
    interfaces: { lo: [ 10.9.0.5/32 ] }
    services: [ tcp/80 ]
links:
  - [ "a:eth0 10.0.1.2/24", "r:ra 10.0.1.1/24" ]
  - [ "r:rb 10.0.2.1/24", "b:eth0 10.0.2.2/24" ]
)";

// One counter of the node's IP MIB, as iproute2's nstat reads it (-s: its
// history file is left alone).
std::uint64_t nstat(const nslab::Node& node, const std::string& name) {
  auto r = nslab::run_in_node(node, "nstat -asz " + name);
  BOOST_REQUIRE_EQUAL(r.status, 0);
  std::smatch m;
  std::regex line(name + R"(\s+(\d+))");
  BOOST_REQUIRE_MESSAGE(std::regex_search(r.output, m, line), "no " << name << " in: " << r.output);
  return std::stoull(m[1]);
}

nslab::Probe icmp(std::string from, std::string to) {
  return nslab::Probe{.from = std::move(from), .to = std::move(to)};
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(explain, nslab::LabFixture)

BOOST_AUTO_TEST_CASE(a_router_without_a_route_is_named_with_the_address) {
  auto& lab = build(nslab::parse_scenario(kLab, "explain.yaml").topology);
  auto before = nstat(lab.node("r"), "IpExtInNoRoutes");
  auto result = lab.probe(icmp("a", "10.9.0.5"));
  BOOST_TEST(result.verdict == nslab::Verdict::unreachable);
  auto why = nslab::explain(lab, result);
  BOOST_TEST(has(why, "no route on r for 10.9.0.5 (re-run alone: unreachable)"), why);
  // The witnesses: r counted the drop, and has no route.
  BOOST_TEST(nstat(lab.node("r"), "IpExtInNoRoutes") > before);
  auto get = nslab::run_in_node(lab.node("r"), "ip route get 10.9.0.5 2>&1");
  BOOST_TEST(has(get.output, "unreachable"), get.output);
}

BOOST_AUTO_TEST_CASE(a_server_without_a_way_back_is_named) {
  auto& lab = build(nslab::parse_scenario(kLab, "explain.yaml").topology);
  // TCP: b's SYN-ACK finds no route (Ip OutNoRoutes).
  auto before = nstat(lab.node("b"), "IpOutNoRoutes");
  nslab::Probe tcp{.from = "a", .to = "b", .protocol = nslab::Protocol::tcp, .port = 80};
  auto why = nslab::explain(lab, tcp);
  BOOST_TEST(has(why, "no route on b for 10.0.1.2 (the answer's way back)"), why);
  BOOST_TEST(nstat(lab.node("b"), "IpOutNoRoutes") > before);
  // ICMP: an echo reply without a route is dropped uncounted; b's routing
  // table says it all the same, and b did receive the request.
  auto ping = nslab::explain(lab, icmp("a", "b"));
  BOOST_TEST(has(ping, "b received the probe and has no route back to 10.0.1.2 (re-run alone: blocked)"), ping);
  auto get = nslab::run_in_node(lab.node("b"), "ip route get 10.0.1.2 2>&1");
  BOOST_TEST(has(get.output, "unreachable"), get.output);
}

BOOST_AUTO_TEST_CASE(rp_filter_is_named_with_the_interface) {
  auto& lab = build(nslab::parse_scenario(kLab, "explain.yaml").topology);
  lab.node("r").set_sysctl("net.ipv4.conf.all.rp_filter", "1");
  auto before = nstat(lab.node("r"), "TcpExtIPReversePathFilter");
  // From 10.0.2.99: r routes that address out of rb, so it refuses it on ra.
  auto why = nslab::explain(lab, icmp("10.0.2.99", "r:ra"));
  BOOST_TEST(has(why, "dropped by rp_filter on r:ra (net.ipv4.conf.all.rp_filter = 1) (re-run alone: blocked)"), why);
  BOOST_TEST(nstat(lab.node("r"), "TcpExtIPReversePathFilter") > before);
  // Loose mode lets it in (r has a route to 10.0.2.99 at all), and the
  // answer takes that route, out of rb, where no neighbour answers ARP for
  // 10.0.2.99: a drop no per-namespace counter shows. Not rp_filter, and
  // not guessed.
  lab.node("r").set_sysctl("net.ipv4.conf.all.rp_filter", "2");
  before = nstat(lab.node("r"), "TcpExtIPReversePathFilter");
  auto loose = nslab::explain(lab, icmp("10.0.2.99", "r:ra"));
  BOOST_TEST(has(loose, "cause not known: no drop counter of the kernel moved"), loose);
  BOOST_TEST(nstat(lab.node("r"), "TcpExtIPReversePathFilter") == before);
  auto neigh = nslab::run_in_node(lab.node("r"), "ip neigh show 10.0.2.99");
  BOOST_TEST((has(neigh.output, "INCOMPLETE") || has(neigh.output, "FAILED")), neigh.output);
}

BOOST_AUTO_TEST_CASE(a_router_that_does_not_forward_is_named) {
  auto& lab = build(nslab::parse_scenario(kLab, "explain.yaml").topology);
  lab.node("r").set_sysctl("net.ipv4.ip_forward", "0");
  auto before = nstat(lab.node("r"), "IpInAddrErrors");
  nslab::Probe tcp{.from = "a", .to = "b", .protocol = nslab::Protocol::tcp, .port = 80};
  auto why = nslab::explain(lab, tcp);
  BOOST_TEST(has(why, "not forwarded by r: net.ipv4.ip_forward = 0 (re-run alone: blocked)"), why);
  BOOST_TEST(nstat(lab.node("r"), "IpInAddrErrors") > before);
}

// Nothing moved: said as such, never guessed. r's own service refuses port 23.
BOOST_AUTO_TEST_CASE(an_unknown_cause_is_said_to_be_unknown) {
  auto& lab = build(nslab::parse_scenario(kLab, "explain.yaml").topology);
  nslab::Probe closed{.from = "a", .to = "r:ra", .protocol = nslab::Protocol::tcp, .port = 23};
  auto why = nslab::explain(lab, closed);
  BOOST_TEST(has(why, "cause not known: no drop counter of the kernel moved"), why);
  BOOST_TEST(has(why, "(re-run alone: refused)"), why);
  // And a probe that gets through a lab without rules has nothing to explain.
  BOOST_TEST(nslab::explain(lab, icmp("a", "r:ra")).empty());
}

// nftables rules are explained by the kernel's trace: the rule that gave
// the verdict, as nft prints it, at its line in the scenario.
BOOST_AUTO_TEST_CASE(an_nftables_verdict_is_named_from_the_trace) {
  auto s = nslab::parse_scenario(R"(nodes:
  a:
    routes: [ default via 10.0.1.1 ]
  r:
    sysctl: { net.ipv4.ip_forward: 1 }
    nftables: |
      table inet f {
        chain forward {
          type filter hook forward priority filter; policy accept;
          tcp dport 22 counter drop
          tcp dport 23 reject
        }
        chain input {
          type filter hook input priority filter; policy drop;
        }
      }
  b:
    routes: [ default via 10.0.2.1 ]
    services: [ tcp/22, tcp/23, tcp/80 ]
links:
  - [ "a:eth0 10.0.1.2/24", "r:ra 10.0.1.1/24" ]
  - [ "r:rb 10.0.2.1/24", "b:eth0 10.0.2.2/24" ]
)",
                                 "nft.yaml");
  auto& lab = build(s.topology);
  auto tcp = [](std::uint16_t port, std::string to = "b") {
    return nslab::Probe{.from = "a", .to = std::move(to), .protocol = nslab::Protocol::tcp, .port = port};
  };
  auto dropped = nslab::explain(lab, tcp(22));
  BOOST_TEST(has(dropped, "dropped by r: inet f forward rule `tcp dport 22 counter drop` (nft.yaml:10:"), dropped);
  auto refused = nslab::explain(lab, tcp(23));
  BOOST_TEST(has(refused, "refused by r: inet f forward rule `tcp dport 23 reject` (nft.yaml:11:"), refused);
  auto policy = nslab::explain(lab, tcp(22, "r:ra"));
  BOOST_TEST(has(policy, "blocked by r: inet f input policy drop (re-run alone: blocked)"), policy);
  // Through the open port nothing decided but the policy accept.
  BOOST_TEST(!has(nslab::explain(lab, tcp(80)), "by r:"));
  // The witnesses: the rule's own counter saw the drop, and nslab's trace
  // table is gone again.
  auto list = nslab::run_in_node(lab.node("r"), "nft list ruleset");
  BOOST_TEST(!has(list.output, "tcp dport 22 counter packets 0 "), list.output);
  BOOST_TEST(has(list.output, "tcp dport 22 counter packets "), list.output);
  BOOST_TEST(!has(list.output, "nslab_trace"), list.output);
}

// The same words through a scenario: `nslab check` appends them to a failed
// expectation.
BOOST_AUTO_TEST_CASE(a_failed_scenario_expectation_carries_the_explanation) {
  auto s = nslab::parse_scenario(std::string(kLab) + "expect:\n  - { from: a, to: 10.9.0.5, icmp: reachable }\n",
                                 "explain.yaml");
  auto& lab = build(s.topology);
  auto outcome = nslab::run_expectations(lab, s);
  BOOST_REQUIRE_EQUAL(outcome.expectations.size(), 1u);
  BOOST_TEST(!outcome.expectations[0].passed);
  BOOST_TEST(has(outcome.expectations[0].summary, "no route on r for 10.9.0.5"), outcome.expectations[0].summary);
}

BOOST_AUTO_TEST_SUITE_END()
