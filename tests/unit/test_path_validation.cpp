// Paths (`path:`, `via:`) and counted probes (`count:` with `answers:` or
// `loss:`) as a scenario writes them: every mistake refused at
// file:line:column, good ones reaching the expectation; and the values that
// judge a trace and a count (nslab/path.h, nslab/probe_count.h). No privilege.
#include <boost/test/unit_test.hpp>

#include <string>
#include <variant>

#include "nslab/path.h"
#include "nslab/probe_count.h"
#include "nslab/scenario.h"
#include "scenario_errors.h"
#include "text.h"

using nslab::testing::has;
using nslab::testing::scenario_errors;

namespace {

// a -- r1 -- r2 -- b. Line 9 holds the expectation: `- { from: a, to: b, KEYS }`,
// whose keys start at column 25.
std::string lab(const std::string& keys) {
  return "nodes:\n  a: {}\n  r1: {}\n  r2: {}\n  b: {}\n"
         "links:\n  - [ \"a:eth0 10.0.0.1/24\", \"r1:a 10.0.0.2/24\" ]\n"
         "  - [ \"r1:r2 10.0.1.1/24\", \"r2:r1 10.0.1.2/24\" ]\n"
         "  - [ \"r2:b 10.0.2.1/24\", \"b:eth0 10.0.2.2/24\" ]\n"
         "expect:\n  - { from: a, to: b, " +
         keys + " }\n";
}

// The column where `text` starts in the expectation line.
std::string at(const std::string& keys, const std::string& text) {
  return "lab.yaml:11:" + std::to_string(keys.find(text) + 22 + 1) + ": ";
}

nslab::ProbeExpectation expectation_of(const std::string& keys) {
  auto s = nslab::parse_scenario(lab(keys), "lab.yaml");
  BOOST_REQUIRE_EQUAL(s.expectations.size(), 1u);
  return std::get<nslab::ProbeExpectation>(s.expectations.front());
}

void refused(const std::string& keys, const std::string& what, const std::string& text) {
  auto e = scenario_errors(lab(keys));
  BOOST_TEST(has(e, at(keys, what) + text), keys << "\n" << e);
}

nslab::Hop hop(int ttl, const char* node, bool destination = false) {
  nslab::Hop h;
  h.ttl = ttl;
  if (node) {
    h.address = nslab::IpAddress::from_string("10.0.0." + std::to_string(ttl));
    h.node = node;
    h.destination = destination;
    h.time_exceeded = !destination;
  }
  return h;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(path_validation)

BOOST_AUTO_TEST_CASE(a_path_reaches_the_expectation) {
  auto e = expectation_of("path: [r1, r2, b]");
  BOOST_REQUIRE(e.path);
  BOOST_TEST((e.path->path == std::vector<std::string>{"r1", "r2", "b"}));
  BOOST_TEST(e.path->max_hops == 30);
  BOOST_TEST((e.probe.protocol == nslab::Protocol::icmp));  // no protocol key: an echo
  BOOST_TEST(e.str() == "a -> b icmp: path r1, r2, b");
  auto tcp = expectation_of("tcp: 80, path: [r1, \"*\", b], hops: 5");
  BOOST_TEST((tcp.probe.protocol == nslab::Protocol::tcp));
  BOOST_TEST(tcp.probe.port == 80);
  BOOST_TEST((tcp.path->path == std::vector<std::string>{"r1", "*", "b"}));
  BOOST_TEST(tcp.path->max_hops == 5);
  auto via = expectation_of("udp: 33434, via: r2");
  BOOST_TEST((via.path->via == std::vector<std::string>{"r2"}));
  BOOST_TEST(via.str() == "a -> b udp/33434: via r2");
  auto both = expectation_of("icmp: echo, via: [r1, r2], family: ipv4");
  BOOST_TEST((both.path->via == std::vector<std::string>{"r1", "r2"}));
  auto silent = expectation_of("path: [r1, \"*\"]");  // the path goes silent after r1
  BOOST_TEST(silent.path->path.back() == "*");
  auto ended = expectation_of("path: [r1, r2]");  // r2's ICMP error (net unreachable) ends it
  BOOST_TEST(ended.path->path.back() == "r2");
}

BOOST_AUTO_TEST_CASE(path_mistakes_are_refused_where_they_stand) {
  refused("path: [r1, r3, b]", "r3", "no node \"r3\"; did you mean \"r1\"?");
  refused("path: [r1, r1, b]", "r1, b", "\"r1\" is twice in the path; a node answering at two TTLs is a routing loop");
  refused("path: []", "[]", "path is a list of hops");
  refused("path: r1", "r1", "path is a list of hops");
  refused("path: [r1, 10.0.1.2, b]", "10.0.1.2", "a hop \"10.0.1.2\" is an address; a hop must be a node name");
  refused("path: [r1, r2, b], hops: 2", "[r1", "the path has 3 hops, more than hops: 2 tries");
  refused("path: [r1, r2, b], hops: 0", "0",
          "hops (the largest TTL tried, as traceroute -m) must be a whole number "
          "from 1 to 255");
  refused("path: [b], via: r1", "r1", "path already names every hop; via is for when only some of them matter");
  refused("via: b", "b", "\"b\" is the destination; via names the nodes on the way to it");
  refused("via: \"*\"", "\"*\"",
          "via names nodes the path goes through; \"*\" (a hop that does not answer) belongs in path");
  refused("via: []", "[]", "via names a node the path goes through");
  refused("path: [b], ttl: 3", "3", "ttl is not for a path: a path sets the TTL of each hop's probe itself");
  refused("path: [b], sport: 4000", "4000", "sport needs a udp path (udp: PORT); an echo has no port");
  refused("tcp: 80, path: [b], sport: 4000", "4000", "sport (one flow for every TTL) needs a udp path");
  refused("icmp: echo, path: [b], sport: 4000", "4000", "sport needs a tcp or udp probe");
  refused("path: [b], icmp: reachable", "reachable",
          "in a path expectation, icmp names the probe, not a verdict: "
          "write icmp: echo");
  refused("tcp: 80, path: [b], verdict: reachable", "reachable", "a path expectation checks the path, not a verdict");
  refused("path: [b], tcp: [22, 80]", "[22", "a path expectation takes a single port, not a port set");
  refused("path: [b], hopss: 3", "hopss", "unknown key \"hopss\" in a path expectation; did you mean \"hops\"?");
  refused("path: [b], payload: x", "payload", "unknown key \"payload\" in a path expectation");
  refused("paht: [b], icmp: reachable", "paht", "unknown key \"paht\" in an expectation; did you mean \"path\"?");
}

BOOST_AUTO_TEST_CASE(a_count_reaches_the_expectation) {
  auto e = expectation_of("count: 10, answers: \">= 9\"");
  BOOST_REQUIRE(e.answers);
  BOOST_TEST(e.answers->count == 10u);
  BOOST_TEST(e.answers->answers->str() == ">= 9");
  BOOST_TEST(!e.answers->loss);
  BOOST_TEST(e.str() == "a -> b icmp: count 10, answers >= 9");
  auto loss = expectation_of("tcp: 80, count: 20, loss: \"<= 10%\"");
  BOOST_TEST((loss.probe.protocol == nslab::Protocol::tcp));
  BOOST_TEST(loss.answers->loss->str() == "<= 10%");
  BOOST_TEST(loss.str() == "a -> b tcp/80: count 20, loss <= 10%");
  auto none = expectation_of("icmp: echo, count: 5, answers: 0, size: 1000, ttl: 3");
  BOOST_TEST(none.answers->answers->str() == "== 0");
  BOOST_TEST(none.probe.ttl == 3);
  auto all = expectation_of("count: 4, loss: 100%");
  BOOST_TEST(all.answers->loss->percent == 100.0);
}

BOOST_AUTO_TEST_CASE(count_mistakes_are_refused_where_they_stand) {
  refused("count: 0, answers: 0", "0,", "count (requests sent, as ping -c) must be a whole number from 1 to 10000");
  refused("count: 10001, answers: 1", "10001",
          "count (requests sent, as ping -c) must be a whole number from 1 to 10000");
  refused("count: 1.5, answers: 1", "1.5", "count (requests sent, as ping -c) must be a whole number from 1 to 10000");
  auto missing = scenario_errors(lab("count: 10"));
  BOOST_TEST(has(missing, "lab.yaml:11:5: a counted probe needs one of answers:"), missing);
  refused("count: 10, answers: 9, loss: 10%", "10%", "a counted probe needs one of answers:");
  refused("count: 10, answers: most", "most", "answers \"most\" is not a count");
  refused("count: 9, loss: 10", "10", "loss \"10\": a loss is a percentage with its % sign");
  refused("count: 10, loss: \"<= ten%\"", "\"<= ten%\"", "loss \"<= ten%\": \"ten\" is not a percentage");
  refused("count: 10, loss: 101%", "101%", "loss \"101%\": 101% is more than 100%");
  refused("count: 10, loss: -5%", "-5%", "loss \"-5%\": \"-5\" is not a percentage");
  refused("count: 10, loss: \"<= 100%\"", "\"<= 100%\"",
          "loss <= 100% holds whatever comes back of 10 requests; "
          "it checks nothing");
  refused("count: 10, answers: \">= 0\"", "\">= 0\"", "answers >= 0 holds whatever comes back");
  refused("count: 10, answers: \"> 10\"", "\"> 10\"", "answers > 10 can never hold with 10 requests");
  refused("count: 3, loss: 50%", "50%", "loss == 50% can never hold with 3 requests");
  refused("count: 10, answers: 9, icmp: reachable", "reachable", "in a counted probe, icmp names the probe");
  refused("count: 10, answers: 9, verdict: blocked", "blocked",
          "a counted probe checks how many requests are "
          "answered, not a verdict");
  refused("udp: 53, count: 10, answers: 9, sport: 5353", "5353", "sport is not for a counted probe");
  refused("count: 10, answer: 9", "answer", "unknown key \"answer\" in a counted probe; did you mean \"answers\"?");
}

BOOST_AUTO_TEST_CASE(a_trace_reads_as_the_path_and_is_compared) {
  nslab::TraceResult r;
  r.target_node = "b";
  r.hops = {hop(1, "r1"), hop(2, nullptr), hop(3, "b", true)};
  r.reached = true;
  BOOST_TEST((r.path() == std::vector<std::string>{"r1", "*", "b"}));
  BOOST_TEST(!r.path_problem({"r1", "*", "b"}));
  BOOST_TEST(r.path_problem({"r1", "r2", "b"}).value_or("") ==
             "expected path r1, r2, b, observed r1, *, b; hop 2 differs: expected r2, observed *");
  BOOST_TEST(!r.via_problem({"r1"}));
  BOOST_TEST(r.via_problem({"r2"}).value_or("") ==
             "expected via r2, observed path r1, *, b; it does not go through r2");
  BOOST_TEST(r.via_problem({"b"}).has_value());  // the destination is no hop on the way

  nslab::TraceResult silent;  // nothing answers after r1, up to max_hops
  silent.target_node = "b";
  silent.hops = {hop(1, "r1"), hop(2, nullptr), hop(3, nullptr), hop(4, nullptr)};
  BOOST_TEST((silent.path() == std::vector<std::string>{"r1", "*"}));
  BOOST_TEST(silent.str() == "r1, * (no answer from ttl 2 to 4)");
  BOOST_TEST(!silent.path_problem({"r1", "*"}));
  BOOST_TEST(has(silent.path_problem({"r1", "r2", "b"}).value_or(""), "hop 2 differs: expected r2, observed *"));
  BOOST_TEST(has(silent.via_problem({"r1"}).value_or(""), "the destination did not answer"));
  BOOST_TEST(has(silent.table(), " 2-4  *"), silent.table());

  nslab::TraceResult loop;
  loop.target_node = "b";
  loop.hops = {hop(1, "r1"), hop(2, "r2"), hop(3, "r1")};
  loop.loop_node = "r1";
  loop.loop_first = 1;
  loop.loop_again = 3;
  BOOST_TEST(loop.str() == "r1, r2, r1 (loop: r1 answered at ttl 1 and 3)");
  BOOST_TEST(has(loop.path_problem({"r1", "r2", "b"}).value_or(""), "; a routing loop"));
  BOOST_TEST(has(loop.path_problem({"r1", "r2", "r1"}).value_or(""), "a routing loop"));  // never a match
  BOOST_TEST(has(loop.via_problem({"r2"}).value_or(""), "observed a routing loop"));

  nslab::TraceResult shorter;
  shorter.target_node = "b";
  shorter.hops = {hop(1, "b", true)};
  shorter.reached = true;
  BOOST_TEST(has(shorter.path_problem({"r1", "b"}).value_or(""), "hop 1 differs"));
  BOOST_TEST(has(shorter.path_problem({"b", "b"}).value_or(""), "the path ends after 1 hop"));
}

BOOST_AUTO_TEST_CASE(loss_bounds_and_counts_judge_what_came_back) {
  auto b = nslab::LossBound::parse("<= 10%");
  BOOST_REQUIRE(b);
  BOOST_TEST(b->holds(10.0));
  BOOST_TEST(!b->holds(10.5));
  auto third = nslab::LossBound::parse("<= 33.34 %");
  BOOST_TEST(third->holds(100.0 / 3));
  auto exact = nslab::LossBound::parse("0%");
  BOOST_TEST(exact->str() == "== 0%");
  BOOST_TEST(exact->holds(0));
  BOOST_TEST(!exact->holds(0.01));
  for (const char* bad : {"", "%", "10", "<=%", "1e2%", "nan%", "inf%", "-1%", "100.5%", "1..2%", ".5%", "<< 5%"})
    BOOST_TEST(!nslab::LossBound::parse(bad), bad);

  nslab::CountResult r;
  r.count = 10;
  r.answered = 9;
  r.tally = {{nslab::Verdict::reachable, 9}, {nslab::Verdict::blocked, 1}};
  r.evidence = {{nslab::Verdict::reachable, "echo reply from 10.0.2.2"}, {nslab::Verdict::blocked, "no answer"}};
  BOOST_TEST(r.loss_percent() == 10.0);
  BOOST_TEST(r.summary() == "10 sent, 9 answered, 10% loss; blocked 1 (no answer)");
  nslab::ExpectedAnswers want{.count = 10, .answers = nslab::CountSpec::parse(">= 9"), .loss = {}};
  BOOST_TEST(!want.problem(r));
  want.answers = nslab::CountSpec::parse("10");
  BOOST_TEST(want.problem(r).value_or("") == "expected == 10 answers of 10, observed 9");
  nslab::ExpectedAnswers lossy{.count = 10, .answers = {}, .loss = nslab::LossBound::parse("< 10%")};
  BOOST_TEST(lossy.problem(r).value_or("") == "expected loss < 10%, observed 10% (9 of 10 answered)");
}

BOOST_AUTO_TEST_SUITE_END()
