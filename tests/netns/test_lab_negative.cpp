// What must NOT connect: a link left down, a missing route, another subnet.
// The real ping is the witness, so a lab that connects too much fails here.
#include <boost/test/unit_test.hpp>

#include <fmt/format.h>

#include "nslab/lab_fixture.h"
#include "nslab/witness.h"
#include "seed_topologies.h"
#include "text.h"

using nslab::testing::has;

using nslab::run_in_node;

BOOST_FIXTURE_TEST_SUITE(lab_negative, nslab::LabFixture)

BOOST_AUTO_TEST_CASE(a_link_set_down_carries_nothing) {
  nslab::Topology t("down");
  t.add_node("red");
  t.add_node("blue");
  auto& l = t.link("red:veth-red 192.168.1.1/24", "blue:veth-blue 192.168.1.2/24");
  l.b.up = false;
  auto& lab = build(std::move(t));
  auto link = run_in_node(lab.node("blue"), "ip -o link show dev veth-blue");
  BOOST_TEST(has(link.output, "state DOWN"), link.output);
  auto r = run_in_node(lab.node("red"), "ping -n -c1 -W1 192.168.1.2");
  BOOST_TEST(!r.ok(), r.output);
  BOOST_TEST(has(r.output, "100% packet loss"), r.output);
}

BOOST_AUTO_TEST_CASE(a_missing_route_is_unreachable_at_once) {
  // routed_via_host without red's default route: red cannot even send.
  nslab::Topology t = nslab::seed::routed_via_host();
  t.node("red").routes.clear();
  auto& lab = build(std::move(t));
  auto r = run_in_node(lab.node("red"), "ping -n -c1 -W1 203.0.113.2");
  BOOST_TEST(!r.ok(), r.output);
  BOOST_TEST(has(r.output, "Network is unreachable"), r.output);
  // blue still has its route, as the control.
  BOOST_TEST(run_in_node(lab.node("blue"), "ping -n -c1 -W2 203.0.113.2").ok());
}

BOOST_AUTO_TEST_CASE(no_route_back_loses_the_reply) {
  nslab::Topology t = nslab::seed::routed_via_host();
  t.node("external").routes.clear();
  auto& lab = build(std::move(t));
  auto r = run_in_node(lab.node("red"), "ping -n -c1 -W1 203.0.113.2");
  BOOST_TEST(!r.ok(), r.output);
  BOOST_TEST(has(r.output, "100% packet loss"), r.output);
}

BOOST_AUTO_TEST_CASE(an_address_in_another_subnet_is_not_reached) {
  // blue is on the same bridge as red, but in 192.168.2.0/24.
  nslab::Topology u("other-subnet");
  u.add_node("host").bridge("v-net-0");
  u.add_node("red");
  u.add_node("blue");
  u.link("red:eth0 192.168.1.1/24", "host:veth-red@v-net-0");
  u.link("blue:eth0 192.168.2.2/24", "host:veth-blue@v-net-0");
  auto& lab = build(std::move(u));
  auto r = run_in_node(lab.node("red"), "ping -n -c1 -W1 192.168.2.2");
  BOOST_TEST(!r.ok(), r.output);
  BOOST_TEST(has(r.output, "Network is unreachable"), r.output);
}

BOOST_AUTO_TEST_CASE(an_unknown_host_on_the_subnet_times_out) {
  auto& lab = build(nslab::seed::bridge_three());
  auto r = run_in_node(lab.node("red"), "ping -n -c1 -W1 192.168.1.77");
  BOOST_TEST(!r.ok(), r.output);
  // Not refused, not a routing error: the one echo went out and nothing came back.
  BOOST_TEST(has(r.output, "1 packets transmitted, 0 received"), r.output);
  BOOST_TEST(!has(r.output, "Network is unreachable"), r.output);
}

BOOST_AUTO_TEST_SUITE_END()
