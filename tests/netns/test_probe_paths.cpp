// Paths and counted probes against the real thing. A trace (Lab::trace) over
// ICMP, UDP and TCP SYN names the same hops, at the same addresses, as
// traceroute and tracepath (iputils) run inside the source node on the same
// lab; a silent hop is `*` for both, a loop shows the same routers again;
// a failover moves the path for both. Counted probes (`ping -c N` as a probe)
// agree with `ping -c N` in the node under 0% and 100% drop.
#include <boost/test/unit_test.hpp>

#include <dirent.h>

#include <fmt/format.h>
#include <sstream>

#include "nslab/lab_fixture.h"
#include "nslab/scenario_run.h"
#include "nslab/witness.h"
#include "text.h"

using nslab::testing::has;

using nslab::PathTrace;
using nslab::Probe;
using nslab::Protocol;

namespace {

const std::string kFailover = std::string(NSLAB_SCENARIOS) + "/routing/traceroute-failover.yaml";

nslab::ProbeOptions fast() {
  nslab::ProbeOptions o;
  o.timeout = std::chrono::milliseconds(1000);
  return o;
}

Probe probe(const char* from, const char* to, Protocol proto = Protocol::icmp, std::uint16_t port = 0) {
  Probe p;
  p.from = from;
  p.to = to;
  p.protocol = proto;
  p.port = port;
  return p;
}

// The address each hop answered from, "*" where none did, as a list.
std::vector<std::string> addresses(const nslab::TraceResult& r) {
  std::vector<std::string> out;
  for (const auto& h : r.hops) out.push_back(h.address ? h.address->str() : "*");
  return out;
}

// The hops traceroute (-n -q 1) prints: its second column, one per line.
std::vector<std::string> traceroute_hops(const nslab::Node& n, const std::string& args) {
  auto r = nslab::run_in_node(n, "traceroute -n -q 1 -w 0.5 " + args);
  BOOST_TEST_REQUIRE(r.status == 0, "traceroute " << args << ": " << r.output);
  std::vector<std::string> out;
  std::istringstream in(r.output);
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    std::string ttl, addr;
    if (!(words >> ttl >> addr) || ttl.find_first_not_of("0123456789") != std::string::npos) continue;
    out.push_back(addr);
  }
  BOOST_TEST_MESSAGE("traceroute " << args << ":\n" << r.output);
  return out;
}

// The hops tracepath (-n) prints: "N:  ADDRESS ...", the first answer of each TTL.
std::vector<std::string> tracepath_hops(const nslab::Node& n, const std::string& args) {
  auto r = nslab::run_in_node(n, "tracepath -n " + args);
  BOOST_TEST_MESSAGE("tracepath " << args << ":\n" << r.output);
  std::vector<std::string> out;
  std::istringstream in(r.output);
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    std::string ttl, addr;
    if (!(words >> ttl >> addr) || ttl.size() < 2 || ttl.back() != ':' || ttl[0] < '0' || ttl[0] > '9' ||
        addr == "[LOCALHOST]" || addr == "no" || addr == "Resume:")
      continue;
    std::size_t k = std::stoul(ttl);
    if (out.size() < k) out.push_back(addr);
  }
  return out;
}

std::size_t open_descriptors() {
  std::size_t n = 0;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (::readdir(d)) ++n;
    ::closedir(d);
  }
  return n;
}

