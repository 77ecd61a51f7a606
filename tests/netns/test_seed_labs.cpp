// The article's first labs, built from C++ and checked by independent
// witnesses: iproute2 for what exists, iputils' ping for what connects.
#include <boost/test/unit_test.hpp>

#include <net/if.h>

#include <fmt/format.h>

#include "nslab/lab_fixture.h"
#include "nslab/witness.h"
#include "seed_topologies.h"
#include "text.h"

using nslab::testing::has;

using nslab::run_in_node;

namespace {
// Real ping from iputils inside the node: one echo, two seconds at most.
bool real_ping(const nslab::Node& from, const std::string& to) {
  return run_in_node(from, fmt::format("ping -n -c1 -W2 {}", to)).ok();
}
}  // namespace

BOOST_FIXTURE_TEST_SUITE(seed_labs, nslab::LabFixture)

BOOST_AUTO_TEST_CASE(veth_pair_red_blue) {
  auto& lab = build(nslab::seed::veth_pair());
  auto& red = lab.node("red");
  auto& blue = lab.node("blue");

  auto red_addr = run_in_node(red, "ip -o addr show dev veth-red");
  BOOST_TEST(red_addr.ok(), red_addr.output);
  BOOST_TEST(has(red_addr.output, "inet 192.168.1.1/24"), red_addr.output);
  auto red_link = run_in_node(red, "ip -o link show");
  BOOST_TEST(has(red_link.output, "veth-red@if"), red_link.output);
  BOOST_TEST(has(red_link.output, "state UP"), red_link.output);
  BOOST_TEST(has(red_link.output, "1: lo: <LOOPBACK,UP,LOWER_UP>"), red_link.output);
  // Each namespace sees only its own end (and lo).
  BOOST_TEST(!has(red_link.output, "veth-blue"), red_link.output);
  auto blue_addr = run_in_node(blue, "ip -o addr show dev veth-blue");
  BOOST_TEST(has(blue_addr.output, "inet 192.168.1.2/24"), blue_addr.output);

  BOOST_TEST(real_ping(red, "192.168.1.2"));
  BOOST_TEST(real_ping(blue, "192.168.1.1"));
  BOOST_TEST(real_ping(red, "127.0.0.1"));  // loopback is up
}

BOOST_AUTO_TEST_CASE(three_namespaces_on_bridge_v_net_0) {
  auto& lab = build(nslab::seed::bridge_three());
  auto& host = lab.node("host");
  auto bridge = run_in_node(host, "ip -d -o link show type bridge");
  BOOST_TEST(has(bridge.output, "v-net-0"), bridge.output);
  auto ports = run_in_node(host, "ip -o link show master v-net-0");
  for (const char* p : {"veth-red", "veth-blue", "veth-green"}) BOOST_TEST(has(ports.output, p), ports.output);
  BOOST_TEST(has(ports.output, "state UP"), ports.output);

  const char* names[] = {"red", "blue", "green"};
  for (int i = 0; i < 3; ++i) {
    auto addr = run_in_node(lab.node(names[i]), fmt::format("ip -o addr show dev {}-veth", names[i]));
    BOOST_TEST(has(addr.output, fmt::format("inet 192.168.1.{}/24", i + 1)), addr.output);
    for (int j = 0; j < 3; ++j)
      if (i != j)
        BOOST_TEST(real_ping(lab.node(names[i]), fmt::format("192.168.1.{}", j + 1)), names[i] << " -> " << names[j]);
  }
  // No address on the bridge yet: the host has no way in.
  auto host_addr = run_in_node(host, "ip -o -4 addr show dev v-net-0");
  BOOST_TEST(host_addr.output.empty(), host_addr.output);
}

BOOST_AUTO_TEST_CASE(host_reaches_all_three_through_the_bridge_address) {
  auto& lab = build(nslab::seed::host_access());
  auto& host = lab.node("host");
  auto addr = run_in_node(host, "ip -o addr show dev v-net-0");
  BOOST_TEST(has(addr.output, "inet 192.168.1.254/24"), addr.output);
  for (int i = 1; i <= 3; ++i) BOOST_TEST(real_ping(host, fmt::format("192.168.1.{}", i)), "host -> 192.168.1." << i);
  BOOST_TEST(real_ping(lab.node("green"), "192.168.1.254"));
}

BOOST_AUTO_TEST_CASE(routes_through_the_host_as_gateway) {
  auto& lab = build(nslab::seed::routed_via_host());
  auto route = run_in_node(lab.node("red"), "ip route show default");
  BOOST_TEST(has(route.output, "default via 192.168.1.254 dev red-veth"), route.output);
  auto back = run_in_node(lab.node("external"), "ip route show 192.168.1.0/24");
  BOOST_TEST(has(back.output, "192.168.1.0/24 via 203.0.113.1 dev eth0"), back.output);
  auto fwd = run_in_node(lab.node("host"), "cat /proc/sys/net/ipv4/ip_forward");
  BOOST_TEST(has(fwd.output, "1"), fwd.output);
  BOOST_TEST(real_ping(lab.node("red"), "203.0.113.2"));
  BOOST_TEST(real_ping(lab.node("external"), "192.168.1.3"));
}

BOOST_AUTO_TEST_CASE(nodes_can_be_entered_from_cpp) {
  auto& lab = build(nslab::seed::veth_pair());
  // A function run inside a node sees that node's interfaces, never the caller's.
  auto names = lab.node("red").run([] {
    std::vector<std::string> out;
    if (struct if_nameindex* list = ::if_nameindex()) {
      for (auto* i = list; i->if_index != 0; ++i) out.push_back(i->if_name);
      ::if_freenameindex(list);
    }
    return out;
  });
  BOOST_TEST(names.size() == 2u);
  BOOST_TEST((std::find(names.begin(), names.end(), "veth-red") != names.end()));
  BOOST_TEST(lab.node("red").sysctl("net.ipv4.icmp_ratemask") == "0");
  BOOST_TEST(lab.node("red").sysctl("net.ipv4.icmp_ratelimit") == "1000");  // left alone: see Lab
}

BOOST_AUTO_TEST_SUITE_END()
