// `blocked` decided as soon as the lab is still, and never sooner: the fast
// verdicts agree with waiting out every timeout, a packet held in a queue or
// an answer a program may still send keeps the probe waiting, and the
// evidence says how each verdict was reached.
#include <boost/test/unit_test.hpp>

#include <fmt/format.h>

#include <atomic>
#include <thread>

#include "nslab/lab_fixture.h"
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
      while (!stop) {
      }
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
