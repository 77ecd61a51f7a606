// Two of the kernel netfilter selftests ported as scenarios
// (scenarios/netfilter/), built here with the C++ API, with the real tools
// as witnesses inside the lab's namespaces: curl and ping for what a client
// sees, `nft list counter` for the counters nslab reads through
// libnftables, and `conntrack -L` (or /proc/net/nf_conntrack) for the NAT
// the kernel did. nslab's verdicts and the tools must agree.
#include <boost/test/unit_test.hpp>

#include <fmt/format.h>

#include <regex>
#include <string>

#include "nslab/lab_fixture.h"
#include "nslab/rule_hits.h"
#include "nslab/witness.h"
#include "text.h"

using nslab::Protocol;
using nslab::Verdict;
using nslab::testing::has;
using namespace std::chrono_literals;

namespace {

// nft_nat.sh's lab: ns1 and ns2 on either side of the router ns0. ns1
// counts what it receives by source (the selftest's counter map, IPv4).
const char* kCounters = R"(table inet filter {
  counter ns0in {}
  counter ns2in {}
  map nsincounter {
    type ipv4_addr : counter
    elements = { 10.0.1.1 : "ns0in", 10.0.2.1 : "ns0in", 10.0.2.99 : "ns2in" }
  }
  chain input {
    type filter hook input priority 0; policy accept;
    counter name ip saddr map @nsincounter
  }
})";

nslab::Topology nat_lab(std::string_view nat_rule) {
  nslab::Topology t("nft-nat-witness");
  t.add_node("ns0")
      .sysctl("net.ipv4.ip_forward", "1")
      .nftables_ruleset(fmt::format(R"(table ip nat {{
  chain postrouting {{ type nat hook postrouting priority 0; policy accept; {}; }}
}})",
                                    nat_rule));
  t.add_node("ns1").route("default", "10.0.1.1").service(Protocol::tcp, 80).nftables_ruleset(kCounters);
  t.add_node("ns2").route("default", "10.0.2.1").service(Protocol::tcp, 80);
  t.link("ns0:veth0 10.0.1.1/24", "ns1:eth0 10.0.1.99/24");
  t.link("ns0:veth1 10.0.2.1/24", "ns2:eth0 10.0.2.99/24");
  return t;
}

// "packets N" of `nft list counter inet filter NAME`, run in the node.
std::uint64_t nft_tool_packets(nslab::Lab& lab, const char* node, const char* name) {
  auto r = nslab::run_in_node(lab.node(node), fmt::format("nft list counter inet filter {}", name));
  std::smatch m;
  BOOST_TEST_REQUIRE(std::regex_search(r.output, m, std::regex("packets ([0-9]+)")), r.output);
  return std::stoull(m[1]);
}

