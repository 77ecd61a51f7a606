// Link kinds, each built by nslab and then checked by independent witnesses:
// `ip -d -j link` inside the node shows the kind and its settings, ping
// crosses it, and a capture shows what it puts on the wire (the UDP/4789
// encapsulation of a VXLAN overlay on its routed underlay, 802.1Q tags,
// GRE). Kinds this kernel lacks must fail the build with EnvironmentError
// naming the kernel option; on the kernel lane (NSLAB_KERNEL_LANE, Debian's
// stock kernel) that path is a failure and the full test runs.
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <fmt/format.h>
#include <string>

#include "nslab/lab_fixture.h"
#include "nslab/witness.h"
#include "text.h"

using nslab::Verdict;
using nslab::testing::has;
using K = nslab::InterfaceKind;

namespace {

nslab::Prefix pfx(const char* s) {
  return nslab::Prefix::from_string(s);
}
nslab::IpAddress ip(const char* s) {
  return nslab::IpAddress::from_string(s);
}

// `ip -d -j link show dev IF` inside the node, without spaces.
std::string link_json(nslab::Lab& lab, const std::string& node, const std::string& iface) {
  auto r = nslab::run_in_node(lab.node(node), "ip -d -j link show dev " + iface);
  BOOST_TEST(r.ok(), r.output);
  return r.output;
}

bool ping(nslab::Lab& lab, const std::string& node, const std::string& args) {
  auto r = nslab::run_in_node(lab.node(node), "ping -n -c1 -W2 " + args);
  BOOST_TEST_MESSAGE(r.output);
  return r.ok();
}

// Builds `t`, or checks that this kernel's lack of `kind` fails the build
// with an EnvironmentError naming `option`, and returns null. On the kernel
// lane a missing kind is a failure.
nslab::Lab* build_or_missing(nslab::LabFixture& f, nslab::Topology t, const std::string& kind,
                             const std::string& option) {
  try {
    return &f.build(std::move(t));
  } catch (const nslab::EnvironmentError& e) {
    BOOST_REQUIRE_MESSAGE(!std::getenv("NSLAB_KERNEL_LANE"),
                          "the kernel lane's kernel lacks " << kind << ": " << e.what());
    std::string msg = e.what();
    BOOST_TEST(has(msg, fmt::format("cannot create {} \"", kind)), msg);
    BOOST_TEST(has(msg, fmt::format("this kernel has no {} interfaces ({}", kind, option)), msg);
    BOOST_TEST_MESSAGE("this kernel lacks " << kind << " (" << option << "): " << msg);
    return nullptr;
  }
}

// site1 -- router -- site2: a routed underlay, 10.1.0.0/24 and 10.2.0.0/24.
nslab::Topology sites() {
  nslab::Topology t("sites");
  t.add_node("site1").route("default via 10.1.0.254");
  t.add_node("router").sysctl("net.ipv4.ip_forward", "1");
  t.add_node("site2").route("default via 10.2.0.254");
  t.link("site1:eth0 10.1.0.1/24", "router:eth0 10.1.0.254/24");
  t.link("site2:eth0 10.2.0.1/24", "router:eth1 10.2.0.254/24");
  return t;
}

// A tunnel of `kind` between the sites, overlay 10.50.0.1/30 - .2.
nslab::Topology tunnel(K kind, const char* name) {
  auto t = sites();
  auto end = [&](const char* local, const char* remote, const char* addr) {
    nslab::NodeInterface i{
        .name = name, .kind = kind, .addresses = {pfx(addr)}, .local = ip(local), .remote = ip(remote)};
    if (kind == K::vxlan) i.vni = 42;
    if (kind == K::gre) i.key = 7;
    return i;
  };
  t.node("site1").interface(end("10.1.0.1", "10.2.0.1", "10.50.0.1/30"));
  t.node("site2").interface(end("10.2.0.1", "10.1.0.1", "10.50.0.2/30"));
  return t;
}

// Loading ip_gre or ipip makes the kernel add its fallback devices (gre0,
// gretap0, erspan0, tunl0) to every namespace there is, the caller's too.
// Loaded before any test takes its snapshot of the caller's namespace, they
// are part of it; nslab itself adds nothing there. (Where the modules do not
// exist, modprobe fails quietly and the tests take the missing-kind path.)
struct LoadTunnelModules {
  LoadTunnelModules() { nslab::run_command("modprobe -q -a ip_gre ipip 2>/dev/null"); }
};
BOOST_TEST_GLOBAL_FIXTURE(LoadTunnelModules);

}  // namespace

