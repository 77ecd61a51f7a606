// Impairment settings as values and as scenario keys: rates, percentages,
// their nonsense forms and positioned errors. No privilege needed;
// tests/netns/test_impairment.cpp measures the impairments for real.
#include <boost/test/unit_test.hpp>

#include "nslab/impairment.h"
#include "nslab/scenario.h"
#include "text.h"

using nslab::testing::has;

BOOST_AUTO_TEST_SUITE(impairment_units)

BOOST_AUTO_TEST_CASE(typed_settings) {
  BOOST_TEST(nslab::Rate::parse("10mbit")->bits_per_second == 10000000u);
  BOOST_TEST(nslab::Rate::parse("1.5gbit")->bits_per_second == 1500000000u);
  BOOST_TEST(nslab::Rate::parse("1mbps")->bits_per_second == 8000000u);
  BOOST_TEST(nslab::Rate::parse("512kbit")->str() == "512kbit");
  BOOST_TEST(!nslab::Rate::parse("fast"));
  BOOST_TEST(!nslab::Rate::parse("10 mbit"));
  BOOST_TEST(*nslab::parse_percent("0.5%") == 0.5);
  BOOST_TEST(!nslab::parse_percent("150%"));
  BOOST_TEST(!nslab::parse_percent("5"));
  // Nonsense numbers are not settings (nan% used to load as "no loss").
  for (const char* bad : {"nanmbit", "infgbit", "-infgbit", "0bit", "7bit", "1e30gbit", "11tbit", "-5mbit"})
    BOOST_TEST(!nslab::Rate::parse(bad), bad);
  BOOST_TEST(nslab::Rate::parse("10tbit")->bits_per_second == 10'000'000'000'000u);
  BOOST_TEST(nslab::Rate::parse("40gbit")->str() == "40gbit");
  for (const char* bad : {"nan%", "-nan%", "inf%", "-1%", "0.00001%"}) BOOST_TEST(!nslab::parse_percent(bad), bad);
  BOOST_TEST(*nslab::parse_percent("0%") == 0.0);
  BOOST_TEST(*nslab::parse_percent("0.0001%") == 0.0001);
}

BOOST_AUTO_TEST_CASE(scenario_keys_and_errors) {
  auto s = nslab::parse_scenario(
      "nodes: { a: , b: }\nlinks:\n  - endpoints: [ \"a:eth0 10.0.0.1/30\", \"b:eth0 10.0.0.2/30\" ]\n"
      "    impair: { rate: 20mbit, loss: 2.5%, delay: 40ms, jitter: 5ms, direction: forward }\n",
      "lab.yaml");
  const auto& im = s.topology.links().at(0).impair;
  BOOST_TEST(im.rate->bits_per_second == 20000000u);
  BOOST_TEST(*im.loss_percent == 2.5);
  BOOST_TEST(im.delay->count() == 40000);
  BOOST_TEST(im.jitter->count() == 5000);
  BOOST_TEST((im.direction == nslab::Impairment::Direction::a_to_b));
  try {
    nslab::parse_scenario(
        "nodes: { a: , b: }\nlinks:\n  - endpoints: [ \"a:eth0\", \"b:eth0\" ]\n"
        "    impair: { rate: quick, los: 1% }\n",
        "lab.yaml");
    BOOST_FAIL("accepted");
  } catch (const nslab::ScenarioError& e) {
    BOOST_TEST(has(e.what(), "lab.yaml:4:28: unknown key \"los\" in an impairment; did you mean \"loss\"?"), e.what());
    BOOST_TEST(has(e.what(), "lab.yaml:4:21: rate \"quick\" is not a rate"), e.what());
  }
}

BOOST_AUTO_TEST_SUITE_END()
