// Validation of lab descriptions: no privilege needed, every error names the
// object and the cause.
#include <boost/test/unit_test.hpp>

#include <limits>
#include <string>

#include "netlink.h"
#include "nslab/topology.h"
#include "seed_topologies.h"
#include "text.h"

using nslab::testing::has;

using nslab::ConfigError;
using nslab::Topology;

namespace {
std::string first_problem(const Topology& t) {
  auto all = t.problems();
  return all.empty() ? std::string() : std::string(all.front().what());
}
}  // namespace

BOOST_AUTO_TEST_SUITE(topology)

BOOST_AUTO_TEST_CASE(seed_labs_are_valid) {
  for (const auto& t : {nslab::seed::veth_pair(), nslab::seed::bridge_three(), nslab::seed::host_access(),
                        nslab::seed::routed_via_host()})
    BOOST_TEST(t.problems().empty(), t.name() << ": " << first_problem(t));
}

BOOST_AUTO_TEST_CASE(endpoint_short_form) {
  auto e = nslab::Endpoint::parse("host:veth-red@v-net-0");
  BOOST_TEST(e.node == "host");
  BOOST_TEST(e.interface == "veth-red");
  BOOST_TEST(e.bridge == "v-net-0");
  BOOST_TEST(e.addresses.empty());
  auto f = nslab::Endpoint::parse("red:eth0  192.168.1.1/24 fd00::1/64");
  BOOST_TEST(f.addresses.size() == 2u);
  BOOST_CHECK_THROW(nslab::Endpoint::parse("red"), ConfigError);
  BOOST_CHECK_THROW(nslab::Endpoint::parse("red:eth0 192.168.1.1"), ConfigError);
}

BOOST_AUTO_TEST_CASE(duplicate_node_is_refused_at_once) {
  Topology t;
  t.add_node("red");
  try {
    t.add_node("red");
    BOOST_FAIL("duplicate accepted");
  } catch (const ConfigError& e) {
    BOOST_TEST(has(e.what(), "duplicate node \"red\""));
  }
}

BOOST_AUTO_TEST_CASE(interface_name_over_15_characters) {
  Topology t;
  t.add_node("red");
  t.add_node("blue");
  t.link("red:a-very-long-name0 10.0.0.1/24", "blue:eth0 10.0.0.2/24");
  auto p = first_problem(t);
  BOOST_TEST(has(p, "interface name \"a-very-long-name0\" is 17 characters long; Linux allows at most 15"), p);
}

BOOST_AUTO_TEST_CASE(bridge_that_does_not_exist) {
  Topology t;
  t.add_node("host");
  t.add_node("red");
  t.link("red:eth0 10.0.0.1/24", "host:veth-red@v-net-9");
  auto p = first_problem(t);
  BOOST_TEST(has(p, "names bridge \"v-net-9\", which node \"host\" does not have"), p);
}

BOOST_AUTO_TEST_CASE(address_already_in_use_on_the_segment) {
  Topology t = nslab::seed::bridge_three();
  t.node("host").bridges[0].addresses.push_back(nslab::Prefix::from_string("192.168.1.2/24"));
  auto p = first_problem(t);
  BOOST_TEST(has(p, "address 192.168.1.2 on \"blue:blue-veth\" is already in use on \"host:v-net-0\""), p);
}

BOOST_AUTO_TEST_CASE(same_address_on_separate_segments_is_fine) {
  Topology t;
  for (const char* n : {"a", "b", "c", "d"}) t.add_node(n);
  t.link("a:eth0 10.0.0.1/24", "b:eth0 10.0.0.2/24");
  t.link("c:eth0 10.0.0.1/24", "d:eth0 10.0.0.2/24");
  BOOST_TEST(t.problems().empty(), first_problem(t));
}

BOOST_AUTO_TEST_CASE(unknown_node_and_duplicate_interface) {
  Topology t;
  t.add_node("red");
  t.link("red:eth0 10.0.0.1/24", "nobody:eth0 10.0.0.2/24");
  t.add_node("blue");
  t.link("red:eth0", "blue:eth0");
  auto all = t.problems();
  BOOST_REQUIRE_GE(all.size(), 2u);
  BOOST_TEST(has(all[0].what(), "names unknown node \"nobody\""), all[0].what());
  BOOST_TEST(has(all[1].what(), "duplicate interface \"red:eth0\""), all[1].what());
}

