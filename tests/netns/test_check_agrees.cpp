// `nslab validate` and `nslab check` agree, run as a user runs them: what
// validation refuses, both refuse with file:line:column and exit 2; what it
// accepts and the kernel or a tool still refuses while building (a sysctl
// this namespace lacks, a bad value, a rule iptables rejects), check reports
// at that key's or rule's own position, also with exit 2, never exit 1.
#include <boost/test/unit_test.hpp>

#include <stdlib.h>

#include <fstream>
#include <string>
#include <vector>

#include "nslab/witness.h"
#include "scratch.h"
#include "text.h"

using nslab::testing::has;
using nslab::testing::Scratch;

namespace {

nslab::ProcessResult nslab_cmd(const std::string& args) {
  return nslab::run_command(std::string(NSLAB_BINARY) + " " + args + " 2>&1");
}

const std::string kNodes = "nodes:\n  a:\n  b:\n";
const std::string kLink = "links:\n  - [ \"a:eth0 10.0.0.1/24\", \"b:eth0 10.0.0.2/24\" ]\n";

struct Case {
  std::string name, yaml, where, phrase;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(validate_and_check_agree)

BOOST_AUTO_TEST_CASE(what_validate_refuses_check_refuses_with_the_same_position) {
  Scratch s("nslab-agree");
  const std::vector<Case> cases = {
      {"if-vt.yaml", kNodes + "links:\n  - [ \"a:eth0\\v 10.0.0.1/24\", \"b:eth0 10.0.0.2/24\" ]\n",
       ":5:7:", "interface name \"eth0\\x0b\" contains '\\x0b'"},
      {"loopback6.yaml", kNodes + "links:\n  - [ \"a:eth0 ::1/128\", \"b:eth0 10.0.0.2/24\" ]\n",
       ":5:7:", "is the loopback address"},
      {"services.yaml", "nodes:\n  a: { services: [tcp/80, tcp/80] }\n  b:\n" + kLink,
       ":2:27:", "duplicate service tcp/80"},
      {"rmem.yaml", "nodes:\n  a: { sysctl: { net.core.rmem_max: 1000000 } }\n  b:\n" + kLink,
       ":2:18:", "is machine-wide"},
      {"timeout.yaml", "options: { timeout: 1e300s }\n" + kNodes + kLink, ":1:21:", "is out of range"},
      {"family.yaml", kNodes + kLink + "expect:\n  - { from: a, to: b, icmp: reachable, family: ipv6 }\n",
       ":7:48:", "has no IPv6 address"},
      {"capture.yaml",
       kNodes + "links:\n  - [ \"a:eth0 10.0.0.1/24\", { at: \"b:eth0\", addresses: [10.0.0.2/24], up: false } ]\n"
                "expect:\n  - capture: { on: \"b:eth0\", during: { from: a, to: b, icmp: 1 }, count: 0 }\n",
       ":7:20:", "left down (up: false)"},
      // check used to load these silently (-P on a misspelt chain), hang
      // (nft monitor), start both programs, drop the payload, or fail
      // without a position (UDP payload, run timeout of 0.5ms).
      {"fow.yaml", "nodes:\n  a: { iptables: \"-P FOWARD DROP\" }\n  b:\n" + kLink,
       ":2:22:", "did you mean \"FORWARD\"?"},
      {"monitor.yaml", "nodes:\n  a:\n    nftables: |\n      monitor\n  b:\n" + kLink,
       ":4:7:", "\"monitor\" is a command, not part of a ruleset"},
      {"tworun.yaml",
       "nodes:\n  a:\n    run:\n      - { command: \"sleep 9\", ready: { tcp: 8080 } }\n"
       "      - { command: \"sleep 9\", ready: { tcp: 8080 } }\n  b:\n" +
           kLink,
       ":5:9:", "two run programs are ready on tcp/8080"},
      {"udp65001.yaml",
       "nodes:\n  a:\n  b: { services: [ udp/53 ] }\n" + kLink +
           "expect:\n  - { from: a, to: b, udp: 53, payload: " + std::string(65001, 'x') + " }\n",
       ":7:41:", "a UDP payload has at most 65000 bytes"},
      {"icmp-payload.yaml", kNodes + kLink + "expect:\n  - { from: a, to: b, icmp: reachable, payload: x }\n",
       ":7:49:", "payload needs a tcp or udp probe"},
      {"run-timeout.yaml",
       "nodes:\n  a: { run: [ { command: \"sleep 9\", ready: { tcp: 80 }, timeout: 0.5ms } ] }\n  b:\n" + kLink,
       ":2:66:", "a run timeout is from 10ms"},
  };
  for (const auto& c : cases) {
    auto file = s.write(c.name, c.yaml);
    auto v = nslab_cmd("validate " + file);
    BOOST_TEST(v.status == 2, c.name << ": " << v.output);
    BOOST_TEST(has(v.output, file + c.where + " "), c.name << ": " << v.output);
    BOOST_TEST(has(v.output, c.phrase), c.name << ": " << v.output);
    auto k = nslab_cmd("check " + file);
    BOOST_TEST(k.status == 2, c.name << ": " << k.output);
    BOOST_TEST(has(k.output, file + c.where + " "), c.name << ": " << k.output);
    BOOST_TEST(has(k.output, "INVALID " + file), c.name << ": " << k.output);
  }
  // graph reads the same file the same way (a '"' in a name used to make dot fail).
  auto g = nslab_cmd("graph " + s.write("quote.yaml", kNodes + "links:\n  - [ \"a:e\\\"x\", \"b:eth0\" ]\n"));
  BOOST_TEST(g.status == 2, g.output);
  BOOST_TEST(has(g.output, "quote.yaml:5:7: link endpoint \"a:e\"x\": interface name \"e\"x\" contains '\"'"),
             g.output);
}

BOOST_AUTO_TEST_CASE(what_only_the_build_can_refuse_is_reported_at_its_own_position) {
  Scratch s("nslab-agree");
  const std::vector<Case> cases = {
      {"no-such-sysctl.yaml",
       "nodes:\n  a:\n    sysctl:\n      net.ipv4.ip_forward: 1\n      net.ipv4.no_such_knob: 1\n  b:\n" + kLink,
       ":5:7:", "node \"a\": unknown sysctl \"net.ipv4.no_such_knob\""},
      {"bad-sysctl-value.yaml", "nodes:\n  a:\n    sysctl:\n      net.ipv4.ip_forward: abc\n  b:\n" + kLink,
       ":4:7:", "node \"a\": cannot set sysctl net.ipv4.ip_forward=abc: Invalid argument"},
      {"no-such-target.yaml",
       "nodes:\n  a:\n    iptables: |\n      -A INPUT -p icmp -j ACCEPT\n"
       "      -A INPUT -p tcp -m comment --comment \"ticket #42\" -j NO_SUCH_TARGET\n  b:\n" +
           kLink,
       ":5:7:",
       "node \"a\": iptables-restore rejected \"-A INPUT -p tcp -m comment --comment \"ticket #42\" -j "
       "NO_SUCH_TARGET\""},
  };
  for (const auto& c : cases) {
    auto file = s.write(c.name, c.yaml);
    auto v = nslab_cmd("validate " + file);
    BOOST_TEST(v.status == 0, c.name << ": " << v.output);
    auto k = nslab_cmd("check " + file);
    BOOST_TEST(k.status == 2, c.name << ": " << k.output);
    BOOST_TEST(has(k.output, file + c.where + " " + c.phrase), c.name << ": " << k.output);
  }
}

BOOST_AUTO_TEST_SUITE_END()
