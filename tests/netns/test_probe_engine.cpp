// The probe engine's promises beyond the verdict: a payload is compared
// byte for byte (TCP and UDP, large ones too), and a matrix completes within
// any descriptor limit.
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <fmt/format.h>
#include <fstream>

#include "link_impairment.h"
#include "nslab/lab_fixture.h"
#include "nslab/witness.h"
#include "seed_topologies.h"
#include "scratch.h"
#include "text.h"

using nslab::Probe;
using nslab::ProcessSpec;
using nslab::Protocol;
using nslab::Verdict;
using nslab::testing::has;
using nslab::testing::Scratch;
using namespace std::chrono_literals;

namespace {

// A TCP server that greets like nothing at all and answers every request
// with the same wrong bytes; and a UDP one that does the same.
const char* kWrongTcp = R"(import socket
s = socket.socket(socket.AF_INET6); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('::', 7000)); s.listen(16)
while True:
    c, _ = s.accept(); c.recv(65536); c.sendall(b'WRONG'); c.close()
)";
const char* kWrongUdp = R"(import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); s.bind(('::', 7001))
while True:
    d, a = s.recvfrom(65536); s.sendto(d[:-1] + b'?', a)
)";

nslab::ProbeOptions quick() {
  nslab::ProbeOptions o;
  o.timeout = 1500ms;
  return o;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(probe_engine, nslab::LabFixture)

BOOST_AUTO_TEST_CASE(a_payload_is_compared_byte_for_byte) {
  auto t = nslab::seed::veth_pair();
  t.node("blue").service(Protocol::tcp, 80).service(Protocol::udp, 53);
  auto& lab = build(std::move(t));
  auto& tcp_server = lab.start("blue", ProcessSpec{.argv = {"python3", "-c", kWrongTcp}});
  auto& udp_server = lab.start("blue", ProcessSpec{.argv = {"python3", "-c", kWrongUdp}});
  nslab::wait_listening(lab.node("blue"), Protocol::tcp, 7000, 10s, &tcp_server);
  nslab::wait_listening(lab.node("blue"), Protocol::udp, 7001, 10s, &udp_server);

  // The built-in services echo intact, over TCP and UDP, large payloads too
  // (a UDP echo of 60,000 bytes comes back in one datagram with the greeting).
  for (auto [proto, port, size] : {std::tuple{Protocol::tcp, 80, 11}, std::tuple{Protocol::tcp, 80, 1 << 20},
                                   std::tuple{Protocol::udp, 53, 11}, std::tuple{Protocol::udp, 53, 60000}}) {
    Probe p{.from = "red", .to = "blue", .protocol = proto, .port = static_cast<std::uint16_t>(port)};
    for (int i = 0; i < size; ++i) p.payload += static_cast<char>('a' + i % 26);
    auto r = lab.probe(p, quick());
    BOOST_TEST_CONTEXT(p.str() << " with " << size << " bytes") {
      BOOST_TEST(r.verdict == Verdict::reachable, r.detail);
      BOOST_TEST(r.served_by == "blue", r.detail);
      BOOST_TEST(!r.payload_problem().has_value(), r.payload_problem().value_or(""));
      BOOST_TEST(has(r.detail, "payload echoed"), r.detail);
    }
  }
  // Servers that answer with other bytes: reachable, but the payload check fails.
  for (auto port : {7000, 7001}) {
    Probe p{.from = "red",
            .to = "blue",
            .protocol = port == 7000 ? Protocol::tcp : Protocol::udp,
            .port = static_cast<std::uint16_t>(port),
            .payload = "hello there"};
    auto r = lab.probe(p, quick());
    BOOST_TEST_CONTEXT(p.str()) {
      BOOST_TEST(r.verdict == Verdict::reachable, r.detail);
      BOOST_TEST(r.served_by.empty(), "no nslab service: " << r.served_by);
      BOOST_REQUIRE(r.payload_problem().has_value());
      BOOST_TEST(has(*r.payload_problem(), "came back altered"), *r.payload_problem());
    }
  }
}

// The same through `nslab check`: an altered payload fails the expectation
// (exit 1) and says what came back.
BOOST_AUTO_TEST_CASE(an_altered_payload_fails_its_expectation) {
  Scratch s("nslab-engine");
  std::string file = s.write("payload.yaml", fmt::format(R"(name: payload
nodes:
  red:
  blue:
    services: [ tcp/80 ]
    run:
      - {{ command: [ python3, -c, "{}" ], ready: {{ tcp: 7000 }}, timeout: 10s }}
links: [ [ "red:eth0 10.0.0.1/24", "blue:eth0 10.0.0.2/24" ] ]
expect:
  - {{ from: red, to: blue, tcp: 80, payload: "hello" }}
  - {{ from: red, to: blue, tcp: 7000, payload: "hello" }}
)",
                                                         [] {
                                                           std::string py;
                                                           for (char c : std::string(kWrongTcp))
                                                             py += c == '\n' ? std::string("\\n") : std::string(1, c);
                                                           return py;
                                                         }()));
  auto r = nslab::run_command(fmt::format("{} check {} 2>&1", NSLAB_BINARY, file));
  BOOST_TEST(r.status == 1, r.output);
  BOOST_TEST(has(r.output, "ok   " + file + ":10:5"), r.output);
  BOOST_TEST(has(r.output, "FAIL " + file + ":11:5"), r.output);
  BOOST_TEST(has(r.output, "the payload came back altered: sent 5 bytes, got 5; first difference at byte 0"), r.output);
}