BOOST_AUTO_TEST_CASE(gateway_must_be_on_a_connected_subnet) {
  Topology t = nslab::seed::veth_pair();
  t.node("red").route("default", "10.9.9.9");
  auto p = first_problem(t);
  BOOST_TEST(has(p, "gateway 10.9.9.9 is not on any subnet connected to \"red\""), p);
}

BOOST_AUTO_TEST_CASE(only_namespaced_sysctls) {
  Topology t = nslab::seed::veth_pair();
  t.node("red").sysctl("kernel.panic", "1");
  auto p = first_problem(t);
  BOOST_TEST(has(p, "a lab may only set net.* keys"), p);
}

BOOST_AUTO_TEST_CASE(node_names_are_checked) {
  Topology t;
  BOOST_CHECK_THROW(t.add_node("red blue"), ConfigError);
  BOOST_CHECK_THROW(t.add_node(""), ConfigError);
}

// One rule for interface and bridge names: letters, digits, '-' and '_' (no
// '"', ':', '@', '.', blanks or control characters), at most 15, not
// starting with '-', not "all" or "default".
BOOST_AUTO_TEST_CASE(interface_name_rule) {
  for (const char* ok : {"eth0", "veth-red", "v_net_0", "_x", "0", "abcdefghijklmno"})
    BOOST_TEST(!nslab::interface_name_problem(ok).has_value(), ok);
  for (const char* bad : {"e\"x", "a.b", "a@b", "a:b", "a b", "a/b", "eth0\r", "eth0\v", "-x", "all", "default", ""})
    BOOST_TEST(nslab::interface_name_problem(bad).has_value(), bad);
  BOOST_TEST(nslab::interface_name_problem("eth0\r").value_or("") ==
             "interface name \"eth0\\x0d\" contains '\\x0d'; interface and bridge names may hold only letters, "
             "digits, '-' and '_'");
  Topology t;
  t.add_node("red").bridge("br\"0");
  BOOST_TEST(has(first_problem(t), "bridge \"red:br\"0\": interface name \"br\"0\" contains '\"'"), first_problem(t));
  BOOST_CHECK_THROW(t.add_node("-red"), ConfigError);
}

BOOST_AUTO_TEST_CASE(addresses_that_no_interface_can_have) {
  for (const char* bad : {"0.0.0.0/24", "0.1.2.3/8", "127.0.0.1/8", "224.0.0.5/24", "255.255.255.255/32", "::/0",
                          "::/64", "::1/128", "ff02::1/64", "::ffff:10.0.0.1/120", "10.0.0.1/0", "fd00::1/0"})
    BOOST_TEST(nslab::interface_address_problem(nslab::Prefix::from_string(bad)).has_value(), bad);
  for (const char* ok : {"10.0.0.1/24", "169.254.1.1/16", "fe80::1/64", "fd00::1/64", "2001:db8::1/128", "10.0.0.1/32"})
    BOOST_TEST(!nslab::interface_address_problem(nslab::Prefix::from_string(ok)).has_value(), ok);
  Topology t = nslab::seed::veth_pair();
  t.links().at(0).a.addresses.push_back(nslab::Prefix::from_string("::1/128"));
  BOOST_TEST(has(first_problem(t), "address ::1/128 on \"red:veth-red\" is the loopback address (::1)"),
             first_problem(t));
}

BOOST_AUTO_TEST_CASE(one_listener_per_port) {
  Topology t = nslab::seed::veth_pair();
  t.node("red").service(nslab::Protocol::tcp, 80).service(nslab::Protocol::udp, 80);
  BOOST_TEST(t.problems().empty(), first_problem(t));
  t.node("red").service(nslab::Protocol::tcp, 80);
  BOOST_TEST(has(first_problem(t), "node \"red\": duplicate service tcp/80"), first_problem(t));
  Topology u = nslab::seed::veth_pair();
  u.node("red").service(nslab::Protocol::udp, 53);
  nslab::RunSpec r;
  r.argv = {"sleep", "9"};
  r.ready_port = {nslab::Protocol::udp, 53};
  u.node("red").run.push_back(r);
  BOOST_TEST(has(first_problem(u), "a run program is ready on udp/53, the port of a built-in service"),
             first_problem(u));
}

