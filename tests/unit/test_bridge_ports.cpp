// A Linux bridge holds at most 1,023 ports (the 1,024th is refused with
// "Exchange full"): validation says so at the endpoint that is one too many.
#include <boost/test/unit_test.hpp>

#include <fmt/format.h>

#include "nslab/topology.h"

namespace {

nslab::Topology star(int ports) {
  nslab::Topology t("star");
  t.add_node("host").bridge("br", {"10.0.255.254/16"});
  for (int i = 1; i <= ports; ++i) {
    t.add_node(fmt::format("n{}", i));
    nslab::Endpoint a = nslab::Endpoint::parse(fmt::format("n{}:eth0 10.0.{}.{}/16", i, i / 250, i % 250 + 1));
    nslab::Endpoint b =
        nslab::Endpoint::parse(fmt::format("host:p{}@br", i), nslab::SourceLocation{"lab.yaml", i + 10, 7});
    t.add_link(a, b);
  }
  return t;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_bridge_takes_1023_ports) {
  BOOST_TEST(star(1023).problems().empty());
}

BOOST_AUTO_TEST_CASE(the_1024th_port_is_a_problem_at_its_position) {
  auto problems = star(1025).problems();
  BOOST_REQUIRE_EQUAL(problems.size(), 1u);  // once per bridge, not per port beyond
  const auto& p = problems.front();
  BOOST_TEST(std::string(p.what()).find("bridge \"host:br\" already has 1023 ports") != std::string::npos, p.what());
  BOOST_TEST(std::string(p.what()).find("host:p1024") != std::string::npos, p.what());
  BOOST_TEST(p.where().line == 1024 + 10);
  BOOST_TEST(p.where().column == 7);
}