BOOST_FIXTURE_TEST_SUITE(link_kinds, nslab::LabFixture)

BOOST_AUTO_TEST_CASE(vxlan_overlay_crosses_a_routed_underlay) {
  auto& lab = build(tunnel(K::vxlan, "vx0"));
  auto j = link_json(lab, "site1", "vx0");
  BOOST_TEST(has(j, "\"info_kind\":\"vxlan\""), j);
  BOOST_TEST(has(j, "\"id\":42"), j);
  BOOST_TEST(has(j, "\"port\":4789"), j);
  BOOST_TEST(has(j, "\"remote\":\"10.2.0.1\""), j);
  BOOST_TEST(has(j, "\"local\":\"10.1.0.1\""), j);
  // The router knows no route to the overlay: only encapsulated, the
  // echoes cross it, as UDP to port 4789 between the sites' addresses.
  BOOST_TEST(!has(nslab::run_in_node(lab.node("router"), "ip route get 10.50.0.2").output, "via"));
  auto underlay = lab.capture("router:eth1", "udp dst port 4789 and src host 10.1.0.1 and dst host 10.2.0.1");
  auto inner = lab.capture("site2:vx0", "icmp");
  BOOST_TEST(lab.ping("site1", "site2:vx0") == Verdict::reachable);
  BOOST_TEST(ping(lab, "site1", "10.50.0.2"));
  underlay.stop();
  inner.stop();
  BOOST_TEST(underlay.count() >= 2u);
  BOOST_TEST(inner.count("icmp[icmptype] == icmp-echo and src host 10.50.0.1") >= 2u);
  // Without its tunnel the overlay is unreachable: the control.
  nslab::run_in_node(lab.node("site2"), "ip link set vx0 down");
  BOOST_TEST(!ping(lab, "site1", "10.50.0.2"));
}

BOOST_AUTO_TEST_CASE(macvlan_and_addresses_on_lo) {
  // The parents carry no address: every address of the subnet is a
  // macvlan's, so no ARP answer comes from a parent instead.
  nslab::Topology t("mv");
  t.add_node("a").route("10.255.0.9/32 via 10.0.0.2");
  t.add_node("b").loopback({"10.255.0.9/32"});
  t.link("a:eth0", "b:eth0");
  t.node("a").interface({.name = "mv0",
                         .kind = K::macvlan,
                         .addresses = {pfx("10.0.0.1/24")},
                         .parent = "eth0",
                         .macvlan_mode = nslab::MacvlanMode::bridge});
  t.node("b").interface({.name = "mv0",
                         .kind = K::macvlan,
                         .addresses = {pfx("10.0.0.2/24")},
                         .parent = "eth0",
                         .macvlan_mode = nslab::MacvlanMode::private_});
  auto& lab = build(std::move(t));
  auto j = link_json(lab, "a", "mv0");
  BOOST_TEST(has(j, "\"info_kind\":\"macvlan\""), j);
  BOOST_TEST(has(j, "\"mode\":\"bridge\""), j);
  BOOST_TEST(has(j, "\"link\":\"eth0\""), j);
  BOOST_TEST(has(link_json(lab, "b", "mv0"), "\"mode\":\"private\""));
  // a's echoes leave through eth0 from the macvlan's own MAC, not eth0's.
  auto mac = [&](const std::string& node, const std::string& iface) {
    // The node's own view (its /sys is the caller's): `"address":"02:..."`.
    auto out = link_json(lab, node, iface);
    auto at = out.find("\"address\":\"");
    return at == std::string::npos ? std::string("none") : out.substr(at + 11, 17);
  };
  BOOST_TEST(mac("a", "mv0") != mac("a", "eth0"));
  auto wire = lab.capture("b:eth0", "icmp and src host 10.0.0.1 and ether src " + mac("a", "mv0"));
  BOOST_TEST(lab.ping("a", "b") == Verdict::reachable);
  wire.stop();
  BOOST_TEST(wire.count() >= 1u);
  // lo's address answers, and `ip` shows it on lo.
  BOOST_TEST(has(nslab::run_in_node(lab.node("b"), "ip -j addr show dev lo").output, "\"local\":\"10.255.0.9\""));
  BOOST_TEST(lab.ping("a", "10.255.0.9") == Verdict::reachable);
}