// The node's conntrack table as the conntrack tool prints it; where the
// tool is not installed, the kernel's /proc/net/nf_conntrack (same tuples).
std::string conntrack_table(nslab::Lab& lab, const char* node) {
  return nslab::run_in_node(lab.node(node),
                            "if command -v conntrack >/dev/null; then conntrack -L 2>/dev/null; "
                            "else cat /proc/net/nf_conntrack; fi")
      .output;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(netfilter_witness, nslab::LabFixture)

// nft_nat.sh test_masquerade: ns1 sees ns0's address, never ns2's.
BOOST_AUTO_TEST_CASE(masquerade_agrees_with_curl_ping_nft_and_conntrack) {
  auto& lab = build(nat_lab("meta oif veth0 masquerade"));
  auto before = nslab::nft_counters(lab, "ns1");
  BOOST_TEST(nft_tool_packets(lab, "ns1", "ns0in") == before.at("ns0in"));
  BOOST_TEST(nft_tool_packets(lab, "ns1", "ns2in") == before.at("ns2in"));

  // nslab: reachable, served by ns1, who saw ns0's address.
  auto tcp = lab.tcp("ns2", "10.0.1.99", 80);
  BOOST_TEST(tcp.verdict == Verdict::reachable, tcp.detail);
  BOOST_TEST(tcp.served_by == "ns1");
  BOOST_TEST(tcp.seen_from == "10.0.1.1");
  BOOST_TEST(lab.ping("ns2", "10.0.1.99") == Verdict::reachable);

  // curl: the built-in service's HTTP answer names the node and the client
  // address it saw; ping gets its reply.
  auto curl = nslab::run_in_node(lab.node("ns2"), "curl -sS --max-time 5 http://10.0.1.99/ 2>&1");
  BOOST_TEST(curl.status == 0, curl.output);
  BOOST_TEST(has(curl.output, "ns1 10.0.1.1"), curl.output);
  auto ping = nslab::run_in_node(lab.node("ns2"), "ping -n -c 1 -W 2 10.0.1.99 2>&1");
  BOOST_TEST(ping.status == 0, ping.output);
  BOOST_TEST(has(ping.output, "bytes from 10.0.1.99"), ping.output);

  // The counters: nft's own listing and nslab's reading agree, and both say
  // that ns1 heard from ns0 only.
  auto after = nslab::nft_counters(lab, "ns1");
  BOOST_TEST(nft_tool_packets(lab, "ns1", "ns0in") == after.at("ns0in"));
  BOOST_TEST(nft_tool_packets(lab, "ns1", "ns2in") == after.at("ns2in"));
  BOOST_TEST(after.at("ns0in") > before.at("ns0in"));
  BOOST_TEST(after.at("ns2in") == 0u);

  // The router's conntrack table: the connection from 10.0.2.99, its reply
  // to 10.0.1.1 (the masquerade).
  auto table = conntrack_table(lab, "ns0");
  BOOST_TEST(std::regex_search(table, std::regex("tcp .*src=10\\.0\\.2\\.99 dst=10\\.0\\.1\\.99 .*dport=80 "
                                                 ".*src=10\\.0\\.1\\.99 dst=10\\.0\\.1\\.1 ")),
             table);
}

// The negative control: without the rule, ns1 sees ns2 itself, and all
// witnesses say so too.
BOOST_AUTO_TEST_CASE(without_masquerade_every_witness_sees_the_client) {
  auto& lab = build(nat_lab("meta oif veth1 masquerade"));  // the other way: not on ns2's path to ns1
  auto tcp = lab.tcp("ns2", "10.0.1.99", 80);
  BOOST_TEST(tcp.seen_from == "10.0.2.99", tcp.detail);
  auto curl = nslab::run_in_node(lab.node("ns2"), "curl -sS --max-time 5 http://10.0.1.99/ 2>&1");
  BOOST_TEST(has(curl.output, "ns1 10.0.2.99"), curl.output);
  auto after = nslab::nft_counters(lab, "ns1");
  BOOST_TEST(after.at("ns2in") >= 1u);
  BOOST_TEST(nft_tool_packets(lab, "ns1", "ns2in") == after.at("ns2in"));
  BOOST_TEST(after.at("ns0in") == 0u);
}

// nft_fib.sh: a spoofed source (routed back out of another interface) is
// dropped by the router's fib rule before any route: nslab reads blocked
// and ping loses its packet; the spoofer's own address to the same kind of
// destination meets "no route" at the router: nslab reads unreachable and
// ping prints the router's ICMP error. The rule's counter says which was
// dropped, in nft's listing and in nslab's reading alike.
BOOST_AUTO_TEST_CASE(fib_drop_and_routing_error_agree_with_ping) {
  nslab::Topology t("nft-fib-witness");
  t.add_node("nsrouter")
      .sysctl("net.ipv4.ip_forward", "1")
      .sysctl("net.ipv4.conf.all.rp_filter", "0")
      .nftables_ruleset(R"(table inet filter {
  counter spoofed4 {}
  counter rpfilter {}
  chain prerouting {
    type filter hook prerouting priority 0; policy accept;
    ip daddr 198.51.100.1 fib saddr . iif oif missing counter name spoofed4 drop
    fib saddr . iif oif missing counter name rpfilter drop
  }
})");
  t.add_node("ns2").route("default", "10.0.2.1");
  t.add_node("spoofer").route("default", "10.0.3.1");
  t.link("nsrouter:veth1 10.0.2.1/24", "ns2:eth0 10.0.2.99/24");
  t.link("nsrouter:veth2 10.0.3.1/24", "spoofer:eth0 10.0.3.99/24 10.0.2.98/32");
  auto& lab = build(std::move(t));
  nslab::ProbeOptions options;
  options.timeout = 1000ms;

  auto spoofed = lab.probe(nslab::Probe{.from = "10.0.2.98", .to = "198.51.100.1"}, options);
  auto control = lab.probe(nslab::Probe{.from = "10.0.3.99", .to = "198.51.100.2"}, options);
  BOOST_TEST(spoofed.verdict == Verdict::blocked, spoofed.detail);
  BOOST_TEST(control.verdict == Verdict::unreachable, control.detail);

  auto ping_spoofed = nslab::run_in_node(lab.node("spoofer"), "ping -n -c 1 -W 1 -I 10.0.2.98 198.51.100.1 2>&1");
  auto ping_control = nslab::run_in_node(lab.node("spoofer"), "ping -n -c 1 -W 1 -I 10.0.3.99 198.51.100.2 2>&1");
  BOOST_TEST(ping_spoofed.status != 0);
  BOOST_TEST(has(ping_spoofed.output, "100% packet loss"), ping_spoofed.output);
  BOOST_TEST(!has(ping_spoofed.output, "Unreachable"), ping_spoofed.output);
  BOOST_TEST(has(ping_control.output, "From 10.0.3.1"), ping_control.output);
  BOOST_TEST(has(ping_control.output, "Destination Net Unreachable"), ping_control.output);

  auto counters = nslab::nft_counters(lab, "nsrouter");
  BOOST_TEST(counters.at("spoofed4") >= 2u);  // nslab's probe and ping's
  BOOST_TEST(counters.at("rpfilter") == 0u);
  BOOST_TEST(nft_tool_packets(lab, "nsrouter", "spoofed4") == counters.at("spoofed4"));
  BOOST_TEST(nft_tool_packets(lab, "nsrouter", "rpfilter") == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
