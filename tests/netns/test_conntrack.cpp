// Conntrack expectations against real labs, with the conntrack tool inside
// the firewall's namespace as the independent witness: what nslab read
// in-process (libnetfilter_conntrack) must be what `conntrack -L` prints,
// entry for entry, and a wrong expectation must fail with the entry that
// was there. The CLI runs as a process for the same negative.
#include <boost/test/unit_test.hpp>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <sstream>
#include <fstream>
#include <regex>
#include <set>
#include <string>

#include "nslab/conntrack.h"
#include "nslab/lab_fixture.h"
#include "nslab/scenario.h"
#include "nslab/scenario_run.h"
#include "nslab/witness.h"
#include "text.h"

using nslab::testing::has;

namespace {

nslab::TestPrecondition conntrack_tool{[]() -> std::optional<std::string> {
  if (nslab::run_command("command -v conntrack").ok()) return std::nullopt;
  return std::string("the conntrack tool (package conntrack, in ci/setup) is not installed: it is the witness");
}};

// fw masquerades lan behind 203.0.113.1 and forwards its port 8080 to
// web:80; `expect` is the scenario's expect list.
std::string lab_text(const std::string& expect) {
  return R"(name: conntrack-witness
nodes:
  fw:
    sysctl: { net.ipv4.ip_forward: 1 }
    bridges: { lan: 192.168.1.1/24 }
    iptables: |
      -t nat -A POSTROUTING -s 192.168.1.0/24 -o eth0 -j MASQUERADE
      -t nat -A PREROUTING -i eth0 -p tcp --dport 8080 -j DNAT --to-destination 192.168.1.10:80
      -A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
      -A FORWARD -i lan -o eth0 -j ACCEPT
      -A FORWARD -i eth0 -p tcp -d 192.168.1.10 --dport 80 -j ACCEPT
      -A FORWARD -j DROP
  web:
    routes: [ default via 192.168.1.1 ]
    services: [ tcp/80 ]
  laptop:
    routes: [ default via 192.168.1.1 ]
  internet:
    routes: [ 192.168.1.0/24 via 203.0.113.1 ]
    services: [ tcp/80, udp/53, tcp/22 ]
links:
  - [ "web:eth0 192.168.1.10/24", "fw:eth1@lan" ]
  - [ "laptop:eth0 192.168.1.20/24", "fw:veth-laptop@lan" ]
  - [ "fw:eth0 203.0.113.1/24", "internet:eth0 203.0.113.2/24" ]
expect:
)" + expect;
}

// One IPv4 entry (conntrack -L -f ipv4) as "proto orig-src orig-dst orig-sport orig-dport reply-src
// reply-dst reply-sport reply-dport": the tuples both readers show.
std::string tuples_of(const nslab::ConntrackEntry& e) {
  return fmt::format("{} {} {} {} {} {} {} {} {}", e.proto(), e.original.src.str(), e.original.dst.str(),
                     e.original.sport, e.original.dport, e.reply.src.str(), e.reply.dst.str(), e.reply.sport,
                     e.reply.dport);
}

// The same from a line of `conntrack -L` (tcp, udp and icmp lines).
std::set<std::string> tool_tuples(const std::string& listing) {
  std::set<std::string> out;
  std::regex words(R"((\w+)=(\S+))");
  std::istringstream in(listing);
  for (std::string line; std::getline(in, line);) {
    std::string proto = line.substr(0, line.find(' '));
    if (proto != "tcp" && proto != "udp" && proto != "icmp") continue;
    std::vector<std::string> src, dst, sport, dport, id;
    for (auto it = std::sregex_iterator(line.begin(), line.end(), words); it != std::sregex_iterator(); ++it) {
      std::string k = (*it)[1], v = (*it)[2];
      if (k == "src") src.push_back(v);
      if (k == "dst") dst.push_back(v);
      if (k == "sport") sport.push_back(v);
      if (k == "dport") dport.push_back(v);
      if (k == "id") id.push_back(v);
    }
    if (src.size() != 2 || dst.size() != 2) continue;
    if (proto == "icmp") {
      if (id.size() != 2) continue;
      out.insert(fmt::format("icmp {} {} {} 0 {} {} {} 0", src[0], dst[0], id[0], src[1], dst[1], id[1]));
    } else if (sport.size() == 2 && dport.size() == 2) {
      out.insert(fmt::format("{} {} {} {} {} {} {} {} {}", proto, src[0], dst[0], sport[0], dport[0], src[1], dst[1],
                             sport[1], dport[1]));
    }
  }
  return out;
}

// What conntrack -L prints after a tuple where the table counts packets
// (nslab turns counting on in nodes that conntrack expectations read).
const std::string kCounts = "(packets=\\d+ bytes=\\d+ )?";

