// Hostile scenario files found by generating variants of the shipped
// scenarios (every value, key and type swapped for something hostile): each
// is refused at file:line:column, or loads, and nothing in the file is
// silently dropped. No privilege.
#include <boost/test/unit_test.hpp>

#include <string>

#include "nslab/scenario.h"
#include "scenario_errors.h"
#include "text.h"

using nslab::testing::has;
using nslab::testing::scenario_errors;

namespace {

// Every line of `errors` starts with lab.yaml:LINE:COLUMN (both known).
bool all_positioned(const std::string& errors) {
  std::size_t start = 0;
  while (start < errors.size()) {
    auto end = errors.find('\n', start);
    std::string line = errors.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (line.rfind("lab.yaml:", 0) != 0 || line.rfind("lab.yaml:0:", 0) == 0) return false;
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return !errors.empty();
}

const std::string kNodes = "nodes:\n  a: {}\n  b: {}\n";

}  // namespace

BOOST_AUTO_TEST_SUITE(scenario_hostile)

// A link written as a map whose "endpoints" key is misspelt: assigning the
// missing node threw yaml-cpp's InvalidNode, reported as "lab.yaml: YAML:
// invalid node; this may result from using a map iterator as a sequence
// iterator" with no position, and every later link and expectation was
// never read.
BOOST_AUTO_TEST_CASE(a_link_map_without_endpoints_is_positioned) {
  auto e = scenario_errors(kNodes +
                           "links:\n"
                           "  - { \"@\": [ \"a:eth0 10.0.0.1/24\", \"b:eth0 10.0.0.2/24\" ], mtu: 1400 }\n"
                           "  - { endpont: [ \"a:eth1 10.0.1.1/24\", \"b:eth1 10.0.1.2/24\" ] }\n"
                           "  - { mtu: 1400 }\n"
                           "expect:\n  - { from: a, to: b, icmp: reachabel }\n");
  BOOST_TEST(all_positioned(e), e);
  BOOST_TEST(!has(e, "invalid node"), e);
  BOOST_TEST(has(e, "lab.yaml:5:7: unknown key \"@\" in a link"), e);
  BOOST_TEST(has(e, "lab.yaml:6:7: unknown key \"endpont\" in a link; did you mean \"endpoints\"?"), e);
  BOOST_TEST(has(e, "lab.yaml:7:5: a link needs \"endpoints\""), e);
  // The expectation after the links is still read.
  BOOST_TEST(has(e, "lab.yaml:9:29: \"reachabel\" is not a verdict; did you mean \"reachable\"?"), e);
}

// YAML::Load read the first document of a file and ignored the rest: a lab
// after a stray `---` was silently lost.
BOOST_AUTO_TEST_CASE(a_second_document_is_refused_not_ignored) {
  const std::string lab = kNodes + "links:\n  - [ \"a:eth0 10.0.0.1/24\", \"b:eth0 10.0.0.2/24\" ]\n";
  auto e = scenario_errors(lab + "---\n" + lab);
  BOOST_TEST(has(e, "lab.yaml:7:1: a second YAML document: a scenario file holds one lab"), e);
  BOOST_TEST(all_positioned(e), e);
  // A syntax error in the second document is found, not skipped.
  e = scenario_errors(lab + "---\nnodes: [\n");
  BOOST_TEST((has(e, "lab.yaml:") && has(e, "YAML syntax")), e);
  // Empty documents around the lab lose nothing: a leading ---, a trailing
  // --- or ..., a document of only a comment.
  BOOST_TEST(scenario_errors("---\n" + lab) == "");
  BOOST_TEST(scenario_errors(lab + "...\n") == "");
  BOOST_TEST(scenario_errors(lab + "---\n") == "");
  BOOST_TEST(scenario_errors(lab + "---\n# nothing\n") == "");
  BOOST_TEST(has(scenario_errors("---\n---\n"), "lab.yaml:1:1: the scenario is empty"));
}

// `nslab validate /dev/zero` read until memory ran out; a directory read
// as an empty file ("the scenario is empty").
BOOST_AUTO_TEST_CASE(a_scenario_file_that_is_no_file_is_named) {
  auto load_error = [](const std::string& path) -> std::string {
    try {
      nslab::load_scenario(path);
    } catch (const nslab::ScenarioError& e) {
      return e.what();
    }
    return "";
  };
  BOOST_TEST(load_error("/dev/zero") ==
             "/dev/zero: the scenario file is larger than 16 MiB; a scenario is a short "
             "description (use groups: for many alike nodes)");
  BOOST_TEST(load_error("/") == "/: the scenario file is a directory");
  BOOST_TEST(has(load_error("/nonexistent.yaml"), "/nonexistent.yaml: cannot read the scenario file: No such file"));
  // /dev/null is an empty file.
  BOOST_TEST(load_error("/dev/null") == "/dev/null:1:1: the scenario is empty");
}

// yaml-cpp's own messages quote the file: a raw NUL or escape character is
// shown escaped, one problem per line.
BOOST_AUTO_TEST_CASE(yaml_syntax_messages_are_printable) {
  auto e = scenario_errors("nodes:\n  a: \"x\\\x01\"\n");
  BOOST_TEST(has(e, "lab.yaml:2:"), e);
  BOOST_TEST(e.find('\x01') == std::string::npos, e);
  BOOST_TEST(has(e, "\\x01"), e);
}

// {i+N} in a group template: N was read as a signed long, so "{i+-5}"
// subtracted and "{i+9223372036854775807}" overflowed (undefined behaviour;
// here it printed "10.0.1.-9223372036854775808").
BOOST_AUTO_TEST_CASE(group_offsets_are_digits_and_bounded) {
  auto group = [](const std::string& end) {
    return "nodes:\n  sw: { bridges: [br0] }\ngroups:\n  pc: { count: 2, links: [ [ \"" + end +
           "\", \"sw:p{i}@br0\" ] ] }\n";
  };
  auto e = scenario_errors(group("pc{i}:eth0 10.0.1.{i+9223372036854775807}/24"));
  BOOST_TEST(has(e,
                 "lab.yaml:4:30: \"pc{i}:eth0 10.0.1.{i+9223372036854775807}/24\": the offset in "
                 "\"{i+9223372036854775807}\" is larger than 1000000"),
             e);
  e = scenario_errors(group("pc{i}:eth0 10.0.1.{i+-5}/24"));
  BOOST_TEST(has(e, "lab.yaml:4:30: \"pc{i}:eth0 10.0.1.{i+-5}/24\": \"{i+-5}\" is not {i}, {i+N} or {i-N}"), e);
  e = scenario_errors(group("pc{i}:eth0 10.0.1.{i--9223372036854775808}/24"));
  BOOST_TEST(has(e, "\"{i--9223372036854775808}\" is not {i}, {i+N} or {i-N}"), e);
  BOOST_TEST(has(scenario_errors(group("pc{i}:eth0 10.0.1.{i+ 5}/24")), "\"{i+ 5}\" is not"));
  BOOST_TEST(has(scenario_errors(group("pc{i}:eth0 10.0.1.{x+5}/24")), "\"{x+5}\" is not"));
  // The offsets the README shows still work.
  BOOST_TEST(scenario_errors(group("pc{i}:eth0 10.0.1.{i+9}/24")) == "");
  BOOST_TEST(scenario_errors(group("pc{i}:eth0 10.0.1.{i-0}/24")) == "");
}

// An empty command ran as `sh -c ''` (a run: entry then "exited with code
// 0" at check time, an expectation passed having run nothing); an empty
// program word was looked up in PATH ("cannot execute the program
// /usr/bin/: Permission denied").
BOOST_AUTO_TEST_CASE(empty_commands_are_refused) {
  auto node = [](const std::string& body) {
    return "nodes:\n  a: " + body + "\n  b: {}\nlinks:\n  - [ \"a:eth0 10.0.0.1/24\", \"b:eth0 10.0.0.2/24\" ]\n";
  };
  BOOST_TEST(has(scenario_errors(node("{ run: [ \"\" ] }")), "lab.yaml:2:15: run is empty"));
  BOOST_TEST(has(scenario_errors(node("{ run: [ \"  \" ] }")), "lab.yaml:2:15: run is empty"));
  BOOST_TEST(has(scenario_errors(node("{ run: [ [ \"\", x ] ] }")),
                 "lab.yaml:2:17: the program of run (its first word) is empty"));
  BOOST_TEST(has(scenario_errors(node("{ run: [ { command: \"\" } ] }")), "lab.yaml:2:26: command is empty"));
  BOOST_TEST(
      has(scenario_errors(node("{ run: [ { command: \"sleep 9\", ready: { command: [ \"\" ] }, timeout: 2s } ] }")),
          "the program of ready command (its first word) is empty"));
  BOOST_TEST(has(scenario_errors(node("{}") + "expect:\n  - { from: a, command: \"\" }\n"),
                 "lab.yaml:7:25: the command is empty"));
  // An empty word after the program is an ordinary argument.
  BOOST_TEST(scenario_errors(node("{ run: [ [ printf, \"\" ] ] }")) == "");
}

// A mistake in `defaults` was reported once per node (the same line, the
// same message, three times for three nodes).
BOOST_AUTO_TEST_CASE(a_mistake_in_defaults_is_reported_once) {
  auto e = scenario_errors("defaults: { sysctl: [x], limits: { cpu: 99999 } }\nnodes:\n  a: {}\n  b: {}\n  c: {}\n");
  BOOST_TEST(e == "lab.yaml:1:41: limits.cpu must be a number of CPUs from 0.01 to 1024 (0.5: half of one CPU), not "
                  "\"99999\"\n"
                  "lab.yaml:1:21: \"sysctl\" must be a mapping, e.g. { net.ipv4.ip_forward: 1 }",
             e);
}

BOOST_AUTO_TEST_SUITE_END()
