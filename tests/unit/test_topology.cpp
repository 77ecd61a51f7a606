// Validation of lab descriptions: no privilege needed, every error names the
// object and the cause.
#include <boost/test/unit_test.hpp>

#include <string>

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
  for (const auto& t : {nslab::seed::veth_pair(), nslab::seed::bridge_three(),
                        nslab::seed::host_access(), nslab::seed::routed_via_host()})
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
