// The kernel's IP MIB text as /proc/net/snmp, netstat and snmp6 print it,
// parsed for explanations (kernel_drops.h): samples copied from a 6.1 kernel.
#include <boost/test/unit_test.hpp>

#include "kernel_drops.h"

namespace d = nslab::detail;

BOOST_AUTO_TEST_SUITE(kernel_mib)

BOOST_AUTO_TEST_CASE(two_line_sections_pair_names_with_values) {
  auto m = d::parse_mib(
      "Ip: Forwarding DefaultTTL InReceives InHdrErrors InAddrErrors ForwDatagrams\n"
      "Ip: 1 64 12 0 3 7\n"
      "Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens\n"
      "Tcp: 1 200 120000 -1 4\n"
      "IpExt: InNoRoutes InTruncatedPkts\n"
      "IpExt: 2 0\n");
  BOOST_TEST(m.at("Ip:InAddrErrors") == 3u);
  BOOST_TEST(m.at("Ip:ForwDatagrams") == 7u);
  BOOST_TEST(m.at("IpExt:InNoRoutes") == 2u);
  BOOST_TEST(m.at("Tcp:ActiveOpens") == 4u);
  BOOST_TEST(m.count("Tcp:MaxConn") == 0u);  // -1 is no count
}

BOOST_AUTO_TEST_CASE(snmp6_lines_are_split_at_their_section) {
  auto m = d::parse_mib("Ip6InReceives                   \t5\nIp6InNoRoutes   2\nIcmp6OutErrors 1\nUdp6InErrors 0\n");
  BOOST_TEST(m.at("Ip6:InNoRoutes") == 2u);
  BOOST_TEST(m.at("Ip6:InReceives") == 5u);
  BOOST_TEST(m.at("Icmp6:OutErrors") == 1u);
  BOOST_TEST(m.at("Udp6:InErrors") == 0u);
}

BOOST_AUTO_TEST_CASE(broken_text_yields_nothing_rather_than_wrong_pairs) {
  // A values line without its names, and names without values.
  BOOST_TEST(d::parse_mib("Ip: 1 2 3\n").empty());
  BOOST_TEST(d::parse_mib("IpExt: InNoRoutes\nTcpExt: SyncookiesSent\nTcpExt: 9\n").at("TcpExt:SyncookiesSent") == 9u);
  BOOST_TEST(d::parse_mib("").empty());
  BOOST_TEST(d::parse_mib("Ip6InNoRoutes x\n").empty());
}

BOOST_AUTO_TEST_SUITE_END()
