// Not a test of its own: tests/ci/fixture_coverage_test.sh runs it with
// NSLAB_COVERAGE and checks the rule coverage its two test cases leave,
// through the real BOOST_FIXTURE_TEST_CASE machinery. fw's rules
// (tests/ci/coverage/rules.v4) have six lines that count: three policies and
// three rules. The tests exercise the echo-request and port-22 rules and
// OUTPUT's policy; nothing sends to port 23, and nothing is dropped or
// forwarded.
#include <boost/test/unit_test.hpp>

#include "nslab/lab_fixture.h"

namespace {

nslab::Topology firewall() {
  nslab::Topology t("coverage");
  t.add_node("client");
  t.add_node("fw").iptables_file(NSLAB_COVERAGE_RULES).service(nslab::Protocol::tcp, 22);
  t.link("client:eth0 10.0.0.1/24", "fw:eth0 10.0.0.2/24");
  return t;
}

}  // namespace

// Three echo requests, each answered: the ACCEPT rule and OUTPUT's policy.
BOOST_FIXTURE_TEST_CASE(pings_three_times, nslab::LabFixture) {
  build(firewall());
  for (int i = 0; i < 3; ++i) check_ping("client", "fw", nslab::Verdict::reachable);
}

// A second lab, in a second test case: its hits add up with the first's.
BOOST_FIXTURE_TEST_CASE(connects_to_ssh, nslab::LabFixture) {
  build(firewall());
  check_probe(nslab::Probe{.from = "client", .to = "fw", .protocol = nslab::Protocol::tcp, .port = 22},
              nslab::Verdict::reachable);
}
