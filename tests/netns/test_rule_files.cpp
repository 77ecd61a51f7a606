// The user's rule files loaded for real, and the kernel's counters read back
// line by line: each against `iptables-save -c` / `nft list` run inside the
// node, the independent witness.
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include "nslab/lab_fixture.h"
#include "nslab/rule_hits.h"
#include "nslab/witness.h"
#include "text.h"

using nslab::testing::has;
namespace fs = std::filesystem;

namespace {

const std::string kOffice = std::string(NSLAB_SCENARIOS) + "/firewall/office-router";

// `iptables-save -c` inside the node: "RULE TEXT" -> packets, ":CHAIN" -> policy packets.
std::map<std::string, std::uint64_t> saved_counters(const nslab::Node& node) {
  auto r = nslab::run_in_node(node, "iptables-save -c");
  BOOST_REQUIRE_EQUAL(r.status, 0);
  std::map<std::string, std::uint64_t> out;
  std::istringstream in(r.output);
  std::string line, table;
  std::smatch m;
  static const std::regex rule(R"(^\[(\d+):\d+\] (-A .*)$)"), chain(R"(^:(\S+) (ACCEPT|DROP) \[(\d+):\d+\]$)");
  while (std::getline(in, line)) {
    if (line.starts_with("*")) table = line.substr(1);
    if (std::regex_match(line, m, rule)) out[table + " " + m[2].str()] = std::stoull(m[1]);
    if (std::regex_match(line, m, chain)) out[table + " :" + m[1].str()] = std::stoull(m[3]);
  }
  return out;
}

std::string rule_line(int n) {
  return kOffice + "/rules.v4:" + std::to_string(n);
}

struct Folder {
  fs::path dir;
  Folder() {
    char tmpl[] = "/tmp/nslab-rule-files-XXXXXX";
    dir = ::mkdtemp(tmpl);
  }
  ~Folder() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(dir / name, std::ios::binary) << text;
    return (dir / name).string();
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(rule_files, nslab::LabFixture)

// The router's production file loads as iptables-save wrote it, its
// expectations hold, and every line's counter is what iptables-save -c
// reads inside the node.
BOOST_AUTO_TEST_CASE(an_iptables_save_file_loads_and_its_counters_agree_with_iptables_save) {
  auto& lab = load(kOffice + "/office-router.yaml");
  check_expectations();
  auto hits = nslab::rule_hits(lab, "fw");
  auto witness = saved_counters(lab.node("fw"));
  BOOST_TEST(hits.size() == 19u);  // 12 rules and 7 built-in chains' policies
  for (const auto& h : hits) {
    std::string key = h.table + " " + (h.policy ? ":" + h.chain : h.rule);
    BOOST_TEST_CONTEXT(h.str()) {
      BOOST_TEST(h.where.file == kOffice + "/rules.v4");
      BOOST_REQUIRE(witness.count(key));
      BOOST_TEST(h.packets == witness[key]);
    }
  }
  // The counters iptables-save wrote into the file were not loaded.
  BOOST_TEST(
      witness["nat -A PREROUTING -i wan0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 192.168.10.20:80"] == 1u);
}

// Counter expectations count what happened while the expectations ran:
// traffic before them (here a ping the test sends itself) is not theirs.
BOOST_AUTO_TEST_CASE(counter_expectations_count_only_the_expectations_packets) {
  auto s = nslab::parse_scenario(R"(nodes:
  fw:
    sysctl: { net.ipv4.ip_forward: 1 }
    iptables_file: rules.v4
  pc:
    routes: [ default via 192.168.10.1 ]
  internet:
links:
  - [ "pc:eth0 192.168.10.20/24", "fw:lan0 192.168.10.1/24" ]
  - [ "fw:wan0 203.0.113.1/24", "internet:eth0 203.0.113.2/24" ]
expect:
  - counter: { node: fw, rule: "rules.v4:25", packets: 0 }
  - counter: { node: fw, rule: "rules.v4:14", packets: 0 }
)",
                                 kOffice + "/counting.yaml");
  auto& lab = build(s.topology);
  BOOST_TEST(lab.ping("pc", "fw:lan0") == nslab::Verdict::reachable);
  auto outcome = nslab::run_expectations(lab, s);
  for (const auto& x : outcome.expectations) BOOST_TEST(x.passed, x.title << " — " << x.summary);
  // The witness saw the ping.
  auto witness = saved_counters(lab.node("fw"));
  BOOST_TEST(witness["filter -A LAN_IN -p icmp -m icmp --icmp-type 8 -j ACCEPT"] >= 1u);
}

// A failed expectation names the rule that decided it, at its file:line.
BOOST_AUTO_TEST_CASE(a_failed_expectation_names_the_rule_that_decided_it) {
  auto s = nslab::parse_scenario(R"(nodes:
  fw:
    sysctl: { net.ipv4.ip_forward: 1 }
    iptables_file: rules.v4
    services: [ tcp/22 ]
  pc:
    routes: [ default via 192.168.10.1 ]
    services: [ tcp/80 ]
  internet:
    routes: [ 192.168.10.0/24 via 203.0.113.1 ]
links:
  - [ "pc:eth0 192.168.10.20/24", "fw:lan0 192.168.10.1/24" ]
  - [ "fw:wan0 203.0.113.1/24", "internet:eth0 203.0.113.2/24" ]
expect:
  - { from: internet, to: pc, tcp: 80, verdict: reachable }
  - { from: internet, to: "fw:wan0", tcp: 22, verdict: reachable }
  - { from: pc, to: "fw:lan0", tcp: 80, verdict: reachable }
  - { from: pc, to: "fw:lan0", tcp: 22, verdict: reachable }
)",
                                 kOffice + "/explained.yaml");
  auto& lab = build(s.topology);
  auto outcome = nslab::run_expectations(lab, s);
  BOOST_REQUIRE(outcome.expectations.size() == 4u);
  const auto& e = outcome.expectations;
  BOOST_TEST(!e[0].passed);
  BOOST_TEST(has(e[0].summary, "blocked by fw: FORWARD policy DROP (" + rule_line(15) + ")"), e[0].summary);
  BOOST_TEST(!e[1].passed);
  BOOST_TEST(has(e[1].summary, "refused by fw: INPUT rule " + rule_line(21) + " `-j REJECT --reject-with tcp-reset`"),
             e[1].summary);
  BOOST_TEST(has(e[2].summary, "refused by fw: LAN_IN rule " + rule_line(27) + " `-j REJECT"), e[2].summary);
  // Passed, and not asked to explain: no re-run, no explanation.
  BOOST_TEST(e[3].passed);
  BOOST_TEST(!has(e[3].summary, "accepted by"), e[3].summary);
  // Asked: the rule that let it in.
  auto all = nslab::run_expectations(lab, s, {}, {.coverage = false, .explain = true});
  BOOST_TEST(has(all.expectations[3].summary, "accepted by fw: LAN_IN rule " + rule_line(26) + " `-j ACCEPT`"),
             all.expectations[3].summary);
}

