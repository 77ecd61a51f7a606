// The stillness census's own readers: the neighbour settings read through
// rtnetlink agree with the sysctl files they replace, a ruleset read once
// per nftables generation is read again after every change, by nft or
// iptables-nft, and the TCP tables it walks are the node's own.
#include <boost/test/unit_test.hpp>

#include <fmt/format.h>
#include <sstream>

#include "nslab/lab_fixture.h"
#include "nslab/witness.h"
#include "stillness_neighbours.h"
#include "stillness_ruleset.h"
#include "text.h"

using nslab::Probe;
using nslab::Verdict;
using nslab::testing::has;
using namespace std::chrono_literals;

namespace {

nslab::Topology pair_lab() {
  nslab::Topology t("census");
  t.add_node("a");
  t.add_node("b");
  t.link("a:eth0 10.0.0.1/24 fd00:1::1/64", "b:eth0 10.0.0.2/24 fd00:1::2/64");
  return t;
}

nslab::detail::NeighbourSettings settings_of(nslab::Lab& lab, const char* node) {
  return lab.node(node).run([] { return nslab::detail::neighbour_settings_here(); });
}

void sysctl(nslab::Lab& lab, const std::string& assignments) {
  auto r = nslab::run_in_node(lab.node("b"), "sysctl -qw " + assignments);
  BOOST_REQUIRE_MESSAGE(r.status == 0, r.output);
}

const nslab::ProbeOptions kShort{.timeout = 300ms};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(stillness_census, nslab::LabFixture)

// What /proc/sys says, the dumps say: the soonest failure is the smallest
// mcast_solicit × retrans_time_ms of any interface and family; proxy ARP or
// NDP on one interface, on "all" or on "default", or app_solicit anywhere,
// is a proxy.
BOOST_AUTO_TEST_CASE(neighbour_settings_agree_with_the_sysctls) {
  auto& lab = build(pair_lab());
  auto fresh = settings_of(lab, "b");
  BOOST_TEST(!fresh.proxies);
  BOOST_TEST(fresh.failure_ms == 3000);  // 3 probes, 1 s apart: the kernel's defaults
  sysctl(lab, "net.ipv4.neigh.eth0.mcast_solicit=2 net.ipv4.neigh.eth0.retrans_time_ms=700");
  BOOST_TEST(settings_of(lab, "b").failure_ms == 1400);
  sysctl(lab, "net.ipv6.neigh.lo.mcast_solicit=1 net.ipv6.neigh.lo.retrans_time_ms=300");
  BOOST_TEST(settings_of(lab, "b").failure_ms == 300);
  BOOST_TEST(settings_of(lab, "a").failure_ms == 3000);  // another namespace's settings stay its own
  BOOST_TEST(!settings_of(lab, "b").proxies);
  for (const char* key :
       {"net.ipv4.conf.eth0.proxy_arp", "net.ipv4.conf.all.proxy_arp", "net.ipv4.conf.default.proxy_arp",
        "net.ipv6.conf.eth0.proxy_ndp", "net.ipv6.conf.all.proxy_ndp", "net.ipv6.conf.default.proxy_ndp",
        "net.ipv4.neigh.eth0.app_solicit", "net.ipv6.neigh.eth0.app_solicit"}) {
    sysctl(lab, fmt::format("{}=1", key));
    BOOST_TEST(settings_of(lab, "b").proxies, key);
    sysctl(lab, fmt::format("{}=0", key));
    BOOST_TEST(!settings_of(lab, "b").proxies, key);
  }
}

// The generation moves on with every commit, nft's and iptables-nft's, and
// only then; each namespace has its own.
BOOST_AUTO_TEST_CASE(the_ruleset_generation_moves_with_every_change) {
  auto& lab = build(pair_lab());
  auto gen = [&](const char* node) {
    return lab.node(node).run([] { return nslab::detail::ruleset_generation_here(); });
  };
  auto first = gen("b");
  BOOST_REQUIRE(first.valid);
  BOOST_TEST(gen("b").generation == first.generation);
  BOOST_TEST(gen("a").netns != first.netns);
  auto r = nslab::run_in_node(lab.node("b"), "nft add table inet t");
  BOOST_REQUIRE_MESSAGE(r.status == 0, r.output);
  auto second = gen("b");
  BOOST_TEST(second.netns == first.netns);
  BOOST_TEST(second.generation != first.generation);
  r = nslab::run_in_node(lab.node("b"), "iptables -A INPUT -p icmp -j ACCEPT");
  BOOST_REQUIRE_MESSAGE(r.status == 0, r.output);
  BOOST_TEST(gen("b").generation != second.generation);
}

// The census's verdict on a ruleset is kept per generation: a time-dependent
// rule added between two batches (nft, then iptables-nft) makes the next one
// wait, its removal lets the one after decide early again.
BOOST_AUTO_TEST_CASE(a_rule_changed_between_batches_is_seen_by_the_next) {
  auto t = pair_lab();
  t.node("b").nftables_ruleset(R"(
    table inet d {
      chain in {
        type filter hook input priority 0;
        icmp type echo-request drop
      }
    })");
  auto& lab = build(std::move(t));
  // b drops echo requests (no neighbour resolution is left under way
  // between batches: that alone keeps a batch from deciding early).
  auto silent = [&] { return lab.probe(Probe{.from = "a", .to = "b"}, kShort); };
  auto early = [](const nslab::ProbeResult& r) { return has(r.detail, "the lab was still after each"); };
  auto in_b = [&](const std::string& command) {
    auto r = nslab::run_in_node(lab.node("b"), command);
    BOOST_REQUIRE_MESSAGE(r.status == 0, r.output);
  };
  auto r = silent();
  BOOST_TEST(r.verdict == Verdict::blocked);
  BOOST_TEST(early(r), r.detail);
  in_b(
      "nft add table inet t && nft add chain inet t in '{ type filter hook input priority 0; }' && "
      "nft add rule inet t in limit rate 1/second accept");
  r = silent();
  BOOST_TEST(r.verdict == Verdict::blocked);
  BOOST_TEST(has(r.detail, "waited it out: node \"b\" has rules with \"limit\""), r.detail);
  in_b("nft delete table inet t");
  r = silent();
  BOOST_TEST(early(r), r.detail);
  in_b("iptables -A INPUT -m limit --limit 1/second -j ACCEPT");
  r = silent();
  BOOST_TEST(has(r.detail, "waited it out: node \"b\" has rules with"), r.detail);
  in_b("iptables -F INPUT");
  r = silent();
  BOOST_TEST(early(r), r.detail);
}

// An IPv6 address that comes into use a moment after a batch begins (here
// its duplicate address detection takes about 60 ms; on a loaded machine the
// kernel's address work runs late the same way) does not cost the batch its
// early verdicts: the census looks again for a little while. One that stays
// tentative longer (detection of a second) still makes the batch wait.
// (mcast_solicit 30: a neighbour resolution on b then fails after 30
// retransmits, not 3, so that the short retransmit time does not end the
// lab's dead ends within the probes' timeout.)
BOOST_AUTO_TEST_CASE(an_address_about_to_come_into_use_is_waited_for) {
  auto& lab = build(pair_lab());
  auto add_with_dad = [&](const std::string& address, int retrans_ms) {
    sysctl(lab, fmt::format("net.ipv6.conf.eth0.accept_dad=1 net.ipv6.conf.eth0.dad_transmits=1 "
                            "net.ipv6.neigh.eth0.retrans_time_ms={} net.ipv6.neigh.eth0.mcast_solicit=30 "
                            "net.ipv6.conf.eth0.router_solicitation_delay=0",
                            retrans_ms));
    auto r = nslab::run_in_node(lab.node("b"), "ip -6 addr add " + address + "/64 dev eth0");
    BOOST_REQUIRE_MESSAGE(r.status == 0, r.output);
  };
  auto tentative = [&](const std::string& address) {
    auto r = nslab::run_in_node(lab.node("b"), "ip -6 addr show dev eth0 tentative");
    return has(r.output, address);
  };
  add_with_dad("fd00:1::3", 60);
  BOOST_TEST(tentative("fd00:1::3"));  // the witness: iproute2 sees it tentative
  auto r = lab.probe(Probe{.from = "a", .to = "10.0.0.99"}, kShort);
  BOOST_TEST(r.verdict == Verdict::blocked);
  BOOST_TEST(has(r.detail, "the lab was still after each"), r.detail);
  BOOST_TEST(!tentative("fd00:1::3"));

  add_with_dad("fd00:1::4", 1000);
  BOOST_TEST(tentative("fd00:1::4"));
  r = lab.probe(Probe{.from = "a", .to = "10.0.0.99"}, kShort);
  BOOST_TEST(r.verdict == Verdict::blocked);
  BOOST_TEST(has(r.detail, "waited it out: node \"b\": IPv6 address fd00:1::4 is not in use yet"), r.detail);
}

// A lab that serves TCP makes its nodes from a nursery (lab_build.cpp):
// each has a TCP hash of its own (a walk of /proc/net/tcp meets 1,024
// buckets, not the machine's), with the TIME_WAIT and SYN backlog limits of
// a namespace that shares the machine's; `ss` still lists what listens. A
// lab that serves no TCP shares the machine's hash (the kernel shows it
// negative).
BOOST_AUTO_TEST_CASE(a_node_that_serves_tcp_has_a_tcp_hash_of_its_own) {
  const char* keys = "net.ipv4.tcp_ehash_entries net.ipv4.tcp_max_tw_buckets net.ipv4.tcp_max_syn_backlog";
  auto plain = nslab::run_in_node(build(pair_lab()).node("a"), fmt::format("sysctl -n {}", keys));
  BOOST_REQUIRE_MESSAGE(plain.ok(), plain.output);
  destroy_lab();
  auto t = pair_lab();
  t.node("b").service(nslab::Protocol::tcp, 80);
  auto& lab = build(std::move(t));
  for (const char* node : {"a", "b"}) {
    auto own = nslab::run_in_node(lab.node(node), fmt::format("sysctl -n {}", keys));
    BOOST_REQUIRE_MESSAGE(own.ok(), own.output);
    std::istringstream p(plain.output), o(own.output);
    long shared = 0, buckets = 0, tw_shared = 0, tw = 0, syn_shared = 0, syn = 0;
    p >> shared >> tw_shared >> syn_shared;
    o >> buckets >> tw >> syn;
    BOOST_TEST(shared < 0, plain.output);
    BOOST_TEST(buckets == 1024, own.output);
    BOOST_TEST(tw == tw_shared, own.output << " vs " << plain.output);
    BOOST_TEST(syn == syn_shared, own.output << " vs " << plain.output);
  }
  auto ss = nslab::run_in_node(lab.node("b"), "ss -Htln");
  BOOST_TEST(has(ss.output, ":80 "), ss.output);
  check_probe({.from = "a", .to = "b", .protocol = nslab::Protocol::tcp, .port = 80}, Verdict::reachable);
}

BOOST_AUTO_TEST_SUITE_END()