// Built in C++, nothing passes through the scenario parsers: the same
// numbers are checked on the description.
BOOST_AUTO_TEST_CASE(nonsense_numbers_built_in_cpp) {
  Topology t = nslab::seed::veth_pair();
  auto& link = t.links().at(0);
  link.impair.loss_percent = std::numeric_limits<double>::quiet_NaN();
  BOOST_TEST(has(first_problem(t), "loss nan% is outside 0%..100%"), first_problem(t));
  link.impair.loss_percent.reset();
  link.impair.rate = nslab::Rate{0};
  BOOST_TEST(has(first_problem(t), "rate 0 bit/s is outside 8bit..10tbit"), first_problem(t));
  link.impair.rate.reset();
  BOOST_TEST(t.problems().empty(), first_problem(t));
  t.node("red").route("10.9.0.0/16", "192.168.1.2").routes.back().metric = -5;
  BOOST_TEST(has(first_problem(t), "metric -5 is negative"), first_problem(t));
}

BOOST_AUTO_TEST_CASE(iptables_lines_are_checked_before_building) {
  Topology t = nslab::seed::veth_pair();
  t.node("red").iptables = {"-A INPUT -j DROP\n-A INPUT -m comment --comment 'oops -j DROP\n", {"lab.yaml", 7, 7}};
  BOOST_TEST(has(first_problem(t), "lab.yaml:8:37: node \"red\": iptables line 2: unterminated ' quote"),
             first_problem(t));
}

BOOST_AUTO_TEST_CASE(machine_wide_sysctls) {
  for (const char* bad :
       {"net.core.rmem_max", "net.core.netdev_max_backlog", "net.ipv4.tcp_mem", "net.ipv4.neigh.default.gc_thresh3",
        "net.netfilter.nf_conntrack_max", "net..x", "net.a/b", "net.ipv4.ip_forward."})
    BOOST_TEST(nslab::sysctl_key_problem(bad).has_value(), bad);
  for (const char* ok : {"net.ipv4.ip_forward", "net.core.somaxconn", "net.ipv4.conf.veth-red.forwarding",
                         "net.ipv4.neigh.eth0.gc_stale_time", "net.netfilter.nf_conntrack_tcp_loose",
                         "net.bridge.bridge-nf-call-iptables"})
    BOOST_TEST(!nslab::sysctl_key_problem(ok).has_value(), ok << ": " << nslab::sysctl_key_problem(ok).value_or(""));
}

BOOST_AUTO_TEST_CASE(errors_carry_their_location) {
  Topology t;
  t.add_node("red");
  nslab::Endpoint a = nslab::Endpoint::parse("red:eth0", {"lab.yaml", 7, 5});
  nslab::Endpoint b = nslab::Endpoint::parse("ghost:eth0", {"lab.yaml", 7, 17});
  t.add_link(a, b);
  auto p = first_problem(t);
  BOOST_TEST(has(p, "lab.yaml:7:17: link endpoint \"ghost:eth0\" names unknown node"), p);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(routes_in_ip_route_words) {
  using nslab::RouteSpec;
  using nslab::RouteType;
  auto r = RouteSpec::parse("10.0.0.0/8 via 10.1.1.1 dev eth0 metric 5");
  BOOST_TEST(r.metric == 5);
  BOOST_TEST((RouteSpec::parse("unreachable 198.51.100.0/24").type == RouteType::unreachable));
  BOOST_TEST((RouteSpec::parse("blackhole\t10.97.0.0/24").type == RouteType::blackhole));
  BOOST_TEST(!RouteSpec::parse("default").to.has_value());
  // A host route: an address alone is a /32.
  BOOST_TEST(RouteSpec::parse("10.9.9.9 dev eth0").to->str() == "10.9.9.9/32");

  auto refused = [](std::string_view text, const std::string& why) {
    try {
      RouteSpec::parse(text, nslab::SourceLocation{"lab.yaml", 4, 7});
    } catch (const ConfigError& e) {
      BOOST_TEST_INFO(e.what());
      BOOST_TEST(has(e.what(), why));
      BOOST_TEST(has(e.what(), "lab.yaml:4:7"));
      return;
    }
    BOOST_ERROR("accepted: " << text);
  };
  refused("metric 5", "destination");
  refused("", "needs a destination");
  refused("prohibit", "needs a destination");
  refused("10.0.0.0/8 via", "needs a value");
  refused("10.0.0.0/8 metric 5 metric 6", "given twice");
  refused("10.0.0.0/8 via 10.1.1.1 via 10.1.1.2", "given twice");
  refused("10.0.0.0/8 tabel 5", "unknown route word \"tabel\"; did you mean \"table\"?");
  refused("10.0.0.0/8 metric -1", "metric");
}