// Every TCP probe can hold up to eight descriptors at once (its connection
// attempts and the service's accepted ends). Under a low limit the engine
// queues probes instead of failing with "Too many open files".
BOOST_AUTO_TEST_CASE(a_tcp_matrix_completes_under_a_low_descriptor_limit) {
  Scratch s("nslab-engine");
  std::string yaml = "name: many\nnodes:\n  host:\n    bridges: { br0: }\n";
  std::string links, names;
  for (int i = 1; i <= 30; ++i) {
    yaml += fmt::format("  n{}: {{ services: [ tcp/80 ] }}\n", i);
    links += fmt::format("  - [ \"n{0}:eth0 10.0.0.{0}/24\", \"host:p{0}@br0\" ]\n", i);
    names += fmt::format("{}n{}", i == 1 ? "" : ", ", i);
  }
  yaml += "links:\n" + links + fmt::format("expect:\n  - matrix: {{ protocol: tcp, port: 80, nodes: [{}] }}\n", names);
  std::string file = s.write("many.yaml", yaml);
  auto r = nslab::run_command(fmt::format("prlimit --nofile=200:200 {} check {} 2>&1", NSLAB_BINARY, file));
  BOOST_TEST(r.status == 0, r.output);
  BOOST_TEST(has(r.output, "870 of 870 cells as expected"), r.output);
}

// A node's ruleset that begins with `flush ruleset` (as nft -f files do)
// is loaded before nslab's loss tables, so the link still loses packets, as
// ping counts; a flush run later, while the lab runs, fails the next probe
// with the reason instead of silently taking the loss away.
BOOST_AUTO_TEST_CASE(loss_survives_a_flush_ruleset_in_the_nodes_own_rules) {
  nslab::Topology t("flushloss");
  t.add_node("a");
  t.add_node("b").nftables_ruleset(
      "flush ruleset\ntable inet mine {\n  chain input {\n    type filter hook input priority 0;\n    accept\n  "
      "}\n}\n");
  t.link("a:eth0 10.0.0.1/24", "b:eth0 10.0.0.2/24").impair = nslab::Impairment{.loss_percent = 30.0};
  auto& lab = build(std::move(t));
  // 200 pings, each crossing twice: 51% lost on average, 3.5% standard deviation.
  auto ping =
      nslab::run_in_node(lab.node("a"), "ping -n -q -c 200 -i 0.002 -W 1 10.0.0.2 | grep -o '[0-9.]*% packet loss'");
  double lost = std::stod(ping.output);
  BOOST_TEST(lost > 33.0, ping.output);
  BOOST_TEST(lost < 69.0, ping.output);
  if (nslab::kernel_has_netem()) return;  // loss is a qdisc there: no table to lose
  auto table = nslab::run_in_node(lab.node("b"), "nft list table netdev nslab_loss_eth0");
  BOOST_TEST(has(table.output, "numgen random mod 1000000 < 300000"), table.output);
  nslab::run_in_node(lab.node("b"), "nft flush ruleset");
  try {
    lab.probe(Probe{.from = "a", .to = "b"});
    BOOST_ERROR("a probe ran without the link's loss");
  } catch (const nslab::Error& e) {
    BOOST_TEST(has(e.what(), "node \"b\": nslab's loss table \"nslab_loss_eth0\" is gone"), e.what());
  }
}

// A UDP datagram larger than the path's MTU (1280 between r and dst) is
// answered with ICMPv6 "packet too big" (IPv4: "fragmentation needed"); a
// client's next send is fragmented to fit, and is answered. That answer is
// the verdict, as a Python client that sends again sees.
BOOST_AUTO_TEST_CASE(a_udp_datagram_too_big_for_the_path_is_sent_again_in_fragments) {
  nslab::Topology t("ptb");
  t.add_node("src").route("default", "10.1.0.1").route("default6 via fd00:1::1");
  t.add_node("r").sysctl("net.ipv4.ip_forward", "1").sysctl("net.ipv6.conf.all.forwarding", "1");
  t.add_node("dst").route("default", "10.2.0.1").route("default6 via fd00:2::1").service(Protocol::udp, 53);
  t.link("src:eth0 10.1.0.2/24 fd00:1::2/64", "r:eth0 10.1.0.1/24 fd00:1::1/64");
  auto& narrow = t.link("r:eth1 10.2.0.1/24 fd00:2::1/64", "dst:eth0 10.2.0.2/24 fd00:2::2/64");
  narrow.a.mtu = narrow.b.mtu = 1280;
  auto& lab = build(std::move(t));
  std::string big(3000, 'A');
  for (auto family : {nslab::Family::ipv6, nslab::Family::ipv4}) {
    BOOST_TEST_CONTEXT(nslab::to_string(family)) {
      auto r = lab.probe(
          Probe{.from = "src", .to = "dst", .protocol = Protocol::udp, .port = 53, .family = family, .payload = big},
          quick());
      BOOST_TEST(r.verdict == Verdict::reachable, r.detail);
      BOOST_TEST(!r.payload_problem(), r.detail);
    }
  }
  auto client = nslab::run_in_node(lab.node("src"), R"(python3 -c '
import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); s.settimeout(0.5); s.connect(("fd00:2::2", 53))
for i in range(3):
    try:
        s.send(b"A" * 3000); print("attempt", i, "reply", len(s.recv(70000))); break
    except OSError as e: print("attempt", i, e)
')");
  BOOST_TEST(has(client.output, "reply"), client.output);
}

BOOST_AUTO_TEST_SUITE_END()
