// The kernel datapath (datapath: system). Where the kernel has the
// openvswitch module (ci/test-kernel's stock kernel), the article's lab
// works on it; where it has none (this minimal kernel), the build fails at
// once with an EnvironmentError naming CONFIG_OPENVSWITCH, which the
// kernel lane (NSLAB_KERNEL_LANE=1) counts as a failure.
#include <boost/test/unit_test.hpp>

#include <cstdlib>

#include "nslab/lab_fixture.h"
#include "nslab/witness.h"
#include "ovs_daemons.h"
#include "text.h"

using nslab::testing::has;

namespace {
const nslab::TestPrecondition ovs_installed{[]() -> std::optional<std::string> {
  if (auto why = nslab::detail::ovs_missing(); !why.empty()) return why;
  return std::nullopt;
}};
}  // namespace

BOOST_FIXTURE_TEST_CASE(the_article_lab_on_the_kernel_datapath, nslab::LabFixture) {
  nslab::Topology t("ovs-system");
  t.add_node("host").ovs_bridge("v-net-0", {.datapath = nslab::OvsDatapath::system});
  for (const char* n : {"red", "blue"}) t.add_node(n).service(nslab::Protocol::tcp, 80);
  t.link("red:red-veth 192.168.1.1/24", "host:veth-red@v-net-0");
  t.link("blue:blue-veth 192.168.1.2/24", "host:veth-blue@v-net-0");
  try {
    auto& lab = build(t);
    check_matrix({.nodes = {"red", "blue"}});
    check_matrix({.protocol = nslab::Protocol::tcp, .port = 80, .nodes = {"red", "blue"}});
    std::string env;
    for (const auto& [k, v] : lab.ovs_environment("host")) env += k + "=" + v + " ";
    auto show = nslab::run_in_node(lab.node("host"), env + "ovs-vsctl show");
    BOOST_TEST(has(show.output, "Port veth-red"), show.output);
    BOOST_TEST(!has(show.output, "datapath_type: netdev"), show.output);
  } catch (const nslab::EnvironmentError& e) {
    BOOST_TEST(has(e.what(), "CONFIG_OPENVSWITCH"), e.what());
    BOOST_TEST(!std::getenv("NSLAB_KERNEL_LANE"), "the kernel lane's kernel has no openvswitch datapath: " << e.what());
  }
}