// Coverage: every line of the office router is exercised by its scenario;
// a scenario that forgets the published port leaves its lines unhit.
BOOST_AUTO_TEST_CASE(coverage_names_the_lines_no_expectation_exercised) {
  auto& lab = load(kOffice + "/office-router.yaml");
  auto full = nslab::run_expectations(lab, scenario(), {}, {.coverage = true});
  BOOST_TEST(full.rule_hits.size() == 19u);
  for (const auto& h : full.rule_hits) BOOST_TEST(h.packets > 0u, h.str());
  destroy_lab();
  auto partial = nslab::parse_scenario(R"(nodes:
  fw:
    sysctl: { net.ipv4.ip_forward: 1 }
    iptables_file: rules.v4
  pc:
    routes: [ default via 192.168.10.1 ]
  internet:
links:
  - [ "pc:eth0 192.168.10.20/24", "fw:lan0 192.168.10.1/24" ]
  - [ "fw:wan0 203.0.113.1/24", "internet:eth0 203.0.113.2/24" ]
expect:
  - { from: pc, to: "fw:lan0", icmp: reachable }
)",
                                       kOffice + "/partial.yaml");
  auto& lab2 = build(partial.topology);
  auto some = nslab::run_expectations(lab2, partial, {}, {.coverage = true});
  std::map<int, std::uint64_t> by_line;
  for (const auto& h : some.rule_hits) by_line[h.where.line] = h.packets;
  BOOST_TEST(by_line.at(25) >= 1u);  // LAN_IN's icmp ACCEPT
  BOOST_TEST(by_line.at(10) == 0u);  // the DNAT no probe used
  BOOST_TEST(by_line.at(15) == 0u);  // FORWARD's policy
}

// nftables rulesets kept in files include files beside them; their named
// counters are expectations, read as `nft list counter` reads them.
BOOST_AUTO_TEST_CASE(nftables_files_include_their_sets_and_counters) {
  Folder f;
  f.write("counters.nft", "counter pings { }\n");
  f.write("fw.nft",
          "table inet office {\n  include \"counters.nft\"\n  chain input {\n    type filter hook input priority 0;\n"
          "    icmp type echo-request counter name pings accept\n  }\n}\n");
  auto s = nslab::parse_scenario(R"(nodes:
  fw:
    nftables_file: fw.nft
  pc:
links:
  - [ "pc:eth0 10.0.0.2/24", "fw:eth0 10.0.0.1/24" ]
expect:
  - { from: pc, to: fw, icmp: reachable }
  - counter: { node: fw, rule: pings, packets: 1 }
)",
                                 (f.dir / "lab.yaml").string());
  auto& lab = build(s.topology);
  auto outcome = nslab::run_expectations(lab, s);
  for (const auto& x : outcome.expectations) BOOST_TEST(x.passed, x.title << " — " << x.summary);
  auto witness = nslab::run_in_node(lab.node("fw"), "nft list counter inet office pings");
  BOOST_TEST(has(witness.output, "packets 1 "), witness.output);
}

// A rule the kernel refuses is named at its line of the rule file.
BOOST_AUTO_TEST_CASE(a_rule_the_kernel_refuses_is_named_in_the_rule_file) {
  Folder f;
  f.write("rules.v4", "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j ACCEPT\n-A INPUT -m nosuchmatch -j ACCEPT\nCOMMIT\n");
  nslab::Topology t("refused");
  t.add_node("fw").iptables_file((f.dir / "rules.v4").string());
  try {
    build(t);
    BOOST_FAIL("the lab was built");
  } catch (const nslab::ConfigError& e) {
    BOOST_TEST(e.where().str() == (f.dir / "rules.v4").string() + ":4:1", e.what());
  }
}

BOOST_AUTO_TEST_SUITE_END()
