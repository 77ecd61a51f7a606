// Where a probe starts: from node:interface, from an address, with a source
// address (bind) and a source port. The lab: a has 10.0.1.5 on eth0 and
// 10.0.2.5 on eth1, both to r, which forwards to srv and has strict reverse
// path filtering; a's default route leaves by eth0, so a packet with source
// 10.0.2.5 arrives on r's eth0 and is dropped (the route back to it is eth1).
// Witnesses: ping -I, python sockets bound to the same source, captures.
#include <boost/test/unit_test.hpp>

#include <fmt/format.h>

#include "nslab/lab_fixture.h"
#include "nslab/witness.h"
#include "text.h"

using nslab::Probe;
using nslab::Protocol;
using nslab::Verdict;
using nslab::testing::has;

namespace {

nslab::Topology rp_lab() {
  nslab::Topology t("sources");
  t.add_node("a").route("default", "10.0.1.1");
  t.add_node("r").sysctl("net.ipv4.ip_forward", "1").sysctl("net.ipv4.conf.all.rp_filter", "1");
  t.add_node("srv").route("default", "10.0.9.1").service(Protocol::tcp, 80).service(Protocol::udp, 53);
  t.link("a:eth0 10.0.1.5/24", "r:eth0 10.0.1.1/24");
  t.link("a:eth1 10.0.2.5/24", "r:eth1 10.0.2.1/24");
  t.link("r:eth2 10.0.9.1/24", "srv:eth0 10.0.9.2/24");
  return t;
}

nslab::ProbeOptions fast() {
  nslab::ProbeOptions o;
  o.timeout = std::chrono::milliseconds(800);
  return o;
}

Probe probe(std::string from, Protocol p, std::uint16_t port = 0) {
  Probe x;
  x.from = std::move(from);
  x.to = "srv";
  x.protocol = p;
  x.port = port;
  return x;
}

// A python client bound to `source`: "ok" when it connects (tcp) or gets
// an answer (udp), else the exception's name.
std::string python_client(const nslab::Node& n, const std::string& source, int sport, const std::string& proto) {
  std::string code = fmt::format(
      "import socket\n"
      "s = socket.socket(socket.AF_INET, socket.SOCK_{})\n"
      "s.settimeout(1)\n"
      "s.bind(('{}', {}))\n"
      "try:\n"
      "  s.connect(('10.0.9.2', {}))\n"
      "  {}\n"
      "  print('ok', s.getsockname()[0], s.getsockname()[1])\n"
      "except socket.timeout:\n"
      "  print('timeout')\n"
      "except Exception as e:\n"
      "  print(type(e).__name__)\n",
      proto == "tcp" ? "STREAM" : "DGRAM", source, sport, proto == "tcp" ? 80 : 53,
      proto == "tcp" ? "pass" : "s.send(b'x'); s.recv(100)");
  return nslab::run_in_node(n, "python3 -c \"" + code + "\"").output;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(probe_sources, nslab::LabFixture)

BOOST_AUTO_TEST_CASE(the_source_address_decides_and_real_clients_agree) {
  auto& lab = build(rp_lab());
  // The same probe from each of a's addresses, written three ways.
  auto eth0 = lab.probe(probe("a:eth0", Protocol::tcp, 80), fast());
  auto eth1 = lab.probe(probe("a:eth1", Protocol::tcp, 80), fast());
  auto addr = lab.probe(probe("10.0.2.5", Protocol::tcp, 80), fast());
  auto bound = probe("a", Protocol::tcp, 80);
  bound.source = nslab::IpAddress::parse("10.0.2.5");
  auto src = lab.probe(bound, fast());
  BOOST_TEST(eth0.verdict == Verdict::reachable, eth0.detail);
  BOOST_TEST(eth0.seen_from == "10.0.1.5");
  BOOST_TEST(eth1.verdict == Verdict::blocked, eth1.detail);
  BOOST_TEST(addr.verdict == Verdict::blocked, addr.detail);
  BOOST_TEST(src.verdict == Verdict::blocked, src.detail);
  // A plain node name: the kernel picks eth0's address (the route's source).
  BOOST_TEST(lab.probe(probe("a", Protocol::tcp, 80), fast()).seen_from == "10.0.1.5");
  // python sockets bound to the same addresses see the same.
  BOOST_TEST(has(python_client(lab.node("a"), "10.0.1.5", 0, "tcp"), "ok 10.0.1.5"));
  BOOST_TEST(has(python_client(lab.node("a"), "10.0.2.5", 0, "tcp"), "timeout"));
  BOOST_TEST(has(python_client(lab.node("a"), "10.0.1.5", 0, "udp"), "ok 10.0.1.5"));
  BOOST_TEST(has(python_client(lab.node("a"), "10.0.2.5", 0, "udp"), "timeout"));
  // ICMP from each source, and iputils' ping -I with it.
  BOOST_TEST(lab.probe(probe("a:eth0", Protocol::icmp), fast()).verdict == Verdict::reachable);
  BOOST_TEST(lab.probe(probe("a:eth1", Protocol::icmp), fast()).verdict == Verdict::blocked);
  BOOST_TEST(nslab::run_in_node(lab.node("a"), "ping -n -c1 -W1 -I 10.0.1.5 10.0.9.2").ok());
  BOOST_TEST(!nslab::run_in_node(lab.node("a"), "ping -n -c1 -W1 -I 10.0.2.5 10.0.9.2").ok());
}

BOOST_AUTO_TEST_CASE(a_capture_shows_the_chosen_source_address_and_port) {
  auto& lab = build(rp_lab());
  {
    // The blocked probe from eth1's address did leave with that address:
    // r saw it arrive on eth0, and dropped it.
    auto cap = lab.capture("r:eth0", "icmp");
    auto r = lab.probe(probe("a:eth1", Protocol::icmp), fast());
    cap.stop();
    BOOST_TEST(r.verdict == Verdict::blocked);
    BOOST_REQUIRE(!cap.packets().empty());
    for (const auto& p : cap.packets()) BOOST_TEST(p.src->str() == "10.0.2.5", p.str());
  }
  for (auto proto : {Protocol::tcp, Protocol::udp}) {
    auto cap = lab.capture("srv:eth0", proto == Protocol::tcp ? "tcp dst port 80" : "udp dst port 53");
    auto p = probe("a", proto, proto == Protocol::tcp ? 80 : 53);
    p.source = nslab::IpAddress::parse("10.0.1.5");
    p.sport = 40000;
    auto r = lab.probe(p, fast());
    cap.stop();
    BOOST_TEST(r.verdict == Verdict::reachable, r.detail);
    BOOST_TEST(r.seen_from == "10.0.1.5");
    BOOST_REQUIRE(!cap.packets().empty());
    for (const auto& pk : cap.packets()) {
      BOOST_TEST(pk.src->str() == "10.0.1.5", pk.str());
      BOOST_TEST(*pk.sport == 40000, pk.str());
    }
  }
  // A fixed TCP port again at once: SO_REUSEADDR lets it bind while the
  // first connection's end lingers (TIME_WAIT is at the server, which closed).
  auto again = probe("a", Protocol::tcp, 80);
  again.sport = 40000;
  BOOST_TEST(lab.probe(again, fast()).verdict == Verdict::reachable);
}

BOOST_AUTO_TEST_CASE(a_fixed_tcp_source_port_waits_out_a_drop) {
  auto& lab = build(rp_lab());
  auto p = probe("a:eth1", Protocol::tcp, 80);
  p.sport = 40010;
  auto r = lab.probe(p, fast());
  BOOST_TEST(r.verdict == Verdict::blocked);
  BOOST_TEST(has(r.detail, "a fixed source port allows one connection attempt"), r.detail);
}

BOOST_AUTO_TEST_CASE(a_matrix_takes_interfaces_of_a_multi_homed_node) {
  auto& lab = build(rp_lab());
  nslab::MatrixSpec m;
  m.nodes = {"a:eth0", "a:eth1", "srv"};
  auto report = lab.run_matrix(m, fast());
  // srv -> a:eth1 is answered from 10.0.2.5 by way of eth0: rp_filter drops it.
  BOOST_TEST(report.results.size() == 4u);
  BOOST_TEST(report.observed.at("a:eth0", "srv") == Verdict::reachable);
  BOOST_TEST(report.observed.at("a:eth1", "srv") == Verdict::blocked);
  BOOST_TEST(report.observed.at("srv", "a:eth0") == Verdict::reachable);
  BOOST_TEST(report.observed.at("srv", "a:eth1") == Verdict::blocked);
  BOOST_TEST(has(report.text(), "-"));
}

BOOST_AUTO_TEST_CASE(sources_that_name_nothing_are_config_errors) {
  auto& lab = build(rp_lab());
  BOOST_CHECK_THROW(lab.probe(probe("10.9.9.9", Protocol::icmp), fast()), nslab::ConfigError);
  auto p = probe("a", Protocol::icmp);
  p.source = nslab::IpAddress::parse("10.0.9.2");  // srv's, not a's
  BOOST_CHECK_THROW(lab.probe(p, fast()), nslab::ConfigError);
  auto q = probe("a", Protocol::icmp);
  q.sport = 5;
  BOOST_CHECK_THROW(lab.probe(q, fast()), nslab::ConfigError);
}

BOOST_AUTO_TEST_SUITE_END()
