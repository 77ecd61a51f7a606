// Port scans (Lab::scan) against a firewall whose answers are known port by
// port: open (a service), closed (no listener: RST, port unreachable),
// dropped and rejected by nft (port unreachable: closed; admin-prohibited:
// filtered). Every state is checked against a real client
// (python sockets, nc) and the scan's packets against a capture.
#include <boost/test/unit_test.hpp>

#include <fmt/format.h>

#include "nslab/lab_fixture.h"
#include "nslab/witness.h"
#include "text.h"

using nslab::PortSet;
using nslab::PortState;
using nslab::Protocol;
using nslab::Verdict;
using nslab::testing::has;

namespace {

// inet -- fw. fw serves tcp 22, 80, 443, 8080 and udp 53, 54; nft drops
// tcp 22 and udp 54, rejects tcp 8080 with a port unreachable and udp 55
// with admin-prohibited.
nslab::Topology fw_lab() {
  nslab::Topology t("scan");
  t.add_node("inet");
  t.add_node("fw")
      .service(Protocol::tcp, 22)
      .service(Protocol::tcp, 80)
      .service(Protocol::tcp, 443)
      .service(Protocol::tcp, 8080)
      .service(Protocol::udp, 53)
      .service(Protocol::udp, 54)
      .nftables_ruleset(R"(
    table inet scan_test {
      chain in {
        type filter hook input priority 0;
        tcp dport 22 drop
        tcp dport 8080 reject with icmp type port-unreachable
        udp dport 54 drop
        udp dport 55 reject with icmp type admin-prohibited
      }
    })");
  t.link("inet:eth0 203.0.113.2/24 fd00:3::2/64", "fw:eth0 203.0.113.1/24 fd00:3::1/64");
  return t;
}

nslab::PortScan scan(Protocol p, PortSet ports) {
  nslab::PortScan s;
  s.from = "inet";
  s.to = "fw:eth0";
  s.protocol = p;
  s.ports = std::move(ports);
  return s;
}

nslab::ProbeOptions fast() {
  nslab::ProbeOptions o;
  o.timeout = std::chrono::milliseconds(800);
  return o;
}

Verdict at(const nslab::ScanResult& r, std::uint16_t port) {
  auto ports = r.scan.ports.ports();
  for (std::size_t i = 0; i < ports.size(); ++i)
    if (ports[i] == port) return r.verdicts[i];
  BOOST_FAIL("port not scanned");
  return Verdict::blocked;
}

// python's view of one TCP or UDP port: "open", "refused", "timeout", or
// the error's name.
std::string python_view(const nslab::Node& n, const std::string& proto, int port) {
  std::string code = fmt::format(
      "import socket\n"
      "s = socket.socket(socket.AF_INET, socket.SOCK_{})\n"
      "s.settimeout(1)\n"
      "try:\n"
      "  s.connect(('203.0.113.1', {}))\n"
      "  {}\n"
      "  print('open')\n"
      "except ConnectionRefusedError:\n"
      "  print('refused')\n"
      "except socket.timeout:\n"
      "  print('timeout')\n"
      "except Exception as e:\n"
      "  print(type(e).__name__)\n",
      proto == "tcp" ? "STREAM" : "DGRAM", port, proto == "tcp" ? "pass" : "s.send(b'x'); s.recv(100)");
  return nslab::run_in_node(n, "python3 -c \"" + code + "\"").output;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(port_scan, nslab::LabFixture)

BOOST_AUTO_TEST_CASE(a_full_tcp_scan_finds_exactly_the_open_ports) {
  auto& lab = build(fw_lab());
  auto r = lab.scan(scan(Protocol::tcp, PortSet::range(1, 65535)), fast());
  BOOST_TEST_MESSAGE(r.summary());
  BOOST_REQUIRE(r.verdicts.size() == 65535u);
  BOOST_TEST(r.in(PortState::open).str() == "80, 443");
  BOOST_TEST(r.with(Verdict::blocked).str() == "22");
  // A REJECT with port unreachable reads as a real client reads it: refused.
  BOOST_TEST(at(r, 8080) == Verdict::refused);
  BOOST_TEST(r.with(Verdict::refused).size() == 65535u - 3);
  BOOST_TEST(!r.open_problem(PortSet{80, 443}));
  auto wrong = r.open_problem(PortSet{80});
  BOOST_REQUIRE(wrong);
  BOOST_TEST(*wrong == "open but not expected: 443");
  BOOST_TEST(*r.open_problem(PortSet{22, 80, 443}) == "expected open but filtered: 22");
  // Real clients agree on each kind of port.
  const auto& inet = lab.node("inet");
  BOOST_TEST(has(python_view(inet, "tcp", 80), "open"));
  BOOST_TEST(has(python_view(inet, "tcp", 81), "refused"));
  BOOST_TEST(has(python_view(inet, "tcp", 22), "timeout"));
  BOOST_TEST(has(python_view(inet, "tcp", 8080), "refused"));
  BOOST_TEST(nslab::run_in_node(inet, "nc -z -w 1 203.0.113.1 443").ok());
  BOOST_TEST(!nslab::run_in_node(inet, "nc -z -w 1 203.0.113.1 444").ok());
}

BOOST_AUTO_TEST_CASE(udp_scans_read_silence_as_open_or_filtered) {
  auto& lab = build(fw_lab());
  auto r = lab.scan(scan(Protocol::udp, PortSet::range(50, 60)), fast());
  BOOST_TEST_MESSAGE(r.summary());
  BOOST_TEST(r.in(PortState::open).str() == "53");
  BOOST_TEST(r.in(PortState::open_filtered).str() == "54");
  BOOST_TEST(r.in(PortState::closed).str() == "50-52, 56-60");
  // admin-prohibited is "host unreachable" to a client (EHOSTUNREACH): filtered, as nmap says.
  BOOST_TEST(r.in(PortState::filtered).str() == "55");
  BOOST_TEST(r.open().str() == "53-54");
  BOOST_TEST(!r.open_problem(PortSet{53, 54}));
  const auto& inet = lab.node("inet");
  BOOST_TEST(has(python_view(inet, "udp", 53), "open"));
  BOOST_TEST(has(python_view(inet, "udp", 54), "timeout"));
  BOOST_TEST(has(python_view(inet, "udp", 56), "refused"));
}

BOOST_AUTO_TEST_CASE(a_scan_over_ipv6_and_from_a_bound_source_port) {
  auto& lab = build(fw_lab());
  auto s = scan(Protocol::tcp, PortSet{22, 79, 80, 81});
  s.family = nslab::Family::ipv6;
  s.sport = 41000;
  auto cap = lab.capture("fw:eth0", "ip6 and tcp and src port 41000");
  auto r = lab.scan(s, fast());
  cap.stop();
  BOOST_TEST(r.target.str() == "fd00:3::1");
  BOOST_TEST(r.in(PortState::open).str() == "80");
  BOOST_TEST(r.in(PortState::closed).str() == "79, 81");
  BOOST_TEST(r.in(PortState::filtered).str() == "22");
  // Every port got a SYN from the fixed port (the dropped one at least twice).
  std::size_t syns_to_22 = 0;
  std::size_t syns = 0;
  for (const auto& p : cap.packets()) {
    BOOST_TEST(*p.sport == 41000);
    if (!(*p.tcp_flags & 0x02) || (*p.tcp_flags & 0x10)) continue;  // SYN without ACK
    ++syns;
    if (*p.dport == 22) ++syns_to_22;
  }
  BOOST_TEST(syns >= 5u);
  BOOST_TEST(syns_to_22 >= 2u);
}

BOOST_AUTO_TEST_CASE(a_scan_without_stillness_waits_out_the_timeout) {
  auto& lab = build(fw_lab());
  auto o = fast();
  o.decide_when_still = false;
  o.timeout = std::chrono::milliseconds(300);
  auto r = lab.scan(scan(Protocol::tcp, PortSet::range(20, 30)), o);
  BOOST_TEST(r.with(Verdict::blocked).str() == "22");
  BOOST_TEST(r.with(Verdict::refused).str() == "20-21, 23-30");
  BOOST_TEST(r.elapsed_ms >= 300.0);
  bool waited = false;
  for (const auto& [v, d] : r.evidence)
    if (v == Verdict::blocked) waited = has(d, "no answer within 300 ms");
  BOOST_TEST(waited);
}

BOOST_AUTO_TEST_SUITE_END()