std::set<std::string> nslab_tuples(nslab::Lab& lab) {
  std::set<std::string> out;
  for (const auto& e : nslab::conntrack_table(lab, "fw"))
    if (e.original.src.is_v4() && (e.proto() == "tcp" || e.proto() == "udp" || e.proto() == "icmp"))
      out.insert(tuples_of(e));
  return out;
}

std::string tool_listing(nslab::Lab& lab) {
  auto r = nslab::run_in_node(lab.node("fw"), "conntrack -L -f ipv4 2>/dev/null");
  BOOST_TEST(r.status == 0, r.output);
  return r.output;
}

// Reads the table through both, until they agree (the probes' connections
// are still closing: an entry may change state between the two reads, but
// not its tuples) and returns the tool's listing.
std::string agree(nslab::Lab& lab) {
  std::string listing = tool_listing(lab);
  auto mine = nslab_tuples(lab);
  auto tool = tool_tuples(listing);
  BOOST_TEST(!mine.empty());
  BOOST_TEST(mine == tool, fmt::format("nslab read:\n  {}\nconntrack -L:\n{}", fmt::join(mine, "\n  "), listing));
  return listing;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(conntrack_expectations, nslab::LabFixture)

BOOST_AUTO_TEST_CASE(masquerade_shows_nat_src_as_conntrack_tool_does) {
  auto s = nslab::parse_scenario(lab_text(R"(
  - conntrack:
      node: fw
      during: { from: laptop, to: internet, tcp: 80 }
      expect: { state: ESTABLISHED, proto: tcp, src: 192.168.1.20, dst: 203.0.113.2, dport: 80,
                nat: { src: 203.0.113.1 } }
  - conntrack:
      node: fw
      during: { from: laptop, to: internet, udp: 53 }
      expect: { state: ESTABLISHED, src: 192.168.1.20, nat: { src: 203.0.113.1 } }
  - conntrack:
      node: fw
      during: { from: laptop, to: internet, icmp: 1 }
      expect: { state: ESTABLISHED, proto: icmp, nat: { src: 203.0.113.1 } }
)"),
                                 "witness.yaml");
  auto& lab = build(s.topology);
  auto outcome = nslab::run_expectations(lab, s);
  for (const auto& o : outcome.expectations) BOOST_TEST(o.passed, o.title << ": " << o.summary << "\n" << o.details);
  auto listing = agree(lab);
  // The witness: each flow from the laptop, its reply to fw's outside address.
  for (const std::string& flow :
       {"tcp .*src=192\\.168\\.1\\.20 dst=203\\.0\\.113\\.2 sport=\\d+ dport=80 " + kCounts +
            "src=203\\.0\\.113\\.2 dst=203\\.0\\.113\\.1 sport=80 ",
        "udp .*src=192\\.168\\.1\\.20 dst=203\\.0\\.113\\.2 sport=\\d+ dport=53 " + kCounts +
            "src=203\\.0\\.113\\.2 dst=203\\.0\\.113\\.1 sport=53 ",
        std::string("icmp .*src=192\\.168\\.1\\.20 dst=203\\.0\\.113\\.2 .*src=203\\.0\\.113\\.2 "
                    "dst=203\\.0\\.113\\.1 ")})
    BOOST_TEST(std::regex_search(listing, std::regex(flow)), flow << "\n" << listing);
  // nslab's TCP entry: the handshake completed (ASSURED), then the probe
  // closed it; the tool says the same of the same flow.
  auto table = nslab::conntrack_table(lab, "fw");
  auto tcp = std::find_if(table.begin(), table.end(), [](const auto& e) { return e.proto() == "tcp"; });
  BOOST_TEST_REQUIRE((tcp != table.end()));
  BOOST_TEST(tcp->assured);
  BOOST_TEST(tcp->snat());
  BOOST_TEST(has(listing, fmt::format("sport={} dport=80", tcp->original.sport)));
}

BOOST_AUTO_TEST_CASE(port_forward_shows_nat_dst_as_conntrack_tool_does) {
  auto s = nslab::parse_scenario(lab_text(R"(
  - conntrack:
      node: fw
      during: { from: internet, to: "fw:eth0", tcp: 8080 }
      expect: { state: ESTABLISHED, src: 203.0.113.2, dst: 203.0.113.1, dport: 8080,
                nat: { dst: 192.168.1.10, dport: 80 } }
)"),
                                 "witness.yaml");
  auto& lab = build(s.topology);
  auto outcome = nslab::run_expectations(lab, s);
  BOOST_TEST_REQUIRE(outcome.expectations.size() == 1u);
  BOOST_TEST(outcome.expectations[0].passed, outcome.expectations[0].summary << "\n"
                                                                             << outcome.expectations[0].details);
  auto listing = agree(lab);
  BOOST_TEST(std::regex_search(listing, std::regex("tcp .*src=203\\.0\\.113\\.2 dst=203\\.0\\.113\\.1 sport=\\d+ "
                                                   "dport=8080 " +
                                                   kCounts + "src=192\\.168\\.1\\.10 dst=203\\.0\\.113\\.2 sport=80 ")),
             listing);
}

// The same lab, expectations that must fail: a wrong NAT address, and an
// entry for a flow fw drops. Each failure names what the table held.
BOOST_AUTO_TEST_CASE(wrong_expectations_fail_and_show_the_table) {
  auto s = nslab::parse_scenario(lab_text(R"(
  - conntrack:
      node: fw
      during: { from: laptop, to: internet, tcp: 80 }
      expect: { state: ESTABLISHED, nat: { src: 203.0.113.9 } }
  - conntrack:
      node: fw
      during: { from: internet, to: "fw:eth0", tcp: 8080 }
      expect: { nat: { dst: 192.168.1.20, dport: 8080 } }
  - conntrack:
      node: fw
      during: { from: internet, to: laptop, tcp: 22 }
      expect: { dst: 192.168.1.20 }
  - conntrack:
      node: fw
      during: { from: internet, to: laptop, tcp: 22 }
      expect: { dst: 192.168.1.20 }
      absent: true
  - conntrack:
      node: fw
      during: { from: laptop, to: internet, tcp: 80 }
      expect: { nat: { src: 203.0.113.1 } }
      absent: true
)"),
                                 "witness.yaml");
  auto& lab = build(s.topology);
  auto outcome = nslab::run_expectations(lab, s);
  BOOST_TEST_REQUIRE(outcome.expectations.size() == 5u);
  const auto& snat = outcome.expectations[0];
  BOOST_TEST(!snat.passed);
  BOOST_TEST(has(snat.summary, "0 of the probe's 1 tcp entry on fw match"), snat.summary);
  BOOST_TEST(has(snat.details, "differs: nat src 203.0.113.1, not 203.0.113.9"), snat.details);
  BOOST_TEST(has(snat.details, "src=192.168.1.20 dst=203.0.113.2"), snat.details);
  const auto& dnat = outcome.expectations[1];
  BOOST_TEST(!dnat.passed);
  BOOST_TEST(has(dnat.details, "differs: nat dst 192.168.1.10, not 192.168.1.20; nat dport 80, not 8080"),
             dnat.details);
  const auto& dropped = outcome.expectations[2];
  BOOST_TEST(!dropped.passed);
  BOOST_TEST(has(dropped.summary, "0 of the probe's 0 tcp entries on fw match (probe: blocked"), dropped.summary);
  BOOST_TEST(has(dropped.summary, "none made or used by this probe"), dropped.summary);
  BOOST_TEST(outcome.expectations[3].passed, outcome.expectations[3].summary);
  const auto& present = outcome.expectations[4];
  BOOST_TEST(!present.passed);
  BOOST_TEST(has(present.summary, "1 of the probe's 1 tcp entry on fw matches"), present.summary);
  // The witness: the translations nslab reported are the kernel's, and fw
  // holds no entry for the dropped flow to port 22.
  auto listing = agree(lab);
  BOOST_TEST(std::regex_search(listing, std::regex("src=192\\.168\\.1\\.20 dst=203\\.0\\.113\\.2 sport=\\d+ dport=80 " +
                                                   kCounts + "src=203\\.0\\.113\\.2 dst=203\\.0\\.113\\.1 ")),
             listing);
  BOOST_TEST(!has(listing, "dport=22"), listing);
}

// IPv6 masquerade, and a conntrack zone the raw table sets both ways.
BOOST_AUTO_TEST_CASE(ipv6_nat_and_zones_as_conntrack_tool_shows) {
  auto s = nslab::parse_scenario(R"(name: conntrack-v6-zone
nodes:
  fw:
    sysctl: { net.ipv4.ip_forward: 1, net.ipv6.conf.all.forwarding: 1 }
    iptables: |
      -t raw -A PREROUTING -j CT --zone 5
      -t nat -A POSTROUTING -o eth1 -j MASQUERADE
    ip6tables: |
      -t nat -A POSTROUTING -o eth1 -j MASQUERADE
  lan:
    routes: [ default via 10.0.0.1, default6 via 2001:db8:1::1 ]
  wan:
    services: [ tcp/80 ]
links:
  - [ "lan:eth0 10.0.0.2/24 2001:db8:1::2/64", "fw:eth0 10.0.0.1/24 2001:db8:1::1/64" ]
  - [ "fw:eth1 203.0.113.1/24 2001:db8:2::1/64", "wan:eth0 203.0.113.2/24 2001:db8:2::2/64" ]
expect:
  - conntrack:
      node: fw
      during: { from: lan, to: wan, tcp: 80, family: ipv6 }
      expect: { state: ESTABLISHED, src: "2001:db8:1::2", dport: 80, zone: 0, nat: { src: "2001:db8:2::1" } }
  - conntrack:
      node: fw
      during: { from: lan, to: wan, tcp: 80 }
      expect: { state: ESTABLISHED, zone: 5, nat: { src: 203.0.113.1 } }
  - conntrack:
      node: fw
      during: { from: lan, to: wan, tcp: 80 }
      expect: { zone: 0 }
)",
                                 "v6.yaml");
  auto& lab = build(s.topology);
  auto outcome = nslab::run_expectations(lab, s);
  BOOST_TEST_REQUIRE(outcome.expectations.size() == 3u);
  BOOST_TEST(outcome.expectations[0].passed, outcome.expectations[0].summary << "\n"
                                                                             << outcome.expectations[0].details);
  BOOST_TEST(outcome.expectations[1].passed, outcome.expectations[1].summary << "\n"
                                                                             << outcome.expectations[1].details);
  BOOST_TEST(!outcome.expectations[2].passed);
  BOOST_TEST(has(outcome.expectations[2].details, "differs: zone 5, not 0"), outcome.expectations[2].details);
  auto v6 = nslab::run_in_node(lab.node("fw"), "conntrack -L -f ipv6 2>/dev/null").output;
  BOOST_TEST(std::regex_search(v6, std::regex("tcp .*src=2001:db8:1::2 dst=2001:db8:2::2 sport=\\d+ dport=80 " +
                                              kCounts + "src=2001:db8:2::2 dst=2001:db8:2::1 sport=80 ")),
             v6);
  auto v4 = nslab::run_in_node(lab.node("fw"), "conntrack -L -f ipv4 2>/dev/null").output;
  BOOST_TEST(std::regex_search(v4, std::regex("tcp .*src=10\\.0\\.0\\.2 .*dst=203\\.0\\.113\\.1 .*zone=5")), v4);
  std::size_t v6_entries = 0;
  for (const auto& e : nslab::conntrack_table(lab, "fw"))
    if (!e.original.src.is_v4() && e.proto() == "tcp") {
      ++v6_entries;
      BOOST_TEST(has(v6, fmt::format("sport={} dport=80", e.original.sport)), v6);
    }
  BOOST_TEST(v6_entries == 1u);
}

