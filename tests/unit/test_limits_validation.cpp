// Node limits as a scenario writes them: sizes, CPU shares and counts parsed
// exactly, and every bad value refused with file:line:column. No privilege.
#include <boost/test/unit_test.hpp>

#include <string>

#include "nslab/limits.h"
#include "nslab/scenario.h"
#include "text.h"

using nslab::testing::has;

namespace {

std::string errors_of(const std::string& limits) {
  try {
    nslab::parse_scenario("name: l\nnodes:\n  a:\n    limits: " + limits + "\n", "l.yaml");
  } catch (const nslab::ScenarioError& e) {
    return e.what();
  }
  return "";
}

nslab::Limits limits_of(const std::string& limits) {
  auto s = nslab::parse_scenario("name: l\nnodes:\n  a:\n    limits: " + limits + "\n", "l.yaml");
  return s.topology.node("a").limits;
}

}  // namespace

BOOST_AUTO_TEST_CASE(sizes_parse_exactly) {
  BOOST_TEST(*nslab::parse_size("64MiB") == 64ull << 20);
  BOOST_TEST(*nslab::parse_size("1.5GiB") == 3ull << 29);
  BOOST_TEST(*nslab::parse_size("512KiB") == 512ull << 10);
  BOOST_TEST(*nslab::parse_size("100MB") == 100'000'000ull);
  BOOST_TEST(*nslab::parse_size("65536") == 65536ull);
  for (const char* bad : {"", "MiB", "-1MiB", "1e300", "nan", "inf", "1.5", "64 XB", "64mib", "0", "0.5B", "1..2MiB"})
    BOOST_TEST(!nslab::parse_size(bad), bad);
  BOOST_TEST(nslab::size_text(64ull << 20) == "64MiB");
  BOOST_TEST(nslab::size_text(1000) == "1000 bytes");
}

BOOST_AUTO_TEST_CASE(limits_are_read_into_the_node) {
  auto l = limits_of("{ cpu: 0.5, memory: 64MiB, pids: 100, io_weight: 200 }");
  BOOST_TEST(*l.cpu == 0.5);
  BOOST_TEST(*l.memory == 64ull << 20);
  BOOST_TEST(*l.pids == 100u);
  BOOST_TEST(*l.io_weight == 200u);
  BOOST_TEST(l.str() == "cpu 0.5, memory 64MiB, pids 100, io_weight 200");
  BOOST_TEST(limits_of("{}").empty());
}

BOOST_AUTO_TEST_CASE(bad_limits_are_refused_at_their_position) {
  BOOST_TEST(has(errors_of("{ cpu: nan }"), "l.yaml:4:20: limits.cpu must be a number of CPUs"));
  BOOST_TEST(has(errors_of("{ cpu: 1e300 }"), "limits.cpu"));
  BOOST_TEST(has(errors_of("{ cpu: 0 }"), "limits.cpu"));
  BOOST_TEST(has(errors_of("{ cpu: -1 }"), "limits.cpu"));
  BOOST_TEST(has(errors_of("{ memory: 512KiB }"), "at least 1MiB"));
  BOOST_TEST(has(errors_of("{ memory: \"64MiB\\n\" }"), "limits.memory"));
  BOOST_TEST(has(errors_of("{ pids: 0 }"), "l.yaml:4:21: limits.pids must be a whole number from 1 to 4194304"));
  BOOST_TEST(has(errors_of("{ io_weight: 20000 }"), "limits.io_weight"));
  BOOST_TEST(has(errors_of("{ memroy: 64MiB }"),
                 "l.yaml:4:15: unknown key \"memroy\" in limits of node \"a\"; did you mean \"memory\"?"));
  BOOST_TEST(has(errors_of("64MiB"), "limits of node \"a\" must be a mapping"));
}
