// What nslab prints for people, pinned character for character: truth tables,
// a matrix report (expected / observed / difference and one line per
// mismatch), and the DOT drawing of a topology. No lab is built.
#include <boost/test/unit_test.hpp>

#include <string>

#include "nslab/graph.h"
#include "nslab/matrix.h"
#include "nslab/topology.h"

using namespace nslab;

namespace {

ProbeResult result(const std::string& from, const std::string& to, Verdict v, std::string detail = {}) {
  ProbeResult r;
  r.probe = Probe{.from = from, .to = to, .protocol = Protocol::tcp, .port = 80};
  r.verdict = v;
  r.detail = std::move(detail);
  return r;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(rendering)

// Rows are sources, columns destinations, the diagonal '-'; columns are as
// wide as the longest name (at least 3), right-aligned.
BOOST_AUTO_TEST_CASE(truth_table) {
  TruthTable t({"a", "router", "b"});
  t.set("a", "router", Verdict::reachable);
  t.set("a", "b", Verdict::refused);
  t.set("router", "a", Verdict::unreachable);
  // Cells never set are blocked.
  BOOST_TEST(t.render("title") ==
             "title\n"
             "            a router      b\n"
             "a           -      .      R\n"
             "router      U      -      X\n"
             "b           X      X      -\n");
}

BOOST_AUTO_TEST_CASE(truth_table_with_short_names_keeps_three_columns) {
  TruthTable t({"a", "b"});
  t.set("a", "b", Verdict::reachable);
  BOOST_TEST(t.render("t") ==
             "t\n"
             "      a   b\n"
             "a     -   .\n"
             "b     X   -\n");
}

// The report of a tcp/80 matrix where one cell differs: the three tables and
// the mismatch with its evidence.
BOOST_AUTO_TEST_CASE(matrix_report_text) {
  MatrixSpec spec;
  spec.protocol = Protocol::tcp;
  spec.port = 80;
  spec.nodes = {"red", "blue"};
  spec.default_verdict = Verdict::reachable;
  spec.exceptions.push_back(MatrixCell{.from = "blue", .to = "red", .verdict = Verdict::blocked});
  auto report = matrix_report(spec,
                              {result("red", "blue", Verdict::reachable, "connected"),
                               result("blue", "red", Verdict::refused, "TCP RST from 10.0.0.1")},
                              12.4);
  BOOST_TEST(!report.ok());
  BOOST_TEST_REQUIRE(report.mismatches.size() == 1u);
  BOOST_TEST(report.text() ==
             "tcp/80 matrix over 2 nodes: 1 of 2 cells as expected (12 ms)\n"
             "legend: . reachable   X blocked   R refused   U unreachable\n"
             "expected (tcp/80)\n"
             "      red blue\n"
             "red     -    .\n"
             "blue    X    -\n"
             "observed (tcp/80)\n"
             "      red blue\n"
             "red     -    .\n"
             "blue    R    -\n"
             "difference (tcp/80): expected>observed where they differ\n"
             "      red blue\n"
             "red     -    =\n"
             "blue  X>R    -\n"
             "  " +
                 report.mismatches[0].probe.str() + ": expected blocked, observed refused (TCP RST from 10.0.0.1)\n");
}

BOOST_AUTO_TEST_CASE(matrix_spec_names) {
  MatrixSpec icmp;
  BOOST_TEST(icmp.str() == "icmp");
  MatrixSpec udp6;
  udp6.protocol = Protocol::udp;
  udp6.port = 53;
  udp6.family = Family::ipv6;
  BOOST_TEST(udp6.str() == "udp/53 (ipv6)");
}

// Each node a rounded cluster; an interface an ellipse with its addresses,
// a bridge a filled box; a veth link one edge and a bridge port a dashed
// edge; a node without interfaces a point. Quotes in the lab's name are
// escaped.
BOOST_AUTO_TEST_CASE(dot_graph) {
  Topology t("my \"lab\"");
  t.add_node("host").bridge("br0", {"10.0.0.254/24"});
  t.add_node("red");
  t.add_node("lonely");
  t.link("red:eth0 10.0.0.1/24", "host:veth-red@br0");
  BOOST_TEST(
      to_dot(t) ==
      "graph \"my \\\"lab\\\"\" {\n"
      "  graph [rankdir=LR, fontname=\"Helvetica\", label=\"my \\\"lab\\\"\"];\n"
      "  node [fontname=\"Helvetica\", fontsize=10];\n"
      "  edge [fontname=\"Helvetica\", fontsize=9];\n"
      "  subgraph cluster_0 {\n"
      "    label=\"host\"; style=rounded; color=\"#555555\";\n"
      "    \"host:br0\" [shape=box, style=filled, fillcolor=\"#dde8f7\", label=\"br0 (bridge)\\n10.0.0.254/24\"];\n"
      "    \"host:veth-red\" [shape=ellipse, label=\"veth-red\"];\n"
      "  }\n"
      "  subgraph cluster_1 {\n"
      "    label=\"red\"; style=rounded; color=\"#555555\";\n"
      "    \"red:eth0\" [shape=ellipse, label=\"eth0\\n10.0.0.1/24\"];\n"
      "  }\n"
      "  subgraph cluster_2 {\n"
      "    label=\"lonely\"; style=rounded; color=\"#555555\";\n"
      "    \"lonely:lo\" [shape=point, label=\"\"];\n"
      "  }\n"
      "  \"red:eth0\" -- \"host:veth-red\" [label=\"veth\"];\n"
      "  \"host:veth-red\" -- \"host:br0\" [style=dashed, label=\"port\"];\n"
      "}\n");
}

BOOST_AUTO_TEST_SUITE_END()
