// `blocked` decided as soon as the lab is still, and never sooner: the fast
// verdicts agree with waiting out every timeout, a packet held in a queue or
// an answer a program may still send keeps the probe waiting, and the
// evidence says how each verdict was reached.
#include <boost/test/unit_test.hpp>

#include <fmt/format.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "nslab/lab_fixture.h"
#include "nslab/witness.h"
#include "seed_topologies.h"
#include "text.h"

using nslab::Probe;
using nslab::ProcessSpec;
using nslab::Protocol;
using nslab::Verdict;
using nslab::testing::has;
using namespace std::chrono_literals;

namespace {

// host routes between red/blue (bridge) and external; blue drops, external
// has no route back to 10.9.0.0/16, host rejects tcp/81 and blackholes one
// prefix: blocked, refused, unreachable and reachable cells side by side.
nslab::Topology mixed_lab(nslab::Impairment uplink = {}) {
  nslab::Topology t("mixed");
  t.add_node("host")
      .bridge("br0", {"10.1.0.1/24"})
      .sysctl("net.ipv4.ip_forward", "1")
      .iptables_rules("-A FORWARD -p tcp --dport 81 -j REJECT\n-A FORWARD -d 10.2.0.9 -j DROP");
  t.node("host").routes.push_back(nslab::RouteSpec::make("10.99.0.0/24"));
  t.node("host").routes.back().type = nslab::RouteType::blackhole;
  t.add_node("red").route("default", "10.1.0.1");
  t.add_node("blue").route("default", "10.1.0.1").nftables_ruleset(R"(
    table inet t {
      chain in {
        type filter hook input priority 0;
        icmp type echo-request drop
        udp dport 53 drop
      }
    })");
  t.node("blue").service(Protocol::tcp, 80).service(Protocol::udp, 53);
  t.add_node("external").route("10.1.0.0/24", "10.2.0.1").service(Protocol::tcp, 80).service(Protocol::udp, 53);
  t.link("red:eth0 10.1.0.2/24", "host:p-red@br0");
  t.link("blue:eth0 10.1.0.3/24", "host:p-blue@br0");
  t.link("host:eth0 10.2.0.1/24", "external:eth0 10.2.0.2/24 10.2.0.9/24").impair = uplink;
  return t;
}

std::vector<Probe> mixed_probes() {
  std::vector<Probe> out;
  for (const char* to : {"blue", "external", "10.2.0.9", "10.99.0.1", "10.1.0.77", "10.3.0.1"})
    for (auto [proto, port] : {std::pair{Protocol::icmp, 0}, std::pair{Protocol::tcp, 80}, std::pair{Protocol::tcp, 81},
                               std::pair{Protocol::udp, 53}})
      for (const char* from : {"red", "external"})
        out.push_back(Probe{.from = from, .to = to, .protocol = proto, .port = static_cast<std::uint16_t>(port)});
  return out;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(stillness, nslab::LabFixture)

// The witness is nslab itself with the evidence switched off: every verdict
// decided early must be the verdict the timeout gives.
BOOST_AUTO_TEST_CASE(early_verdicts_agree_with_waiting_out_the_timeout) {
  nslab::ProbeOptions fast, slow;
  fast.timeout = slow.timeout = 1000ms;
  slow.decide_when_still = false;
  auto probes = mixed_probes();
  // Each run gets a lab of its own: a router sends only about five route
  // errors to one source in a burst (the kernel's ip_error budget), and the
  // first run would spend them.
  auto early = build(mixed_lab()).probe(probes, fast);
  auto waited = build(mixed_lab()).probe(probes, slow);
  std::size_t blocked = 0;
  for (std::size_t i = 0; i < probes.size(); ++i) {
    BOOST_TEST_CONTEXT(probes[i].str()) {
      BOOST_TEST(early[i].verdict == waited[i].verdict, early[i].detail << " vs " << waited[i].detail);
      if (waited[i].verdict != Verdict::blocked) continue;
      ++blocked;
      BOOST_TEST(has(early[i].detail, "the lab was still"), early[i].detail);
      BOOST_TEST(has(waited[i].detail, "no answer within 1000 ms"), waited[i].detail);
    }
  }
  BOOST_TEST(blocked >= 10u);  // the lab does have silent cells
}

// A rate limit holds the packets behind a burst in its queue: the lab is
// not still while they wait, and the echo behind them is answered.
BOOST_AUTO_TEST_CASE(a_packet_queued_by_a_rate_limit_is_not_silence) {
  auto& lab = build(mixed_lab(nslab::Impairment{.rate = nslab::Rate::parse("1mbit")}));
  std::string big(8000, 'x');  // six fragments: beyond the bucket, they queue
  auto r = lab.probe({Probe{.from = "external", .to = "red", .protocol = Protocol::udp, .port = 9, .payload = big},
                      Probe{.from = "external", .to = "red"}},
                     nslab::ProbeOptions{.timeout = 1500ms});
  BOOST_TEST(r[1].verdict == Verdict::reachable, r[1].detail);
  BOOST_TEST(r[0].verdict == Verdict::refused, r[0].detail);  // nothing on udp/9: port unreachable
}

// Where stillness proves nothing, the probe waits, and says why.
BOOST_AUTO_TEST_CASE(programs_and_rules_that_depend_on_time_make_probes_wait) {
  {
    auto& lab = build(mixed_lab());
    auto& sleeper = lab.start("blue", ProcessSpec{.argv = {"sleep", "30"}});
    auto r = lab.probe(Probe{.from = "red", .to = "blue"}, nslab::ProbeOptions{.timeout = 300ms});
    BOOST_TEST(r.verdict == Verdict::blocked);
    BOOST_TEST(has(r.detail, "no answer within 300 ms (waited it out: blue: sleep 30 is running)"), r.detail);
    sleeper.stop();
  }
  auto t = mixed_lab();
  t.node("host").iptables_rules("-A FORWARD -p icmp -m limit --limit 1/second -j ACCEPT");
  auto& lab = build(std::move(t));
  auto r = lab.probe(Probe{.from = "red", .to = "10.2.0.9"}, nslab::ProbeOptions{.timeout = 300ms});
  BOOST_TEST(r.verdict == Verdict::blocked);
  BOOST_TEST(has(r.detail, "waited it out: node \"host\" has rules with \"limit\""), r.detail);
}

namespace {

// a -- b on one link (IPv4 and IPv6), nothing else.
nslab::Topology pair_lab(nslab::Impairment impair = {}) {
  nslab::Topology t("pair");
  t.add_node("a");
  t.add_node("b");
  t.link("a:eth0 10.0.0.1/24 fd00:1::1/64", "b:eth0 10.0.0.2/24 fd00:1::2/64").impair = impair;
  return t;
}

const nslab::ProbeOptions kTwoSeconds{.timeout = 2000ms};

}  // namespace

// The subnet-router anycast address of a router's prefix (fd00:1::) is
// answered, after a random delay of up to 0.8 s that no counter shows
// (the kernel holds the neighbour advertisement for an anycast address).
// The resolution is no dead end: ping's verdict, not `blocked` in 10 ms.
BOOST_AUTO_TEST_CASE(an_anycast_address_is_never_a_dead_end) {
  nslab::Topology t("anycast");
  t.add_node("r").sysctl("net.ipv6.conf.all.forwarding", "1");
  t.add_node("h");
  t.link("h:eth0 fd00:1::2/64", "r:eth0 fd00:1::1/64");
  auto& lab = build(std::move(t));
  auto r = lab.probe(Probe{.from = "h", .to = "fd00:1::"}, kTwoSeconds);
  BOOST_TEST(r.verdict == Verdict::reachable, r.detail);
  auto ping = nslab::run_in_node(lab.node("h"), "ping -n -c1 -W2 fd00:1::");
  BOOST_TEST(ping.status == 0, ping.output);
}

// Proxy ARP switched on while the lab runs (not in its description)
// answers, after a random delay of up to 0.8 s, for an address that no node
// had when the lab was built (x gains it later): no dead end either.
BOOST_AUTO_TEST_CASE(proxy_arp_and_addresses_added_at_run_time_are_seen) {
  nslab::Topology t("proxy");
  t.add_node("h").route("10.9.0.0/24 dev eth0");
  t.add_node("r").sysctl("net.ipv4.ip_forward", "1");
  t.add_node("x").route("default", "10.9.0.1");
  t.link("h:eth0 10.0.0.2/24", "r:eth0 10.0.0.1/24");
  t.link("r:eth1 10.9.0.1/24", "x:eth0 10.9.0.5/24");
  auto& lab = build(std::move(t));
  lab.node("r").set_sysctl("net.ipv4.conf.eth0.proxy_arp", "1");
  auto add = nslab::run_in_node(lab.node("x"), "ip addr add 10.9.0.77/24 dev eth0");
  BOOST_REQUIRE_MESSAGE(add.status == 0, add.output);
  auto r = lab.probe(Probe{.from = "h", .to = "10.9.0.77"}, kTwoSeconds);
  BOOST_TEST(r.verdict == Verdict::reachable, r.detail);
  auto ping = nslab::run_in_node(lab.node("h"), "ping -n -c1 -W2 10.9.0.77");
  BOOST_TEST(ping.status == 0, ping.output);
}

// An IPv6 address not yet in use (here: tentative, in duplicate address
// detection; on a loaded machine any address until the kernel's addrconf
// work has installed its local route) drops what comes for it, then
// answers: no early `blocked` meanwhile.
BOOST_AUTO_TEST_CASE(an_ipv6_address_not_yet_in_use_keeps_probes_waiting) {
  auto& lab = build(pair_lab());
  // Detection takes about 100 ms; a's solicitation is ignored meanwhile,
  // and a asks again a second later.
  auto add =
      nslab::run_in_node(lab.node("b"),
                         "sysctl -qw net.ipv6.conf.eth0.accept_dad=1 net.ipv6.conf.eth0.router_solicitation_delay=0 "
                         "net.ipv6.neigh.eth0.retrans_time_ms=100 && ip -6 addr add fd00:1::7/64 dev eth0");
  BOOST_REQUIRE_MESSAGE(add.status == 0, add.output);
  auto r = lab.probe(Probe{.from = "a", .to = "fd00:1::7"}, kTwoSeconds);
  BOOST_TEST(r.verdict == Verdict::reachable, r.detail);
}

// A tbf bucket refills with time: a burst beyond its queue is dropped now
// and passes later, so once a rate limit drops during a batch, that batch is
// decided by the timeout only. 250 pings at once through 1 mbit/s overflow
// the queue (tc counts the drops) and all get through. A rate limit that
// drops nothing only queues, and its queue is watched: a lab whose limit is
// idle is decided early.
BOOST_AUTO_TEST_CASE(a_rate_limited_lab_waits_out_the_timeout) {
  auto& lab = build(pair_lab(nslab::Impairment{.rate = nslab::Rate::parse("1mbit")}));
  std::vector<Probe> burst(250, Probe{.from = "a", .to = "b"});
  int lost = 0;
  for (const auto& r : lab.probe(burst, nslab::ProbeOptions{.timeout = 3000ms}))
    if (r.verdict != Verdict::reachable) {
      ++lost;
      BOOST_TEST_MESSAGE(r.detail);
    }
  BOOST_TEST(lost == 0);
  auto tc = nslab::run_in_node(lab.node("a"), "tc -s qdisc show dev eth0");
  BOOST_TEST(!has(tc.output, "dropped 0,"), tc.output);  // the burst did overflow the queue
  auto r = lab.probe(Probe{.from = "a", .to = "10.0.0.99"}, nslab::ProbeOptions{.timeout = 300ms});
  BOOST_TEST(r.verdict == Verdict::blocked);
  BOOST_TEST(has(r.detail, "the lab was still after each"), r.detail);
}

// 30% loss each way: all of four connection attempts fail one time in 15,
// and the 1e-6 rule asks for 21. A TCP probe cannot make that many, so the
// timeout decides it.
BOOST_AUTO_TEST_CASE(tcp_across_lossy_links_waits_when_its_attempts_are_too_few) {
  auto t = pair_lab(nslab::Impairment{.loss_percent = 30.0});
  t.node("b").nftables_ruleset(
      "table inet t {\n  chain in {\n    type filter hook input priority 0;\n    tcp dport 81 drop\n  }\n}\n");
  auto& lab = build(std::move(t));
  auto r = lab.probe(Probe{.from = "a", .to = "b", .protocol = Protocol::tcp, .port = 81},
                     nslab::ProbeOptions{.timeout = 500ms});
  BOOST_TEST(r.verdict == Verdict::blocked);
  BOOST_TEST(has(r.detail,
                 "no answer within 500 ms (waited it out: the lab's lossy links call for 21 connection "
                 "attempts, a TCP probe makes 4)"),
             r.detail);
  auto icmp = lab.probe(Probe{.from = "a", .to = "10.0.0.99"}, kTwoSeconds);
  BOOST_TEST(has(icmp.detail, "no answer to 21 attempts"), icmp.detail);
}

// A program that exits at once but leaves a daemon behind: the daemon lifts
// b's DROP 300 ms later, and the probe sees it, as ping -w2 would.
BOOST_AUTO_TEST_CASE(a_daemon_left_behind_keeps_probes_waiting) {
  auto t = pair_lab();
  t.node("b").nftables_ruleset(
      "table inet t {\n  chain in {\n    type filter hook input priority 0;\n    icmp type echo-request drop\n  "
      "}\n}\n");
  auto& lab = build(std::move(t));
  auto& p =
      lab.start("b", ProcessSpec{.argv = {"sh", "-c", "(sleep 0.3; nft flush ruleset) >/dev/null 2>&1 & exit 0"}});
  BOOST_TEST(p.wait(2000ms) == 0);
  auto r = lab.probe(Probe{.from = "a", .to = "b"}, kTwoSeconds);
  BOOST_TEST(r.verdict == Verdict::reachable, r.detail);
}

// A socket the test made in a node (Node::socket) answers when the test's
// own thread gets to it: until then the request waits in its queue.
BOOST_AUTO_TEST_CASE(a_user_socket_keeps_probes_waiting) {
  auto& lab = build(pair_lab());
  nslab::Fd s = lab.node("b").socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(9999);
  BOOST_REQUIRE(::bind(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  std::thread server([&] {
    std::this_thread::sleep_for(300ms);
    char buf[256];
    sockaddr_in from{};
    socklen_t len = sizeof from;
    ssize_t n = ::recvfrom(s.get(), buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
    if (n > 0) ::sendto(s.get(), buf, static_cast<std::size_t>(n), 0, reinterpret_cast<sockaddr*>(&from), len);
  });
  auto r = lab.probe(Probe{.from = "a", .to = "b", .protocol = Protocol::udp, .port = 9999}, kTwoSeconds);
  server.join();
  BOOST_TEST(r.verdict == Verdict::reachable, r.detail);
}

// Code the test runs inside a node (Node::run on another thread) changes
// what the node answers 300 ms later.
BOOST_AUTO_TEST_CASE(user_code_inside_a_node_keeps_probes_waiting) {
  auto t = pair_lab();
  t.node("b").sysctl("net.ipv4.icmp_echo_ignore_all", "1");
  auto& lab = build(std::move(t));
  std::thread user([&] {
    lab.node("b").run([] {
      std::this_thread::sleep_for(300ms);
      std::ofstream("/proc/sys/net/ipv4/icmp_echo_ignore_all") << "0";
    });
  });
  std::this_thread::sleep_for(20ms);
  auto r = lab.probe(Probe{.from = "a", .to = "b"}, kTwoSeconds);
  user.join();
  BOOST_TEST(r.verdict == Verdict::reachable, r.detail);
}

// Rules added while the lab runs, outside its description, are read back
// from the kernel: an nft counter that drops two echo requests in three,
// and the same with iptables-nft (an xt compat match). Both answer the
// third request, as `ping -c3` sees.
BOOST_AUTO_TEST_CASE(rules_loaded_at_run_time_are_read_back_from_the_kernel) {
  {
    auto& lab = build(pair_lab());
    auto add =
        nslab::run_in_node(lab.node("b"),
                           "nft add table inet t && nft add chain inet t in '{ type filter hook input priority 0; }'"
                           " && nft add rule inet t in icmp type echo-request numgen inc mod 3 != 2 drop");
    BOOST_REQUIRE_MESSAGE(add.status == 0, add.output);
    auto r = lab.probe(Probe{.from = "a", .to = "b"}, kTwoSeconds);
    BOOST_TEST(r.verdict == Verdict::reachable, r.detail);
    auto blocked = lab.probe(Probe{.from = "a", .to = "10.0.0.99"}, nslab::ProbeOptions{.timeout = 300ms});
    BOOST_TEST(has(blocked.detail, "waited it out: node \"b\" has rules with \"numgen\" (inet t in)"), blocked.detail);
  }
  destroy_lab();
  auto& lab = build(pair_lab());
  auto add = nslab::run_in_node(lab.node("b"),
                                "iptables -A INPUT -p icmp -m statistic --mode nth --every 3 --packet 2 -j ACCEPT && "
                                "iptables -A INPUT -p icmp -j DROP");
  BOOST_REQUIRE_MESSAGE(add.status == 0, add.output);
  auto r = lab.probe(Probe{.from = "a", .to = "b"}, kTwoSeconds);
  BOOST_TEST(r.verdict == Verdict::reachable, r.detail);
  auto blocked = lab.probe(Probe{.from = "b", .to = "10.0.0.99"}, nslab::ProbeOptions{.timeout = 300ms});
  BOOST_TEST(has(blocked.detail, "has rules with \"xt statistic\" (ip filter INPUT)"), blocked.detail);
}

// Every early `blocked` rests on two attempts at least (the machine may
// drop one packet under load); across a lossy link on as many as make
// losing all of them to chance less likely than one in a million.
BOOST_AUTO_TEST_CASE(blocked_rests_on_several_attempts) {
  auto r = build(mixed_lab()).probe(Probe{.from = "red", .to = "10.2.0.9"}, nslab::ProbeOptions{.timeout = 2000ms});
  BOOST_TEST(r.verdict == Verdict::blocked);
  BOOST_TEST(has(r.detail, "no answer to 2 attempts; the lab was still after each"), r.detail);
  auto lossy = build(mixed_lab(nslab::Impairment{.loss_percent = 1.0}))
                   .probe(Probe{.from = "red", .to = "10.2.0.9"}, nslab::ProbeOptions{.timeout = 2000ms});
  BOOST_TEST(lossy.verdict == Verdict::blocked);
  BOOST_TEST(has(lossy.detail, "no answer to 4 attempts"), lossy.detail);
}

// A lab is ready when build() returns: the first packet through every link
// arrives. The end of a veth pair that is up before its peer keeps a
// packet-dropping qdisc until the kernel's link watcher runs, which a busy
// machine delays; build() waits for it. Each lab gets one single-shot probe
// both ways while two threads keep the CPUs busy.
BOOST_AUTO_TEST_CASE(the_first_packet_after_a_build_arrives) {
  std::atomic<bool> stop{false};
  std::vector<std::thread> hogs;
  for (int i = 0; i < 2; ++i)
    hogs.emplace_back([&] {
      while (!stop) {}
    });
  nslab::ProbeOptions once{.timeout = 300ms, .retry_interval = 10s, .decide_when_still = false};
  int lost = 0;
  for (int i = 0; i < 30; ++i) {
    auto& lab = build(nslab::seed::host_access());
    for (auto& r : lab.probe({Probe{.from = "red", .to = "blue"}, Probe{.from = "blue", .to = "host"},
                              Probe{.from = "host", .to = "green"}},
                             once))
      if (r.verdict != Verdict::reachable) {
        ++lost;
        BOOST_TEST_MESSAGE("lab " << i << ": " << r.probe.str() << ": " << r.detail);
      }
  }
  stop = true;
  for (auto& h : hogs) h.join();
  BOOST_TEST(lost == 0);
}

BOOST_AUTO_TEST_SUITE_END()
