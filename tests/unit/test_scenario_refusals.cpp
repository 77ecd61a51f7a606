// Scenario inputs that `nslab check` used to refuse or ignore after
// `nslab validate` accepted them, and their legitimate neighbours: each is
// now a positioned validation error, or loads. No privilege needed.
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "nslab/scenario.h"
#include "scenario_errors.h"
#include "text.h"

using nslab::testing::has;
using nslab::testing::scenario_errors;

BOOST_AUTO_TEST_SUITE(scenario_refusals)

namespace {

// Two nodes on one veth pair; `before` goes ahead of "nodes:", `a` is node
// a's body, `links` replaces the link list, `after` follows it.
struct Lab {
  std::string before, a = "{}", links = "  - [ \"a:eth0 10.0.0.1/24\", \"b:eth0 10.0.0.2/24\" ]\n", after;
  std::string yaml() const { return before + "nodes:\n  a: " + a + "\n  b:\nlinks:\n" + links + after; }
};

struct Hostile {
  const char* what;
  std::string yaml;
  const char* where;   // "line:column"
  const char* phrase;  // part of the message
};

const std::string kExpect = "expect:\n  - ";

}  // namespace

// Every input `nslab validate` used to accept and `check` then failed on
// (without file:line:column, or with exit 1), and nonsense numbers that were
// silently accepted: each is now a positioned error from validation.
BOOST_AUTO_TEST_CASE(hostile_inputs_are_rejected_with_a_position) {
  const std::string imp = "  - endpoints: [ \"a:eth0 10.0.0.1/24\", \"b:eth0 10.0.0.2/24\" ]\n    impair: ";
  const std::vector<Hostile> cases = {
      {"\\r in an interface name", Lab{.links = "  - [ \"a:eth0\\r 10.0.0.1/24\", \"b:eth0 10.0.0.2/24\" ]\n"}.yaml(),
       "5:7",
       "interface name \"eth0\\x0d\" contains '\\x0d'; interface and bridge names may hold only letters, "
       "digits, '-' and '_'"},
      {"\\v in an interface name", Lab{.links = "  - [ \"a:eth0\\v 10.0.0.1/24\", \"b:eth0 10.0.0.2/24\" ]\n"}.yaml(),
       "5:7", "contains '\\x0b'"},
      {"a quote in an interface name",
       Lab{.links = "  - [ \"a:e\\\"x 10.0.0.1/24\", \"b:eth0 10.0.0.2/24\" ]\n"}.yaml(), "5:7",
       "interface name \"e\"x\" contains '\"'"},
      {"a quote in a bridge name", Lab{.a = "{ bridges: [ \"br\\\"0\" ] }"}.yaml(), "2:19", "contains '\"'"},
      {"a leading '-' in an interface name",
       Lab{.links = "  - [ \"a:-x 10.0.0.1/24\", \"b:eth0 10.0.0.2/24\" ]\n"}.yaml(), "5:7", "starts with '-'"},
      {"a reserved interface name", Lab{.links = "  - [ \"a:all 10.0.0.1/24\", \"b:eth0 10.0.0.2/24\" ]\n"}.yaml(),
       "5:7", "interface name \"all\" is reserved by Linux"},
      {"::/0", Lab{.links = "  - [ \"a:eth0 ::/0\", \"b:eth0 10.0.0.2/24\" ]\n"}.yaml(), "5:7",
       "address ::/0 on \"a:eth0\" is the unspecified address"},
      {"::1/128", Lab{.links = "  - [ \"a:eth0 ::1/128\", \"b:eth0 10.0.0.2/24\" ]\n"}.yaml(), "5:7",
       "address ::1/128 on \"a:eth0\" is the loopback address"},
      {"ff02::1/64", Lab{.links = "  - [ \"a:eth0 ff02::1/64\", \"b:eth0 10.0.0.2/24\" ]\n"}.yaml(), "5:7",
       "address ff02::1/64 on \"a:eth0\" is a multicast address"},
      {"127.0.0.2/8", Lab{.links = "  - [ \"a:eth0 127.0.0.2/8\", \"b:eth0 10.0.0.2/24\" ]\n"}.yaml(), "5:7",
       "is a loopback address"},
      {"a subnet's broadcast", Lab{.links = "  - [ \"a:eth0 10.0.0.255/24\", \"b:eth0 10.0.0.2/24\" ]\n"}.yaml(), "5:7",
       "address 10.0.0.255/24 on \"a:eth0\" is the broadcast address of its subnet"},
      {"an IPv6 address on a link of MTU 1000",
       Lab{.links = "  - { endpoints: [ \"a:eth0 fd00::1/64\", \"b:eth0 fd00::2/64\" ], mtu: 1000 }\n"}.yaml(), "5:20",
       "IPv6 address fd00::1/64 needs an MTU of at least 1280"},
      {"services: [tcp/80, tcp/80]", Lab{.a = "{ services: [tcp/80, tcp/80] }"}.yaml(), "2:27",
       "node \"a\": duplicate service tcp/80 (first at line 2, column 19)"},
      {"a service and a run: program on one port",
       Lab{.a = "\n    services: [ tcp/8080 ]\n    run: [ { command: [ sleep, \"9\" ], ready: { tcp: 8080 } } ]"}
           .yaml(),
       "4:12", "a run program is ready on tcp/8080, the port of a built-in service (at line 3, column 17)"},
      {"matrix node \"b:eth9\"", Lab{.after = kExpect + "matrix: { protocol: icmp, nodes: [a, \"b:eth9\"] }\n"}.yaml(),
       "7:42", "node \"b\" has no interface \"eth9\""},
      {"matrix node an address", Lab{.after = kExpect + "matrix: { protocol: icmp, nodes: [a, 10.0.0.2] }\n"}.yaml(),
       "7:42", "matrix node \"10.0.0.2\" is an address; a matrix takes nodes and node:interface"},
      {"matrix node twice", Lab{.after = kExpect + "matrix: { protocol: icmp, nodes: [a, b, a] }\n"}.yaml(), "7:45",
       "matrix node \"a\" is listed twice"},
      {"matrix over a node without addresses",
       Lab{.a = "{}\n  c:", .after = kExpect + "matrix: { protocol: icmp }\n"}.yaml(), "8:13",
       "matrix node \"c\" has no address to probe"},
      {"matrix family: ipv6 in an IPv4 lab",
       Lab{.after = kExpect + "matrix: { protocol: icmp, nodes: [a, b], family: ipv6 }\n"}.yaml(), "7:39",
       "matrix node \"a\" has no IPv6 address (family: ipv6)"},
      {"from: an address of no node", Lab{.after = kExpect + "{ from: 10.0.0.9, to: a, icmp: reachable }\n"}.yaml(),
       "7:13", "from 10.0.0.9 is no address of a node"},
      {"from: an unknown interface", Lab{.after = kExpect + "{ from: \"a:eth9\", to: b, icmp: reachable }\n"}.yaml(),
       "7:13", "node \"a\" has no interface \"eth9\""},
      {"a command from an address", Lab{.after = kExpect + "{ from: 10.0.0.1, command: \"true\" }\n"}.yaml(), "7:13",
       "from \"10.0.0.1\" is an address"},
      {"served_by an address",
       Lab{.a = "{ services: [ tcp/80 ] }", .after = kExpect + "{ from: b, to: a, tcp: 80, served_by: 10.0.0.1 }\n"}
           .yaml(),
       "7:43", "served_by \"10.0.0.1\" is an address"},
      {"family: ipv6 in a lab without IPv6",
       Lab{.after = kExpect + "{ from: a, to: b, icmp: reachable, family: ipv6 }\n"}.yaml(), "7:48",
       "family ipv6: the target \"b\" has no IPv6 address"},
      {"family: ipv4 to an IPv6-only node",
       Lab{.links = "  - [ \"a:eth0 10.0.0.1/24 fd00::1/64\", \"b:eth0 fd00::2/64\" ]\n",
           .after = kExpect + "{ from: a, to: b, icmp: reachable, family: ipv4 }\n"}
           .yaml(),
       "7:48", "family ipv4: the target \"b\" has no IPv4 address"},
      {"family: ipv6 from a node without IPv6",
       Lab{.links = "  - [ \"a:eth0 10.0.0.1/24\", \"b:eth0 10.0.0.2/24 fd00::2/64\" ]\n",
           .after = kExpect + "{ from: a, to: b, icmp: reachable, family: ipv6 }\n"}
           .yaml(),
       "7:48", "family ipv6: the source \"a\" has no IPv6 address"},
      {"family: ipv6 to an IPv4 address",
       Lab{.after = kExpect + "{ from: a, to: 10.0.0.2, icmp: reachable, family: ipv6 }\n"}.yaml(), "7:55",
       "family ipv6 does not fit target 10.0.0.2, an IPv4 address"},
      {"an IPv6 address target in a lab without IPv6",
       Lab{.after = kExpect + "{ from: a, to: \"fd00::9\", icmp: blocked }\n"}.yaml(), "7:20",
       "the lab has no IPv6 addresses"},
      {"an interface without addresses as target",
       Lab{.a = "{ bridges: [ br0 ] }",
           .links = "  - [ \"a:p0@br0\", \"b:eth0 10.0.0.2/24\" ]\n",
           .after = kExpect + "{ from: b, to: \"a:p0\", icmp: blocked }\n"}
           .yaml(),
       "7:20", "the target \"a:p0\" has no address to probe"},
      {"a capture on an interface with up: false",
       Lab{.links = "  - [ \"a:eth0 10.0.0.1/24\", { at: \"b:eth0\", addresses: [10.0.0.2/24], up: false } ]\n",
           .after = kExpect + "capture: { on: \"b:eth0\", during: { from: a, to: b, icmp: 1 }, count: 0 }\n"}
           .yaml(),
       "7:20", "capture point \"b:eth0\" is an interface left down (up: false)"},
      {"a capture during a probe from an address of no node",
       Lab{.after = kExpect + "capture: { on: \"b:eth0\", during: { from: 10.0.0.9, to: b, icmp: 1 } }\n"}.yaml(),
       "7:46", "from 10.0.0.9 is no address of a node"},
      {"net.core.rmem_max", Lab{.a = "{ sysctl: { net.core.rmem_max: 1000000 } }"}.yaml(), "2:18",
       "sysctl \"net.core.rmem_max\" is machine-wide, not per network namespace"},
      {"net.ipv4.neigh.default.gc_thresh3", Lab{.a = "{ sysctl: { net.ipv4.neigh.default.gc_thresh3: 4096 } }"}.yaml(),
       "2:18", "is machine-wide"},
      {"net.ipv4.tcp_mem", Lab{.a = "{ sysctl: { net.ipv4.tcp_mem: 1 2 3 } }"}.yaml(), "2:18", "is machine-wide"},
      {"a sysctl key with a control character", Lab{.a = "{ sysctl: { \"net.ipv4.ip_forward\\n\": 1 } }"}.yaml(),
       "2:18", "sysctl \"net.ipv4.ip_forward\\x0a\" is not a valid key"},
      {"a sysctl value on two lines", Lab{.a = "{ sysctl: { net.ipv4.ip_forward: \"1\\n0\" } }"}.yaml(), "2:39",
       "the value must be one line of text"},
      {"timeout: 1e300s", Lab{.before = "options: { timeout: 1e300s }\n"}.yaml(), "1:21",
       "timeout \"1e300s\" is out of range: a timeout is from 1ms to 1h (3600s)"},
      {"timeout: nans", Lab{.before = "options: { timeout: nans }\n"}.yaml(), "1:21",
       "timeout \"nans\" is not a duration"},
      {"timeout: infs", Lab{.before = "options: { timeout: infs }\n"}.yaml(), "1:21",
       "timeout \"infs\" is not a duration"},
      {"timeout: 0ms", Lab{.before = "options: { timeout: 0ms }\n"}.yaml(), "1:21", "is out of range"},
      {"link_up_timeout: -1s", Lab{.before = "options: { link_up_timeout: -1s }\n"}.yaml(), "1:29",
       "is not a duration"},
      {"a run timeout of 2h", Lab{.a = "{ run: [ { command: \"true\", exit: 0, timeout: 7200s } ] }"}.yaml(), "2:52",
       "timeout \"7200s\" is out of range"},
      {"a command timeout of nan", Lab{.after = kExpect + "{ from: a, command: \"true\", timeout: nanms }\n"}.yaml(),
       "7:42", "timeout \"nanms\" is not a duration"},
      {"loss: \"nan%\"", Lab{.links = imp + "{ loss: \"nan%\" }\n"}.yaml(), "6:21",
       "loss \"nan%\" is not a percentage from 0% to 100%"},
      {"loss below a millionth", Lab{.links = imp + "{ loss: 0.00001% }\n"}.yaml(), "6:21",
       "the smallest loss is 0.0001%"},
      {"rate: nanmbit", Lab{.links = imp + "{ rate: nanmbit }\n"}.yaml(), "6:21",
       "rate \"nanmbit\" is not a rate from 8bit to 10tbit"},
      {"rate: infgbit", Lab{.links = imp + "{ rate: infgbit }\n"}.yaml(), "6:21", "is not a rate"},
      {"rate: 0bit", Lab{.links = imp + "{ rate: 0bit }\n"}.yaml(), "6:21", "is not a rate"},
      {"rate: 1e30gbit", Lab{.links = imp + "{ rate: 1e30gbit }\n"}.yaml(), "6:21", "is not a rate"},
      {"delay: 1e300s", Lab{.links = imp + "{ delay: 1e300s }\n"}.yaml(), "6:22",
       "delay \"1e300s\" is out of range: delay is from 0ms to 60s"},
      {"metric -5", Lab{.a = "{ routes: [ \"10.9.0.0/16 via 10.0.0.2 metric -5\" ] }"}.yaml(), "2:18",
       "route metric must be a whole number from 0 to 2147483647, not \"-5\""},
      {"metric: -5", Lab{.a = "{ routes: [ { to: 10.9.0.0/16, via: 10.0.0.2, metric: -5 } ] }"}.yaml(), "2:60",
       "metric must be a whole number from 0 to 2147483647, not \"-5\""},
      {"metric 5x", Lab{.a = "{ routes: [ \"10.9.0.0/16 via 10.0.0.2 metric 5x\" ] }"}.yaml(), "2:18", "not \"5x\""},
      {"the same route twice", Lab{.a = "{ routes: [ default via 10.0.0.2, default via 10.0.0.2 ] }"}.yaml(), "2:40",
       "route \"default via 10.0.0.2\" on node \"a\" has the same destination and metric"},
      {"a gateway that is the subnet's broadcast", Lab{.a = "{ routes: [ default via 10.0.0.255 ] }"}.yaml(), "2:18",
       "gateway 10.0.0.255 is the network or broadcast address of its subnet"},
      {"a gateway that is the node itself", Lab{.a = "{ routes: [ default via 10.0.0.1 ] }"}.yaml(), "2:18",
       "gateway 10.0.0.1 is an address of \"a\" itself"},
      {"a multicast gateway", Lab{.a = "{ routes: [ default via 224.0.0.1 ] }"}.yaml(), "2:18",
       "gateway 224.0.0.1 is a multicast address"},
      {"an unterminated quote in iptables",
       Lab{.a = "\n    iptables: |\n      -A INPUT -j DROP\n      -A INPUT -m comment --comment \"ticket #42 -j DROP"}
           .yaml(),
       "5:37", "node \"a\": iptables line 2: unterminated \" quote"},
      {"a control character in iptables", Lab{.a = "{ iptables: \"-A INPUT\\v -j DROP\" }"}.yaml(), "2:27",
       "iptables line 1: control character 0x0b"},
      {"an unknown iptables table", Lab{.a = "{ iptables: \"-t nta -A INPUT -j DROP\" }"}.yaml(), "2:22",
       "table \"nta\" is not filter, nat, mangle, raw or security"},
      {"an iptables policy that is not one", Lab{.a = "{ iptables: \"-P INPUT REJECT\" }"}.yaml(), "2:28",
       "a policy is ACCEPT or DROP, not \"REJECT\""},
      {"an iptables command nslab does not run", Lab{.a = "{ iptables: \"-F INPUT\" }"}.yaml(), "2:19",
       "only -A, -I, -P and -N build a lab's rules"},
      {"a hostname on two lines", Lab{.a = "{ hostname: \"a\\nb\" }"}.yaml(), "2:18",
       "hostname \"a\\x0ab\" may hold only letters, digits"},
      {"an environment variable with '='",
       Lab{.a = "{ run: [ { command: \"true\", exit: 0, env: { \"A=B\": 1 } } ] }"}.yaml(), "2:50",
       "environment variable \"A=B\" must be letters, digits and '_'"},
      {"a NUL in a command word", Lab{.a = "{ run: [ [ \"sle\\0ep\", \"1\" ] ] }"}.yaml(), "2:17",
       "a command word cannot hold a NUL character"},
  };
  for (const auto& c : cases) {
    auto e = scenario_errors(c.yaml);
    BOOST_TEST(has(e, std::string("lab.yaml:") + c.where + ": "), c.what << ":\n" << c.yaml << "\n-> " << e);
    BOOST_TEST(has(e, c.phrase), c.what << ":\n" << c.yaml << "\n-> " << e);
    BOOST_TEST(e.find('\r') == std::string::npos, c.what);  // control characters are shown escaped
  }
}

