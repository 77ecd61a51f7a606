// Open vSwitch bridges (nslab/ovs.h), checked by OVS's own tools run inside
// the switch node against the lab's private database (ovs-vsctl show,
// ovs-ofctl dump-flows with packet counts), by real clients and captures.
// Skipped (exit 4) where Open vSwitch is not installed.
#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <regex>
#include <thread>

#include "leak_scan.h"
#include "nslab/lab_fixture.h"
#include "nslab/witness.h"
#include "ovs_daemons.h"
#include "scenario_errors.h"
#include "text.h"

using namespace std::chrono_literals;
using nslab::Verdict;
using nslab::testing::has;

namespace {

const nslab::TestPrecondition ovs_installed{[]() -> std::optional<std::string> {
  if (auto why = nslab::detail::ovs_missing(); !why.empty()) return why;
  return std::nullopt;
}};

// The article's three namespaces on v-net-0 in node host, as a Linux or an
// OVS bridge; blue and green answer on tcp/80 and udp/53.
nslab::Topology three(bool ovs, nslab::OvsOptions o = {}) {
  nslab::Topology t(ovs ? "ovs-three" : "linux-three");
  auto& host = t.add_node("host");
  if (ovs)
    host.ovs_bridge("v-net-0", std::move(o));
  else
    host.bridge("v-net-0");
  for (const char* n : {"red", "blue", "green"}) {
    auto& node = t.add_node(n);
    node.service(nslab::Protocol::tcp, 80).service(nslab::Protocol::udp, 53);
  }
  t.link("red:red-veth 192.168.1.1/24", "host:veth-red@v-net-0");
  t.link("blue:blue-veth 192.168.1.2/24", "host:veth-blue@v-net-0");
  t.link("green:green-veth 192.168.1.3/24", "host:veth-green@v-net-0");
  return t;
}

// An OVS tool inside the node, against the lab's own daemons.
nslab::ProcessResult ovs(nslab::Lab& lab, const std::string& node, const std::string& command) {
  std::string env;
  for (const auto& [k, v] : lab.ovs_environment(node)) env += k + "=" + v + " ";
  BOOST_TEST_REQUIRE(!env.empty(), "node " << node << " has no Open vSwitch");
  return nslab::run_in_node(lab.node(node), env + command);
}

// n_packets of the dump-flows line that contains `match`, or -1.
long packets_of(const std::string& dump, const std::string& match) {
  std::istringstream in(dump);
  std::string line;
  static const std::regex n(R"(n_packets=(\d+))");
  while (std::getline(in, line)) {
    std::smatch m;
    if (has(line, match) && std::regex_search(line, m, n)) return std::stol(m[1]);
  }
  return -1;
}

std::vector<nslab::MatrixSpec> matrices() {
  std::vector<nslab::MatrixSpec> out;
  for (auto [p, port] : {std::pair{nslab::Protocol::icmp, 0}, {nslab::Protocol::tcp, 80}, {nslab::Protocol::udp, 53}})
    out.push_back(nslab::MatrixSpec{.protocol = p,
                                    .port = static_cast<std::uint16_t>(port),
                                    .nodes = {"red", "blue", "green"},
                                    .default_verdict = Verdict::reachable});
  return out;
}

// Processes whose command line mentions `text`, anywhere on the machine.
int processes_mentioning(const std::string& text) {
  int found = 0;
  DIR* d = ::opendir("/proc");
  if (!d) return 0;
  while (auto* e = ::readdir(d)) {
    if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
    int fd = ::open((std::string("/proc/") + e->d_name + "/cmdline").c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    std::string cmd;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) cmd.append(buf, static_cast<std::size_t>(n));
    ::close(fd);
    if (cmd.find(text) != std::string::npos) ++found;
  }
  ::closedir(d);
  return found;
}

bool gone_within(const std::string& dir, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  struct stat st {};
  while (::stat(dir.c_str(), &st) == 0 || processes_mentioning(dir) > 0) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(ovs_bridges, nslab::LabFixture)

// The same matrices (ICMP, TCP, UDP) on a Linux bridge and on OVS; OVS's
// tools show the bridge, its ports and the NORMAL flow that forwarded them.
BOOST_AUTO_TEST_CASE(the_article_lab_on_ovs_answers_as_on_a_linux_bridge) {
  std::vector<std::string> linux_tables;
  {
    build(three(false));
    for (const auto& m : matrices()) linux_tables.push_back(check_matrix(m).observed.render(m.str()));
    destroy_lab();
  }
  auto& lab = build(three(true));
  auto specs = matrices();
  for (std::size_t i = 0; i < specs.size(); ++i)
    BOOST_TEST(check_matrix(specs[i]).observed.render(specs[i].str()) == linux_tables[i]);
  auto show = ovs(lab, "host", "ovs-vsctl show");
  BOOST_TEST(show.ok(), show.output);
  for (const char* want : {"Bridge v-net-0", "datapath_type: netdev", "fail_mode: standalone", "Port veth-red",
                           "Port veth-blue", "Port veth-green"})
    BOOST_TEST(has(show.output, want), show.output);
  auto flows = ovs(lab, "host", "ovs-ofctl dump-flows v-net-0");
  BOOST_TEST(flows.ok(), flows.output);
  BOOST_TEST(packets_of(flows.output, "actions=NORMAL") > 0, flows.output);
  // No machine-wide daemon: the socket is in the lab's directory.
  BOOST_TEST(has(lab.ovs_environment("host").at("OVS_RUNDIR"), "/tmp/nslab-ovs-"));
  // Not a Linux bridge: the kernel has no bridge called v-net-0, and the
  // ports have no master.
  auto links = nslab::run_in_node(lab.node("host"), "ip -d link show");
  BOOST_TEST(!has(links.output, "bridge_id"), links.output);
  BOOST_TEST(!has(links.output, "master v-net-0"), links.output);
}

// fail_mode secure with no flows: a switch without a controller forwards
// nothing; its flow table is empty.
BOOST_AUTO_TEST_CASE(secure_without_flows_passes_nothing) {
  auto& lab = build(three(true, {.fail_mode = nslab::OvsFailMode::secure}));
  check_matrix({.nodes = {"red", "blue", "green"}, .default_verdict = Verdict::blocked});
  auto flows = ovs(lab, "host", "ovs-ofctl dump-flows v-net-0");
  BOOST_TEST(flows.ok(), flows.output);
  BOOST_TEST(!has(flows.output, "actions="), flows.output);
  BOOST_TEST(has(ovs(lab, "host", "ovs-vsctl get-fail-mode v-net-0").output, "secure"));
}

// With ARP resolved on the wire (no static neighbours), a flow that drops
// ARP from red's port cuts red off alone; its counter saw red's requests.
BOOST_AUTO_TEST_CASE(a_flow_drops_arp_from_one_port) {
  nslab::OvsOptions o;
  o.flows(
      "# red may not resolve anyone\n"
      "priority=100,arp,in_port=veth-red actions=drop\n");
  nslab::LabOptions options;
  options.static_neighbours = false;
  auto& lab = build(three(true, o), options);
  check_matrix({.nodes = {"red", "blue", "green"},
                .default_verdict = Verdict::reachable,
                .exceptions = {{.from = "red", .to = "blue", .verdict = Verdict::blocked},
                               {.from = "red", .to = "green", .verdict = Verdict::blocked},
                               {.from = "blue", .to = "red", .verdict = Verdict::blocked},
                               {.from = "green", .to = "red", .verdict = Verdict::blocked}}});
  auto flows = ovs(lab, "host", "ovs-ofctl dump-flows v-net-0");
  BOOST_TEST(packets_of(flows.output, "priority=100,arp,in_port=") > 0, flows.output);
  BOOST_TEST(packets_of(flows.output, "actions=NORMAL") > 0, flows.output);
  // Without the flow, red resolves blue: the drop was the flow's doing.
  auto del = ovs(lab, "host", "ovs-ofctl del-flows v-net-0 arp,in_port=veth-red");
  BOOST_TEST(del.ok(), del.output);
  BOOST_TEST(!has(ovs(lab, "host", "ovs-ofctl dump-flows v-net-0").output, "arp"));
  check_probe({.from = "red", .to = "blue"}, Verdict::reachable, {.timeout = 3s});
}

// A flow that sends red's pings for blue to green's port with a new
// destination MAC: the capture on green sees them, with that MAC; blue
// never answers.
BOOST_AUTO_TEST_CASE(a_flow_rewrites_the_destination_mac) {
  nslab::OvsOptions o;
  o.flows("priority=100,icmp,nw_dst=192.168.1.2 actions=mod_dl_dst:02:00:00:00:00:99,output:veth-green\n");
  auto& lab = build(three(true, o));
  auto& green = capture("green:green-veth", "icmp");
  auto& blue = capture("blue:blue-veth", "icmp");
  check_ping("red", "blue", Verdict::blocked);
  BOOST_TEST(green.count("ether dst 02:00:00:00:00:99 and dst host 192.168.1.2") >= 1u);
  BOOST_TEST(blue.count() == 0u);
  auto flows = ovs(lab, "host", "ovs-ofctl dump-flows v-net-0");
  BOOST_TEST(packets_of(flows.output, "mod_dl_dst:02:00:00:00:00:99") > 0, flows.output);
}

// A flow ovs-ofctl cannot parse: a ConfigError at that flow's own line and
// column of the scenario, and nothing of the lab stays.
BOOST_AUTO_TEST_CASE(a_bad_flow_is_an_error_at_its_line) {
  const std::string yaml =
      "nodes:\n"
      "  host:\n"
      "    bridges:\n"
      "      br0:\n"
      "        kind: ovs\n"
      "        openflow: |\n"
      "          # fine\n"
      "          priority=10,arp actions=normal\n"
      "            priority=5,ip,nw_dst=10.0.0.9 actions=output:no-such-port\n"
      "  red:\n"
      "links: [ [ \"red:eth0 10.0.0.1/24\", \"host:p-red@br0\" ] ]\n";
  auto s = nslab::parse_scenario(yaml, "bad.yaml");
  try {
    nslab::Lab lab(s.topology, s.lab_options);
    BOOST_FAIL("the lab was built");
  } catch (const nslab::ConfigError& e) {
    BOOST_TEST(e.where().line == 9, e.what());
    BOOST_TEST(e.where().column == 13, e.what());
    BOOST_TEST(has(e.what(), "no-such-port"), e.what());
  }
}

// The lab's daemons and directory go with the lab, and with a SIGKILLed
// nslab: no ovs process, no directory, no namespace left.
BOOST_AUTO_TEST_CASE(nothing_of_ovs_survives_the_lab_or_a_sigkill) {
  std::string dir;
  {
    nslab::Lab lab(three(true));
    dir = lab.ovs_environment("host").at("OVS_RUNDIR");
    BOOST_TEST(processes_mentioning(dir) == 2);  // ovsdb-server, ovs-vswitchd
  }
  BOOST_TEST(gone_within(dir, 0ms), dir << " or a daemon of it survived the lab");

  auto before = nslab::testing::take_census();
  auto child = nslab::testing::spawn_lab_child(
      three(true), [](nslab::Lab& lab) { return lab.ovs_environment("host").at("OVS_RUNDIR"); });
  BOOST_REQUIRE(child.pid > 0);
  pid_t pid = child.pid;
  auto line = nslab::testing::read_child_line(child.fd);
  ::close(child.fd);
  BOOST_TEST_REQUIRE(line.has_value(), "the child did not build its lab");
  const std::string child_dir = *line;
  BOOST_TEST(processes_mentioning(child_dir) == 2);
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  BOOST_TEST(gone_within(child_dir, 5s), child_dir << " or a daemon of it survived the SIGKILL");
  BOOST_TEST(nslab::testing::new_namespaces(before, nslab::testing::take_census()).empty());
}

// nslab's own switch, without flows, is watched rather than waited out: a
// switch that holds frames (stopped, its packet sockets filling) is not
// silence, and the echo it forwards once it runs again is answered; an
// address nobody has is `blocked` as soon as the lab is still (ping agrees).
BOOST_AUTO_TEST_CASE(a_switch_without_flows_is_watched_for_stillness) {
  auto& lab = build(three(true));
  int pid = 0;
  for (auto* p : lab.processes())
    if (has(p->label(), "ovs-vswitchd")) pid = p->pid();
  BOOST_TEST_REQUIRE(pid > 0);
  BOOST_TEST_REQUIRE(::kill(pid, SIGSTOP) == 0);
  std::thread resume([pid] {
    std::this_thread::sleep_for(400ms);
    ::kill(pid, SIGCONT);
  });
  auto t0 = std::chrono::steady_clock::now();
  auto late = lab.probe(nslab::Probe{.from = "red", .to = "blue"}, {.timeout = 3s});
  auto waited = std::chrono::steady_clock::now() - t0;
  resume.join();
  BOOST_TEST(late.verdict == Verdict::reachable, late.detail);
  BOOST_TEST(waited >= 350ms);

  auto nobody = lab.probe(nslab::Probe{.from = "red", .to = "192.168.1.254"}, {.timeout = 1500ms});
  BOOST_TEST(nobody.verdict == Verdict::blocked);
  BOOST_TEST(has(nobody.detail, "the lab was still after each"), nobody.detail);
  auto ping = nslab::run_in_node(lab.node("red"), "ping -c1 -W1 192.168.1.254");
  BOOST_TEST(!ping.ok(), ping.output);
}

// Flows may answer for addresses no node has or hold packets: a blocked
// probe then waits out its timeout, and says why.
BOOST_AUTO_TEST_CASE(a_switch_with_flows_makes_probes_wait) {
  nslab::OvsOptions o;
  o.flows("priority=0 actions=NORMAL\n");
  auto& lab = build(three(true, o));
  auto r = lab.probe(nslab::Probe{.from = "red", .to = "192.168.1.254"}, {.timeout = 300ms});
  BOOST_TEST(r.verdict == Verdict::blocked);
  BOOST_TEST(has(r.detail, "no answer within 300 ms (waited it out: Open vSwitch bridge \"host:v-net-0\" has flows"),
             r.detail);
}

BOOST_AUTO_TEST_SUITE_END()
