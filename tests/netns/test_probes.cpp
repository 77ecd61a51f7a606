// Every verdict produced for real, over ICMP, TCP and UDP, IPv4 and IPv6:
// nft drop and reject rules, a closed port, missing and unreachable routes.
#include <boost/test/unit_test.hpp>

#include <fmt/format.h>

#include "nslab/lab_fixture.h"
#include "nslab/witness.h"
#include "text.h"

using nslab::testing::has;

using nslab::Probe;
using nslab::Protocol;
using nslab::Verdict;

namespace {

// red, blue, green, pink on host's bridge (dual stack); external behind host.
// blue serves tcp/80 and udp/53; green DROPs echo requests; pink REJECTs them;
// host has an unreachable and a prohibit route.
nslab::Topology verdict_lab() {
  nslab::Topology t("verdicts");
  t.add_node("host")
      .bridge("v-net-0", {"192.168.1.254/24", "fd00:1::fe/64"})
      .sysctl("net.ipv4.ip_forward", "1")
      .sysctl("net.ipv6.conf.all.forwarding", "1");
  t.node("host").routes.push_back(nslab::RouteSpec::make("198.51.100.0/24"));
  t.node("host").routes.back().type = nslab::RouteType::unreachable;
  t.node("host").routes.push_back(nslab::RouteSpec::make("198.51.101.0/24"));
  t.node("host").routes.back().type = nslab::RouteType::prohibit;
  t.node("host").routes.push_back(nslab::RouteSpec::make("fd00:99::/64"));
  t.node("host").routes.back().type = nslab::RouteType::unreachable;
  int i = 1;
  for (const char* n : {"red", "blue", "green", "pink"}) {
    t.add_node(n).route("default", "192.168.1.254").route("default6", "fd00:1::fe");
    t.link(fmt::format("{}:eth0 192.168.1.{}/24 fd00:1::{}/64", n, i, i), fmt::format("host:veth-{}@v-net-0", n));
    ++i;
  }
  t.add_node("external").route("default", "203.0.113.1").route("default6", "fd00:2::1");
  t.link("host:eth0 203.0.113.1/24 fd00:2::1/64", "external:eth0 203.0.113.2/24 fd00:2::2/64");
  t.node("blue").service(Protocol::tcp, 80).service(Protocol::udp, 53).nftables_ruleset(R"(
    table inet probe_test {
      chain in {
        type filter hook input priority 0;
        tcp dport 81 drop
        tcp dport 82 reject with tcp reset
        udp dport 54 drop
      }
    })");
  t.node("green").nftables_ruleset(R"(
    table inet probe_test {
      chain in {
        type filter hook input priority 0;
        icmp type echo-request drop
        icmpv6 type echo-request drop
      }
    })");
  t.node("pink").nftables_ruleset(R"(
    table inet probe_test {
      chain in {
        type filter hook input priority 0;
        icmp type echo-request reject
        icmpv6 type echo-request reject
      }
    })");
  return t;
}

nslab::ProbeOptions fast() {
  nslab::ProbeOptions o;
  o.timeout = std::chrono::milliseconds(500);
  return o;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(probes, nslab::LabFixture)

BOOST_AUTO_TEST_CASE(icmp_verdicts_ipv4) {
  auto& lab = build(verdict_lab());
  BOOST_TEST(lab.ping("red", "blue", fast()) == Verdict::reachable);
  BOOST_TEST(lab.ping("red", "green", fast()) == Verdict::blocked);
  BOOST_TEST(lab.ping("red", "pink", fast()) == Verdict::refused);
  auto u = lab.probe(Probe{"red", "198.51.100.7"}, fast());
  BOOST_TEST(u.verdict == Verdict::unreachable, u.detail);
  BOOST_TEST(has(u.detail, "ICMP host unreachable from 192.168.1.254"), u.detail);
  auto p = lab.probe(Probe{"red", "198.51.101.7"}, fast());
  BOOST_TEST(p.verdict == Verdict::unreachable, p.detail);
  // Through the router, and to a named interface.
  BOOST_TEST(lab.ping("red", "external", fast()) == Verdict::reachable);
  BOOST_TEST(lab.ping("external", "host:v-net-0", fast()) == Verdict::reachable);
}

BOOST_AUTO_TEST_CASE(a_source_without_a_route_is_unreachable_at_once) {
  auto t = verdict_lab();
  t.node("red").routes.clear();
  auto& lab = build(std::move(t));
  auto r = lab.probe(Probe{"red", "203.0.113.2"}, fast());
  BOOST_TEST(r.verdict == Verdict::unreachable);
  BOOST_TEST(has(r.detail, "Network is unreachable"), r.detail);
  auto tcp = lab.probe(Probe{"red", "203.0.113.2", Protocol::tcp, 80}, fast());
  BOOST_TEST(tcp.verdict == Verdict::unreachable, tcp.detail);
}

BOOST_AUTO_TEST_CASE(tcp_verdicts_and_served_by) {
  auto& lab = build(verdict_lab());
  auto ok = lab.tcp("red", "blue", 80, fast());
  BOOST_TEST(ok.verdict == Verdict::reachable, ok.detail);
  BOOST_TEST(ok.served_by == "blue");
  auto closed = lab.tcp("red", "blue", 85, fast());
  BOOST_TEST(closed.verdict == Verdict::refused, closed.detail);
  BOOST_TEST(has(closed.detail, "RST"), closed.detail);
  BOOST_TEST(lab.tcp("red", "blue", 81, fast()).verdict == Verdict::blocked);
  BOOST_TEST(lab.tcp("red", "blue", 82, fast()).verdict == Verdict::refused);
  auto via = lab.tcp("external", "blue", 80, fast());
  BOOST_TEST(via.verdict == Verdict::reachable, via.detail);
  BOOST_TEST(via.served_by == "blue");
  auto unreach = lab.probe(Probe{"red", "198.51.100.7", Protocol::tcp, 80}, fast());
  BOOST_TEST(unreach.verdict == Verdict::unreachable, unreach.detail);
}

BOOST_AUTO_TEST_CASE(tcp_payload_is_echoed) {
  auto& lab = build(verdict_lab());
  Probe p{"red", "blue", Protocol::tcp, 80};
  p.payload = "hello through the lab";
  auto r = lab.probe(p, fast());
  BOOST_TEST(r.verdict == Verdict::reachable);
  BOOST_TEST(has(r.detail, "payload echoed"), r.detail);
}

BOOST_AUTO_TEST_CASE(udp_verdicts) {
  auto& lab = build(verdict_lab());
  auto ok = lab.udp("red", "blue", 53, fast());
  BOOST_TEST(ok.verdict == Verdict::reachable, ok.detail);
  BOOST_TEST(ok.served_by == "blue");
  auto closed = lab.udp("red", "blue", 55, fast());
  BOOST_TEST(closed.verdict == Verdict::refused, closed.detail);
  BOOST_TEST(has(closed.detail, "port unreachable"), closed.detail);
  BOOST_TEST(lab.udp("red", "blue", 54, fast()).verdict == Verdict::blocked);
  auto unreach = lab.probe(Probe{"red", "198.51.100.7", Protocol::udp, 53}, fast());
  BOOST_TEST(unreach.verdict == Verdict::unreachable, unreach.detail);
}

BOOST_AUTO_TEST_CASE(ipv6_verdicts) {
  auto& lab = build(verdict_lab());
  auto v6 = nslab::Family::ipv6;
  auto probe = [&](const char* from, const char* to, Protocol proto = Protocol::icmp, std::uint16_t port = 0) {
    Probe p{from, to, proto, port, v6};
    p.want_served_by = proto == Protocol::tcp;
    return lab.probe(p, fast());
  };
  BOOST_TEST(probe("red", "blue").verdict == Verdict::reachable);
  BOOST_TEST(probe("red", "blue").target.str() == "fd00:1::2");
  BOOST_TEST(probe("red", "external").verdict == Verdict::reachable);
  BOOST_TEST(probe("red", "green").verdict == Verdict::blocked);
  BOOST_TEST(probe("red", "pink").verdict == Verdict::refused);
  auto u = probe("red", "fd00:99::1");
  BOOST_TEST(u.verdict == Verdict::unreachable, u.detail);
  auto tcp = probe("external", "blue", Protocol::tcp, 80);
  BOOST_TEST(tcp.verdict == Verdict::reachable, tcp.detail);
  BOOST_TEST(tcp.served_by == "blue");
  BOOST_TEST(probe("red", "blue", Protocol::tcp, 85).verdict == Verdict::refused);
  BOOST_TEST(probe("red", "blue", Protocol::tcp, 81).verdict == Verdict::blocked);
  BOOST_TEST(probe("red", "blue", Protocol::udp, 53).verdict == Verdict::reachable);
  BOOST_TEST(probe("red", "blue", Protocol::udp, 55).verdict == Verdict::refused);
}

BOOST_AUTO_TEST_CASE(verdicts_agree_with_the_real_ping) {
  auto& lab = build(verdict_lab());
  // iputils' ping as the witness: it succeeds exactly where nslab says reachable.
  for (const char* to : {"192.168.1.2", "192.168.1.3", "192.168.1.4", "203.0.113.2"}) {
    bool witness = nslab::run_in_node(lab.node("red"), std::string("ping -n -c1 -W1 ") + to).ok();
    BOOST_TEST(witness == (lab.ping("red", to, fast()) == Verdict::reachable), to);
  }
}

BOOST_AUTO_TEST_SUITE_END()
