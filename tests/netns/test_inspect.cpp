// `nslab inspect LAB` and `nslab logs LAB [NODE]` on a kept lab: what the
// kernel holds in each node (addresses, routes, iptables and nftables rules,
// hostname) and what the keeper knows of its programs (pid, running or
// exited with which code, their output) and services — in text, and in JSON
// read back by python3's json module.
#include <boost/test/unit_test.hpp>

#include "kept_labs.h"

using namespace nslab::testing::kept;
using namespace std::chrono_literals;
using nslab::testing::has;

namespace {

const char* kRouted = R"(name: inspected
nodes:
  router:
    hostname: gw1
    sysctl: { net.ipv4.ip_forward: 1 }
    iptables: |
      -A FORWARD -p tcp --dport 23 -j REJECT
    nftables: |
      table inet guard {
        chain input { type filter hook input priority 0; tcp dport 2323 drop; }
      }
    run: [ "echo started-in-router; exec sleep 600" ]
  red:
    routes: [ default via 10.0.1.254 ]
    services: [ tcp/80 ]
    run: [ { command: "echo bye from red; exit 3", exit: 3 } ]
links:
  - [ "red:eth0 10.0.1.1/24", "router:eth0 10.0.1.254/24" ]
)";

bool matches(const std::string& text, const std::string& re) {
  return std::regex_search(text, std::regex(re));
}

