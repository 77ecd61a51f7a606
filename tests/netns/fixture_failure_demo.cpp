// Not a test of its own: tests/ci/fixture_failure_test.sh runs these cases
// one by one, through the real BOOST_FIXTURE_TEST_CASE machinery (which calls
// the fixture's teardown() itself), and checks what each leaves behind: a
// failed test keeps its pcap files and prints its programs' output at the
// default log level; a passing test keeps and prints nothing.
//
// Each program prints a marker that only exists in its output (the shell
// computes it), never in its command line: MARK-<case>-42; then bytes that
// are not UTF-8, a control character and "]]>" twice, which Boost.Test's
// XML and JUnit logs cannot carry as they are.
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>

#include "nslab/lab_fixture.h"
#include "seed_topologies.h"

using namespace std::chrono_literals;

namespace {

// Starts a program in red that prints the case's marker and keeps running,
// and waits until the marker is in its log.
void start_marker(nslab::Lab& lab, const std::string& which) {
  auto& p =
      lab.start("red", nslab::ProcessSpec{{"sh", "-c",
                                           "echo MARK-" + which +
                                               "-$((6 * 7)); "
                                               "printf 'bytes \\377\\376 \\001 ]]> ]]> end\\n'; exec sleep 600"}});
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (p.log().find("MARK-" + which + "-42") == std::string::npos) {
    BOOST_REQUIRE_MESSAGE(std::chrono::steady_clock::now() < deadline, "no marker from " << p.label());
    std::this_thread::sleep_for(5ms);
  }
}

}  // namespace

// Fails in an assertion; the body returns, so Boost.Test calls teardown().
BOOST_FIXTURE_TEST_CASE(fails_in_a_check, nslab::LabFixture) {
  auto& lab = build(nslab::seed::veth_pair());
  start_marker(lab, "check");
  capture("red:veth-red", "icmp");
  BOOST_TEST(lab.ping("red", "blue") == nslab::Verdict::blocked);  // wrong on purpose
}

// Leaves by an exception: only the destructor runs.
BOOST_FIXTURE_TEST_CASE(fails_by_throwing, nslab::LabFixture) {
  auto& lab = build(nslab::seed::veth_pair());
  start_marker(lab, "throw");
  capture("red:veth-red", "icmp");
  BOOST_TEST(lab.ping("red", "blue") == nslab::Verdict::reachable);
  throw std::runtime_error("thrown on purpose");
}

// The first lab is destroyed in the middle; the test fails with the second.
BOOST_FIXTURE_TEST_CASE(fails_after_destroy_lab, nslab::LabFixture) {
  auto& first = build(nslab::seed::veth_pair());
  start_marker(first, "first");
  capture("red:veth-red", "icmp");
  BOOST_TEST(first.ping("red", "blue") == nslab::Verdict::reachable);
  destroy_lab();
  auto& second = build(nslab::seed::veth_pair());
  BOOST_TEST(second.ping("red", "blue") == nslab::Verdict::blocked);  // wrong on purpose
}

// A matrix that does not hold is reported at this line, not inside the
// fixture, with its tables and the evidence of the wrong cell.
BOOST_FIXTURE_TEST_CASE(fails_a_matrix, nslab::LabFixture) {
  build(nslab::seed::veth_pair());
  nslab::MatrixSpec spec;
  spec.nodes = {"red", "blue"};
  spec.exceptions.push_back({.from = "red", .to = "blue", .verdict = nslab::Verdict::blocked});
  check_matrix(spec);  // MATRIX-CHECK-LINE: red reaches blue, so this fails on purpose
}

// A probe whose verdict is not the expected one is reported at this line
// with the probe's evidence, not as a bare "[reachable != blocked]".
BOOST_FIXTURE_TEST_CASE(fails_a_probe, nslab::LabFixture) {
  build(nslab::seed::veth_pair());
  check_ping("red", "blue", nslab::Verdict::blocked);  // PROBE-CHECK-LINE: red reaches blue, so this fails
  nslab::Probe closed{.from = "red", .to = "blue", .protocol = nslab::Protocol::tcp, .port = 9};  // nothing listens
  check_probe(closed, nslab::Verdict::reachable);                                                 // PROBE-TCP-LINE
}

// A failed probe says what decided it: here the kernel's own counter of a
// router that does not forward (the topology's ip_forward = 1 is overridden).
BOOST_FIXTURE_TEST_CASE(fails_with_an_explanation, nslab::LabFixture) {
  auto t = nslab::seed::routed_via_host();
  for (auto& s : t.node("host").sysctls)
    if (s.key == "net.ipv4.ip_forward") s.value = "0";
  build(t);
  check_ping("red", "external", nslab::Verdict::reachable);  // EXPLAINED-LINE: host does not forward
}

// A program that has printed nothing: its empty log is shown as such (an
// empty log used to make the teardown throw and hide it).
BOOST_FIXTURE_TEST_CASE(fails_with_a_silent_program, nslab::LabFixture) {
  auto& lab = build(nslab::seed::veth_pair());
  auto& p = lab.start("red", nslab::ProcessSpec{{"sleep", "600"}});
  BOOST_TEST(p.log_tail().empty());
  BOOST_TEST(lab.ping("red", "blue") == nslab::Verdict::blocked);  // wrong on purpose
}

BOOST_FIXTURE_TEST_CASE(passes, nslab::LabFixture) {
  auto& lab = build(nslab::seed::veth_pair());
  start_marker(lab, "pass");
  capture("red:veth-red", "icmp");
  BOOST_TEST(lab.ping("red", "blue") == nslab::Verdict::reachable);
}
