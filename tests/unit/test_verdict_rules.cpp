// The pure halves of the probe engine, without root: the table that turns
// evidence into verdicts, and the ICMP echo codec.
#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <linux/icmp.h>
#include <netinet/icmp6.h>

#include <cerrno>
#include <cstring>

#include "icmp_codec.h"
#include "verdict_rules.h"

using nslab::Family;
using nslab::Verdict;
namespace d = nslab::detail;

BOOST_AUTO_TEST_SUITE(verdict_rules)

// Every ICMPv4 destination-unreachable code, as the kernel converts it, and
// the verdict that follows.
BOOST_AUTO_TEST_CASE(icmpv4_errors) {
  struct {
    int type, code, err;
    Verdict verdict;
  } rows[] = {
      {ICMP_DEST_UNREACH, ICMP_NET_UNREACH, ENETUNREACH, Verdict::unreachable},
      {ICMP_DEST_UNREACH, ICMP_HOST_UNREACH, EHOSTUNREACH, Verdict::unreachable},
      {ICMP_DEST_UNREACH, ICMP_PROT_UNREACH, ENOPROTOOPT, Verdict::refused},
      {ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, ECONNREFUSED, Verdict::refused},
      {ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, EMSGSIZE, Verdict::unreachable},
      {ICMP_DEST_UNREACH, ICMP_SR_FAILED, EOPNOTSUPP, Verdict::unreachable},
      {ICMP_DEST_UNREACH, ICMP_NET_UNKNOWN, ENETUNREACH, Verdict::unreachable},
      {ICMP_DEST_UNREACH, ICMP_HOST_UNKNOWN, EHOSTDOWN, Verdict::unreachable},
      {ICMP_DEST_UNREACH, ICMP_HOST_ISOLATED, ENONET, Verdict::unreachable},
      {ICMP_DEST_UNREACH, ICMP_NET_ANO, ENETUNREACH, Verdict::unreachable},
      {ICMP_DEST_UNREACH, ICMP_HOST_ANO, EHOSTUNREACH, Verdict::unreachable},
      {ICMP_DEST_UNREACH, ICMP_NET_UNR_TOS, ENETUNREACH, Verdict::unreachable},
      {ICMP_DEST_UNREACH, ICMP_HOST_UNR_TOS, EHOSTUNREACH, Verdict::unreachable},
      {ICMP_DEST_UNREACH, ICMP_PKT_FILTERED, EHOSTUNREACH, Verdict::unreachable},
      {ICMP_DEST_UNREACH, ICMP_PREC_VIOLATION, EHOSTUNREACH, Verdict::unreachable},
      {ICMP_DEST_UNREACH, ICMP_PREC_CUTOFF, EHOSTUNREACH, Verdict::unreachable},
      {ICMP_DEST_UNREACH, 42, EHOSTUNREACH, Verdict::unreachable},
      {ICMP_TIME_EXCEEDED, ICMP_EXC_TTL, EHOSTUNREACH, Verdict::unreachable},
      {ICMP_TIME_EXCEEDED, ICMP_EXC_FRAGTIME, EHOSTUNREACH, Verdict::unreachable},
      {ICMP_PARAMETERPROB, 0, EPROTO, Verdict::unreachable},
  };
  for (const auto& r : rows) {
    BOOST_TEST_CONTEXT("type " << r.type << " code " << r.code) {
      auto err = d::icmp_errno(Family::ipv4, r.type, r.code);
      BOOST_REQUIRE(err);
      BOOST_TEST(*err == r.err);
      BOOST_TEST((d::verdict_of_network_errno(*err) == r.verdict));
    }
  }
  // The kernel ignores these, and so does nslab: the probe keeps waiting.
  for (int type : {ICMP_SOURCE_QUENCH, ICMP_REDIRECT, ICMP_ECHO, ICMP_ECHOREPLY, ICMP_TIMESTAMP})
    BOOST_TEST(!d::icmp_errno(Family::ipv4, type, 0).has_value(), type);
}

