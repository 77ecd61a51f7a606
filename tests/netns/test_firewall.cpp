// Firewall rules inside nodes: the article's NAT and port forward in both
// rule languages, conntrack state that cannot leak between probes, and rules
// that never escape into the caller's namespace.
#include <boost/test/unit_test.hpp>

#include "nslab/lab_fixture.h"
#include "firewall.h"
#include "iptables_text.h"
#include "nslab/witness.h"
#include "text.h"

using nslab::testing::has;

using nslab::Probe;
using nslab::Protocol;
using nslab::Verdict;

namespace {
std::string scenario_path(const std::string& name) {
  return std::string(NSLAB_SCENARIOS) + "/" + name;
}
std::string caller_rules() {
  return nslab::run_command("iptables-save | grep -v '^#'; ip6tables-save | grep -v '^#'; nft list ruleset").output;
}
}  // namespace

BOOST_FIXTURE_TEST_SUITE(firewall, nslab::LabFixture)

BOOST_AUTO_TEST_CASE(rules_live_in_the_node_and_never_in_the_caller) {
  const std::string before = caller_rules();
  for (const char* file : {"seed/07-nat-masquerade.yaml", "seed/13-nat-masquerade-nft.yaml",
                           "seed/10-port-forward.yaml", "firewall/stateful-router-iptables.yaml"}) {
    auto& lab = load(scenario_path(file));
    check_expectations();
    const auto& gateway = lab.find_node("host") ? lab.node("host") : lab.node("fw");
    // Witness inside the node: the tools see the rules there ...
    auto inside = nslab::run_in_node(gateway, "iptables-save; nft list ruleset");
    BOOST_TEST((has(inside.output, "MASQUERADE") || has(inside.output, "masquerade") || has(inside.output, "DNAT") ||
                has(inside.output, "ESTABLISHED")),
               file << "\n"
                    << inside.output);
    // ... and not outside, while the lab is up and after it is gone.
    BOOST_TEST(caller_rules() == before, file);
    destroy_lab();
    BOOST_TEST(caller_rules() == before, file);
  }
}

// The witness: a rule with a '#' in a quoted comment is loaded whole, and drops.
BOOST_AUTO_TEST_CASE(a_quoted_hash_keeps_the_rest_of_the_rule) {
  auto& lab = build(nslab::parse_scenario(R"(nodes:
  red:
    iptables: |
      -A INPUT -p icmp -m comment --comment "ticket #42" -j DROP
      -A INPUT -p tcp -m comment --comment 'say "hi" \ bye' -j ACCEPT  # a real comment
  blue:
links:
  - [ "red:eth0 10.0.0.1/24", "blue:eth0 10.0.0.2/24" ]
)",
                                          "inline.yaml")
                        .topology);
  auto saved = nslab::run_in_node(lab.node("red"), "iptables-save");
  BOOST_TEST(has(saved.output, "-A INPUT -p icmp -m comment --comment \"ticket #42\" -j DROP"), saved.output);
  BOOST_TEST(has(saved.output, "--comment \"say \\\"hi\\\" \\\\ bye\" -j ACCEPT"), saved.output);
  BOOST_TEST(!has(saved.output, "a real comment"), saved.output);
  BOOST_TEST(lab.ping("blue", "red") == Verdict::blocked);
  BOOST_TEST(lab.tcp("blue", "red", 80).verdict == Verdict::refused);  // the rest of INPUT still answers
}

BOOST_AUTO_TEST_CASE(a_broken_nft_ruleset_names_its_line) {
  auto t = nslab::Topology("broken");
  t.add_node("red").nftables = {
      "table inet t {\n  chain c {\n    type filter hook input priority 0;\n"
      "    tcp dport 22 acept\n  }\n}\n",
      {"lab.yaml", 10, 7}};
  BOOST_CHECK_EXCEPTION(build(std::move(t)), nslab::ConfigError, [](const nslab::ConfigError& e) {
    return has(e.what(), "lab.yaml:13:29: node \"red\": nftables ruleset rejected") &&
           has(e.what(), "tcp dport 22 acept");
  });
}

// Each probe has its own 5-tuple: a fresh ephemeral port, a unique ICMP echo
// id. So an entry made by one probe is never the "established" state of
// another, and a stateful firewall judges every probe as a new connection.
BOOST_AUTO_TEST_CASE(conntrack_state_does_not_leak_between_probes) {
  load(scenario_path("firewall/stateful-router-iptables.yaml"));
  auto& lab = this->lab();
  // One after the other: the first creates conntrack entries in fw ...
  BOOST_TEST(lab.tcp("admin", "web", 443).verdict == Verdict::reachable);
  BOOST_TEST(lab.udp("admin", "web", 53).verdict == Verdict::reachable);
  BOOST_TEST(lab.ping("admin", "web") == Verdict::reachable);
  // ... which do not let the reverse direction in.
  BOOST_TEST(lab.tcp("web", "admin", 443).verdict == Verdict::blocked);
  BOOST_TEST(lab.udp("web", "admin", 53).verdict == Verdict::blocked);
  BOOST_TEST(lab.ping("web", "admin") == Verdict::blocked);
  // The same pairs in one concurrent batch.
  std::vector<Probe> batch{{"admin", "web", Protocol::tcp, 443},
                           {"web", "admin", Protocol::tcp, 443},
                           {"admin", "web", Protocol::udp, 53},
                           {"web", "admin", Protocol::udp, 53},
                           {"admin", "web"},
                           {"web", "admin"}};
  auto r = lab.probe(batch);
  for (std::size_t i = 0; i < r.size(); ++i)
    BOOST_TEST(r[i].verdict == (i % 2 == 0 ? Verdict::reachable : Verdict::blocked), r[i].probe.str());
  // The entries exist: fw lets admin's replies through because of them.
  auto ct = nslab::run_in_node(lab.node("fw"), "cat /proc/sys/net/netfilter/nf_conntrack_count");
  BOOST_TEST(std::stoi(ct.output) > 0, ct.output);
}

BOOST_AUTO_TEST_SUITE_END()

// The design sketch's example, as written there.
BOOST_FIXTURE_TEST_CASE(masquerade_rewrites_source, nslab::ScenarioFixture) {
  auto& lab = load(scenario_path("seed/16-nat-gateway.yaml"));
  auto cap = lab.capture("external:eth0", "icmp");
  BOOST_TEST(lab.ping("red", "external") == nslab::Verdict::reachable);
  BOOST_TEST(cap.count_if(nslab::src("203.0.113.1")) >= 1);
  BOOST_TEST(cap.count_if(nslab::src("192.168.1.1")) == 0u);
}
