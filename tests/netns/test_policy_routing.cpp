// Policy routing, multipath and static neighbours, built from C++ and from
// scenarios/routing/dual-uplink-ecmp.yaml, checked by independent witnesses:
// `ip rule`, `ip route show table all` and `ip neigh` inside the node for
// what exists, captures on the uplinks for where packets go.
#include <boost/test/unit_test.hpp>

#include <fmt/format.h>

#include "nslab/lab_fixture.h"
#include "nslab/witness.h"
#include "text.h"

using nslab::Probe;
using nslab::Protocol;
using nslab::Verdict;
using nslab::testing::has;
using namespace std::chrono_literals;

namespace {

std::string in(const nslab::Node& n, const std::string& command) {
  auto r = nslab::run_in_node(n, command);
  BOOST_TEST_REQUIRE(r.ok(), command << ": " << r.output);
  return r.output;
}

// A router with two uplinks, IPv4 and IPv6, every kind of route and rule.
nslab::Topology router() {
  nslab::Topology t("policy");
  auto& gw = t.add_node("gw");
  gw.sysctl("net.ipv4.ip_forward", "1")
      .table("wan2", 200)
      .table("big", 100000)
      .rule("from 10.0.2.0/24 table wan2 priority 1000")
      .rule("fwmark 0x1/0xff table wan2 priority 1001")
      .rule("iif lan1 table 300 priority 1002")
      .rule("to 10.9.0.0/16 table big priority 1003")
      .rule("not from 10.0.0.0/8 unreachable priority 1004")
      .rule("from fd00:2::/64 table wan2 priority 1005")
      .route("default via 203.0.113.2 table wan2")
      .route("default via fd00:b::2 table wan2")
      .route("default nexthop via 198.51.100.2 weight 1 nexthop via 203.0.113.2 weight 3")
      .route("default6 nexthop via fd00:a::2 dev up1 nexthop via fd00:b::2 dev up2")
      .route("10.7.0.0/16 via 10.99.0.1 dev up1 onlink")
      .route("10.6.0.0/16 via 198.51.100.2 src 10.0.1.1 proto bird")
      .route("10.5.0.0/16 dev up1 scope link table 300")
      .route("throw 10.4.0.0/16 table wan2")
      .route("local 10.3.3.3 dev lo")
      .route("10.9.0.0/16 via 198.51.100.2 table big")
      .neighbour("198.51.100.2 lladdr 02:00:00:00:00:09 dev up1");
  t.add_node("isp1");
  t.add_node("isp2");
  t.add_node("office").route("default via 10.0.1.1");
  t.link("gw:up1 198.51.100.1/30 fd00:a::1/64", "isp1:gw 198.51.100.2/30 fd00:a::2/64");
  t.link("gw:up2 203.0.113.1/30 fd00:b::1/64", "isp2:gw 203.0.113.2/30 fd00:b::2/64");
  t.link("gw:lan1 10.0.1.1/24", "office:eth0 10.0.1.10/24");
  return t;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(policy_routing, nslab::LabFixture)

BOOST_AUTO_TEST_CASE(rules_tables_and_routes_are_what_ip_shows) {
  auto& lab = build(router());
  auto& gw = lab.node("gw");
  auto rules = in(gw, "ip rule show");
  BOOST_TEST(has(rules, "1000:\tfrom 10.0.2.0/24 lookup 200"), rules);
  BOOST_TEST(has(rules, "1001:\tfrom all fwmark 0x1/0xff lookup 200"), rules);
  BOOST_TEST(has(rules, "1002:\tfrom all iif lan1 lookup 300"), rules);
  BOOST_TEST(has(rules, "1003:\tfrom all to 10.9.0.0/16 lookup 100000"), rules);
  BOOST_TEST(has(rules, "1004:\tnot from 10.0.0.0/8 unreachable"), rules);
  auto rules6 = in(gw, "ip -6 rule show");
  BOOST_TEST(has(rules6, "1005:\tfrom fd00:2::/64 lookup 200"), rules6);

  auto routes = in(gw, "ip route show table all");
  BOOST_TEST(has(routes, "default via 203.0.113.2 dev up2 table 200 proto static"), routes);
  BOOST_TEST(has(routes,
                 "default proto static \n\tnexthop via 198.51.100.2 dev up1 weight 1 \n\tnexthop via "
                 "203.0.113.2 dev up2 weight 3"),
             routes);
  BOOST_TEST(has(routes, "10.7.0.0/16 via 10.99.0.1 dev up1 proto static onlink"), routes);
  BOOST_TEST(has(routes, "10.6.0.0/16 via 198.51.100.2 dev up1 proto bird src 10.0.1.1"), routes);
  BOOST_TEST(has(routes, "10.5.0.0/16 dev up1 table 300 proto static scope link"), routes);
  BOOST_TEST(has(routes, "throw 10.4.0.0/16 table 200 proto static"), routes);
  BOOST_TEST(has(routes, "local 10.3.3.3 dev lo table local proto static scope host"), routes);
  BOOST_TEST(has(routes, "10.9.0.0/16 via 198.51.100.2 dev up1 table 100000 proto static"), routes);
  auto routes6 = in(gw, "ip -6 route show table all");
  BOOST_TEST(has(routes6, "default via fd00:b::2 dev up2 table 200 proto static"), routes6);
  BOOST_TEST(has(routes6, "nexthop via fd00:a::2 dev up1 weight 1"), routes6);
  BOOST_TEST(has(routes6, "nexthop via fd00:b::2 dev up2 weight 1"), routes6);

  // The node's own neighbour entry replaces the one the lab planned.
  auto neigh = in(gw, "ip neigh show 198.51.100.2");
  BOOST_TEST(has(neigh, "198.51.100.2 dev up1 lladdr 02:00:00:00:00:09 PERMANENT"), neigh);

  // The kernel uses them: the local route answers, the unreachable rule
  // refuses sources outside 10/8, the route lookup follows the rules.
  BOOST_TEST(lab.ping("office", "10.3.3.3") == Verdict::reachable);
  auto get = in(gw, "ip route get 10.9.1.1 from 10.0.1.1");
  BOOST_TEST(has(get, "via 198.51.100.2 dev up1 table 100000"), get);
  get = in(gw, "ip route get 192.0.2.1 from 10.0.2.5 iif lan1");
  BOOST_TEST(has(get, "via 203.0.113.2 dev up2 table 200"), get);
  auto refused = nslab::run_in_node(gw, "ip route get 192.0.2.1 from 192.168.7.7 iif lan1");
  BOOST_TEST((has(refused.output, "unreachable") || has(refused.output, "No route to host")), refused.output);
}

// 24 TCP connections, each from its own source port: with the hash policy
// on ports (fib_multipath_hash_policy 1), both next hops carry some; all 24
// on one would happen once in 2^23 runs.
BOOST_AUTO_TEST_CASE(ecmp_spreads_flows_over_both_uplinks) {
  auto& lab = load(NSLAB_SCENARIOS "/routing/dual-uplink-ecmp.yaml");
  const std::string syn = "tcp[tcpflags] & tcp-syn != 0 and tcp[tcpflags] & tcp-ack == 0 and src host 10.0.1.10";
  auto& up1 = capture("isp1:gw", syn);
  auto& up2 = capture("isp2:gw", syn);
  std::vector<Probe> flows(24, Probe{.from = "office", .to = "web:isp1", .protocol = Protocol::tcp, .port = 80});
  for (const auto& r : lab.probe(flows)) BOOST_TEST((r.verdict == Verdict::reachable), r.detail);
  std::size_t one = up1.count(), two = up2.count();
  BOOST_TEST_MESSAGE(fmt::format("flows: {} through isp1, {} through isp2", one, two));
  BOOST_TEST(one >= 1u);
  BOOST_TEST(two >= 1u);
  BOOST_TEST(one + two >= 24u);
  // The route as ip shows it, in the node.
  auto routes = in(lab.node("gw"), "ip route show");
  BOOST_TEST(has(routes, "nexthop via 198.51.100.2 dev up1 weight 1"), routes);
  BOOST_TEST(has(routes, "nexthop via 203.0.113.2 dev up2 weight 1"), routes);
}

// The guest LAN's rule sends every one of its flows out of the second
// uplink, the hash notwithstanding.
BOOST_AUTO_TEST_CASE(a_policy_rule_sends_one_source_out_of_the_second_uplink) {
  auto& lab = load(NSLAB_SCENARIOS "/routing/dual-uplink-ecmp.yaml");
  auto& up1 = capture("isp1:gw", "src host 10.0.2.10");
  auto& up2 = capture("isp2:gw", "tcp[tcpflags] & tcp-syn != 0 and src host 10.0.2.10");
  std::vector<Probe> flows(16, Probe{.from = "guest", .to = "web:isp1", .protocol = Protocol::tcp, .port = 80});
  for (const auto& r : lab.probe(flows)) BOOST_TEST((r.verdict == Verdict::reachable), r.detail);
  BOOST_TEST(up1.count() == 0u);
  BOOST_TEST(up2.count() >= 16u);
  auto rules = in(lab.node("gw"), "ip rule show");
  BOOST_TEST(has(rules, "1000:\tfrom 10.0.2.0/24 lookup 200"), rules);
}

// A node with `arp: dynamic` has no planned entries and resolves on the
// wire (its peer keeps its planned entry for it); and silence proves
// nothing there, so a probe with no answer waits out its timeout.
BOOST_AUTO_TEST_CASE(a_node_with_dynamic_arp_resolves_on_the_wire) {
  nslab::Topology t("arp");
  t.add_node("a").arp_dynamic();
  t.add_node("b");
  t.link("a:eth0 10.0.0.1/24", "b:eth0 10.0.0.2/24");
  auto& lab = build(std::move(t));
  auto before = in(lab.node("a"), "ip neigh show dev eth0");
  BOOST_TEST(!has(before, "10.0.0.2"), before);
  BOOST_TEST(has(in(lab.node("b"), "ip neigh show dev eth0"), "10.0.0.1 lladdr 02:6e:73"));
  auto& arp = capture("b:eth0", "arp");
  BOOST_TEST(lab.ping("a", "b") == Verdict::reachable);
  BOOST_TEST(arp.count("arp[6:2] == 1") >= 1u);  // a's request
  auto after = in(lab.node("a"), "ip neigh show 10.0.0.2");
  BOOST_TEST((has(after, "REACHABLE") || has(after, "STALE") || has(after, "DELAY")), after);
  auto r = lab.probe(Probe{.from = "b", .to = "10.0.0.1", .protocol = Protocol::udp, .port = 9},
                     nslab::ProbeOptions{.timeout = 400ms});
  BOOST_TEST((r.verdict == Verdict::refused), r.detail);
  auto silent = lab.probe(Probe{.from = "a", .to = "10.0.0.99"}, nslab::ProbeOptions{.timeout = 400ms});
  BOOST_TEST((silent.verdict == Verdict::blocked), silent.detail);
  BOOST_TEST(has(silent.detail, "arp: dynamic"), silent.detail);
}

// A static neighbour sends frames to its MAC with no ARP at all.
BOOST_AUTO_TEST_CASE(a_static_neighbour_is_used_without_arp) {
  nslab::Topology t("neigh");
  t.add_node("a").neighbour("10.0.0.9 lladdr 02:00:00:00:00:09 dev eth0");
  t.add_node("b");
  t.link("a:eth0 10.0.0.1/24", "b:eth0 10.0.0.2/24");
  auto& lab = build(std::move(t));
  auto neigh = in(lab.node("a"), "ip neigh show 10.0.0.9");
  BOOST_TEST(has(neigh, "10.0.0.9 dev eth0 lladdr 02:00:00:00:00:09 PERMANENT"), neigh);
  auto& cap = capture("b:eth0");
  BOOST_TEST(lab.ping("a", "10.0.0.9", nslab::ProbeOptions{.timeout = 300ms}) == Verdict::blocked);
  BOOST_TEST(cap.count("icmp and ether dst 02:00:00:00:00:09") >= 1u);
  BOOST_TEST(cap.count("arp") == 0u);
}

// Several addresses on an interface, with scope and noprefixroute; a second
// address in one subnet is the kernel's secondary; one address on two
// interfaces (`shared`), reachable through both.
BOOST_AUTO_TEST_CASE(addresses_with_options_are_what_ip_shows) {
  nslab::Topology t("addresses");
  t.add_node("r").sysctl("net.ipv4.ip_forward", "1");
  t.add_node("a").route("192.0.2.1 via 10.0.0.1");
  t.add_node("b").route("192.0.2.1 via 10.1.0.1");
  t.link(
      "r:eth0 10.0.0.1/24 10.0.0.5/24 noprefixroute 10.7.0.1/24 scope link 10.8.0.1/24 noprefixroute "
      "192.0.2.1/32 shared",
      "a:eth0 10.0.0.2/24");
  t.link("r:eth1 10.1.0.1/24 192.0.2.1/32 shared", "b:eth0 10.1.0.2/24");
  auto& lab = build(std::move(t));
  auto& r = lab.node("r");
  auto addr = in(r, "ip -o -4 addr show dev eth0");
  BOOST_TEST(has(addr, "inet 10.0.0.1/24 scope global eth0"), addr);
  BOOST_TEST(has(addr, "inet 10.0.0.5/24 scope global secondary noprefixroute eth0"), addr);
  BOOST_TEST(has(addr, "inet 10.7.0.1/24 scope link eth0"), addr);
  BOOST_TEST(has(addr, "inet 10.8.0.1/24 scope global noprefixroute eth0"), addr);
  BOOST_TEST(has(addr, "inet 192.0.2.1/32 scope global eth0"), addr);
  BOOST_TEST(has(in(r, "ip -o -4 addr show dev eth1"), "inet 192.0.2.1/32 scope global eth1"));
  auto routes = in(r, "ip route show");
  BOOST_TEST(has(routes, "10.7.0.0/24 dev eth0 proto kernel scope link src 10.7.0.1"), routes);
  BOOST_TEST(!has(routes, "10.8.0.0/24"), routes);  // noprefixroute: no route for its subnet
  BOOST_TEST(lab.ping("a", "192.0.2.1") == Verdict::reachable);
  BOOST_TEST(lab.ping("b", "192.0.2.1") == Verdict::reachable);
}

BOOST_AUTO_TEST_SUITE_END()