// Values `nslab validate` accepted and `nslab check` then refused without a
// position, hung on, or silently ignored (hostile tester, issue 12 follow-up).
BOOST_AUTO_TEST_CASE(what_check_would_refuse_or_ignore_validation_refuses) {
  const std::string run = "\n    run:\n      - ";
  const std::vector<Hostile> cases = {
      {"-P with a misspelt chain", Lab{.a = "{ iptables: \"-P FOWARD DROP\" }"}.yaml(), "2:22",
       "-P sets the policy of a built-in chain, and \"FOWARD\" is not one of table filter (INPUT, FORWARD, "
       "OUTPUT); did you mean \"FORWARD\"?"},
      {"-P with a user chain", Lab{.a = "\n    iptables: |\n      -N MINE\n      -P MINE DROP"}.yaml(), "5:10",
       "\"MINE\" is not one of table filter"},
      {"-P FORWARD in table nat", Lab{.a = "{ iptables: \"-t nat -P FORWARD ACCEPT\" }"}.yaml(), "2:29",
       "is not one of table nat (PREROUTING, INPUT, OUTPUT, POSTROUTING)"},
      {"-P INPUT in table raw", Lab{.a = "{ iptables: \"-t raw -P INPUT ACCEPT\" }"}.yaml(), "2:29",
       "is not one of table raw (PREROUTING, OUTPUT)"},
      {"-N of a built-in chain", Lab{.a = "{ iptables: \"-N INPUT\" }"}.yaml(), "2:22",
       "chain INPUT is built into table filter; -N makes a new chain"},
      {"nftables: monitor", Lab{.a = "\n    nftables: |\n      table inet t {\n      }\n      monitor"}.yaml(), "6:7",
       "nftables line 3: \"monitor\" is a command, not part of a ruleset (it watches events and never ends)"},
      {"nftables: list after a ';'", Lab{.a = "{ nftables: \"table inet t { }; list ruleset\" }"}.yaml(), "2:37",
       "\"list\" is a command, not part of a ruleset"},
      {"nftables: include", Lab{.a = "\n    nftables: |\n      include \"/dev/stdin\""}.yaml(), "4:7",
       "\"include\" is a command, not part of a ruleset (an inline ruleset includes nothing"},
      {"nftables: reset", Lab{.a = "\n    nftables: |\n        # counters\n        reset counters"}.yaml(), "5:9",
       "nftables line 2: \"reset\" is a command"},
      {"two run programs ready on one port",
       Lab{.a = run + "{ command: \"python3 -m http.server 8080\", ready: { tcp: 8080 } }" + run.substr(9) +
                "{ command: \"python3 -m http.server 8080\", ready: { tcp: 8080 } }"}
           .yaml(),
       "5:9", "node \"a\": two run programs are ready on tcp/8080 (the first at line 4, column 9)"},
      {"a run timeout of 0.5ms", Lab{.a = "{ run: [ { command: \"true\", exit: 0, timeout: 0.5ms } ] }"}.yaml(), "2:52",
       "timeout \"0.5ms\" is out of range: a run timeout is from 10ms to 1h"},
      {"a run timeout of 5ms",
       Lab{.a = "{ run: [ { command: \"sleep 9\", ready: { tcp: 80 }, timeout: 5ms } ] }"}.yaml(), "2:66",
       "a run timeout is from 10ms"},
      {"a probe timeout of 0.5ms", Lab{.before = "options: { timeout: 0.5ms }\n"}.yaml(), "1:21",
       "timeout \"0.5ms\" is out of range: a timeout is from 1ms"},
      {"a run timeout with neither exit nor ready",
       Lab{.a = "{ run: [ { command: \"sleep 9\", timeout: 2s } ] }"}.yaml(), "2:46",
       "a run timeout bounds the wait for \"exit\" or \"ready\", and this entry has neither"},
      {"exit and ready", Lab{.a = "{ run: [ { command: \"true\", exit: 0, ready: { tcp: 80 } } ] }"}.yaml(), "2:50",
       "a run entry with \"exit\" must end, so it is never \"ready\""},
      {"ready on tcp and udp", Lab{.a = "{ run: [ { command: \"sleep 9\", ready: { tcp: 80, udp: 53 } } ] }"}.yaml(),
       "2:60", "\"ready\" waits for one port: tcp or udp, not both"},
      {"a payload on an icmp probe",
       Lab{.after = kExpect + "{ from: a, to: b, icmp: reachable, payload: hello }\n"}.yaml(), "7:49",
       "payload needs a tcp or udp probe"},
      {"a UDP payload of 65001 bytes",
       Lab{.a = "{ services: [ udp/53 ] }",
           .after = kExpect + "{ from: b, to: a, udp: 53, payload: " + std::string(65001, 'x') + " }\n"}
           .yaml(),
       "7:41",
       "a UDP payload has at most 65000 bytes (one datagram holds the service's greeting and the echo), not "
       "65001"},
      {"an icmp matrix with a port", Lab{.after = kExpect + "matrix: { protocol: icmp, port: 80 }\n"}.yaml(), "7:37",
       "an icmp matrix has no port"},
      {"seen_from an IPv4-mapped address",
       Lab{.a = "{ services: [ tcp/80 ] }",
           .after = kExpect + "{ from: b, to: a, tcp: 80, seen_from: \"::ffff:10.0.0.2\" }\n"}
           .yaml(),
       "7:43", "seen_from \"::ffff:10.0.0.2\" is an IPv4-mapped address"},
      {"a NUL in a command expectation", Lab{.after = kExpect + "{ from: a, command: \"tr\\0ue\" }\n"}.yaml(), "7:25",
       "a command cannot hold a NUL character"},
  };
  for (const auto& c : cases) {
    auto e = scenario_errors(c.yaml);
    const std::string shown = c.yaml.substr(0, 400) + "\n-> " + e.substr(0, 400);
    BOOST_TEST(has(e, std::string("lab.yaml:") + c.where + ": "), c.what << ":\n" << shown);
    BOOST_TEST(has(e, c.phrase), c.what << ":\n" << shown);
  }
}

