// ICMP types other than the echo and broadcasts, without privilege: the
// names and numbers (nslab/icmp_type.h), the bytes the engine writes and
// recognises (icmp_codec.h), and the scenario keys, every mistake refused at
// file:line:column.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <string>
#include <variant>

#include "icmp_codec.h"
#include "nslab/icmp_type.h"
#include "nslab/probe.h"
#include "nslab/scenario.h"
#include "scenario_errors.h"
#include "text.h"

using nslab::Family;
using nslab::IcmpType;
using nslab::testing::has;
using nslab::testing::scenario_errors;
namespace d = nslab::detail;

namespace {

// a -- b dual stack, a -- c IPv4 only. Line 9 holds the expectation
// `- { from: a, to: b, KEYS }`, whose keys start at column 23.
std::string lab(const std::string& keys, const std::string& to = "b") {
  return "nodes:\n  a: {}\n  b: {}\n  c: {}\n"
         "links:\n  - [ \"a:eth0 10.0.0.1/24 fd00::1/64\", \"b:eth0 10.0.0.2/24 fd00::2/64\" ]\n"
         "  - [ \"a:eth1 10.0.1.1/24\", \"c:eth0 10.0.1.3/24\" ]\n"
         "expect:\n  - { from: a, to: " +
         to + ", " + keys + " }\n";
}

// "@to": the target's own column.
std::string at(const std::string& keys, const std::string& text, const std::string& to = "b") {
  if (text == "@to") return "lab.yaml:9:20: ";
  if (text == "@item") return "lab.yaml:9:5: ";
  return "lab.yaml:9:" + std::to_string(keys.find(text) + 19 + to.size() + 2 + 1) + ": ";
}

nslab::ProbeExpectation expectation_of(const std::string& keys, const std::string& to = "b") {
  auto s = nslab::parse_scenario(lab(keys, to), "lab.yaml");
  BOOST_REQUIRE_EQUAL(s.expectations.size(), 1u);
  return std::get<nslab::ProbeExpectation>(s.expectations.front());
}

void refused(const std::string& keys, const std::string& what, const std::string& text, const std::string& to = "b") {
  auto e = scenario_errors(lab(keys, to));
  BOOST_TEST(has(e, at(keys, what, to) + text), keys << "\n" << e);
}

// An IPv4 header in front of `icmp`, as a raw IPv4 socket reads it.
std::vector<std::uint8_t> with_ip(const std::vector<std::uint8_t>& icmp) {
  std::vector<std::uint8_t> p(20 + icmp.size(), 0);
  p[0] = 0x45;
  p[9] = 1;
  std::copy(icmp.begin(), icmp.end(), p.begin() + 20);
  return p;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(icmp_types)

BOOST_AUTO_TEST_CASE(names_are_those_of_iptables_and_ip6tables) {
  auto ts = IcmpType::parse("timestamp-request", Family::ipv4);
  BOOST_REQUIRE(ts);
  BOOST_TEST((*ts == IcmpType::timestamp()));
  BOOST_TEST((*IcmpType::parse("timestamp", Family::ipv4) == IcmpType::timestamp()));
  BOOST_TEST(ts->str() == "timestamp-request");
  BOOST_TEST(*ts->reply_type() == 14);
  BOOST_TEST(!ts->error());
  auto port = IcmpType::parse("port-unreachable", Family::ipv4);
  BOOST_TEST((port->type == 3 && port->code == 3));
  BOOST_TEST(port->error());
  BOOST_TEST(!port->reply_type());
  auto ra6 = IcmpType::parse("router-advertisement", Family::ipv6);
  BOOST_TEST(ra6->type == 134);
  BOOST_TEST(!ra6->error());
  BOOST_TEST((IcmpType::parse("neighbor-solicitation", Family::ipv6)->type == 135));
  BOOST_TEST((IcmpType::parse("port-unreachable", Family::ipv6)->code == 4));
  BOOST_TEST(!IcmpType::parse("timestamp", Family::ipv6));  // IPv6 has none
  std::string why;
  BOOST_TEST(!IcmpType::parse("pong", Family::ipv4, &why));
  BOOST_TEST(has(why, "\"pong\" is not the name of an ICMP type (as iptables names them: echo-reply"), why);
  BOOST_TEST((IcmpType{Family::ipv4, 3, 8}.str() == "destination-unreachable code 8"));
  BOOST_TEST((IcmpType{Family::ipv4, 200, 1}.str() == "type 200 code 1"));
  BOOST_TEST((IcmpType{Family::ipv6, 8, 0}.error()));
  BOOST_TEST((IcmpType{Family::ipv4, 8, 0}.echo()));
}

BOOST_AUTO_TEST_CASE(a_timestamp_carries_the_key_as_an_echo_does) {
  auto req = d::make_icmp_message(IcmpType::timestamp(), 0x12345678, *nslab::IpAddress::parse("10.0.0.2"));
  BOOST_REQUIRE_EQUAL(req.size(), 20u);  // RFC 792: header, id, seq, three timestamps
  BOOST_TEST(req[0] == 13);
  BOOST_TEST(d::internet_checksum(req.data(), req.size()) == 0);  // a correct checksum sums to zero
  // The target's reply: type 14, the same identifier and sequence number.
  auto reply = req;
  reply[0] = 14;
  auto m = d::parse_icmp(Family::ipv4, with_ip(reply).data(), with_ip(reply).size());
  BOOST_REQUIRE(m);
  BOOST_TEST(m->reply);
  BOOST_TEST(m->key == 0x12345678u);
  // A router's time exceeded, quoting the request.
  std::vector<std::uint8_t> te{11, 0, 0, 0, 0, 0, 0, 0};
  auto quoted = with_ip(req);
  te.insert(te.end(), quoted.begin(), quoted.begin() + 28);
  auto e = d::parse_icmp(Family::ipv4, with_ip(te).data(), with_ip(te).size());
  BOOST_REQUIRE(e);
  BOOST_TEST(!e->reply);
  BOOST_TEST(e->key == 0x12345678u);
}

BOOST_AUTO_TEST_CASE(a_message_without_answer_carries_a_mark_and_the_key) {
  auto target = *nslab::IpAddress::parse("10.0.0.2");
  auto unreach = d::make_icmp_message(IcmpType{Family::ipv4, 3, 3}, 0xdeadbeef, target);
  BOOST_TEST(unreach[0] == 3);
  BOOST_TEST(unreach[1] == 3);
  BOOST_TEST(d::internet_checksum(unreach.data(), unreach.size()) == 0);
  BOOST_TEST(unreach[8] == 0x45);                               // it quotes an IPv4 header ...
  BOOST_TEST(unreach[8 + 9] == 17);                             // ... of a UDP datagram ...
  BOOST_TEST((unreach[8 + 12] == 10 && unreach[8 + 15] == 2));  // ... from the target
  auto seen = d::parse_delivered(Family::ipv4, with_ip(unreach).data(), with_ip(unreach).size());
  BOOST_REQUIRE(seen);
  BOOST_TEST((seen->type == 3 && seen->code == 3 && seen->key == 0xdeadbeefu));
  auto redirect = d::make_icmp_message(*IcmpType::parse("redirect", Family::ipv4), 7, target);
  BOOST_TEST((redirect[4] == 0 && redirect[5] == 0 && redirect[6] == 0 && redirect[7] == 0));  // no gateway
  auto ra = d::make_icmp_message(*IcmpType::parse("router-advertisement", Family::ipv4), 9, target);
  BOOST_TEST(ra.size() == 8u + 10 + 4);  // no quote: not an error
  BOOST_TEST(d::parse_delivered(Family::ipv4, with_ip(ra).data(), with_ip(ra).size())->key == 9u);
  auto t6 = *nslab::IpAddress::parse("fd00::2");
  auto ra6 = d::make_icmp_message(*IcmpType::parse("router-advertisement", Family::ipv6), 11, t6);
  BOOST_TEST(d::parse_delivered(Family::ipv6, ra6.data(), ra6.size())->key == 11u);
  auto big6 = d::make_icmp_message(*IcmpType::parse("packet-too-big", Family::ipv6), 12, t6);
  BOOST_TEST(big6.size() == 8u + 48 + 10 + 4);
  BOOST_TEST(d::parse_delivered(Family::ipv6, big6.data(), big6.size())->key == 12u);
  // Not ours: no mark; truncated: nothing.
  std::vector<std::uint8_t> other(40, 0);
  other[0] = 9;
  BOOST_TEST(!d::parse_delivered(Family::ipv6, other.data(), other.size()));
  BOOST_TEST(!d::parse_delivered(Family::ipv4, unreach.data(), 12));
}

BOOST_AUTO_TEST_CASE(scenario_forms_reach_the_probe) {
  auto ts = expectation_of("icmp: timestamp, verdict: reachable");
  BOOST_REQUIRE(ts.probe.icmp_type);
  BOOST_TEST((*ts.probe.icmp_type == IcmpType::timestamp()));
  BOOST_TEST((ts.verdict == nslab::Verdict::reachable));
  BOOST_TEST(ts.str() == "a -> b icmp timestamp-request: reachable");
  auto unreach = expectation_of("icmp: { type: 3, code: 3 }, verdict: delivered");
  BOOST_TEST((unreach.probe.icmp_type == IcmpType{Family::ipv4, 3, 3}));
  BOOST_TEST((unreach.verdict == nslab::Verdict::delivered));
  BOOST_TEST(unreach.str() == "a -> b icmp port-unreachable: delivered");
  auto named = expectation_of("icmp: { type: destination-unreachable, code: host-unreachable }, verdict: blocked");
  BOOST_TEST((named.probe.icmp_type == IcmpType{Family::ipv4, 3, 1}));
  auto ra6 = expectation_of("icmpv6: router-advertisement, verdict: delivered");
  BOOST_TEST((ra6.probe.icmp_type == IcmpType{Family::ipv6, 134, 0}));
  BOOST_TEST(ra6.str() == "a -> b icmpv6 router-advertisement: delivered");
  auto num6 = expectation_of("icmpv6: { type: 200, code: 1 }, verdict: blocked");
  BOOST_TEST((num6.probe.icmp_type == IcmpType{Family::ipv6, 200, 1}));
  auto echo = expectation_of("icmp: reachable");  // as ever
  BOOST_TEST(!echo.probe.icmp_type);
  auto bc = expectation_of("icmp: reachable, answered_by: [c, b]", "10.0.0.255");
  BOOST_TEST(bc.probe.broadcast);
  BOOST_TEST((*bc.answered_by == std::vector<std::string>{"b", "c"}));
  BOOST_TEST(bc.str() == "a -> 10.0.0.255 icmp broadcast: reachable, answered by b, c");
  auto none = expectation_of("icmp: blocked, answered_by: []", "10.0.0.255");
  BOOST_TEST(none.answered_by->empty());
  // In a capture's probe too.
  auto s = nslab::parse_scenario(
      "nodes: { a: {}, b: {} }\nlinks: [ [ \"a:eth0 10.0.0.1/24\", \"b:eth0 10.0.0.2/24\" ] ]\n"
      "expect:\n  - capture: { on: \"b:eth0\", during: { from: a, to: b, icmp: timestamp }, filter: icmp }\n",
      "lab.yaml");
  BOOST_TEST((*std::get<nslab::CaptureExpectation>(s.expectations.front()).during.icmp_type == IcmpType::timestamp()));
}

BOOST_AUTO_TEST_CASE(scenario_mistakes_are_refused_where_they_are) {
  refused("icmp: timestamp", "@item",
          "an ICMP timestamp-request probe needs a verdict: reachable (answered with "
          "timestamp-reply), blocked, refused or unreachable");
  refused("icmp: timestamp, verdict: delivered", "delivered",
          "\"delivered\" is the verdict of an ICMP message that gets no answer");
  refused("icmp: redirect, verdict: reachable", "reachable",
          "redirect gets no answer, so it is judged by delivery: write verdict: delivered");
  refused("icmp: delivered", "delivered", "\"delivered\" is the verdict of an ICMP message that gets no answer");
  refused("tcp: 80, verdict: delivered", "delivered", "\"delivered\" is the verdict");
  refused("icmp: timestamp-requst, verdict: reachable", "timestamp-requst",
          "\"timestamp-requst\" is not the name of an ICMP type; did you mean \"timestamp-request\"?");
  refused("icmp: reachabel", "reachabel", "\"reachabel\" is not a verdict; did you mean \"reachable\"?");
  refused("icmpv6: timestamp, verdict: reachable", "timestamp", "\"timestamp\" is not the name of an ICMPv6 type");
  refused("icmp: { type: 300 }, verdict: delivered", "300", "type must be a whole number from 0 to 255");
  refused("icmp: { code: 3 }, verdict: delivered", "{ code", "an ICMP message needs a type");
  refused("icmp: { type: 3, cod: 3 }, verdict: delivered", "cod", "unknown key \"cod\"");
  refused("icmp: { type: 3, code: host-redirect }, verdict: delivered", "host-redirect",
          "\"host-redirect\" is a code of type 5 (redirect), not of type 3");
  refused("icmp: { type: port-unreachable, code: 1 }, verdict: delivered", "1 }",
          "\"port-unreachable\" names a type and its code; leave code out");
  refused("icmp: [3], verdict: delivered", "[3]", "icmp takes a verdict (an echo), a type name, or");
  refused("icmp: timestamp, verdict: reachable, size: 100", "100", "size is an echo's data");
  refused("icmp: timestamp, verdict: reachable, family: ipv6", "ipv6", "icmp already makes the probe ipv4");
  refused("icmpv6: router-advertisement, verdict: delivered", "@to", "\"c\" has no ipv6 address for an ICMPv6 message",
          "c");
  refused("icmpv6: router-advertisement, verdict: delivered", "@to",
          "an ICMPv6 message needs an ipv6 target, not 10.0.0.2", "10.0.0.2");
  refused("icmp: timestamp, icmpv6: redirect, verdict: reachable", "@item", "an expectation names exactly one of icmp");
  refused("icmp: reachable, answered_by: [b]", "@to", "answered_by needs an echo to an IPv4 broadcast address");
  refused("icmp: reachable, answered_by: [b, b]", "b]", "\"b\" is listed twice in answered_by", "10.0.0.255");
  refused("icmp: reachable, answered_by: [x]", "x]", "no node \"x\"", "10.0.0.255");
  refused("icmp: reachable, answered_by: []", "[]", "answered_by is empty (nobody answers), so the verdict is blocked",
          "10.0.0.255");
  refused("icmp: blocked, answered_by: [b]", "[b]", "answered_by names nodes that answer, so the verdict is reachable",
          "10.0.0.255");
  refused("icmp: redirect, verdict: delivered, answered_by: [b]", "[b]", "answered_by lists the nodes that answer",
          "10.0.0.255");
  refused("tcp: 80, answered_by: [b]", "[b]", "answered_by needs an icmp echo to a broadcast address");
}

BOOST_AUTO_TEST_SUITE_END()
