// Link impairment, each proven by a measurement: rate by a timed transfer,
// loss by counting answers over many single-shot probes (with a statistical
// tolerance), MTU by a too-large packet with DF set; delay without netem is
// a clear skip. And IPv6 addresses that are usable at once (no DAD wait).
#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fmt/format.h>
#include <thread>

#include "link_impairment.h"
#include "nslab/lab_fixture.h"
#include "nslab/witness.h"
#include "seed_topologies.h"
#include "text.h"

using nslab::testing::has;

using namespace std::chrono_literals;
using nslab::Verdict;

namespace {

nslab::Topology pair_with(nslab::Impairment im) {
  auto t = nslab::seed::veth_pair();
  t.links().at(0).impair = im;
  return t;
}

// Sends `bytes` over TCP from red to blue:9000 and returns the Mbit/s that
// blue received, timed from connect to the last byte read.
double transfer_mbit(nslab::Lab& lab, std::size_t bytes) {
  nslab::Fd listener = lab.node("blue").socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(9000);
  BOOST_REQUIRE(::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  BOOST_REQUIRE(::listen(listener.get(), 1) == 0);
  std::size_t received = 0;
  std::chrono::steady_clock::time_point done;
  std::thread sink([&] {
    int c = ::accept(listener.get(), nullptr, nullptr);
    char buf[65536];
    ssize_t n;
    while ((n = ::read(c, buf, sizeof buf)) > 0) received += static_cast<std::size_t>(n);
    done = std::chrono::steady_clock::now();
    ::close(c);
  });
  nslab::Fd client = lab.node("red").socket(AF_INET, SOCK_STREAM, 0);
  inet_pton(AF_INET, "192.168.1.2", &addr.sin_addr);
  auto start = std::chrono::steady_clock::now();
  BOOST_REQUIRE(::connect(client.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  std::string chunk(65536, 'x');
  for (std::size_t sent = 0; sent < bytes;) {
    ssize_t n = ::write(client.get(), chunk.data(), std::min(chunk.size(), bytes - sent));
    BOOST_REQUIRE(n > 0);
    sent += static_cast<std::size_t>(n);
  }
  client.reset();
  sink.join();
  BOOST_REQUIRE(received == bytes);
  double seconds = std::chrono::duration<double>(done - start).count();
  return static_cast<double>(bytes) * 8 / seconds / 1e6;
}

// Single-shot pings (no retries), all at once; returns how many came back.
std::size_t answered(nslab::Lab& lab, int count) {
  std::vector<nslab::Probe> probes(static_cast<std::size_t>(count), nslab::Probe{"red", "blue"});
  nslab::ProbeOptions once;
  once.timeout = 500ms;
  once.retry_interval = 60s;
  std::size_t n = 0;
  for (const auto& r : lab.probe(probes, once)) n += r.verdict == Verdict::reachable;
  return n;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(impairment, nslab::LabFixture)

BOOST_AUTO_TEST_CASE(rate_is_measured_by_a_timed_transfer) {
  nslab::Impairment im;
  im.rate = nslab::Rate::parse("20mbit");
  auto& lab = build(pair_with(im));
  double mbit = transfer_mbit(lab, 2'500'000);  // about one second at 20 Mbit/s
  BOOST_TEST(mbit > 20 * 0.75, mbit);
  BOOST_TEST(mbit < 20 * 1.15, mbit);
  auto qdisc = nslab::run_in_node(lab.node("red"), "tc qdisc show dev veth-red");
  BOOST_TEST(has(qdisc.output, "tbf"), qdisc.output);
  // The control: the same link unshaped is far faster.
  teardown();
  auto& free = build(nslab::seed::veth_pair());
  BOOST_TEST(transfer_mbit(free, 2'500'000) > 100);
}

// tbf drops every frame longer than its burst: the burst must hold the
// link's largest frame, whatever the rate (it used to be 3028 bytes, so an
// `mtu: 9000` link at 1mbit lost every jumbo frame).
BOOST_AUTO_TEST_CASE(jumbo_frames_pass_a_slow_rate_limit) {
  nslab::Impairment im;
  im.rate = nslab::Rate::parse("1mbit");
  auto t = pair_with(im);
  auto& link = t.links().at(0);
  link.a.mtu = link.b.mtu = 9000;
  auto& lab = build(std::move(t));
  // 8028-byte packets with DF: one frame each, each way through a tbf.
  auto ping = nslab::run_in_node(lab.node("red"), "ping -n -c3 -i0.3 -W3 -M do -s 8000 192.168.1.2");
  BOOST_TEST(ping.ok(), ping.output);
  BOOST_TEST(has(ping.output, "3 received"), ping.output);
  auto qdisc = nslab::run_in_node(lab.node("red"), "tc -s qdisc show dev veth-red");
  BOOST_TEST(has(qdisc.output, "rate 1Mbit burst 18028b"), qdisc.output);  // two 9014-byte frames
  BOOST_TEST(has(qdisc.output, "dropped 0"), qdisc.output);
}

// Rates above 2^31 bytes a second (17.2 Gbit/s, where libnl's int stops)
// and above 2^32 (34.4 Gbit/s, where tc's 32-bit field stops) are applied
// as given: the kernel reads back what the scenario says.
BOOST_AUTO_TEST_CASE(rates_above_32_bits_are_applied_as_given) {
  for (const char* rate : {"20gbit", "40gbit", "10tbit"}) {
    nslab::Impairment im;
    im.rate = nslab::Rate::parse(rate);
    im.direction = nslab::Impairment::Direction::a_to_b;
    auto& lab = build(pair_with(im));
    auto json = nslab::run_in_node(lab.node("red"), "tc -j qdisc show dev veth-red");
    BOOST_TEST(has(json.output, fmt::format("\"kind\":\"tbf\"")), json.output);
    BOOST_TEST(has(json.output, fmt::format("\"rate\":{},", im.rate->bits_per_second / 8)),
               rate << ": " << json.output);
    BOOST_TEST(lab.ping("red", "blue") == Verdict::reachable, rate);
    teardown();
  }
}

BOOST_AUTO_TEST_CASE(loss_is_counted_over_many_probes) {
  nslab::Impairment im;
  im.loss_percent = 20;
  im.direction = nslab::Impairment::Direction::a_to_b;
  auto& lab = build(pair_with(im));
  // 400 echoes, each crossing the lossy direction once: about 320 answers;
  // 280..360 is five standard deviations either side.
  std::size_t n = answered(lab, 400);
  BOOST_TEST(n >= 280u, n);
  BOOST_TEST(n <= 360u, n);
  if (!nslab::kernel_has_netem()) {
    // The fallback lives on the receiving side, in blue's nftables ruleset.
    BOOST_TEST(
        has(nslab::run_in_node(lab.node("blue"), "nft list ruleset").output, "numgen random mod 1000000 < 200000"));
    BOOST_TEST(!has(nslab::run_in_node(lab.node("red"), "nft list ruleset").output, "numgen"));
  } else {
    // With netem, loss is netem's, on the sending side.
    BOOST_TEST(has(nslab::run_in_node(lab.node("red"), "tc qdisc show dev veth-red").output, "loss 20%"));
  }
  destroy_lab();
  auto& clean = build(nslab::seed::veth_pair());
  // A control that loses everything has a queue the kernel had not activated
  // yet when build() returned (red's TX dropped counts it): see
  // tests/netns/test_link_ready.cpp.
  std::size_t control = answered(clean, 400);
  BOOST_TEST(
      control == 400u,
      control << " of 400 answered on the clean link; red:\n"
              << (control == 400 ? "" : nslab::run_in_node(clean.node("red"), "ip -s link show dev veth-red").output));
}

BOOST_AUTO_TEST_CASE(mtu_by_a_too_large_packet_with_df) {
  auto t = nslab::seed::routed_via_host();
  auto& link = t.links().back();  // host:eth0 <-> external:eth0
  link.a.mtu = link.b.mtu = 1400;
  auto& lab = build(std::move(t));
  BOOST_TEST(has(nslab::run_in_node(lab.node("external"), "ip -o link show dev eth0").output, "mtu 1400"));
  auto big = nslab::run_in_node(lab.node("red"), "ping -n -c1 -W1 -M do -s 1372 203.0.113.2");
  BOOST_TEST(big.ok(), big.output);
  auto too_big = nslab::run_in_node(lab.node("red"), "ping -n -c1 -W1 -M do -s 1373 203.0.113.2");
  BOOST_TEST(!too_big.ok(), too_big.output);
  BOOST_TEST(has(too_big.output, "mtu = 1400"), too_big.output);
}

BOOST_AUTO_TEST_CASE(delay_without_netem_is_a_clear_skip) {
  nslab::Impairment im;
  im.delay = 50ms;
  if (nslab::kernel_has_netem()) {
    auto& lab = build(pair_with(im));
    auto r = nslab::run_in_node(lab.node("red"), "ping -n -c1 -W2 192.168.1.2");
    BOOST_TEST(has(r.output, "time=10"), r.output);  // 2 x 50 ms, each way
    return;
  }
  // On the kernel lane's stock kernel netem must be there.
  BOOST_REQUIRE_MESSAGE(!std::getenv("NSLAB_KERNEL_LANE"), "the kernel lane's kernel has no netem");
  BOOST_CHECK_EXCEPTION(build(pair_with(im)), nslab::EnvironmentError, [](const nslab::EnvironmentError& e) {
    return has(e.what(),
               "link \"red:veth-red\" <-> \"blue:veth-blue\": delay needs the kernel's netem qdisc "
               "(CONFIG_NET_SCH_NETEM), which this kernel lacks");
  });
  auto r =
      nslab::run_command(std::string(NSLAB_BINARY) + " check " + NSLAB_SCENARIOS + "/impairment/satellite-delay.yaml");
  BOOST_TEST(r.status == 4, r.output);
  BOOST_TEST(has(r.output, "SKIP"), r.output);
  BOOST_TEST(has(r.output, "CONFIG_NET_SCH_NETEM"), r.output);
}

BOOST_AUTO_TEST_CASE(ipv6_addresses_are_usable_at_once) {
  auto t = nslab::seed::veth_pair();
  auto& link = t.links().at(0);
  link.a.addresses.push_back(nslab::Prefix::from_string("fd00:1::1/64"));
  link.b.addresses.push_back(nslab::Prefix::from_string("fd00:1::2/64"));
  auto& lab = build(std::move(t));
  // The very first probe after the build works: no address is tentative.
  nslab::Probe p{"red", "blue", nslab::Protocol::icmp, 0, nslab::Family::ipv6};
  BOOST_TEST(lab.probe(p).verdict == Verdict::reachable);
  auto addrs = nslab::run_in_node(lab.node("red"), "ip -6 addr show dev veth-red");
  BOOST_TEST(has(addrs.output, "fd00:1::1/64"), addrs.output);
  BOOST_TEST(!has(addrs.output, "tentative"), addrs.output);
  BOOST_TEST(nslab::run_in_node(lab.node("blue"), "ping -6 -n -c1 -W2 fd00:1::1").ok());
}

BOOST_AUTO_TEST_SUITE_END()
