// The static neighbour plan, without root: which ARP/NDP and bridge
// forwarding entries a lab enters for a description (neighbour_plan.h).
#include <boost/test/unit_test.hpp>

#include <fmt/format.h>

#include <algorithm>

#include "neighbour_plan.h"

using nslab::IpAddress;
using nslab::MacAddress;

namespace {

MacAddress mac(std::uint8_t n) {
  return MacAddress{0x02, 0, 0, 0, 0, n};
}

// host with bridge br (10.0.0.254/24) and nodes n1..nN on it.
nslab::Topology star(int n) {
  nslab::Topology t("star");
  t.add_node("host").bridge("br", {"10.0.0.254/24"});
  for (int i = 1; i <= n; ++i) {
    t.add_node(fmt::format("n{}", i));
    t.link(fmt::format("n{0}:eth0 10.0.0.{0}/24", i), fmt::format("host:p{}@br", i));
  }
  return t;
}

std::unordered_map<std::string, MacAddress> star_macs(int n) {
  std::unordered_map<std::string, MacAddress> m{{"host:br", mac(200)}};
  for (int i = 1; i <= n; ++i) {
    m[fmt::format("n{}:eth0", i)] = mac(static_cast<std::uint8_t>(i));
    m[fmt::format("host:p{}", i)] = mac(static_cast<std::uint8_t>(100 + i));
  }
  return m;
}

const nslab::NodeNeighbours* of(const std::vector<nslab::NodeNeighbours>& plan, const std::string& node) {
  for (const auto& n : plan)
    if (n.node == node) return &n;
  return nullptr;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(neighbour_plan)

BOOST_AUTO_TEST_CASE(every_address_of_a_segment_in_every_other_member) {
  auto plan = nslab::plan_static_neighbours(star(3), star_macs(3), 256);
  BOOST_REQUIRE_EQUAL(plan.size(), 4u);
  BOOST_TEST(plan[0].node == "host");  // topology order
  // n1: the bridge's address and the two other nodes, all on eth0.
  const auto* n1 = of(plan, "n1");
  BOOST_REQUIRE(n1);
  BOOST_REQUIRE_EQUAL(n1->entries.size(), 3u);
  for (const auto& [ifname, e] : n1->entries) {
    BOOST_TEST(ifname == "eth0");
    BOOST_TEST(!e.fdb);
    BOOST_TEST((e.address != IpAddress::parse("10.0.0.1").value()));
    if (e.address == IpAddress::parse("10.0.0.254").value()) BOOST_TEST((e.mac == mac(200)));
    if (e.address == IpAddress::parse("10.0.0.3").value()) BOOST_TEST((e.mac == mac(3)));
  }
  // host: three ARP entries on br, and one forwarding entry per port for the
  // MAC at the port's other end.
  const auto* host = of(plan, "host");
  BOOST_REQUIRE(host);
  std::size_t arp = 0, fdb = 0;
  for (const auto& [ifname, e] : host->entries) {
    if (e.fdb) {
      ++fdb;
      BOOST_TEST(ifname == fmt::format("p{}", e.mac[5]));  // p2 leads to n2's MAC
    } else {
      ++arp;
      BOOST_TEST(ifname == "br");
    }
  }
  BOOST_TEST(arp == 3u);
  BOOST_TEST(fdb == 3u);
}

BOOST_AUTO_TEST_CASE(a_segment_over_the_limit_gets_forwarding_entries_only) {
  // 5 addresses on the segment, limit 4: no ARP entries, still one forwarding
  // entry per port.
  auto plan = nslab::plan_static_neighbours(star(4), star_macs(4), 4);
  BOOST_REQUIRE_EQUAL(plan.size(), 1u);
  BOOST_TEST(plan[0].node == "host");
  BOOST_TEST(plan[0].entries.size() == 4u);
  for (const auto& [ifname, e] : plan[0].entries) BOOST_TEST(e.fdb);
  // At the limit exactly, the ARP entries are there: 5 x 4.
  std::size_t arp = 0;
  for (const auto& n : nslab::plan_static_neighbours(star(4), star_macs(4), 5))
    arp += static_cast<std::size_t>(
        std::count_if(n.entries.begin(), n.entries.end(), [](auto& e) { return !e.second.fdb; }));
  BOOST_TEST(arp == 20u);
}

BOOST_AUTO_TEST_CASE(only_addresses_inside_ones_own_subnets) {
  // a has 10.0.0.1/24 and 10.1.0.1/24 on one veth; b has only 10.0.0.2/24:
  // b learns 10.0.0.1 but not 10.1.0.1, which is off its link.
  nslab::Topology t("pair");
  t.add_node("a");
  t.add_node("b");
  t.link("a:eth0 10.0.0.1/24 10.1.0.1/24", "b:eth0 10.0.0.2/24");
  auto plan = nslab::plan_static_neighbours(t, {{"a:eth0", mac(1)}, {"b:eth0", mac(2)}}, 256);
  const auto* a = of(plan, "a");
  const auto* b = of(plan, "b");
  BOOST_REQUIRE(a && b);
  BOOST_REQUIRE_EQUAL(b->entries.size(), 1u);
  BOOST_TEST((b->entries[0].second.address == IpAddress::parse("10.0.0.1").value()));
  BOOST_TEST((b->entries[0].second.mac == mac(1)));
  BOOST_REQUIRE_EQUAL(a->entries.size(), 1u);
  BOOST_TEST((a->entries[0].second.address == IpAddress::parse("10.0.0.2").value()));
}

BOOST_AUTO_TEST_CASE(segments_are_apart) {
  // Two veth pairs through r: a never gets an entry for c.
  nslab::Topology t("line");
  for (auto n : {"a", "r", "c"}) t.add_node(n);
  t.link("a:eth0 10.0.1.1/24", "r:eth0 10.0.1.254/24");
  t.link("c:eth0 10.0.2.1/24", "r:eth1 10.0.2.254/24");
  auto plan = nslab::plan_static_neighbours(
      t, {{"a:eth0", mac(1)}, {"r:eth0", mac(2)}, {"c:eth0", mac(3)}, {"r:eth1", mac(4)}}, 256);
  const auto* a = of(plan, "a");
  const auto* r = of(plan, "r");
  BOOST_REQUIRE(a && r);
  BOOST_REQUIRE_EQUAL(a->entries.size(), 1u);
  BOOST_TEST((a->entries[0].second.mac == mac(2)));
  BOOST_REQUIRE_EQUAL(r->entries.size(), 2u);
  for (const auto& [ifname, e] : r->entries) BOOST_TEST(((ifname == "eth0" ? mac(1) : mac(3)) == e.mac));
}

BOOST_AUTO_TEST_SUITE_END()