// What validation newly checks leaves the legitimate forms alone.
BOOST_AUTO_TEST_CASE(legitimate_neighbours_of_the_hostile_inputs_still_load) {
  for (const auto& yaml : {
           Lab{.links = "  - [ \"a:eth_0-1 10.0.0.1/31\", \"b:eth0 10.0.0.0/31\" ]\n"}.yaml(),  // /31: no broadcast
           Lab{.links = "  - [ \"a:eth0 fe80::1/64 169.254.0.1/16\", \"b:eth0 fe80::2/64 169.254.0.2/16\" ]\n",
           .after = kExpect + "{ from: a, to: b, icmp: reachable, family: ipv6 }\n"}
               .yaml(),
           Lab{.a = "{ services: [ tcp/80, udp/80 ], sysctl: { net.core.somaxconn: 1024, net.ipv4.conf.eth0.rp_filter: "
                    "0 } }"}
               .yaml(),
           Lab{.a = "{ routes: [ \"10.9.0.0/16 via 10.0.0.2 metric 2147483647\", default via 10.0.0.2 ] }"}.yaml(),
           Lab{.a = "{ iptables: \"-A INPUT -m comment --comment 'it''s #1' -j DROP  # a comment\" }"}.yaml(),
           Lab{.a = "{ iptables: \"-P FORWARD DROP\\n-t nat -P POSTROUTING ACCEPT\\n-t mangle -P FORWARD ACCEPT\\n"
                    "-t raw -P PREROUTING ACCEPT\\n-t security -P OUTPUT ACCEPT\\n-N MINE\\n-A INPUT -j MINE\" }"}
               .yaml(),
           // nft words that only look like the refused commands
           Lab{.a = "\n    nftables: |\n      # list, monitor\n      flush ruleset\n      table inet t {\n"
                    "        set listed { type ipv4_addr; }\n        chain c { type filter hook input priority 0;\n"
                    "          counter comment \"reset; list ruleset\"\n        }\n      }\n"
                    "      add rule inet t c ip saddr @listed drop"}
               .yaml(),
           Lab{.a = "\n    run:\n      - { command: \"sleep 9\", ready: { tcp: 8080 }, timeout: 10ms }\n"
                    "      - { command: \"sleep 9\", ready: { udp: 8080 } }\n      - { command: \"true\", exit: 0, "
                    "timeout: 1s }"}
               .yaml(),
           Lab{.a = "{ services: [ udp/53 ] }",
           .after = kExpect + "{ from: b, to: a, udp: 53, payload: " + std::string(65000, 'x') + " }\n" +
                    "  - matrix: { protocol: tcp, port: 80 }\n"}
               .yaml(),
           Lab{.before = "options: { timeout: 1ms, link_up_timeout: 3600s }\n",
           .links = "  - endpoints: [ \"a:eth0 10.0.0.1/24\", \"b:eth0 10.0.0.2/24\" ]\n"
                    "    impair: { rate: 40gbit, loss: 0.0001%, delay: 0ms, jitter: 60s }\n",
           .after = kExpect + "{ from: a, to: 10.0.0.9, icmp: blocked }\n"}
               .yaml(),
       }) {
    BOOST_TEST(scenario_errors(yaml).empty(), yaml << "\n-> " << scenario_errors(yaml));
  }
}

