// Errors from one hierarchy, naming the object and the cause; and a failed
// build leaves nothing behind.
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <fmt/format.h>

#include "leak_scan.h"
#include "netlink.h"
#include "node_internals.h"
#include "nslab/error.h"
#include "nslab/lab_fixture.h"
#include "nslab/witness.h"
#include "seed_topologies.h"
#include "text.h"

using nslab::testing::has;

namespace {
std::string self_exe() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}
}  // namespace

BOOST_FIXTURE_TEST_SUITE(lab_errors, nslab::LabFixture)

BOOST_AUTO_TEST_CASE(interface_name_too_long_fails_before_building) {
  auto before = nslab::testing::take_census();
  int fds = nslab::testing::count_open_fds();
  nslab::Topology t = nslab::seed::veth_pair();
  t.add_node("green");
  t.link("green:this-name-is-too-long", "red:eth1");
  try {
    build(std::move(t));
    BOOST_FAIL("built a lab with a 22-character interface name");
  } catch (const nslab::ConfigError& e) {
    BOOST_TEST(has(e.what(), "interface name \"this-name-is-too-long\" is 21 characters long"), e.what());
  }
  BOOST_TEST(nslab::testing::new_namespaces(before, nslab::testing::take_census()).empty());
  BOOST_TEST(nslab::testing::count_open_fds() == fds);
}

BOOST_AUTO_TEST_CASE(address_already_in_use_is_refused_by_validation_and_by_the_kernel) {
  nslab::Topology t = nslab::seed::bridge_three();
  t.add_node("pink");
  t.link("pink:eth0 192.168.1.2/24", "host:veth-pink@v-net-0");
  BOOST_CHECK_EXCEPTION(build(t), nslab::ConfigError, [](const auto& e) {
    return has(e.what(),
               "address 192.168.1.2 on \"pink:eth0\" is already in use on \"blue:blue-veth\", "
               "on the same network segment");
  });
  // The same clash made directly through netlink: the kernel's own word.
  auto& lab = build(nslab::seed::veth_pair());
  auto& red = lab.node("red");
  int idx = nslab::NodeInternals::netlink(red).link("veth-red").index;
  BOOST_CHECK_EXCEPTION(
      nslab::NodeInternals::netlink(red).add_address(idx, nslab::Prefix::from_string("192.168.1.1/24"), "red:veth-red"),
      nslab::NetlinkError, [](const nslab::NetlinkError& e) {
        return e.code() == EEXIST &&
               has(e.what(), "cannot add address 192.168.1.1/24 to \"red:veth-red\": File exists");
      });
}

BOOST_AUTO_TEST_CASE(existing_link_name_is_named_in_the_error) {
  auto& lab = build(nslab::seed::veth_pair());
  auto& red = lab.node("red");
  auto& blue = lab.node("blue");
  nslab::VethEnd local{"veth-red", "red:veth-red", -1, 0, true, 0, std::nullopt};
  nslab::VethEnd peer{"x1", "blue:x1", blue.netns().fd(), 0, false, 0, std::nullopt};
  BOOST_CHECK_EXCEPTION(nslab::NodeInternals::netlink(red).create_veth(local, peer), nslab::NetlinkError,
                        [](const nslab::NetlinkError& e) {
                          return has(e.what(), "cannot create veth \"red:veth-red\" <-> \"blue:x1\": File exists");
                        });
}

BOOST_AUTO_TEST_CASE(bridge_that_does_not_exist) {
  nslab::Topology t = nslab::seed::bridge_three();
  t.add_node("pink");
  t.link("pink:eth0 192.168.1.9/24", "host:veth-pink@v-net-1");
  BOOST_CHECK_EXCEPTION(build(std::move(t)), nslab::ConfigError, [](const auto& e) {
    return has(e.what(), "names bridge \"v-net-1\", which node \"host\" does not have");
  });
}

// The C++ API refuses what a scenario's validation refuses: a payload on an
// ICMP probe (it used to be dropped silently) and two programs ready on one port.
BOOST_AUTO_TEST_CASE(what_validation_refuses_the_api_refuses) {
  auto& lab = build(nslab::seed::veth_pair());
  nslab::Probe p{.from = "red", .to = "blue", .protocol = nslab::Protocol::icmp, .payload = "hello"};
  BOOST_CHECK_EXCEPTION(lab.probe(p), nslab::ConfigError,
                        [](const auto& e) { return has(e.what(), "a payload needs a tcp or udp probe"); });
  destroy_lab();
  nslab::Topology t = nslab::seed::veth_pair();
  for (int i = 0; i < 2; ++i)
    t.node("red").run.push_back(nslab::RunSpec{.argv = {"sleep", "9"}, .ready_port = {{nslab::Protocol::tcp, 8080}}});
  BOOST_CHECK_EXCEPTION(build(std::move(t)), nslab::ConfigError, [](const auto& e) {
    return has(e.what(), "node \"red\": two run programs are ready on tcp/8080");
  });
}

BOOST_AUTO_TEST_CASE(unknown_sysctl_names_node_and_key) {
  nslab::Topology t = nslab::seed::veth_pair();
  t.node("red").sysctl("net.ipv4.no_such_knob", "1");
  BOOST_CHECK_EXCEPTION(build(std::move(t)), nslab::ConfigError, [](const auto& e) {
    return has(e.what(), "node \"red\": unknown sysctl \"net.ipv4.no_such_knob\"");
  });
}

BOOST_AUTO_TEST_CASE(without_privilege_the_program_skips_with_exit_4_and_a_reason,
                     *boost::unit_test::precondition(nslab::testing::can_drop_privileges)) {
  auto r = nslab::run_command(fmt::format(
      "NSLAB_NO_REEXEC=1 setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all {}", self_exe()));
  BOOST_TEST(r.status == 4, r.output);
  BOOST_TEST(has(r.output, "SKIP: "), r.output);
  BOOST_TEST(has(r.output, "Operation not permitted"), r.output);
  BOOST_TEST(has(r.output, "CAP_NET_ADMIN"), r.output);
}

BOOST_AUTO_TEST_SUITE_END()