BOOST_AUTO_TEST_CASE(icmpv6_errors) {
  struct {
    int type, code, err;
    Verdict verdict;
  } rows[] = {
      {ICMP6_DST_UNREACH, ICMP6_DST_UNREACH_NOROUTE, ENETUNREACH, Verdict::unreachable},
      {ICMP6_DST_UNREACH, ICMP6_DST_UNREACH_ADMIN, EACCES, Verdict::unreachable},
      {ICMP6_DST_UNREACH, ICMP6_DST_UNREACH_BEYONDSCOPE, EHOSTUNREACH, Verdict::unreachable},
      {ICMP6_DST_UNREACH, ICMP6_DST_UNREACH_ADDR, EHOSTUNREACH, Verdict::unreachable},
      {ICMP6_DST_UNREACH, ICMP6_DST_UNREACH_NOPORT, ECONNREFUSED, Verdict::refused},
      {ICMP6_DST_UNREACH, 5, EACCES, Verdict::unreachable},  // source address failed policy
      {ICMP6_DST_UNREACH, 6, EACCES, Verdict::unreachable},  // reject route
      {ICMP6_DST_UNREACH, 9, EPROTO, Verdict::unreachable},
      {ICMP6_PACKET_TOO_BIG, 0, EMSGSIZE, Verdict::unreachable},
      {ICMP6_TIME_EXCEEDED, 0, EHOSTUNREACH, Verdict::unreachable},
      {ICMP6_PARAM_PROB, 1, EPROTO, Verdict::unreachable},
  };
  for (const auto& r : rows) {
    BOOST_TEST_CONTEXT("type " << r.type << " code " << r.code) {
      auto err = d::icmp_errno(Family::ipv6, r.type, r.code);
      BOOST_REQUIRE(err);
      BOOST_TEST(*err == r.err);
      BOOST_TEST((d::verdict_of_network_errno(*err) == r.verdict));
    }
  }
  for (int type : {ICMP6_ECHO_REQUEST, ICMP6_ECHO_REPLY, 133 /* router solicitation */, 137 /* redirect */})
    BOOST_TEST(!d::icmp_errno(Family::ipv6, type, 0).has_value(), type);
}

BOOST_AUTO_TEST_CASE(local_errors) {
  BOOST_TEST((d::verdict_of_local_errno(ECONNREFUSED) == Verdict::refused));
  BOOST_TEST((d::verdict_of_local_errno(ENETUNREACH) == Verdict::unreachable));
  BOOST_TEST((d::verdict_of_local_errno(EHOSTUNREACH) == Verdict::unreachable));
  BOOST_TEST((d::verdict_of_local_errno(EACCES) == Verdict::unreachable));    // prohibit route
  BOOST_TEST((d::verdict_of_local_errno(EINVAL) == Verdict::blocked));        // blackhole route
  BOOST_TEST((d::verdict_of_local_errno(EPERM) == Verdict::blocked));         // own OUTPUT DROP
  BOOST_TEST((d::verdict_of_local_errno(ECONNRESET) == Verdict::refused));    // a local peer's reset
  BOOST_TEST((d::verdict_of_local_errno(ENETDOWN) == Verdict::unreachable));  // the interface is down
  BOOST_TEST((d::verdict_of_local_errno(ETIMEDOUT) == Verdict::blocked));     // no answer
  // Not about the network: an error of the run, never a verdict.
  for (int err : {EADDRNOTAVAIL, EMFILE, ENFILE, ENOBUFS, ENOMEM, EAFNOSUPPORT, EBADF, EADDRINUSE})
    BOOST_TEST(!d::verdict_of_local_errno(err).has_value(), std::strerror(err));
  BOOST_TEST(d::local_cause(EINVAL) == "a blackhole route at the source");
}

