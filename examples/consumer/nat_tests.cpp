// The README's example, as a user's project would hold it.
#include <boost/test/unit_test.hpp>

#include "nslab/lab_fixture.h"

BOOST_FIXTURE_TEST_CASE(masquerade, nslab::LabFixture) {
  nslab::Topology t("nat");
  t.add_node("host")
      .bridge("v-net-0", {"192.168.1.254/24"})
      .sysctl("net.ipv4.ip_forward", "1")
      .iptables_rules("-t nat -A POSTROUTING -s 192.168.1.0/24 -o eth0 -j MASQUERADE");
  t.add_node("red").route("default", "192.168.1.254");
  t.add_node("external").service(nslab::Protocol::tcp, 80);
  t.link("red:eth0 192.168.1.1/24", "host:veth-red@v-net-0");
  t.link("host:eth0 203.0.113.1/24", "external:eth0 203.0.113.2/24");
  auto& lab = build(std::move(t));

  BOOST_TEST(lab.ping("red", "external") == nslab::Verdict::reachable);
  BOOST_TEST(lab.tcp("red", "external", 80).seen_from == "203.0.113.1");
  BOOST_TEST(lab.ping("external", "red") == nslab::Verdict::unreachable);
}
