// Bridges as switches and nexthop objects, each built by nslab and then
// checked by independent witnesses inside the node: `ip -d -j link` and
// `bridge -d -j vlan|link` show the settings, ping shows who reaches whom,
// a capture on a trunk shows the 802.1Q tags, iptables' own counters show
// bridged traffic meeting FORWARD, `ip nexthop` and `ip route get` show the
// objects and the group's spread. The VLAN cases need bridge VLAN filtering
// (this machine's kernel lacks it: they check the EnvironmentError naming
// CONFIG_BRIDGE_VLAN_FILTERING); on the kernel lane (NSLAB_KERNEL_LANE,
// Debian's stock kernel) that path is a failure and the full test runs.
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <fmt/format.h>
#include <set>
#include <string>

#include "nslab/lab_fixture.h"
#include "nslab/witness.h"
#include "text.h"

using nslab::Verdict;
using nslab::testing::has;

namespace {

std::string in_node(nslab::Lab& lab, const std::string& node, const std::string& command) {
  auto r = nslab::run_in_node(lab.node(node), command);
  BOOST_TEST(r.ok(), command << ": " << r.output);
  return r.output;
}

bool ping(nslab::Lab& lab, const std::string& node, const std::string& address) {
  auto r = nslab::run_in_node(lab.node(node), "ping -n -c1 -W1 " + address);
  BOOST_TEST_MESSAGE(r.output);
  return r.ok();
}

// Builds `t`, or checks that this kernel's lack of bridge VLAN filtering
// fails the build with an EnvironmentError naming the option, and returns
// null. On the kernel lane a missing option is a failure.
nslab::Lab* build_or_missing(nslab::LabFixture& f, nslab::Topology t) {
  try {
    return &f.build(std::move(t));
  } catch (const nslab::EnvironmentError& e) {
    BOOST_REQUIRE_MESSAGE(!std::getenv("NSLAB_KERNEL_LANE"),
                          "the kernel lane's kernel lacks bridge VLAN filtering: " << e.what());
    std::string msg = e.what();
    BOOST_TEST(has(msg,
                   "cannot create bridge \"sw:br0\": this kernel has no bridge VLAN filtering "
                   "(CONFIG_BRIDGE_VLAN_FILTERING)"),
               msg);
    BOOST_TEST_MESSAGE("this kernel lacks bridge VLAN filtering: " << msg);
    return nullptr;
  }
}

// Node sw with bridge br0 and one host per entry of `hosts` (name, address,
// its port), each on port veth-NAME.
nslab::Topology switch_with(const std::vector<std::pair<std::string, std::string>>& hosts) {
  nslab::Topology t("switch");
  t.add_node("sw").bridge("br0");
  for (const auto& [name, address] : hosts) {
    t.add_node(name);
    t.link(fmt::format("{}:eth0 {}", name, address), fmt::format("sw:veth-{}@br0", name));
  }
  return t;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(switching, nslab::LabFixture)

// One subnet, two VLANs: a and c (VLAN 10) meet, b (VLAN 20) meets neither.
BOOST_AUTO_TEST_CASE(vlans_separate_hosts_on_one_bridge) {
  auto t = switch_with({{"a", "10.0.0.1/24"}, {"b", "10.0.0.2/24"}, {"c", "10.0.0.3/24"}});
  t.node("sw").bridge_options(
      "br0",
      {.vlan_filtering = true,
       .ports = {{.name = "veth-a", .pvid = 10}, {.name = "veth-b", .pvid = 20}, {.name = "veth-c", .pvid = 10}}});
  auto* lab = build_or_missing(*this, std::move(t));
  if (!lab) return;
  auto link = in_node(*lab, "sw", "ip -d -j link show dev br0");
  BOOST_TEST(has(link, "\"vlan_filtering\":1"), link);
  // An access port: VLAN 10 as pvid and untagged, and nothing else (no VLAN 1).
  auto vlans = in_node(*lab, "sw", "bridge -j vlan show dev veth-a");
  BOOST_TEST(has(vlans, "\"vlan\":10,\"flags\":[\"PVID\",\"Egress Untagged\"]"), vlans);
  BOOST_TEST(!has(vlans, "\"vlan\":1,"), vlans);
  BOOST_TEST(ping(*lab, "a", "10.0.0.3"));
  BOOST_TEST(!ping(*lab, "a", "10.0.0.2"));
  BOOST_TEST(!ping(*lab, "b", "10.0.0.3"));
}

// Two VLANs on one switch, routed by r over a trunk: tagged on the trunk,
// untagged on the access ports.
BOOST_AUTO_TEST_CASE(a_trunk_to_a_router_routes_between_vlans) {
  auto t = switch_with({{"a", "10.0.10.1/24"}, {"b", "10.0.20.1/24"}});
  t.node("a").route("default via 10.0.10.254");
  t.node("b").route("default via 10.0.20.254");
  t.add_node("r").sysctl("net.ipv4.ip_forward", "1");
  t.link("r:eth0", "sw:trunk0@br0");
  using K = nslab::InterfaceKind;
  auto sub = [](const char* name, int id, const char* addr) {
    return nslab::NodeInterface{.name = name,
                                .kind = K::vlan,
                                .addresses = {nslab::Prefix::from_string(addr)},
                                .parent = "eth0",
                                .vlan_id = id};
  };
  t.node("r").interface(sub("eth0.10", 10, "10.0.10.254/24")).interface(sub("eth0.20", 20, "10.0.20.254/24"));
  t.node("sw").bridge_options("br0", {.vlan_filtering = true,
                                      .ports = {{.name = "veth-a", .pvid = 10},
                                                {.name = "veth-b", .pvid = 20},
                                                {.name = "trunk0", .vlans = {10, 20}}}});
  auto* lab = build_or_missing(*this, std::move(t));
  if (!lab) return;
  auto trunk = in_node(*lab, "sw", "bridge -j vlan show dev trunk0");
  BOOST_TEST(has(trunk, "{\"vlan\":10}"), trunk);
  BOOST_TEST(has(trunk, "{\"vlan\":20}"), trunk);
  BOOST_TEST(!has(trunk, "PVID"), trunk);
  auto tagged = lab->capture("sw:trunk0", "icmp or (vlan and icmp)");
  auto access = lab->capture("sw:veth-a", "icmp or (vlan and icmp)");
  BOOST_TEST(lab->ping("a", "b") == Verdict::reachable);
  BOOST_TEST(ping(*lab, "a", "10.0.20.1"));
  tagged.stop();
  access.stop();
  BOOST_TEST(tagged.count("vlan 10 and icmp") >= 2u);
  BOOST_TEST(tagged.count("vlan 20 and icmp") >= 2u);
  BOOST_TEST(tagged.count("icmp") == 0u);  // nothing untagged on the trunk
  BOOST_TEST(access.count("icmp") >= 2u);
  BOOST_TEST(access.count("vlan") == 0u);
}

BOOST_AUTO_TEST_CASE(isolated_ports_reach_only_open_ports) {
  auto t = switch_with({{"a", "10.0.0.1/24"}, {"b", "10.0.0.2/24"}, {"c", "10.0.0.3/24"}});
  t.node("sw").bridge_options("br0",
                              {.ports = {{.name = "veth-a", .isolated = true}, {.name = "veth-b", .isolated = true}}});
  auto& lab = build(std::move(t));
  auto port = in_node(lab, "sw", "bridge -d -j link show dev veth-a");
  BOOST_TEST(has(port, "\"isolated\":true"), port);
  BOOST_TEST(has(in_node(lab, "sw", "bridge -d -j link show dev veth-c"), "\"isolated\":false"));
  BOOST_TEST(lab.ping("a", "b") == Verdict::blocked);
  BOOST_TEST(lab.ping("a", "c") == Verdict::reachable);
  BOOST_TEST(lab.ping("b", "c") == Verdict::reachable);
}

// STP on (ports listen and learn for two forward delays: the build waits)
// and the port flags; then ageing and snooping on a bridge without STP
// (STP's topology changes shorten the ageing time for a while), as `ip`
// and `bridge` show them.
BOOST_AUTO_TEST_CASE(stp_ageing_snooping_and_port_flags_match_the_spec) {
  auto t = switch_with({{"a", "10.0.0.1/24"}, {"b", "10.0.0.2/24"}});
  t.node("sw").bridge_options(
      "br0", {.stp = true, .forward_delay = 2, .ports = {{.name = "veth-b", .hairpin = true, .learning = false}}});
  auto& lab = build(std::move(t));
  auto link = in_node(lab, "sw", "ip -d -j link show dev br0");
  BOOST_TEST(has(link, "\"stp_state\":1"), link);
  BOOST_TEST(has(link, "\"forward_delay\":200"), link);
  BOOST_TEST(has(link, "\"mcast_snooping\":1"), link);  // not asked: the kernel's default
  auto b = in_node(lab, "sw", "bridge -d -j link show dev veth-b");
  BOOST_TEST(has(b, "\"hairpin\":true"), b);
  BOOST_TEST(has(b, "\"learning\":false"), b);
  BOOST_TEST(has(in_node(lab, "sw", "bridge -d -j link show dev veth-a"), "\"learning\":true"));
  // Built means forwarding: no port is still listening or learning.
  for (const char* port : {"veth-a", "veth-b"})
    BOOST_TEST(has(in_node(lab, "sw", fmt::format("bridge -j link show dev {}", port)), "\"state\":\"forwarding\""));
  BOOST_TEST(lab.ping("a", "b") == Verdict::reachable);

  auto u = switch_with({{"c", "10.0.1.1/24"}});
  u.node("sw").bridge_options("br0", {.ageing = 30, .mcast_snooping = false});
  auto& other = build(std::move(u));
  auto p = in_node(other, "sw", "ip -d -j link show dev br0");
  BOOST_TEST(has(p, "\"ageing_time\":3000"), p);
  BOOST_TEST(has(p, "\"mcast_snooping\":0"), p);
  BOOST_TEST(has(p, "\"stp_state\":0"), p);
}

// A bridge of 64 ports or more is brought up without multicast snooping
// (its O(ports²) timers, lab_build.cpp) and has it once built, as the
// kernel's default says; one whose scenario turns it off keeps it off.
BOOST_AUTO_TEST_CASE(a_large_bridge_has_snooping_once_built) {
  std::vector<std::pair<std::string, std::string>> hosts;
  for (int i = 1; i <= 64; ++i) hosts.emplace_back(fmt::format("h{}", i), fmt::format("10.0.0.{}/24", i));
  auto& lab = build(switch_with(hosts));
  auto link = in_node(lab, "sw", "ip -d -j link show dev br0");
  BOOST_TEST(has(link, "\"mcast_snooping\":1"), link);
  BOOST_TEST(lab.ping("h1", "h64") == Verdict::reachable);
  destroy_lab();
  auto t = switch_with(hosts);
  t.node("sw").bridge_options("br0", {.mcast_snooping = false});
  auto& off = build(std::move(t));
  auto kept = in_node(off, "sw", "ip -d -j link show dev br0");
  BOOST_TEST(has(kept, "\"mcast_snooping\":0"), kept);
}

// Bridged traffic meets the node's FORWARD chain on br0 (nf_call_iptables)
// and not on br1, though the node-wide sysctl stays 0.
BOOST_AUTO_TEST_CASE(nf_call_iptables_per_bridge) {
  auto t = switch_with({{"a", "10.0.0.1/24"}, {"b", "10.0.0.2/24"}});
  t.node("sw").bridge("br1");
  t.add_node("c");
  t.add_node("d");
  t.link("c:eth0 10.0.1.1/24", "sw:veth-c@br1");
  t.link("d:eth0 10.0.1.2/24", "sw:veth-d@br1");
  t.node("sw").bridge_options("br0", {.nf_call_iptables = true});
  t.node("sw").iptables_rules("-A FORWARD -p icmp -j DROP");
  nslab::Lab* lab = nullptr;
  try {
    lab = &build(std::move(t));
  } catch (const nslab::EnvironmentError& e) {
    // br_netfilter is machine-wide: the tests do not load it.
    std::string msg = e.what();
    BOOST_TEST(has(msg, "bridge \"sw:br0\" asks for nf_call_iptables, and the br_netfilter module is not loaded"), msg);
    return;
  }
  BOOST_TEST(has(in_node(*lab, "sw", "ip -d -j link show dev br0"), "\"nf_call_iptables\":1"));
  BOOST_TEST(has(in_node(*lab, "sw", "ip -d -j link show dev br1"), "\"nf_call_iptables\":0"));
  BOOST_TEST(in_node(*lab, "sw", "cat /proc/sys/net/bridge/bridge-nf-call-iptables") == "0\n");
  BOOST_TEST(lab->ping("a", "b") == Verdict::blocked);
  BOOST_TEST(lab->ping("c", "d") == Verdict::reachable);
  // iptables' own count of the drops: a's echo requests.
  auto dropped = in_node(*lab, "sw", "iptables -w -L FORWARD -v -n -x | awk '$3 == \"DROP\" { print $1 }'");
  BOOST_TEST(std::atoi(dropped.c_str()) >= 1, dropped);
}

// Nexthop objects: two gateways and a group of both (weights 1 and 3),
// a route through the group; `ip nexthop` and `ip route` show them, and
// `ip route get` resolves flows to both uplinks.
BOOST_AUTO_TEST_CASE(nexthop_objects_and_a_group) {
  nslab::Topology t("nexthops");
  auto& r = t.add_node("r");
  r.sysctl("net.ipv4.fib_multipath_hash_policy", "1");
  r.nexthop("id 1 via 10.0.1.2 dev eth0").nexthop("id 2 via 10.0.2.2 dev eth1").nexthop("id 3 group 1/2,3");
  r.route("10.9.0.0/24 nhid 3");
  t.add_node("s").loopback({"10.9.0.1/32"}).route("10.0.1.0/24 via 10.0.3.2").route("10.0.2.0/24 via 10.0.4.2");
  for (int u : {1, 2}) {
    auto& up = t.add_node(fmt::format("u{}", u));
    up.sysctl("net.ipv4.ip_forward", "1").route(fmt::format("10.9.0.0/24 via 10.0.{}.1 dev eth1", u + 2));
    t.link(fmt::format("r:eth{} 10.0.{}.1/24", u - 1, u), fmt::format("u{}:eth0 10.0.{}.2/24", u, u));
    t.link(fmt::format("u{}:eth1 10.0.{}.2/24", u, u + 2), fmt::format("s:eth{} 10.0.{}.1/24", u - 1, u + 2));
  }
  auto& lab = build(std::move(t));
  auto nh = in_node(lab, "r", "ip nexthop show");
  BOOST_TEST(has(nh, "id 1 via 10.0.1.2 dev eth0"), nh);
  BOOST_TEST(has(nh, "id 2 via 10.0.2.2 dev eth1"), nh);
  BOOST_TEST(has(nh, "id 3 group 1/2,3"), nh);
  BOOST_TEST(has(in_node(lab, "r", "ip route show 10.9.0.0/24"), "10.9.0.0/24 nhid 3"));
  BOOST_TEST(lab.ping("r", "10.9.0.1") == Verdict::reachable);
  std::set<std::string> devs;
  for (int port = 1000; port < 1064; ++port) {
    auto got = in_node(lab, "r", fmt::format("ip route get 10.9.0.1 ipproto udp sport {} dport 53", port));
    devs.insert(has(got, "dev eth0") ? "eth0" : has(got, "dev eth1") ? "eth1" : got);
  }
  BOOST_TEST((devs == std::set<std::string>{"eth0", "eth1"}), fmt::format("{}", fmt::join(devs, " | ")));
}

BOOST_AUTO_TEST_SUITE_END()
