// A probe's packet shape (ttl, size, df) as a scenario writes it: every bad
// value refused at file:line:column, good ones reaching the Probe; and the
// ICMP codec's reading of the MTU a "too big" message reports. No privilege.
#include <boost/test/unit_test.hpp>

#include <linux/icmp.h>
#include <netinet/icmp6.h>

#include <cstring>
#include <string>
#include <variant>

#include "icmp_codec.h"
#include "nslab/scenario.h"
#include "scenario_errors.h"
#include "text.h"

using nslab::testing::has;
using nslab::testing::scenario_errors;

namespace {

// Line 6 holds the expectation under test: `- { from: a, to: b, KEYS }`.
std::string lab(const std::string& keys) {
  return "nodes:\n  a: {}\n  b: {}\n"
         "links:\n  - [ \"a:eth0 10.0.0.1/24\", \"b:eth0 10.0.0.2/24\" ]\n"
         "expect:\n  - { from: a, to: b, " +
         keys + " }\n";
}

nslab::Probe probe_of(const std::string& keys) {
  auto s = nslab::parse_scenario(lab(keys), "lab.yaml");
  BOOST_REQUIRE_EQUAL(s.expectations.size(), 1u);
  return std::get<nslab::ProbeExpectation>(s.expectations.front()).probe;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(probe_shape)

BOOST_AUTO_TEST_CASE(good_values_reach_the_probe) {
  auto p = probe_of("icmp: unreachable, ttl: 1, size: 1472, df: true");
  BOOST_TEST(p.ttl == 1);
  BOOST_TEST(p.size.value_or(0) == 1472u);
  BOOST_TEST(p.df);
  BOOST_TEST(p.str() == "a -> b icmp ttl 1 size 1472 df");
  auto zero = probe_of("icmp: reachable, size: 0");  // ping -s 0: an 8-byte echo
  BOOST_TEST(zero.size.value_or(99) == 0u);
  auto udp = probe_of("udp: 53, verdict: reachable, ttl: 255, size: 65000, df: false");
  BOOST_TEST(udp.ttl == 255);
  BOOST_TEST(udp.size.value_or(0) == 65000u);
  BOOST_TEST(!udp.df);
  auto plain = probe_of("icmp: reachable");
  BOOST_TEST(plain.ttl == 0);
  BOOST_TEST(!plain.size);
  BOOST_TEST(!plain.df);
}

BOOST_AUTO_TEST_CASE(a_bad_ttl_is_refused_where_it_stands) {
  for (const char* bad : {"0", "-1", "256", "1e300", ".nan", "NaN", "1.5", "one", "\"\"", "99999999999999999999"}) {
    auto e = scenario_errors(lab(std::string("icmp: reachable, ttl: ") + bad));
    BOOST_TEST(has(e, "lab.yaml:7:45: ttl must be a whole number from 1 to 255"), bad << ": " << e);
  }
  auto e = scenario_errors(lab("icmp: reachable, ttl: [1]"));
  BOOST_TEST(has(e, "lab.yaml:7:45: ttl must be a single value, not a list"), e);
}

BOOST_AUTO_TEST_CASE(a_bad_size_is_refused_where_it_stands) {
  for (const char* bad : {"-1", "65508", "1e300", ".nan", "-.inf", "big"}) {
    auto e = scenario_errors(lab(std::string("icmp: reachable, size: ") + bad));
    BOOST_TEST(has(e, "lab.yaml:7:46: size (echo data bytes, as ping -s) must be a whole number from 0 to 65507"),
               bad << ": " << e);
  }
  // A payload of 0 bytes is no payload: tcp and udp sizes start at 1.
  for (const char* bad : {"0", "65001", "-5", "1e300"}) {
    auto e = scenario_errors(lab(std::string("udp: 53, verdict: reachable, size: ") + bad));
    BOOST_TEST(has(e, "lab.yaml:7:58: size (payload bytes) must be a whole number from 1 to 65000"), bad << ": " << e);
  }
  auto tcp = scenario_errors(lab("tcp: 80, verdict: reachable, size: 1048577"));
  BOOST_TEST(has(tcp, "lab.yaml:7:58: size (payload bytes) must be a whole number from 1 to 1048576"), tcp);
  auto both = scenario_errors(lab("tcp: 80, verdict: reachable, payload: hi, size: 10"));
  BOOST_TEST(has(both, "lab.yaml:7:71: size makes a payload of that many bytes; write payload or size, not both"),
             both);
}

BOOST_AUTO_TEST_CASE(a_bad_df_is_refused_where_it_stands) {
  for (const char* bad : {"1", "maybe", ".nan", "1e300"}) {
    auto e = scenario_errors(lab(std::string("icmp: reachable, df: ") + bad));
    BOOST_TEST(has(e, "lab.yaml:7:44: df must be true or false"), bad << ": " << e);
  }
  auto tcp = scenario_errors(lab("tcp: 80, verdict: reachable, df: true"));
  BOOST_TEST(has(tcp, "lab.yaml:7:56: df needs an icmp or udp probe"), tcp);
}

BOOST_AUTO_TEST_CASE(tos_and_dscp) {
  BOOST_TEST(probe_of("icmp: reachable, tos: 184").tos.value_or(0) == 0xb8);
  BOOST_TEST(probe_of("udp: 53, verdict: reachable, dscp: 46").tos.value_or(0) == 0xb8);  // EF
  BOOST_TEST(probe_of("icmp: reachable, tos: 0").tos.value_or(1) == 0);
  BOOST_TEST(!probe_of("icmp: reachable").tos);
  BOOST_TEST(probe_of("icmp: reachable, dscp: 10").str() == "a -> b icmp tos 0x28");
  for (const char* bad : {"-1", "256", "1e300", ".nan", "0x1g", "ef"}) {
    auto e = scenario_errors(lab(std::string("icmp: reachable, tos: ") + bad));
    BOOST_TEST(has(e, "lab.yaml:7:45: tos (the whole TOS byte, DSCP << 2 | ECN) must be a whole number from 0 to 255"),
               bad << ": " << e);
  }
  for (const char* bad : {"-1", "64", "1e300", ".inf", "EF"}) {
    auto e = scenario_errors(lab(std::string("icmp: reachable, dscp: ") + bad));
    BOOST_TEST(has(e, "lab.yaml:7:46: dscp must be a whole number from 0 to 63"), bad << ": " << e);
  }
  auto both = scenario_errors(lab("icmp: reachable, tos: 4, dscp: 1"));
  BOOST_TEST(has(both, "lab.yaml:7:54: dscp is the upper six bits of tos; write tos or dscp, not both"), both);
}

BOOST_AUTO_TEST_CASE(a_port_set_refuses_a_shape) {
  for (const char* key : {"ttl: 3", "size: 100", "df: true", "tos: 4", "dscp: 1"}) {
    auto e = scenario_errors(lab(std::string("tcp: \"80, 443\", verdict: reachable, ") + key));
    BOOST_TEST(has(e, "needs a single port"), key << ": " << e);
  }
}

BOOST_AUTO_TEST_CASE(an_echo_of_size_n_has_n_data_bytes) {
  namespace d = nslab::detail;
  BOOST_TEST(d::make_echo_request(nslab::Family::ipv4, 1, 0 + 8).size() == 8u);
  BOOST_TEST(d::make_echo_request(nslab::Family::ipv4, 1, 1472 + 8).size() == 1480u);
  auto req = d::make_echo_request(nslab::Family::ipv4, 0x01020304, 1480);
  BOOST_TEST(d::internet_checksum(req.data(), req.size()) == 0);  // the checksum covers all of it
}

BOOST_AUTO_TEST_CASE(a_too_big_message_gives_its_mtu) {
  namespace d = nslab::detail;
  auto req = d::make_echo_request(nslab::Family::ipv4, 0xabcd0042, 64);
  // IPv4: fragmentation needed quoting our echo, next-hop MTU 1400.
  std::vector<std::uint8_t> pkt(20 + 8 + 20 + 8, 0);
  pkt[0] = 0x45;
  pkt[20] = ICMP_DEST_UNREACH;
  pkt[21] = ICMP_FRAG_NEEDED;
  pkt[26] = 1400 >> 8;
  pkt[27] = 1400 & 0xff;
  pkt[28] = 0x45;
  pkt[28 + 9] = IPPROTO_ICMP;
  std::memcpy(&pkt[48], req.data(), 8);
  auto m = d::parse_icmp(nslab::Family::ipv4, pkt.data(), pkt.size());
  BOOST_REQUIRE(m);
  BOOST_TEST(m->key == 0xabcd0042u);
  BOOST_TEST(m->mtu == 1400u);
  // A time exceeded reports none.
  pkt[20] = ICMP_TIME_EXCEEDED;
  pkt[21] = 0;
  m = d::parse_icmp(nslab::Family::ipv4, pkt.data(), pkt.size());
  BOOST_REQUIRE(m);
  BOOST_TEST(m->mtu == 0u);
  // IPv6: packet too big, a 32-bit MTU.
  auto req6 = d::make_echo_request(nslab::Family::ipv6, 7, 64);
  std::vector<std::uint8_t> p6(8 + 40 + 8, 0);
  p6[0] = ICMP6_PACKET_TOO_BIG;
  p6[6] = 1280 >> 8;
  p6[7] = 1280 & 0xff;
  p6[8 + 6] = IPPROTO_ICMPV6;
  std::memcpy(&p6[48], req6.data(), 8);
  auto m6 = d::parse_icmp(nslab::Family::ipv6, p6.data(), p6.size());
  BOOST_REQUIRE(m6);
  BOOST_TEST(m6->key == 7u);
  BOOST_TEST(m6->mtu == 1280u);
}

BOOST_AUTO_TEST_SUITE_END()
