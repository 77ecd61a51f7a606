#include <boost/test/unit_test.hpp>

#include "nslab/error.h"
#include "nslab/ip_address.h"

using nslab::IpAddress;
using nslab::Prefix;

BOOST_AUTO_TEST_SUITE(ip_address)

BOOST_AUTO_TEST_CASE(parses_both_families) {
  auto v4 = IpAddress::parse("192.168.1.254");
  BOOST_REQUIRE(v4);
  BOOST_TEST(v4->is_v4());
  BOOST_TEST(v4->str() == "192.168.1.254");
  auto v6 = IpAddress::parse("fd00::1");
  BOOST_REQUIRE(v6);
  BOOST_TEST(!v6->is_v4());
  BOOST_TEST(v6->str() == "fd00::1");
  BOOST_TEST(!IpAddress::parse("192.168.1.256"));
  BOOST_TEST(!IpAddress::parse("red"));
  BOOST_TEST(!IpAddress::parse(""));
}

BOOST_AUTO_TEST_CASE(prefix_network_and_contains) {
  auto p = Prefix::from_string("192.168.1.77/24");
  BOOST_TEST(p.network().str() == "192.168.1.0/24");
  BOOST_TEST(p.contains(IpAddress::from_string("192.168.1.254")));
  BOOST_TEST(!p.contains(IpAddress::from_string("192.168.2.1")));
  BOOST_TEST(!p.contains(IpAddress::from_string("fd00::1")));
  auto q = Prefix::from_string("10.1.2.3/13");
  BOOST_TEST(q.network().str() == "10.0.0.0/13");
  auto v6 = Prefix::from_string("fd00:1:2:3::9/64");
  BOOST_TEST(v6.network().str() == "fd00:1:2:3::/64");
  BOOST_TEST(v6.contains(IpAddress::from_string("fd00:1:2:3::ffff")));
}

BOOST_AUTO_TEST_CASE(rejects_bad_prefixes_with_a_reason) {
  BOOST_TEST(!Prefix::parse("192.168.1.1"));
  BOOST_TEST(!Prefix::parse("192.168.1.1/33"));
  BOOST_TEST(!Prefix::parse("192.168.1.1/-1"));
  BOOST_TEST(!Prefix::parse("192.168.1.1/2x"));
  BOOST_TEST(!Prefix::parse("fd00::1/129"));
  try {
    Prefix::from_string("10.0.0.1/40");
    BOOST_FAIL("no error");
  } catch (const nslab::ConfigError& e) {
    BOOST_TEST(std::string(e.what()).find("invalid prefix \"10.0.0.1/40\"") != std::string::npos);
  }
}

BOOST_AUTO_TEST_SUITE_END()