BOOST_AUTO_TEST_CASE(vlan_sub_interfaces_carry_tagged_frames) {
  nslab::Topology t("vlan");
  t.add_node("a");
  t.add_node("b");
  t.link("a:eth0", "b:eth0");
  for (auto [node, addr] : {std::pair{"a", "10.0.10.1/24"}, std::pair{"b", "10.0.10.2/24"}})
    t.node(node).interface(
        {.name = "eth0.10", .kind = K::vlan, .addresses = {pfx(addr)}, .parent = "eth0", .vlan_id = 10});
  t.node("a").interface(
      {.name = "eth0.20", .kind = K::vlan, .addresses = {pfx("10.0.20.1/24")}, .parent = "eth0", .vlan_id = 20});
  t.node("b").interface(
      {.name = "eth0.21", .kind = K::vlan, .addresses = {pfx("10.0.20.2/24")}, .parent = "eth0", .vlan_id = 21});
  auto* lab = build_or_missing(*this, std::move(t), "vlan", "CONFIG_VLAN_8021Q");
  if (!lab) return;
  auto j = link_json(*lab, "a", "eth0.10");
  BOOST_TEST(has(j, "\"info_kind\":\"vlan\""), j);
  BOOST_TEST(has(j, "\"id\":10"), j);
  BOOST_TEST(has(j, "\"link\":\"eth0\""), j);
  auto tagged = lab->capture("b:eth0", "vlan 10 and icmp");
  BOOST_TEST(ping(*lab, "a", "10.0.10.2"));
  tagged.stop();
  BOOST_TEST(tagged.count() >= 2u);
  // Different VLAN ids do not meet, though their subnets match.
  BOOST_TEST(!ping(*lab, "a", "10.0.20.2"));
}

BOOST_AUTO_TEST_CASE(bond_joins_two_links) {
  nslab::Topology t("bond");
  t.add_node("a");
  t.add_node("b");
  t.link("a:eth0", "b:eth0");
  t.link("a:eth1", "b:eth1");
  for (auto [node, addr] : {std::pair{"a", "10.0.0.1/24"}, std::pair{"b", "10.0.0.2/24"}})
    t.node(node).interface({.name = "bond0",
                            .kind = K::bond,
                            .addresses = {pfx(addr)},
                            .bond_mode = nslab::BondMode::active_backup,
                            .members = {"eth0", "eth1"}});
  auto* lab = build_or_missing(*this, std::move(t), "bond", "CONFIG_BONDING");
  if (!lab) return;
  auto j = link_json(*lab, "a", "bond0");
  BOOST_TEST(has(j, "\"info_kind\":\"bond\""), j);
  BOOST_TEST(has(j, "\"mode\":\"active-backup\""), j);
  BOOST_TEST(has(link_json(*lab, "a", "eth1"), "\"master\":\"bond0\""));
  BOOST_TEST(lab->ping("a", "b") == Verdict::reachable);
  // One member's link lost: the bond carries on over the other.
  nslab::run_in_node(lab->node("b"), "ip link set eth0 down");
  nslab::run_in_node(lab->node("a"), "ip link set eth0 down");
  BOOST_TEST(ping(*lab, "a", "-w5 10.0.0.2"));
}