// What a read costs: the table of a node holding a few entries, 20 times.
BOOST_AUTO_TEST_CASE(what_a_read_costs) {
  auto s = nslab::parse_scenario(lab_text("  - { from: laptop, to: internet, tcp: 80 }\n"), "witness.yaml");
  auto& lab = build(s.topology);
  nslab::run_expectations(lab, s);
  auto t0 = std::chrono::steady_clock::now();
  std::size_t n = 0;
  for (int i = 0; i < 20; ++i) n += nslab::conntrack_table(lab, "fw").size();
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / 20;
  BOOST_TEST_MESSAGE(fmt::format("conntrack_table: {:.2f} ms a read ({} in the table)", ms, n / 20));
  BOOST_TEST(n >= 20u);
  BOOST_TEST(ms < 250.0);  // the hash walk grows with nf_conntrack_buckets (memory): loose on purpose
}

BOOST_AUTO_TEST_SUITE_END()

// The CLI as a process: exit 1, and the failure shows the entry's tuples.
BOOST_AUTO_TEST_CASE(cli_reports_a_wrong_nat_address) {
  std::string path = fmt::format("/tmp/nslab-conntrack-{}.yaml", ::getpid());
  {
    std::ofstream out(path);
    out << lab_text(R"(
  - conntrack:
      node: fw
      during: { from: laptop, to: internet, tcp: 80 }
      expect: { state: ESTABLISHED, nat: { src: 203.0.113.9 } }
)");
  }
  auto r = nslab::run_command(fmt::format("{} check {} 2>&1", NSLAB_BINARY, path));
  std::remove(path.c_str());
  BOOST_TEST(r.status == 1, r.output);
  BOOST_TEST(has(r.output, "FAIL " + path + ":28:7: conntrack on fw during laptop -> internet tcp/80"), r.output);
  BOOST_TEST(has(r.output, "differs: nat src 203.0.113.1, not 203.0.113.9"), r.output);
  BOOST_TEST(std::regex_search(r.output, std::regex("tcp 6 \\d+ \\w+ src=192\\.168\\.1\\.20 dst=203\\.0\\.113\\.2 "
                                                    "sport=\\d+ dport=80 src=203\\.0\\.113\\.2 dst=203\\.0\\.113\\.1 "
                                                    "sport=80 dport=\\d+ \\[ASSURED\\]")),
             r.output);
}