// The text of one node's block of `nslab inspect` (up to the next node).
std::string node_block(const std::string& text, const std::string& node) {
  auto start = text.find("\nnode " + node + " ");
  if (start == std::string::npos) return {};
  auto end = text.find("\nnode ", start + 1);
  return text.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(inspect, KeptLabs)

BOOST_AUTO_TEST_CASE(inspect_shows_nodes_rules_and_programs) {
  const std::string err = scratch + "/up.err";
  auto up = sh(nslab_cmd("up --name insp " + write("lab.yaml", kRouted)) + " 2>" + err);
  BOOST_TEST_REQUIRE(up.status == 0, up.out << slurp(err));
  auto r = sh(nslab_cmd("inspect insp") + " 2>&1");
  BOOST_TEST_REQUIRE(r.status == 0, r.out);
  BOOST_TEST(matches(r.out, "^lab insp  \\(scenario \\S+lab.yaml\\)  keeper pid \\d+: running"), r.out);

  const std::string router = node_block(r.out, "router"), red = node_block(r.out, "red");
  BOOST_TEST(has(router, "node router  (hostname gw1)  /run/netns/insp-router"), router);
  BOOST_TEST(matches(router, "\n    eth0@\\S+ +[A-Z]+ +10\\.0\\.1\\.254/24\n"), router);
  BOOST_TEST(has(router, "\n  iptables\n"), router);
  BOOST_TEST(has(router, "-A FORWARD -p tcp -m tcp --dport 23 -j REJECT --reject-with icmp-port-unreachable"), router);
  BOOST_TEST(has(router, "\n  nftables\n    table inet guard {"), router);
  BOOST_TEST(has(router, "tcp dport 2323 drop"), router);
  // iptables' own tables are shown once, in iptables-save's form.
  BOOST_TEST(!has(router, "table ip filter"), router);
  BOOST_TEST(matches(router, "\n  programs\n    pid \\d+ +running +sh -c echo started-in-router; exec sleep 600"),
             router);

  BOOST_TEST(has(red, "node red  /run/netns/insp-red"), red);
  BOOST_TEST(matches(red, "\n  routes\n    default via 10\\.0\\.1\\.254 dev eth0"), red);
  BOOST_TEST(!has(red, "iptables"), red);
  BOOST_TEST(matches(red, "pid \\d+ +exited 3 +sh -c echo bye from red; exit 3"), red);
  BOOST_TEST(has(red, "\n  services\n    tcp/80 (built-in responder)"), red);
  // The pid is the program's: iproute2 in the node sees the same addresses.
  auto witness = sh(nslab_cmd("exec insp router -- ip -br address show dev eth0"));
  BOOST_TEST(has(witness.out, "10.0.1.254/24"), witness.out);

  // The same in JSON, as python3 reads it.
  auto facts = sh(nslab_cmd("inspect --json insp") +
                  " | python3 -c 'import json,sys\n"
                  "d=json.load(sys.stdin); n={x[\"name\"]: x for x in d[\"nodes\"]}\n"
                  "r=n[\"router\"]; red=n[\"red\"]\n"
                  "print(\"lab\", d[\"lab\"], d[\"keeper\"][\"state\"])\n"
                  "print(\"hostname\", r[\"hostname\"], red[\"hostname\"])\n"
                  "a=[i[\"local\"] for l in r[\"addresses\"] if l[\"ifname\"]==\"eth0\" for i in l[\"addr_info\"] "
                  "if i[\"family\"]==\"inet\"]\n"
                  "print(\"addr\", a)\n"
                  "print(\"default\", [x[\"gateway\"] for x in red[\"routes\"] if x[\"dst\"]==\"default\"])\n"
                  "print(\"nft\", [t[\"table\"][\"name\"] for t in r[\"nftables\"][\"nftables\"] if \"table\" in t])\n"
                  "print(\"iptables\", \"--dport 23\" in r[\"iptables\"])\n"
                  "print(\"programs\", [(p[\"state\"], p[\"exit\"]) for p in red[\"programs\"]], "
                  "[p[\"state\"] for p in r[\"programs\"]])\n"
                  "print(\"services\", red[\"services\"])'");
  BOOST_TEST(facts.status == 0, facts.out);
  BOOST_TEST(has(facts.out, "lab insp running\n"), facts.out);
  BOOST_TEST(has(facts.out, "hostname gw1 None\n"), facts.out);
  BOOST_TEST(has(facts.out, "addr ['10.0.1.254']\n"), facts.out);
  BOOST_TEST(has(facts.out, "default ['10.0.1.254']\n"), facts.out);
  BOOST_TEST(has(facts.out, "'guard'"), facts.out);
  BOOST_TEST(has(facts.out, "iptables True\n"), facts.out);
  BOOST_TEST(has(facts.out, "programs [('exited', 3)] ['running']\n"), facts.out);
  BOOST_TEST(has(facts.out, "services ['tcp/80']\n"), facts.out);

  BOOST_TEST(sh(nslab_cmd("down insp")).status == 0);
  auto gone = sh(nslab_cmd("inspect insp"));
  BOOST_TEST(gone.status == 2, gone.out);
  BOOST_TEST(has(gone.out, "no lab \"insp\" is up"), gone.out);
}

BOOST_AUTO_TEST_CASE(logs_show_each_programs_output) {
  const std::string err = scratch + "/up.err";
  auto up = sh(nslab_cmd("up --name logged " + write("lab.yaml", kRouted)) + " 2>" + err);
  BOOST_TEST_REQUIRE(up.status == 0, up.out << slurp(err));
  auto all = sh(nslab_cmd("logs logged"));
  BOOST_TEST(all.status == 0, all.out);
  BOOST_TEST(matches(all.out,
                     "==> router: sh -c echo started-in-router; exec sleep 600 \\(pid \\d+, running\\) <==\n"
                     "started-in-router\n"),
             all.out);
  BOOST_TEST(matches(all.out, "==> red: sh -c echo bye from red; exit 3 \\(pid \\d+, exited 3\\) <==\nbye from red\n"),
             all.out);
  auto red = sh(nslab_cmd("logs logged red"));
  BOOST_TEST(has(red.out, "bye from red"), red.out);
  BOOST_TEST(!has(red.out, "started-in-router"), red.out);
  auto none = sh(nslab_cmd("logs logged nosuch"));
  BOOST_TEST(none.status == 2, none.out);
  BOOST_TEST(has(none.out, "lab logged has no node \"nosuch\" (nodes: router red)"), none.out);
}

// A lab whose keeper died cannot be asked: inspect and logs say so and point
// to `down`.
BOOST_AUTO_TEST_CASE(inspect_of_an_orphaned_lab_says_so) {
  std::string id = up(write("lab.yaml", kLab));
  pid_t keeper = keeper_of(record(id));
  BOOST_REQUIRE(::kill(keeper, SIGKILL) == 0);
  BOOST_TEST_REQUIRE(gone_within(keeper, 5s));
  for (const char* cmd : {"inspect", "logs"}) {
    auto r = sh(nslab_cmd(fmt::format("{} {}", cmd, id)));
    BOOST_TEST(r.status == 1, cmd << ": " << r.out);
    BOOST_TEST(has(r.out, fmt::format("lab {} is not running: the keeper (pid {}) has exited", id, keeper)),
               cmd << ": " << r.out);
  }
}

BOOST_AUTO_TEST_SUITE_END()
