// Port sets, scan reports and the scenario keys of probe sources and scans:
// what they accept, and every refusal at file:line:column. No privilege.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "nslab/probe.h"
#include "nslab/scenario.h"
#include "scenario_errors.h"
#include "text.h"

using nslab::PortSet;
using nslab::Protocol;
using nslab::Verdict;
using nslab::testing::has;
using nslab::testing::scenario_errors;

namespace {

// a has two interfaces (10.0.1.5 on eth0, 10.0.2.5 on eth1) to r.
std::string lab(const std::string& expect) {
  return R"(name: s
nodes:
  a: {}
  r: { services: [ tcp/80, udp/53 ] }
links:
  - [ "a:eth0 10.0.1.5/24", "r:eth0 10.0.1.1/24" ]
  - [ "a:eth1 10.0.2.5/24", "r:eth1 10.0.2.1/24" ]
expect:
)" + expect;
}

nslab::ScanResult result(Protocol p, const PortSet& ports, std::initializer_list<Verdict> verdicts) {
  nslab::ScanResult r;
  r.scan.protocol = p;
  r.scan.ports = ports;
  r.verdicts = verdicts;
  return r;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(port_set)

BOOST_AUTO_TEST_CASE(parses_lists_and_ranges_and_merges_them) {
  auto s = PortSet::parse("443, 80,22, 8000-8010, 8011");
  BOOST_REQUIRE(s);
  BOOST_TEST(s->str() == "22, 80, 443, 8000-8011");
  BOOST_TEST(s->size() == 15u);
  BOOST_TEST(s->contains(8005));
  BOOST_TEST(!s->contains(8012));
  BOOST_TEST(!s->contains(21));
  BOOST_TEST(PortSet::parse("1-65535")->size() == 65535u);
  std::string why;
  BOOST_TEST(!PortSet::parse("0", &why));
  BOOST_TEST(has(why, "\"0\" is not a port"));
  BOOST_TEST(!PortSet::parse("90-80", &why));
  BOOST_TEST(has(why, "ends before it starts"));
  BOOST_TEST(!PortSet::parse("80,", &why));
  BOOST_TEST(!PortSet::parse("65536"));
  BOOST_TEST(!PortSet::parse("http"));
}

// Ranges added in any order merge exactly as a set of ports would: each
// add merges in place with the neighbours it touches.
BOOST_AUTO_TEST_CASE(adding_ranges_in_any_order_is_a_set_union) {
  std::vector<bool> want(65536, false);
  PortSet s;
  unsigned seed = 12345;
  auto next = [&] { return seed = seed * 1103515245u + 12345u, (seed >> 8) % 65535 + 1; };
  for (int i = 0; i < 2000; ++i) {
    auto lo = static_cast<std::uint16_t>(next());
    auto hi = static_cast<std::uint16_t>(i % 3 ? lo : next());  // single ports, and ranges either way round
    s.add(lo, hi);
    for (unsigned p = std::min(lo, hi); p <= std::max(lo, hi); ++p) want[p] = true;
  }
  std::size_t n = 0;
  for (unsigned p = 1; p < 65536; ++p) {
    n += want[p];
    if (s.contains(static_cast<std::uint16_t>(p)) != want[p]) BOOST_FAIL("port " << p << " differs");
  }
  BOOST_TEST(s.size() == n);
  for (std::size_t i = 1; i < s.ranges().size(); ++i)  // sorted, and no two touch
    BOOST_TEST(s.ranges()[i].first > s.ranges()[i - 1].second + 1);
  s.add(1, 65535);
  BOOST_TEST(s.ranges().size() == 1u);
  BOOST_TEST(s.str() == "1-65535");
}

// Every other port, written out: 32768 ranges that never merge. Sorting the
// whole set on each add made this take minutes (a scenario with
// `tcp: "1, 3, 5, ..."` hung validate); now it ends at once (ctest's
// timeout is the bound).
BOOST_AUTO_TEST_CASE(a_set_of_many_apart_ports_parses) {
  std::string text;
  for (unsigned p = 1; p < 65536; p += 2) text += (text.empty() ? "" : ",") + std::to_string(p);
  auto s = PortSet::parse(text);
  BOOST_REQUIRE(s);
  BOOST_TEST(s->size() == 32768u);
  BOOST_TEST(s->ranges().size() == 32768u);
  PortSet down;
  for (int p = 65535; p >= 1; p -= 2) down.add(static_cast<std::uint16_t>(p));
  BOOST_TEST((down == *s));
  std::string yaml = lab("  - { from: a, to: \"r:eth0\", scan: tcp/1-65535, open: [" + text + "] }\n");
  BOOST_TEST(scenario_errors(yaml) == "");
}

BOOST_AUTO_TEST_CASE(a_scan_lists_unexpected_ports_as_ranges) {
  // 20..25 with 22 open, 23..25 open too: "open but not expected: 23-25".
  auto r = result(Protocol::tcp, PortSet::range(20, 25),
                  {Verdict::refused, Verdict::blocked, Verdict::reachable, Verdict::reachable, Verdict::reachable,
                   Verdict::reachable});
  BOOST_TEST(r.open().str() == "22-25");
  auto p = r.open_problem(PortSet{21, 22});
  BOOST_REQUIRE(p);
  BOOST_TEST(*p == "open but not expected: 23-25; expected open but filtered: 21");
  BOOST_TEST(!r.open_problem(PortSet::range(22, 25)));
  BOOST_TEST(*r.verdict_problem(Verdict::reachable) == "blocked on 21; refused on 20");
  BOOST_TEST(has(r.summary(), "6 ports"));
  BOOST_TEST(has(r.summary(), "open 22-25; closed 20; filtered 21"));
}

BOOST_AUTO_TEST_CASE(udp_silence_is_open_or_filtered) {
  auto r = result(Protocol::udp, PortSet{53, 54, 55, 56},
                  {Verdict::reachable, Verdict::blocked, Verdict::refused, Verdict::unreachable});
  BOOST_TEST(nslab::to_string(nslab::port_state(Protocol::udp, Verdict::blocked)) == "open|filtered");
  BOOST_TEST(nslab::to_string(nslab::port_state(Protocol::tcp, Verdict::blocked)) == "filtered");
  BOOST_TEST(r.open().str() == "53-54");
  BOOST_TEST(*r.open_problem(PortSet{53}) == "open but not expected: 54");
  BOOST_TEST(has(r.summary(), "open 53; open|filtered 54; closed 55; filtered 56"));
}

BOOST_AUTO_TEST_CASE(scenario_port_sets_and_scans_load) {
  auto s = nslab::parse_scenario(lab(R"(  - { from: a, to: r, tcp: [22, "8000-8010"], verdict: refused }
  - { from: a, to: r, udp: 1-1024, verdict: refused }
  - { from: a, to: "r:eth1", scan: tcp/1-65535, open: [80] }
  - { from: a, to: r, scan: "udp/53,54", open: [] }
  - { from: a, to: r, tcp: 80 }
)"),
                                 "lab.yaml");
  BOOST_REQUIRE(s.expectations.size() == 5u);
  auto& set = std::get<nslab::ProbeExpectation>(s.expectations[0]);
  BOOST_TEST(set.ports->str() == "22, 8000-8010");
  BOOST_TEST(set.str() == "a -> r tcp/22, 8000-8010: refused");
  BOOST_TEST(std::get<nslab::ProbeExpectation>(s.expectations[1]).ports->size() == 1024u);
  auto& scan = std::get<nslab::ProbeExpectation>(s.expectations[2]);
  BOOST_TEST((scan.probe.protocol == Protocol::tcp));
  BOOST_TEST(scan.open->str() == "80");
  BOOST_TEST(scan.str() == "a -> r:eth1 scan tcp/1-65535: open 80");
  BOOST_TEST(std::get<nslab::ProbeExpectation>(s.expectations[3]).open->empty());
  BOOST_TEST(!std::get<nslab::ProbeExpectation>(s.expectations[4]).ports);
}

BOOST_AUTO_TEST_CASE(scenario_scans_are_refused_with_positions) {
  BOOST_TEST(has(scenario_errors(lab("  - { from: a, to: r, scan: icmp/1-5, open: [] }\n")),
                 "lab.yaml:9:29: scan \"icmp/1-5\" is not tcp/PORTS or udp/PORTS"));
  BOOST_TEST(
      has(scenario_errors(lab("  - { from: a, to: r, scan: tcp/1-5 }\n")), "lab.yaml:9:5: a scan needs \"open\""));
  BOOST_TEST(has(scenario_errors(lab("  - { from: a, to: r, scan: tcp/1-5, open: [80] }\n")),
                 "lab.yaml:9:44: open port 80 is outside the scan (1-5)"));
  BOOST_TEST(has(scenario_errors(lab("  - { from: a, to: r, scan: tcp/1-5, opn: [1] }\n")),
                 "lab.yaml:9:38: unknown key \"opn\" in a scan; did you mean \"open\"?"));
  BOOST_TEST(has(scenario_errors(lab("  - { from: a, to: r, tcp: [22, 0] }\n")),
                 "lab.yaml:9:33: a port set: \"0\" is not a port"));
  // An empty set would probe nothing: validate refuses it, as check would.
  BOOST_TEST(has(scenario_errors(lab("  - { from: a, to: r, tcp: [], verdict: refused }\n")),
                 "lab.yaml:9:28: a port set is empty"));
  BOOST_TEST(has(scenario_errors(lab("  - { from: a, to: r, tcp: 1-3, served_by: r }\n")),
                 "lab.yaml:9:44: served_by needs a single port"));
  BOOST_TEST(has(scenario_errors(lab("  - capture: { on: \"r:eth0\", during: { from: a, to: r, tcp: [1, 2] } }\n")),
                 "a probe takes a single port, not a port set"));
}

BOOST_AUTO_TEST_CASE(scenario_sources_load) {
  auto s = nslab::parse_scenario(lab(R"(  - { from: "a:eth1", to: r, tcp: 80 }
  - { from: 10.0.2.5, to: r, icmp: reachable }
  - { from: a, source: 10.0.2.5, sport: 40000, to: r, udp: 53 }
  - matrix: { nodes: ["a:eth0", "a:eth1", r] }
)"),
                                 "lab.yaml");
  BOOST_REQUIRE(s.expectations.size() == 4u);
  BOOST_TEST(std::get<nslab::ProbeExpectation>(s.expectations[0]).probe.from == "a:eth1");
  BOOST_TEST(std::get<nslab::ProbeExpectation>(s.expectations[1]).probe.from == "10.0.2.5");
  auto& p = std::get<nslab::ProbeExpectation>(s.expectations[2]).probe;
  BOOST_TEST(p.source->str() == "10.0.2.5");
  BOOST_TEST(p.sport == 40000);
  BOOST_TEST(p.str() == "a -> r udp/53 from 10.0.2.5:40000");
  auto probes = nslab::matrix_probes(std::get<nslab::MatrixSpec>(s.expectations[3]));
  // a:eth0 and a:eth1 are one node: not probed from each other.
  BOOST_TEST(probes.size() == 4u);
}

BOOST_AUTO_TEST_CASE(scenario_sources_are_refused_with_positions) {
  BOOST_TEST(has(scenario_errors(lab("  - { from: 10.9.9.9, to: r, icmp: reachable }\n")),
                 "lab.yaml:9:13: from 10.9.9.9 is no address of a node"));
  BOOST_TEST(has(scenario_errors(lab("  - { from: \"a:eth7\", to: r, icmp: reachable }\n")),
                 "lab.yaml:9:13: node \"a\" has no interface \"eth7\""));
  BOOST_TEST(has(scenario_errors(lab("  - { from: a, source: 10.0.1.1, to: r, icmp: reachable }\n")),
                 "lab.yaml:9:24: source 10.0.1.1 is not an address of node \"a\" (it has 10.0.1.5, 10.0.2.5)"));
  BOOST_TEST(has(scenario_errors(lab("  - { from: \"a:eth0\", source: 10.0.2.5, to: r, icmp: reachable }\n")),
                 "lab.yaml:9:31: from \"a:eth0\" already sets the source address"));
  BOOST_TEST(has(scenario_errors(lab("  - { from: a, sport: 70000, to: r, tcp: 80 }\n")),
                 "lab.yaml:9:23: sport must be a whole number from 1 to 65535"));
  BOOST_TEST(has(scenario_errors(lab("  - { from: a, sport: 7, to: r, icmp: reachable }\n")),
                 "lab.yaml:9:23: sport needs a tcp or udp probe"));
  BOOST_TEST(has(scenario_errors(lab("  - { from: a, source: fd00::1, to: r, icmp: reachable }\n")),
                 "lab.yaml:9:24: source fd00::1 is not an address"));
  BOOST_TEST(has(scenario_errors(lab("  - matrix: { nodes: [\"10.0.1.5\", r] }\n")),
                 "matrix node \"10.0.1.5\" is an address"));
}

BOOST_AUTO_TEST_SUITE_END()