// a -- r1 -- r2 -- b, dual stack, each router forwarding both families.
nslab::Topology chain() {
  nslab::Topology t("chain");
  t.add_node("a").route("default", "10.0.0.1").route("default6", "fd00:a::1");
  t.add_node("r1")
      .sysctl("net.ipv4.ip_forward", "1")
      .sysctl("net.ipv6.conf.all.forwarding", "1")
      .route("10.0.2.0/24", "10.0.1.2")
      .route("fd00:b::/64", "fd00:1::2");
  t.add_node("r2")
      .sysctl("net.ipv4.ip_forward", "1")
      .sysctl("net.ipv6.conf.all.forwarding", "1")
      .route("10.0.0.0/24", "10.0.1.1")
      .route("fd00:a::/64", "fd00:1::1");
  t.add_node("b").route("default", "10.0.2.1").route("default6", "fd00:b::1");
  t.node("b").service(Protocol::tcp, 80);
  t.link("a:eth0 10.0.0.2/24 fd00:a::2/64", "r1:a 10.0.0.1/24 fd00:a::1/64");
  t.link("r1:r2 10.0.1.1/24 fd00:1::1/64", "r2:r1 10.0.1.2/24 fd00:1::2/64");
  t.link("r2:b 10.0.2.1/24 fd00:b::1/64", "b:eth0 10.0.2.2/24 fd00:b::2/64");
  return t;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(probe_paths)

// Over each probe protocol, the trace's hops are traceroute's: the same
// routers at the same addresses, TTL by TTL, and the destination last.
BOOST_FIXTURE_TEST_CASE(a_trace_shows_the_hops_traceroute_shows, nslab::LabFixture) {
  auto& lab = load(kFailover);
  const std::vector<std::string> names{"gw", "r1", "core", "web"};
  struct Case {
    Protocol proto;
    std::uint16_t port;
    const char* traceroute;
  };
  for (auto c : {Case{Protocol::icmp, 0, "-I"}, Case{Protocol::tcp, 80, "-T -p 80"},
                 Case{Protocol::udp, 33434, "-U -p 33434"}}) {
    auto r = lab.trace(PathTrace{.probe = probe("office", "web", c.proto, c.port)}, fast());
    BOOST_TEST(r.reached, r.str());
    BOOST_TEST(r.path() == names, r.str() << "\n" << r.table());
    BOOST_TEST(r.hops.back().destination);
    auto witness = traceroute_hops(lab.node("office"), std::string(c.traceroute) + " 10.9.0.10");
    BOOST_TEST(addresses(r) == witness, r.table());
  }
  // tracepath (UDP, its own port walk) reads the same addresses.
  auto r = lab.trace(PathTrace{.probe = probe("office", "web", Protocol::udp, 33434)}, fast());
  BOOST_TEST(addresses(r) == tracepath_hops(lab.node("office"), "10.9.0.10"), r.table());
  // The policy rule: the guest LAN goes through r2, for nslab and for traceroute.
  auto guest = lab.trace(PathTrace{.probe = probe("guest", "web")}, fast());
  BOOST_TEST((guest.path() == std::vector<std::string>{"gw", "r2", "core", "web"}), guest.str());
  BOOST_TEST(addresses(guest) == traceroute_hops(lab.node("guest"), "-I 10.9.0.10"), guest.table());
}

// IPv6: ICMPv6 time exceeded names each hop, as traceroute -6 and tracepath -6 see them.
BOOST_FIXTURE_TEST_CASE(an_ipv6_trace_reads_icmpv6_time_exceeded, nslab::LabFixture) {
  auto& lab = build(chain());
  for (auto proto : {Protocol::icmp, Protocol::tcp}) {
    Probe p = probe("a", "fd00:b::2", proto, proto == Protocol::tcp ? 80 : 0);
    auto r = lab.trace(PathTrace{.probe = p, .max_hops = 8}, fast());
    BOOST_TEST((r.path() == std::vector<std::string>{"r1", "r2", "b"}), r.str() << "\n" << r.table());
    BOOST_TEST(has(r.hops.front().evidence, "ICMPv6 time exceeded from fd00:a::1"), r.table());
    auto witness =
        traceroute_hops(lab.node("a"), std::string(proto == Protocol::tcp ? "-6 -T -p 80" : "-6 -I") + " fd00:b::2");
    BOOST_TEST(addresses(r) == witness, r.table());
  }
  auto r = lab.trace(PathTrace{.probe = probe("a", "fd00:b::2", Protocol::udp, 33434)}, fast());
  BOOST_TEST(addresses(r) == tracepath_hops(lab.node("a"), "-6 fd00:b::2"), r.table());
}

// A router that sends no time exceeded is `*` at its TTL, for nslab and for
// traceroute, and the path goes on past it; a DROP at the destination is
// trailing silence, one `*`.
BOOST_FIXTURE_TEST_CASE(a_silent_hop_is_a_star, nslab::LabFixture) {
  auto& lab = build(chain());
  auto drop = nslab::run_in_node(lab.node("r2"), "iptables -A OUTPUT -p icmp --icmp-type time-exceeded -j DROP");
  BOOST_TEST_REQUIRE(drop.ok(), drop.output);
  auto r = lab.trace(PathTrace{.probe = probe("a", "b"), .max_hops = 6}, fast());
  BOOST_TEST((r.path() == std::vector<std::string>{"r1", "*", "b"}), r.str() << "\n" << r.table());
  BOOST_TEST(addresses(r) == traceroute_hops(lab.node("a"), "-I -m 6 10.0.2.2"), r.table());
  BOOST_TEST(has(r.table(), " 2  *  no answer"), r.table());

  auto mute = nslab::run_in_node(lab.node("b"), "iptables -A INPUT -p icmp -j DROP");
  BOOST_TEST_REQUIRE(mute.ok(), mute.output);
  auto silent = lab.trace(PathTrace{.probe = probe("a", "b"), .max_hops = 5}, fast());
  BOOST_TEST((silent.path() == std::vector<std::string>{"r1", "*"}), silent.str());
  BOOST_TEST(!silent.reached);
  BOOST_TEST(silent.str() == "r1, * (no answer from ttl 2 to 5)");
  auto witness = traceroute_hops(lab.node("a"), "-I -m 5 10.0.2.2");
  BOOST_TEST((witness == std::vector<std::string>{"10.0.0.1", "*", "*", "*", "*"}));
}

// r1 and r2 each route b's subnet to the other: the trace reports the loop
// where r1 answers a second time, and traceroute shows the same ping-pong.
BOOST_FIXTURE_TEST_CASE(a_routing_loop_is_reported_as_a_loop, nslab::LabFixture) {
  nslab::Topology t = chain();
  t.node("r2").routes.clear();
  t.node("r2").route("10.0.0.0/24", "10.0.1.1").route("10.0.2.2/32", "10.0.1.1");
  auto& lab = build(std::move(t));
  auto r = lab.trace(PathTrace{.probe = probe("a", "b"), .max_hops = 6}, fast());
  BOOST_TEST(r.loop_node.value_or("") == "r1", r.str());
  BOOST_TEST(r.loop_first == 1);
  BOOST_TEST(r.loop_again == 3);
  BOOST_TEST((r.path() == std::vector<std::string>{"r1", "r2", "r1"}), r.str());
  BOOST_TEST(has(r.path_problem({"r1", "r2", "b"}).value_or(""), "(loop: r1 answered at ttl 1 and 3); a routing loop"));
  auto witness = traceroute_hops(lab.node("a"), "-I -m 4 10.0.2.2");
  BOOST_TEST((witness == std::vector<std::string>{"10.0.0.1", "10.0.1.2", "10.0.0.1", "10.0.1.2"}));
  BOOST_TEST(addresses(r) == std::vector<std::string>(witness.begin(), witness.begin() + 3));
}

// The scenario's paths hold, before and after each step; by hand, r1 down
// moves both nslab's trace and traceroute's to r2, and a wrong expectation
// says which hop differs. A trace leaves no socket behind.
BOOST_FIXTURE_TEST_CASE(a_failover_moves_the_path, nslab::LabFixture) {
  auto& lab = load(kFailover);
  auto out = nslab::run_expectations(lab, scenario());
  for (const auto& e : out.expectations) BOOST_TEST(e.passed, e.title << ": " << e.summary << "\n" << e.details);
  BOOST_TEST(out.expectations.size() == 14u);
  // The steps leave the lab as it started (r1 back, the core's route too).
  lab.set_link_up("gw:r1", false);
  lab.set_link_up("core:r1", false);
  auto before = open_descriptors();  // the nodes' raw ICMP sockets are made by now
  auto r = lab.trace(PathTrace{.probe = probe("office", "web", Protocol::tcp, 80)}, fast());
  BOOST_TEST((r.path() == std::vector<std::string>{"gw", "r2", "core", "web"}), r.str());
  BOOST_TEST(addresses(r) == traceroute_hops(lab.node("office"), "-T -p 80 10.9.0.10"), r.table());
  BOOST_TEST(open_descriptors() == before);

  auto wrong = nslab::parse_scenario(
      "nodes: { a: { routes: [ default via 10.0.0.1 ] }, r1: { sysctl: { net.ipv4.ip_forward: 1 } }, b: { routes: [ "
      "default via 10.0.1.1 ] } }\n"
      "links: [ [ \"a:eth0 10.0.0.2/24\", \"r1:a 10.0.0.1/24\" ], [ \"r1:b 10.0.1.1/24\", \"b:eth0 10.0.1.2/24\" ] ]\n"
      "expect:\n"
      "  - { from: b, to: a, path: [r1, a] }\n"
      "  - { from: b, to: a, path: [a] }\n"
      "  - { from: b, to: a, via: r1 }\n",
      "wrong.yaml");
  auto& small = build(wrong.topology);
  auto judged = nslab::run_expectations(small, wrong);
  BOOST_REQUIRE_EQUAL(judged.expectations.size(), 3u);
  BOOST_TEST(judged.expectations[0].passed, judged.expectations[0].summary);
  BOOST_TEST(!judged.expectations[1].passed);
  BOOST_TEST(
      judged.expectations[1].summary == "expected path a, observed r1, a; hop 1 differs: expected a, observed r1",
      judged.expectations[1].summary);
  BOOST_TEST(has(judged.expectations[1].details, " 1  r1  10.0.1.1  ICMP time exceeded from 10.0.1.1"),
             judged.expectations[1].details);
  BOOST_TEST(judged.expectations[2].passed, judged.expectations[2].summary);
}

// `ping -c 10` and a count of 10 agree: all answered on a clean path, none
// under a DROP (the destination's firewall), for ICMP and TCP alike.
BOOST_FIXTURE_TEST_CASE(a_count_agrees_with_ping_under_no_and_full_drop, nslab::LabFixture) {
  auto& lab = build(chain());
  auto all = lab.count_answers(probe("a", "b"), 10, fast());
  BOOST_TEST(all.answered == 10u, all.summary());
  BOOST_TEST(all.loss_percent() == 0.0);
  auto ping = nslab::run_in_node(lab.node("a"), "ping -n -c 10 -i 0.01 -W 1 10.0.2.2");
  BOOST_TEST(has(ping.output, "10 packets transmitted, 10 received, 0% packet loss"), ping.output);
  auto tcp = lab.count_answers(probe("a", "b", Protocol::tcp, 80), 10, fast());
  BOOST_TEST(tcp.answered == 10u, tcp.summary());

  auto drop =
      nslab::run_in_node(lab.node("b"), "iptables -A INPUT -p icmp -j DROP && iptables -A INPUT -p tcp -j DROP");
  BOOST_TEST_REQUIRE(drop.ok(), drop.output);
  auto none = lab.count_answers(probe("a", "b"), 10, fast());
  BOOST_TEST(none.answered == 0u, none.summary());
  BOOST_TEST(none.loss_percent() == 100.0);
  BOOST_TEST(has(none.summary(), "10 sent, 0 answered, 100% loss; blocked 10"), none.summary());
  auto lost = nslab::run_in_node(lab.node("a"), "ping -n -c 10 -i 0.01 -W 1 10.0.2.2");
  BOOST_TEST(has(lost.output, "10 packets transmitted, 0 received, 100% packet loss"), lost.output);
  auto tcp_none = lab.count_answers(probe("a", "b", Protocol::tcp, 80), 10, fast());
  BOOST_TEST(tcp_none.answered == 0u, tcp_none.summary());

  // As an expectation: the bound that holds passes, the other says what it saw.
  auto s = nslab::parse_scenario(
      "nodes: { a: {}, b: {} }\nlinks: [ [ \"a:eth0 10.0.0.1/24\", \"b:eth0 10.0.0.2/24\" ] ]\n"
      "expect:\n"
      "  - { from: a, to: b, count: 10, loss: 100% }\n"
      "  - { from: a, to: b, count: 10, answers: \">= 9\" }\n",
      "count.yaml");
  s.topology.node("b").iptables_rules("-A INPUT -p icmp -j DROP\n");
  auto& small = build(s.topology);
  auto out = nslab::run_expectations(small, s);
  BOOST_REQUIRE_EQUAL(out.expectations.size(), 2u);
  BOOST_TEST(out.expectations[0].passed, out.expectations[0].summary);
  BOOST_TEST(!out.expectations[1].passed);
  BOOST_TEST(has(out.expectations[1].summary, "expected >= 9 answers of 10, observed 0; observed 10 sent, 0 answered"),
             out.expectations[1].summary);
}

// 20% loss toward b (netem, or an nftables random drop without it): a count
// of 200 and `ping -c 200` both see about 160 answers, within five standard
// deviations (about 28) of it.
BOOST_FIXTURE_TEST_CASE(a_count_measures_a_lossy_link_as_ping_does, nslab::LabFixture) {
  nslab::Topology t("lossy");
  t.add_node("a");
  t.add_node("b");
  auto& l = t.link("a:eth0 10.0.0.1/30", "b:eth0 10.0.0.2/30");
  l.impair.loss_percent = 20;
  l.impair.direction = nslab::Impairment::Direction::a_to_b;
  auto& lab = build(std::move(t));
  auto r = lab.count_answers(probe("a", "b"), 200, fast());
  BOOST_TEST(r.answered >= 132u, r.summary());
  BOOST_TEST(r.answered <= 188u, r.summary());
  auto ping = nslab::run_in_node(lab.node("a"), "ping -n -q -c 200 -i 0.002 -W 1 10.0.0.2");
  auto at = ping.output.find(" received");
  BOOST_TEST_REQUIRE(at != std::string::npos, ping.output);
  auto start = ping.output.rfind(", ", at);
  auto received = std::stoul(ping.output.substr(start + 2, at - start - 2));
  BOOST_TEST(received >= 132u, ping.output);
  BOOST_TEST(received <= 188u, ping.output);
  BOOST_TEST_MESSAGE(fmt::format("20% loss: nslab {} of 200 answered, ping {} of 200 received", r.answered, received));
}

BOOST_AUTO_TEST_SUITE_END()
