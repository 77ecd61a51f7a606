// Matrices: all pairs at once with one deadline; expected / observed /
// difference tables on a mismatch.
#include <boost/test/unit_test.hpp>

#include <fmt/format.h>

#include "nslab/lab_fixture.h"
#include "seed_topologies.h"
#include "text.h"

using nslab::testing::has;

using nslab::MatrixSpec;
using nslab::Verdict;

BOOST_FIXTURE_TEST_SUITE(matrix, nslab::LabFixture)

BOOST_AUTO_TEST_CASE(twenty_nodes_with_a_third_blocked_cost_about_one_timeout) {
  auto t = nslab::seed::bridge_n(20);
  MatrixSpec spec;
  for (int i = 1; i <= 20; ++i) spec.nodes.push_back(fmt::format("n{}", i));
  // Seven nodes drop every echo request: 7 columns of 19 cells = 133 of 380.
  for (int i = 1; i <= 20; i += 3) {
    auto name = fmt::format("n{}", i);
    t.node(name).nftables_ruleset(
        "table ip f { chain in { type filter hook input priority 0; icmp type echo-request drop; }; }");
    for (const auto& from : spec.nodes)
      if (from != name) spec.exceptions.push_back({from, name, Verdict::blocked, {}});
  }
  build(std::move(t));
  nslab::ProbeOptions opts;
  opts.timeout = std::chrono::milliseconds(1000);
  auto report = check_matrix(spec, opts);
  BOOST_TEST(report.results.size() == 380u);
  std::size_t blocked = 0;
  for (const auto& r : report.results) blocked += r.verdict == Verdict::blocked;
  BOOST_TEST(blocked == 133u);
  // Waiting out the drops one after another would take 133 timeouts (133 s);
  // concurrent probes take about one. The bound is far from both, so that
  // a loaded machine (load 24 took it past 3 s) does not fail it; speed
  // itself is measured in bench/matrix_bench.cpp.
  BOOST_TEST(report.elapsed_ms < 20 * 1000.0, report.elapsed_ms);
}

BOOST_AUTO_TEST_CASE(a_wrong_expectation_prints_the_difference) {
  build(nslab::seed::host_access());
  MatrixSpec spec;
  spec.nodes = {"red", "blue", "green"};
  spec.exceptions.push_back({"red", "green", Verdict::blocked, {}});  // wrong: it is reachable
  auto report = lab().run_matrix(spec);
  BOOST_TEST(!report.ok());
  BOOST_REQUIRE(report.mismatches.size() == 1u);
  BOOST_TEST(report.mismatches[0].probe.from == "red");
  BOOST_TEST(report.mismatches[0].probe.to == "green");
  const std::string expected_table =
      "expected (icmp)\n"
      "        red  blue green\n"
      "red       -     .     X\n"
      "blue      .     -     .\n"
      "green     .     .     -\n";
  const std::string observed_table =
      "observed (icmp)\n"
      "        red  blue green\n"
      "red       -     .     .\n"
      "blue      .     -     .\n"
      "green     .     .     -\n";
  const std::string difference =
      "difference (icmp): expected>observed where they differ\n"
      "        red  blue green\n"
      "red       -     =   X>.\n"
      "blue      =     -     =\n"
      "green     =     =     -\n";
  auto text = report.text();
  BOOST_TEST(has(text, expected_table), text);
  BOOST_TEST(has(text, observed_table), text);
  BOOST_TEST(has(text, difference), text);
  BOOST_TEST(has(text, "red -> green icmp: expected blocked, observed reachable (echo reply from 192.168.1.3)"), text);
}

BOOST_AUTO_TEST_CASE(tcp_matrix_with_services) {
  auto t = nslab::seed::host_access();
  t.node("red").service(nslab::Protocol::tcp, 80);
  t.node("blue").service(nslab::Protocol::tcp, 80);
  build(std::move(t));
  MatrixSpec spec;
  spec.protocol = nslab::Protocol::tcp;
  spec.port = 80;
  spec.nodes = {"red", "blue", "green"};
  spec.default_verdict = Verdict::reachable;
  spec.exceptions = {{"red", "green", Verdict::refused, {}}, {"blue", "green", Verdict::refused, {}}};
  auto report = check_matrix(spec);
  for (const auto& r : report.results)
    if (r.verdict == Verdict::reachable) BOOST_TEST(r.served_by == r.probe.to, r.probe.str());
}

BOOST_AUTO_TEST_SUITE_END()
