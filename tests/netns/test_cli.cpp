// The nslab command line, run as a user runs it: exit codes, JUnit output,
// validate and graph.
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <cstdio>
#include <fmt/format.h>
#include <fstream>
#include <sstream>

#include "leak_scan.h"
#include "nslab/witness.h"
#include "scratch.h"
#include "text.h"

using nslab::testing::has;
using nslab::testing::Scratch;

namespace {

nslab::ProcessResult nslab_cmd(const std::string& args) {
  return nslab::run_command(std::string(NSLAB_BINARY) + " " + args);
}

const char* kFailing = R"(name: wrong-on-purpose
nodes: { red: , blue: , green: }
links:
  - [ "red:eth0 10.0.0.1/24", "blue:eth0 10.0.0.2/24" ]
expect:
  - { from: red, to: blue, icmp: blocked }
  - matrix: { nodes: [red, blue], default: unreachable }
)";

}  // namespace

BOOST_AUTO_TEST_SUITE(cli)

// Several files in one check. Each seed file is checked on its own by its
// ctest test (scenario.seed/*) and all of them at once by the stress test:
// here two whose verdicts differ (a blocked probe; a matrix through NAT).
BOOST_AUTO_TEST_CASE(check_passes_several_seed_scenarios) {
  auto r =
      nslab_cmd(fmt::format("check --quiet {0}/seed/01-veth-pair.yaml {0}/seed/16-nat-gateway.yaml", NSLAB_SCENARIOS));
  BOOST_TEST(r.status == 0, r.output);
  BOOST_TEST(has(r.output, "PASS " + fmt::format("{}/seed/01-veth-pair.yaml", NSLAB_SCENARIOS)), r.output);
  BOOST_TEST(has(r.output, "PASS " + fmt::format("{}/seed/16-nat-gateway.yaml", NSLAB_SCENARIOS)), r.output);
  BOOST_TEST(!has(r.output, "FAIL"), r.output);
}

BOOST_AUTO_TEST_CASE(a_failed_expectation_exits_1_with_tables_and_junit) {
  Scratch s("nslab-cli");
  auto file = s.write("wrong.yaml", kFailing);
  auto junit = s.dir + "/results.xml";
  auto r = nslab_cmd(fmt::format("check --junit {} {}", junit, file));
  BOOST_TEST(r.status == 1, r.output);
  BOOST_TEST(has(r.output, "FAIL " + file + ":6:5: red -> blue icmp: blocked — observed reachable"), r.output);
  BOOST_TEST(has(r.output, "difference (icmp): expected>observed where they differ"), r.output);
  BOOST_TEST(has(r.output, "U>."), r.output);
  std::stringstream xml;
  xml << std::ifstream(junit).rdbuf();
  BOOST_TEST(has(xml.str(), "<testsuites name=\"nslab\" tests=\"2\" failures=\"2\" errors=\"0\" skipped=\"0\">"),
             xml.str());
  BOOST_TEST(has(xml.str(), "<testcase classname=\"wrong-on-purpose\" name=\"red -&gt; blue icmp: blocked\""),
             xml.str());
  BOOST_TEST(has(xml.str(), "<failure message=\"observed reachable"), xml.str());
  BOOST_TEST(has(xml.str(), "observed (icmp)"), xml.str());
}

BOOST_AUTO_TEST_CASE(an_invalid_scenario_exits_2_and_names_the_place) {
  Scratch s("nslab-cli");
  auto file = s.write("bad.yaml", "nodes:\n  red:\n    routs: []\n");
  auto r = nslab_cmd("check " + file);
  BOOST_TEST(r.status == 2, r.output);
  BOOST_TEST(has(r.output, file + ":3:5: unknown key \"routs\" in node \"red\"; did you mean \"routes\"?"), r.output);
  auto v = nslab_cmd("validate " + file);
  BOOST_TEST(v.status == 2, v.output);
  auto ok = nslab_cmd(fmt::format("validate {}/seed/01-veth-pair.yaml", NSLAB_SCENARIOS));
  BOOST_TEST(ok.status == 0, ok.output);
  BOOST_TEST(has(ok.output, "valid (2 nodes, 1 links, 5 expectations)"), ok.output);
  // A file with steps counts the steps' expectations too (2 before the steps, 5 in its 4 steps).
  auto steps = nslab_cmd(fmt::format("validate {}/steps/uplink-failover.yaml", NSLAB_SCENARIOS));
  BOOST_TEST(has(steps.output, "valid (5 nodes, 5 links, 7 expectations, 4 steps)"), steps.output);
}