// A scenario without a name is named after its file, and never with nothing
// (JUnit suites and artifact directories carry the name).

BOOST_AUTO_TEST_CASE(the_default_name_is_never_empty) {
  const std::string yaml = Lab{}.yaml();
  BOOST_TEST(nslab::parse_scenario(yaml, "dir/lab.v2.yaml").name == "lab");
  BOOST_TEST(nslab::parse_scenario(yaml, "dir/.hidden.yaml").name == ".hidden");
  BOOST_TEST(nslab::parse_scenario(yaml, "dir/.yaml").name == ".yaml");
  BOOST_TEST(nslab::parse_scenario("name: \"\"\n" + yaml, "dir/.x").name == ".x");
  BOOST_TEST(nslab::parse_scenario(yaml, "dir/").name == "scenario");
}

// A sysctl carries its own position: the build reports a key the namespace
// refuses there, not at the node.
BOOST_AUTO_TEST_CASE(sysctls_keep_their_position) {
  auto s = nslab::parse_scenario(
      Lab{.a = "\n    sysctl:\n      net.ipv4.ip_forward: 1\n      net.ipv4.no_such: 2"}.yaml(), "lab.yaml");
  const auto& sysctls = s.topology.node("a").sysctls;
  BOOST_REQUIRE_EQUAL(sysctls.size(), 2u);
  BOOST_TEST(sysctls[1].key == "net.ipv4.no_such");
  BOOST_TEST(sysctls[1].value == "2");
  BOOST_TEST(sysctls[1].where.str() == "lab.yaml:5:7");
}

BOOST_AUTO_TEST_SUITE_END()