BOOST_AUTO_TEST_CASE(names) {
  BOOST_TEST(d::icmp_name(Family::ipv4, ICMP_DEST_UNREACH, ICMP_PKT_FILTERED) == "ICMP administratively prohibited");
  BOOST_TEST(d::icmp_name(Family::ipv4, ICMP_TIME_EXCEEDED, 0) == "ICMP time exceeded");
  BOOST_TEST(d::icmp_name(Family::ipv6, ICMP6_DST_UNREACH, 6) == "ICMPv6 reject route");
  BOOST_TEST(d::icmp_name(Family::ipv6, 200, 1) == "ICMPv6 type 200 code 1");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(icmp_codec)

BOOST_AUTO_TEST_CASE(an_echo_request_round_trips) {
  auto req = d::make_echo_request(Family::ipv4, 0x12345678);
  BOOST_TEST(req.size() == 64u);
  BOOST_TEST(req[0] == ICMP_ECHO);
  BOOST_TEST(d::internet_checksum(req.data(), req.size()) == 0);  // a valid checksum sums to zero
  // The reply a kernel would send: the same bytes with type 0, behind an IP header.
  std::vector<std::uint8_t> pkt(20, 0);
  pkt[0] = 0x45;
  pkt.insert(pkt.end(), req.begin(), req.end());
  pkt[20] = ICMP_ECHOREPLY;
  auto m = d::parse_icmp(Family::ipv4, pkt.data(), pkt.size());
  BOOST_REQUIRE(m);
  BOOST_TEST(m->reply);
  BOOST_TEST(m->key == 0x12345678u);
}

BOOST_AUTO_TEST_CASE(an_error_is_matched_through_the_echo_it_quotes) {
  auto req = d::make_echo_request(Family::ipv4, 0xabcd0001);
  std::vector<std::uint8_t> quoted(20, 0);
  quoted[0] = 0x45;
  quoted[9] = IPPROTO_ICMP;
  quoted.insert(quoted.end(), req.begin(), req.begin() + 8);
  std::vector<std::uint8_t> pkt(20, 0);
  pkt[0] = 0x45;
  std::uint8_t hdr[8] = {ICMP_DEST_UNREACH, ICMP_HOST_UNREACH};
  pkt.insert(pkt.end(), hdr, hdr + 8);
  pkt.insert(pkt.end(), quoted.begin(), quoted.end());
  auto m = d::parse_icmp(Family::ipv4, pkt.data(), pkt.size());
  BOOST_REQUIRE(m);
  BOOST_TEST(!m->reply);
  BOOST_TEST(m->type == ICMP_DEST_UNREACH);
  BOOST_TEST(m->code == ICMP_HOST_UNREACH);
  BOOST_TEST(m->key == 0xabcd0001u);
  // An error about something that is not our echo, and a truncated one.
  quoted[9] = IPPROTO_UDP;
  std::vector<std::uint8_t> other(pkt.begin(), pkt.begin() + 28);
  other.insert(other.end(), quoted.begin(), quoted.end());
  BOOST_TEST(!d::parse_icmp(Family::ipv4, other.data(), other.size()).has_value());
  BOOST_TEST(!d::parse_icmp(Family::ipv4, pkt.data(), 40).has_value());
  BOOST_TEST(!d::parse_icmp(Family::ipv4, pkt.data(), 3).has_value());
}

BOOST_AUTO_TEST_CASE(icmpv6_errors_quote_the_ipv6_header) {
  auto req = d::make_echo_request(Family::ipv6, 7);
  BOOST_TEST(req[0] == ICMP6_ECHO_REQUEST);
  std::vector<std::uint8_t> pkt = {ICMP6_DST_UNREACH, ICMP6_DST_UNREACH_ADMIN, 0, 0, 0, 0, 0, 0};
  std::vector<std::uint8_t> ip6(40, 0);
  ip6[0] = 0x60;
  ip6[6] = IPPROTO_ICMPV6;
  pkt.insert(pkt.end(), ip6.begin(), ip6.end());
  pkt.insert(pkt.end(), req.begin(), req.begin() + 8);
  auto m = d::parse_icmp(Family::ipv6, pkt.data(), pkt.size());
  BOOST_REQUIRE(m);
  BOOST_TEST(m->key == 7u);
  BOOST_TEST(m->code == ICMP6_DST_UNREACH_ADMIN);
}

BOOST_AUTO_TEST_SUITE_END()
