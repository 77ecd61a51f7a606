// Conntrack expectations as a scenario writes them: every field read into
// the ConntrackMatch, every bad value refused at file:line:column, and the
// matching of entries (what ESTABLISHED, nat src and nat dst mean) on
// entries written by hand, as the kernel reports them. No privilege.
#include <boost/test/unit_test.hpp>

#include <string>

#include "nslab/conntrack.h"
#include "nslab/scenario.h"
#include "text.h"

using nslab::ConntrackEntry;
using nslab::ConntrackExpectation;
using nslab::ConntrackMatch;
using nslab::IpAddress;
using nslab::testing::has;

namespace {

// fw masquerades lan behind 203.0.113.1; `body` is the conntrack mapping,
// on line 13 from column 16.
std::string scenario(const std::string& body) {
  return "name: c\n"
         "nodes:\n"
         "  fw:\n"
         "    sysctl: { net.ipv4.ip_forward: 1 }\n"
         "    iptables: \"-t nat -A POSTROUTING -o eth1 -j MASQUERADE\"\n"
         "  lan:\n"
         "    routes: [ default via 10.0.0.1 ]\n"
         "  wan:\n"
         "links:\n"
         "  - [ \"lan:eth0 10.0.0.2/24\", \"fw:eth0 10.0.0.1/24\" ]\n"
         "  - [ \"fw:eth1 203.0.113.1/24\", \"wan:eth0 203.0.113.2/24\" ]\n"
         "expect:\n"
         "  - conntrack: " +
         body + "\n";
}

std::string errors_of(const std::string& body) {
  try {
    nslab::parse_scenario(scenario(body), "c.yaml");
  } catch (const nslab::ScenarioError& e) {
    return e.what();
  }
  return "";
}

ConntrackExpectation read(const std::string& body) {
  auto s = nslab::parse_scenario(scenario(body), "c.yaml");
  BOOST_TEST_REQUIRE(s.expectations.size() == 1u);
  return std::get<ConntrackExpectation>(s.expectations.at(0));
}

const std::string kDuring = "node: fw, during: { from: lan, to: wan, tcp: 80 }, ";

// lan 10.0.0.2:40000 -> wan 203.0.113.2:80, masqueraded behind 203.0.113.1,
// closed by the client: TIME_WAIT, ASSURED.
ConntrackEntry masqueraded() {
  ConntrackEntry e;
  e.l4proto = 6;
  e.original = {IpAddress::from_string("10.0.0.2"), IpAddress::from_string("203.0.113.2"), 40000, 80};
  e.reply = {IpAddress::from_string("203.0.113.2"), IpAddress::from_string("203.0.113.1"), 80, 40000};
  e.tcp_state = "TIME_WAIT";
  e.seen_reply = e.assured = true;
  e.mark = 7;
  e.timeout = 119;
  return e;
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_field_is_read) {
  auto e = read("{ " + kDuring +
                "expect: { state: established, proto: tcp, src: 10.0.0.2, dst: 203.0.113.2, sport: 40000, "
                "dport: 80, mark: 4294967295, zone: 65535, nat: { src: 203.0.113.1, dst: 203.0.113.2 } } }");
  BOOST_TEST(e.node == "fw");
  BOOST_TEST(e.during.from == "lan");
  BOOST_TEST(e.during.port == 80);
  const auto& m = e.expect;
  BOOST_TEST(*m.state == "ESTABLISHED");
  BOOST_TEST((*m.proto == nslab::Protocol::tcp));
  BOOST_TEST(m.src->str() == "10.0.0.2");
  BOOST_TEST(m.dst->str() == "203.0.113.2");
  BOOST_TEST(*m.sport == 40000);
  BOOST_TEST(*m.dport == 80);
  BOOST_TEST(*m.mark == 4294967295u);
  BOOST_TEST(*m.zone == 65535);
  BOOST_TEST(m.nat_src->str() == "203.0.113.1");
  BOOST_TEST(m.nat_dst->str() == "203.0.113.2");
  BOOST_TEST((e.count.op == nslab::CountSpec::Op::ge && e.count.value == 1));
  BOOST_TEST(has(e.str(), "conntrack on fw during lan -> wan tcp/80: an entry with tcp ESTABLISHED src=10.0.0.2"));
}

BOOST_AUTO_TEST_CASE(absent_and_count_zero_are_the_same) {
  auto a = read("{ " + kDuring + "expect: { dport: 80 }, absent: true }");
  auto b = read("{ " + kDuring + "expect: { dport: 80 }, count: 0 }");
  BOOST_TEST(a.count.holds(0));
  BOOST_TEST(!a.count.holds(1));
  BOOST_TEST(b.count.holds(0));
  BOOST_TEST(!b.count.holds(1));
  BOOST_TEST(has(a.str(), ": no entry with dport=80"));
  BOOST_TEST(read("{ " + kDuring + "expect: { dport: 80 }, absent: false }").count.holds(1));
  BOOST_TEST(has(errors_of("{ " + kDuring + "expect: { dport: 80 }, absent: true, count: 0 }"),
                 "absent: true or a count, not both"));
}

BOOST_AUTO_TEST_CASE(bad_values_are_refused_at_their_position) {
  // Line 13; the mapping opens at column 16.
  BOOST_TEST(has(errors_of("{ node: fx, during: { from: lan, to: wan, tcp: 80 }, expect: {} }"),
                 "c.yaml:13:24: no node \"fx\"; did you mean \"fw\"?"));
  BOOST_TEST(
      has(errors_of("{ " + kDuring + "expect: { src: 10.0.0.300 } }"), "src \"10.0.0.300\" is not an IP address"));
  BOOST_TEST(has(errors_of("{ " + kDuring + "expect: { nat: { src: example.com } } }"),
                 "nat src \"example.com\" is not an IP address"));
  BOOST_TEST(has(errors_of("{ " + kDuring + "expect: { state: ESTABLISED } }"),
                 "state \"ESTABLISED\" is not a conntrack state"));
  BOOST_TEST(has(errors_of("{ " + kDuring + "expect: { state: ESTABLISED } }"), "did you mean \"ESTABLISHED\"?"));
  BOOST_TEST(has(errors_of("{ node: fw, during: { from: lan, to: wan, udp: 53 }, expect: { state: TIME_WAIT } }"),
                 "state TIME_WAIT is a TCP state, and the probe is udp"));
  for (const char* bad : {"-1", "4294967296", "1e300", "nan", ".nan", "inf", "7.5", "0x10", "\"\""})
    BOOST_TEST(has(errors_of("{ " + kDuring + "expect: { mark: " + bad + " } }"),
                   "mark must be a whole number from 0 to 4294967295"),
               bad);
  for (const char* bad : {"-1", "65536", "1e300", "nan"})
    BOOST_TEST(has(errors_of("{ " + kDuring + "expect: { zone: " + bad + " } }"),
                   "zone must be a whole number from 0 to 65535"),
               bad);
  for (const char* bad : {"0", "65536", "1e300", ".inf"})
    BOOST_TEST(has(errors_of("{ " + kDuring + "expect: { dport: " + bad + " } }"),
                   "dport must be a whole number from 1 to 65535"),
               bad);
  BOOST_TEST(has(errors_of("{ node: fw, during: { from: lan, to: wan, icmp: 1 }, expect: { dport: 80 } }"),
                 "dport: an icmp entry has no ports"));
  BOOST_TEST(has(errors_of("{ " + kDuring + "expect: { proto: udp } }"),
                 "proto udp cannot match: the probe during it is tcp"));
  BOOST_TEST(has(errors_of("{ " + kDuring + "expect: { proto: sctp } }"), "proto \"sctp\" is not tcp, udp or icmp"));
  BOOST_TEST(has(errors_of("{ " + kDuring + "expect: { src: 10.0.0.2, dst: \"2001:db8::1\" } }"),
                 "dst 2001:db8::1 is an ipv6 address, but the probe runs over ipv4"));
  BOOST_TEST(has(errors_of("{ " + kDuring + "expect: { nat: {} } }"), "nat needs src"));
  BOOST_TEST(has(errors_of("{ " + kDuring + "expect: { nat: { dport: 0 } } }"),
                 "nat dport must be a whole number from 1 to 65535"));
  BOOST_TEST(has(errors_of("{ node: fw, during: { from: lan, to: wan, icmp: 1 }, expect: { nat: { sport: 9 } } }"),
                 "nat sport: an icmp entry has no ports"));
  BOOST_TEST(
      has(errors_of("{ " + kDuring + "expect: { nat: { source: 1.2.3.4 } } }"), "unknown key \"source\" in nat"));
  BOOST_TEST(has(errors_of("{ " + kDuring + "expect: { stat: NEW } }"), "did you mean \"state\"?"));
  BOOST_TEST(has(errors_of("{ " + kDuring + "expect: {}, count: lots }"), "count \"lots\" is not a count"));
  BOOST_TEST(has(errors_of("{ node: fw, expect: {} }"), "c.yaml:13:16: a conntrack expectation needs \"during\""));
  BOOST_TEST(
      has(errors_of("{ node: fw, during: { from: lan, to: nowhere, tcp: 80 }, expect: {} }"), "no node \"nowhere\""));
  BOOST_TEST(has(errors_of("{ node: fw, during: { from: lan, to: wan, tcp: 80, verdict: blocked }, expect: {} }"),
                 "unknown key \"verdict\""));
  BOOST_TEST(has(errors_of("{ node: \"fw:eth0\", during: { from: lan, to: wan, tcp: 80 }, expect: {} }"),
                 "names an interface"));
}

BOOST_AUTO_TEST_CASE(a_node_without_rules_draws_a_warning) {
  auto s =
      nslab::parse_scenario(scenario("{ node: lan, during: { from: lan, to: wan, tcp: 80 }, expect: {} }"), "c.yaml");
  BOOST_TEST_REQUIRE(s.warnings.size() == 1u);
  BOOST_TEST(has(s.warnings[0], "c.yaml:13:24: warning: node \"lan\" loads no firewall rules"));
  BOOST_TEST(nslab::parse_scenario(scenario("{ " + kDuring + "expect: {} }"), "c.yaml").warnings.empty());
}

BOOST_AUTO_TEST_CASE(matching_reads_the_entry_as_conntrack_does) {
  const auto e = masqueraded();
  BOOST_TEST(e.snat());
  BOOST_TEST(!e.dnat());
  BOOST_TEST(e.str() ==
             "tcp 6 119 TIME_WAIT src=10.0.0.2 dst=203.0.113.2 sport=40000 dport=80 src=203.0.113.2 "
             "dst=203.0.113.1 sport=80 dport=40000 [ASSURED] mark=7 zone=0");
  ConntrackMatch m;
  BOOST_TEST(m.matches(e));  // nothing asked
  m.state = "ESTABLISHED";   // reached: ASSURED, though TIME_WAIT now
  m.nat_src = IpAddress::from_string("203.0.113.1");
  m.dport = 80;
  m.mark = 7;
  BOOST_TEST(m.matches(e));
  m.nat_src = IpAddress::from_string("203.0.113.9");
  auto d = m.differences(e);
  BOOST_TEST_REQUIRE(d.size() == 1u);
  BOOST_TEST(d[0] == "nat src 203.0.113.1, not 203.0.113.9");
  m.nat_src.reset();
  m.nat_dst = IpAddress::from_string("192.168.1.10");
  BOOST_TEST(has(m.differences(e).at(0), "no destination NAT (replies come from 203.0.113.2)"));
  m.nat_dst.reset();
  // MASQUERADE kept the source port: the reply goes to 40000.
  m.nat_sport = 40000;
  BOOST_TEST(m.matches(e));
  m.nat_sport = 40001;
  BOOST_TEST(m.differences(e) == std::vector<std::string>{"nat sport 40000, not 40001"});
  m.nat_sport.reset();
  m.nat_dport = 8080;  // no DNAT: the reply comes from port 80
  BOOST_TEST(m.differences(e) == std::vector<std::string>{"nat dport 80, not 8080"});
  BOOST_TEST(m.str() == "ESTABLISHED dport=80 nat dport=8080 mark=7");
  m.nat_dport.reset();
  m.state = "TIME_WAIT";
  BOOST_TEST(m.matches(e));
  m.state = "FIN_WAIT";
  BOOST_TEST(m.differences(e).at(0) == "state TIME_WAIT, not FIN_WAIT");

  auto half = e;  // a SYN that was answered, no handshake completed
  half.assured = false;
  half.tcp_state = "SYN_RECV";
  m.state = "ESTABLISHED";
  BOOST_TEST(m.differences(half).at(0) == "state SYN_RECV (never ESTABLISHED: not ASSURED), not ESTABLISHED");

  ConntrackEntry udp;  // unanswered: UNREPLIED, never ESTABLISHED
  udp.l4proto = 17;
  udp.original = {IpAddress::from_string("10.0.0.2"), IpAddress::from_string("203.0.113.2"), 5000, 53};
  udp.reply = {IpAddress::from_string("203.0.113.2"), IpAddress::from_string("10.0.0.2"), 53, 5000};
  ConntrackMatch u;
  u.state = "UNREPLIED";
  BOOST_TEST(u.matches(udp));
  u.state = "ESTABLISHED";
  BOOST_TEST(u.differences(udp).at(0) == "state UNREPLIED, not ESTABLISHED");
  u.state.reset();
  u.proto = nslab::Protocol::tcp;
  BOOST_TEST(u.differences(udp).at(0) == "proto udp, not tcp");
  u.proto = nslab::Protocol::udp;
  u.dport = 54;
  BOOST_TEST(u.differences(udp).at(0) == "dport 53, not 54");
  BOOST_TEST(has(udp.str(), "[UNREPLIED]"));
}