BOOST_AUTO_TEST_CASE(a_rule_that_fails_to_load_exits_2_with_the_tools_message) {
  Scratch s("nslab-cli");
  auto file = s.write("rule.yaml", R"(nodes:
  red:
    iptables: |
      -A INPUT -p icmp -j ACCEPT
      -A INPUT -p tcp --dport 22 -j NO_SUCH_TARGET
  blue:
links: [ [ "red:eth0 10.0.0.1/24", "blue:eth0 10.0.0.2/24" ] ]
)");
  auto r = nslab_cmd("check " + file);
  BOOST_TEST(r.status == 2, r.output);
  BOOST_TEST(has(r.output, file + ":5:7: node \"red\": iptables-restore rejected \"-A INPUT -p tcp --dport 22 -j "
                                  "NO_SUCH_TARGET\""),
             r.output);
  BOOST_TEST(has(r.output, "Chain 'NO_SUCH_TARGET' does not exist"), r.output);
}

BOOST_AUTO_TEST_CASE(usage_errors_exit_2) {
  BOOST_TEST(nslab_cmd("").status == 2);
  BOOST_TEST(nslab_cmd("frobnicate").status == 2);
  BOOST_TEST(nslab_cmd("check --bogus x.yaml").status == 2);
  auto help = nslab_cmd("check --help");
  BOOST_TEST(help.status == 0);
  BOOST_TEST(has(help.output, "--junit FILE"), help.output);
  for (const char* c : {"--help", "validate --help", "graph --help"}) BOOST_TEST(nslab_cmd(c).status == 0, c);
}

BOOST_AUTO_TEST_CASE(without_privilege_check_exits_4_with_the_reason,
                     *boost::unit_test::precondition(nslab::testing::can_drop_privileges)) {
  auto r = nslab::run_command(
      fmt::format("NSLAB_NO_REEXEC=1 setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all {} check "
                  "{}/seed/01-veth-pair.yaml",
                  NSLAB_BINARY, NSLAB_SCENARIOS));
  BOOST_TEST(r.status == 4, r.output);
  BOOST_TEST(has(r.output, "SKIP"), r.output);
  BOOST_TEST(has(r.output, "CAP_NET_ADMIN"), r.output);
}

BOOST_AUTO_TEST_CASE(without_privilege_check_enters_a_user_namespace_and_passes,
                     *boost::unit_test::precondition(nslab::testing::can_drop_privileges)) {
  // As nobody, with user namespaces allowed: nslab sandboxes itself (like
  // unshare -Urn) and builds the labs, iptables rules included.
  auto r = nslab::run_command(
      fmt::format("setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all {} check --quiet "
                  "{}/seed/07-nat-masquerade.yaml {}/seed/10-port-forward.yaml",
                  NSLAB_BINARY, NSLAB_SCENARIOS, NSLAB_SCENARIOS));
  if (has(r.output, "cannot create a user namespace")) {
    BOOST_TEST(r.status == 4, r.output);  // the machine forbids them: a skip with the fix
    return;
  }
  BOOST_TEST(r.status == 0, r.output);
  BOOST_TEST(has(r.output, "PASS"), r.output);
}

BOOST_AUTO_TEST_CASE(graph_writes_dot_and_svg) {
  auto r = nslab_cmd(fmt::format("graph {}/seed/04-host-access.yaml", NSLAB_SCENARIOS));
  BOOST_TEST(r.status == 0, r.output);
  BOOST_TEST(has(r.output, "graph \"host-access\""), r.output);
  BOOST_TEST(has(r.output, "v-net-0 (bridge)\\n192.168.1.254/24"), r.output);
  BOOST_TEST(has(r.output, "\"red:red-veth\" -- \"host:veth-red\""), r.output);
  if (nslab::run_command("command -v dot").ok()) {
    Scratch s("nslab-cli");
    auto svg = s.dir + "/lab.svg";
    auto g = nslab_cmd(fmt::format("graph {}/seed/04-host-access.yaml -o {}", NSLAB_SCENARIOS, svg));
    BOOST_TEST(g.status == 0, g.output);
    std::stringstream text;
    text << std::ifstream(svg).rdbuf();
    BOOST_TEST(has(text.str(), "<svg"));
    BOOST_TEST(has(text.str(), "192.168.1.254/24"));
  }
}

BOOST_AUTO_TEST_SUITE_END()