BOOST_AUTO_TEST_CASE(vrf_isolates_its_members) {
  nslab::Topology t("vrf");
  t.add_node("a").route("default via 10.0.1.1");
  t.add_node("r").sysctl("net.ipv4.ip_forward", "1");
  t.add_node("b").route("default via 10.0.2.1");
  t.link("a:eth0 10.0.1.2/24", "r:eth0 10.0.1.1/24");
  t.link("b:eth0 10.0.2.2/24", "r:eth1 10.0.2.1/24");
  t.node("r").interface({.name = "blue", .kind = K::vrf, .members = {"eth1"}, .table = 10});
  auto* lab = build_or_missing(*this, std::move(t), "vrf", "CONFIG_NET_VRF");
  if (!lab) return;
  auto j = link_json(*lab, "r", "blue");
  BOOST_TEST(has(j, "\"info_kind\":\"vrf\""), j);
  BOOST_TEST(has(j, "\"table\":10"), j);
  BOOST_TEST(has(link_json(*lab, "r", "eth1"), "\"master\":\"blue\""));
  BOOST_TEST(has(nslab::run_in_node(lab->node("r"), "ip route show table 10").output, "10.0.2.0/24"));
  // r's main table no longer knows b's subnet: a cannot reach b through r,
  // nor r itself outside the VRF; inside the VRF, r reaches b.
  BOOST_TEST(lab->ping("a", "b") != Verdict::reachable);
  BOOST_TEST(!ping(*lab, "r", "10.0.2.2"));
  BOOST_TEST(ping(*lab, "r", "-I blue 10.0.2.2"));
}

BOOST_AUTO_TEST_CASE(gre_and_ipip_tunnels_cross_a_router) {
  auto* lab = build_or_missing(*this, tunnel(K::gre, "gre1"), "gre", "CONFIG_NET_IPGRE");
  if (lab) {
    auto j = link_json(*lab, "site1", "gre1");
    BOOST_TEST(has(j, "\"info_kind\":\"gre\""), j);
    BOOST_TEST(has(j, "\"remote\":\"10.2.0.1\""), j);
    auto wire = lab->capture("router:eth1", "ip proto gre and src host 10.1.0.1");
    BOOST_TEST(ping(*lab, "site1", "10.50.0.2"));
    wire.stop();
    BOOST_TEST(wire.count() >= 1u);
    destroy_lab();
  }
  lab = build_or_missing(*this, tunnel(K::ipip, "ipip1"), "ipip", "CONFIG_NET_IPIP");
  if (!lab) return;
  BOOST_TEST(has(link_json(*lab, "site1", "ipip1"), "\"info_kind\":\"ipip\""));
  auto wire = lab->capture("router:eth1", "ip proto 4 and src host 10.1.0.1");
  BOOST_TEST(ping(*lab, "site1", "10.50.0.2"));
  wire.stop();
  BOOST_TEST(wire.count() >= 1u);
}

BOOST_AUTO_TEST_CASE(dummy_and_ipvlan) {
  nslab::Topology t("dummy");
  t.add_node("a").route("10.9.9.9/32 via 10.0.0.2");
  t.add_node("b");
  t.link("a:eth0 10.0.0.1/24", "b:eth0 10.0.0.2/24");
  t.node("b").interface({.name = "d0", .kind = K::dummy, .addresses = {pfx("10.9.9.9/32")}});
  auto* lab = build_or_missing(*this, std::move(t), "dummy", "CONFIG_DUMMY");
  if (lab) {
    BOOST_TEST(has(link_json(*lab, "b", "d0"), "\"info_kind\":\"dummy\""));
    BOOST_TEST(lab->ping("a", "10.9.9.9") == Verdict::reachable);
    destroy_lab();
  }
  nslab::Topology v("ipvlan");
  v.add_node("a");
  v.add_node("b");
  v.link("a:eth0 10.0.0.1/24", "b:eth0");
  v.node("b").interface({.name = "ipv0",
                         .kind = K::ipvlan,
                         .addresses = {pfx("10.0.0.2/24")},
                         .parent = "eth0",
                         .ipvlan_mode = nslab::IpvlanMode::l2});
  lab = build_or_missing(*this, std::move(v), "ipvlan", "CONFIG_IPVLAN");
  if (!lab) return;
  auto j = link_json(*lab, "b", "ipv0");
  BOOST_TEST(has(j, "\"info_kind\":\"ipvlan\""), j);
  BOOST_TEST(has(j, "\"mode\":\"l2\""), j);
  BOOST_TEST(ping(*lab, "a", "10.0.0.2"));
}

BOOST_AUTO_TEST_SUITE_END()
