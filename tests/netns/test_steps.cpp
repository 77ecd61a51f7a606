// Steps: a lab changed while it runs — links down and up, rules replaced and
// flushed, routes added and deleted, sysctls set — through the C++ API the
// scenario runner uses, through a fixture's scenario, and through the CLI.
// Each change is checked by a witness (ip, iptables, ping, /proc) as well as
// by nslab's own probes.
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <fmt/format.h>
#include <fstream>
#include <sstream>

#include "nslab/lab_fixture.h"
#include "nslab/scenario_run.h"
#include "nslab/witness.h"
#include "scratch.h"
#include "text.h"

using nslab::testing::has;
using nslab::testing::Scratch;

namespace {

const char* kPair = R"(name: pair
options: { timeout: 300ms }
nodes:
  a:
  b: { services: [ tcp/80 ] }
links: [ [ "a:eth0 10.0.0.1/24", "b:eth0 10.0.0.2/24" ] ]
expect:
  - { from: a, to: b, icmp: reachable }
)";

std::string witness(const nslab::Node& n, const std::string& command) {
  auto r = nslab::run_in_node(n, command);
  BOOST_TEST_REQUIRE(r.status == 0, command << ": " << r.output);
  return r.output;
}

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

nslab::ProcessResult nslab_cmd(const std::string& args) {
  return nslab::run_command(std::string(NSLAB_BINARY) + " " + args);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(steps)

BOOST_FIXTURE_TEST_CASE(a_link_set_down_and_up_is_confirmed_by_the_kernel, nslab::LabFixture) {
  Scratch s("nslab-steps");
  auto& lab = load(s.write("pair.yaml", kPair));
  auto t0 = std::chrono::steady_clock::now();
  lab.set_link_up("a:eth0", false);
  BOOST_TEST_MESSAGE(fmt::format("link down confirmed in {:.2f} ms", ms_since(t0)));
  BOOST_TEST(has(witness(lab.node("a"), "ip -o link show eth0"), "state DOWN"));
  BOOST_TEST(has(witness(lab.node("b"), "ip -o link show eth0"), "NO-CARRIER"));
  BOOST_TEST(nslab::run_in_node(lab.node("a"), "ping -c1 -W1 10.0.0.2").status != 0);
  check_ping("a", "b", nslab::Verdict::unreachable);  // the connected route went with the link

  t0 = std::chrono::steady_clock::now();
  lab.set_link_up("a:eth0", true);
  BOOST_TEST_MESSAGE(fmt::format("link up confirmed in {:.2f} ms", ms_since(t0)));
  // No wait between: the first packet after the step goes through.
  check_ping("a", "b", nslab::Verdict::reachable);
  BOOST_TEST(has(witness(lab.node("a"), "ip -o link show eth0"), "state UP"));
  BOOST_TEST(has(witness(lab.node("b"), "ip -o link show eth0"), "state UP"));
  BOOST_TEST(nslab::run_in_node(lab.node("a"), "ping -c1 -W1 10.0.0.2").status == 0);

  // The far end set down: this end loses carrier, and comes back with it.
  // (No probe while it is down: one would leave an incomplete ARP entry in
  // a, and the kernel retries it only at its next retransmit tick, up to 1 s
  // after the link is back — README, Steps.)
  lab.set_link_up("b:eth0", false);
  BOOST_TEST(has(witness(lab.node("a"), "ip -o link show eth0"), "NO-CARRIER"));
  lab.set_link_up("b:eth0", true);
  BOOST_TEST(!has(witness(lab.node("a"), "ip -o link show eth0"), "NO-CARRIER"));
  check_ping("a", "b", nslab::Verdict::reachable);

  BOOST_CHECK_THROW(lab.set_link_up("a:eth9", true), nslab::Error);
  BOOST_CHECK_THROW(lab.set_link_up("nobody:eth0", true), nslab::Error);
}

BOOST_FIXTURE_TEST_CASE(rules_replaced_and_flushed, nslab::LabFixture) {
  Scratch s("nslab-steps");
  auto& lab = load(s.write("pair.yaml", kPair));
  nslab::FirewallRules rules;
  rules.iptables.text = "-A INPUT -p icmp -j DROP\n";
  lab.node("b").replace_rules(rules);
  BOOST_TEST(has(witness(lab.node("b"), "iptables -S INPUT"), "-A INPUT -p icmp -j DROP"));
  check_ping("a", "b", nslab::Verdict::blocked);
  BOOST_TEST(nslab::run_in_node(lab.node("a"), "ping -c1 -W1 10.0.0.2").status != 0);

  // Replaced again: the old rule is gone, the new one is in.
  rules = {};
  rules.nftables.text =
      "table inet f {\n"
      "  chain in { type filter hook input priority 0; tcp dport 80 reject; }\n"
      "}\n";
  lab.node("b").replace_rules(rules);
  BOOST_TEST(!has(nslab::run_in_node(lab.node("b"), "iptables -S INPUT").output, "DROP"));
  BOOST_TEST(has(witness(lab.node("b"), "nft list ruleset"), "tcp dport 80 reject"));
  check_ping("a", "b", nslab::Verdict::reachable);
  check_probe({.from = "a", .to = "b", .protocol = nslab::Protocol::tcp, .port = 80}, nslab::Verdict::refused);

  lab.node("b").flush_rules();
  BOOST_TEST(!has(nslab::run_in_node(lab.node("b"), "nft list ruleset").output, "reject"));
  check_probe({.from = "a", .to = "b", .protocol = nslab::Protocol::tcp, .port = 80}, nslab::Verdict::reachable);
}

// A flush keeps the loss tables nslab made for a lossy link (on a kernel
// without netem): the link stays lossy and the next probe batch finds them.
BOOST_FIXTURE_TEST_CASE(a_flush_keeps_nslabs_loss_tables, nslab::LabFixture) {
  Scratch s("nslab-steps");
  auto& lab = load(s.write("lossy.yaml", R"(name: lossy
nodes: { a: , b: { iptables: "-A INPUT -p tcp --dport 9 -j DROP\n" } }
links:
  - endpoints: [ "a:eth0 10.0.0.1/24", "b:eth0 10.0.0.2/24" ]
    impair: { loss: 0.1% }
expect: [ { from: a, to: b, icmp: reachable } ]
)"));
  const bool tables = has(witness(lab.node("b"), "nft list tables"), "nslab_loss_eth0");
  BOOST_TEST_MESSAGE((tables ? "loss tables (no netem here)" : "netem: no loss tables to keep"));
  lab.node("b").flush_rules();
  const std::string after = witness(lab.node("b"), "nft list tables");
  BOOST_TEST(has(after, "nslab_loss_eth0") == tables, after);
  BOOST_TEST(!has(witness(lab.node("b"), "iptables -S INPUT"), "--dport 9"));
  // Loss is 0.1%: with two attempts a lost echo is all but impossible. A
  // probe batch throws if a loss table nslab made is gone (verify_impairments).
  BOOST_TEST(lab.probe(nslab::Probe{.from = "a", .to = "b"}).verdict == nslab::Verdict::reachable);
}

BOOST_FIXTURE_TEST_CASE(routes_added_and_deleted_and_sysctls_set, nslab::LabFixture) {
  Scratch s("nslab-steps");
  auto& lab = load(s.write("pair.yaml", kPair));
  nslab::apply_action(
      lab,
      nslab::RouteAction{.node = "a", .route = nslab::RouteSpec::parse("10.9.0.0/16 via 10.0.0.2", {}), .add = true});
  BOOST_TEST(has(witness(lab.node("a"), "ip route show 10.9.0.0/16"), "10.9.0.0/16 via 10.0.0.2 dev eth0"));
  nslab::apply_action(
      lab,
      nslab::RouteAction{.node = "a", .route = nslab::RouteSpec::parse("10.9.0.0/16 via 10.0.0.2", {}), .add = false});
  BOOST_TEST(witness(lab.node("a"), "ip route show 10.9.0.0/16").empty());
  // Deleting what is not there is an error naming the route.
  BOOST_CHECK_THROW(
      nslab::apply_action(lab, nslab::RouteAction{.node = "a",
                                                  .route = nslab::RouteSpec::parse("10.9.0.0/16 via 10.0.0.2", {}),
                                                  .add = false}),
      nslab::Error);

  nslab::apply_action(lab, nslab::SysctlAction{.node = "b", .sysctls = {{"net.ipv4.icmp_echo_ignore_all", "1", {}}}});
  BOOST_TEST(witness(lab.node("b"), "cat /proc/sys/net/ipv4/icmp_echo_ignore_all") == "1\n");
  check_ping("a", "b", nslab::Verdict::blocked);
}

// A scenario's steps through the fixture: each step's expectations are
// checked after its actions, and each outcome is titled with its step.
BOOST_FIXTURE_TEST_CASE(a_scenarios_steps_run_in_order, nslab::LabFixture) {
  Scratch s("nslab-steps");
  load(s.write("steps.yaml", std::string(kPair) + R"(steps:
  - name: cut
    link: { "a:eth0": down }
    expect: [ { from: a, to: b, icmp: unreachable } ]
  - name: mended and firewalled
    link: { "a:eth0": up }
    rules: { node: b, iptables: "-A INPUT -p tcp --dport 80 -j REJECT --reject-with tcp-reset\n" }
    expect:
      - { from: a, to: b, icmp: reachable }
      - { from: a, to: b, tcp: 80, verdict: refused }
)"));
  auto outcome = check_expectations();
  BOOST_REQUIRE(outcome.expectations.size() == 4u);
  BOOST_TEST(outcome.expectations[0].title == "a -> b icmp: reachable");
  BOOST_TEST(outcome.expectations[1].title == "step 1 'cut': a -> b icmp: unreachable");
  BOOST_TEST(has(outcome.expectations[3].title, "step 2 'mended and firewalled': a -> b tcp/80"));
  BOOST_TEST(outcome.passed());
}

BOOST_AUTO_TEST_CASE(the_cli_runs_the_failover_example) {
  auto r = nslab_cmd(fmt::format("check {}/steps/uplink-failover.yaml", NSLAB_SCENARIOS));
  BOOST_TEST(r.status == 0, r.output);
  BOOST_TEST(has(r.output, "step 1 'primary uplink down': office -> web:isp2 tcp/80"), r.output);
  BOOST_TEST(has(r.output, "step 4 'primary back'"), r.output);
}

BOOST_AUTO_TEST_CASE(the_cli_names_the_step_of_a_failed_expectation) {
  Scratch s("nslab-steps");
  auto file = s.write("wrong.yaml", std::string(kPair) + R"(steps:
  - name: uplink down
    link: { "a:eth0": down }
    expect: [ { from: a, to: b, icmp: reachable } ]
)");
  auto junit = s.dir + "/results.xml";
  auto r = nslab_cmd(fmt::format("check --junit {} {}", junit, file));
  BOOST_TEST(r.status == 1, r.output);
  BOOST_TEST(has(r.output, fmt::format("FAIL {}:12:15: step 1 'uplink down': a -> b icmp: reachable", file)), r.output);
  std::stringstream xml;
  xml << std::ifstream(junit).rdbuf();
  BOOST_TEST(has(xml.str(), "step 1 &apos;uplink down&apos;: a -&gt; b icmp: reachable"), xml.str());

  // An action the kernel refuses fails the check at the action, and the
  // later steps do not run.
  auto refused = s.write("refused.yaml", std::string(kPair) + R"(steps:
  - name: gone
    route: { node: a, del: "10.9.0.0/16 via 10.0.0.2" }
  - name: never
    expect: [ { from: a, to: b, icmp: reachable } ]
)");
  auto f = nslab_cmd("check " + refused);
  BOOST_TEST(f.status == 1, f.output);
  BOOST_TEST(has(f.output, fmt::format("FAIL {}:11:12: step 1 'gone': route del on a: 10.9.0.0/16 via 10.0.0.2 — the "
                                       "action failed: ",
                                       refused)),
             f.output);
  BOOST_TEST(has(f.output, "the later steps did not run"), f.output);
  BOOST_TEST(!has(f.output, "step 2"), f.output);

  // A bad action is a validation error with its position, before any lab.
  auto bad = s.write("bad.yaml", std::string(kPair) + "steps: [ { link: { \"a:eth7\": down } } ]\n");
  auto v = nslab_cmd("validate " + bad);
  BOOST_TEST(v.status == 2, v.output);
  BOOST_TEST(has(v.output, bad + ":9:20: node \"a\" has no interface \"eth7\""), v.output);
}

BOOST_AUTO_TEST_SUITE_END()
