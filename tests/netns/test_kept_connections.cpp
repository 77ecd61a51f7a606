// Kept connections (nslab/connection.h): a TCP connection opened before a
// firewall reload and used after it. Every verdict is checked against
// independent witnesses: the firewall's own conntrack table (`conntrack -L`),
// a real client (an `nc` connection opened at the same moment, and `nc -z`
// for new connections) and packets captured on both sides of the firewall.
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fmt/format.h>
#include <thread>

#include "nslab/lab_fixture.h"
#include "nslab/scenario_run.h"
#include "nslab/witness.h"
#include "scratch.h"
#include "text.h"

using nslab::Verdict;
using nslab::testing::has;
using nslab::testing::Scratch;

namespace {

// client -- fw -- web: fw forwards new tcp/80 from the lan and whatever
// conntrack knows as established.
const char* kStateful = R"(name: stateful
options: { timeout: 500ms }
nodes:
  fw:
    sysctl: { net.ipv4.ip_forward: 1 }
    iptables: |
      -P FORWARD DROP
      -A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
      -A FORWARD -i lan -p tcp --dport 80 -j ACCEPT
      -A FORWARD -i lan -p udp --dport 53 -j ACCEPT
  client: { routes: [ default via 10.1.0.1 ] }
  web: { routes: [ default via 10.2.0.1 ], services: [ tcp/80, udp/53 ] }
links:
  - [ "client:eth0 10.1.0.10/24", "fw:lan 10.1.0.1/24" ]
  - [ "fw:dmz 10.2.0.1/24", "web:eth0 10.2.0.10/24" ]
expect:
  - { from: client, to: web, tcp: 80, verdict: reachable }
)";

const char* kEstablishedOnly =
    "-P FORWARD DROP\n"
    "-A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT\n";

const nslab::Probe kWeb{.from = "client", .to = "web", .protocol = nslab::Protocol::tcp, .port = 80};

std::string witness(const nslab::Node& n, const std::string& command) {
  auto r = nslab::run_in_node(n, command);
  BOOST_TEST_REQUIRE(r.status == 0, command << ": " << r.output);
  return r.output;
}

void reload(nslab::Lab& lab, const char* iptables) {
  nslab::FirewallRules rules;
  rules.iptables.text = iptables;
  lab.node("fw").replace_rules(rules);
}

// The conntrack entry of the connection from `sport` to web:80, as
// `conntrack -L` prints it ("" when there is none).
std::string entry_of(nslab::Lab& lab, std::uint16_t sport) {
  std::string all = witness(lab.node("fw"), "conntrack -L -p tcp --dport 80 2>/dev/null");
  std::string key = fmt::format("sport={} ", sport);
  std::size_t at = all.find(key);
  if (at == std::string::npos) return "";
  std::size_t begin = all.rfind('\n', at);
  begin = begin == std::string::npos ? 0 : begin + 1;
  return all.substr(begin, all.find('\n', at) - begin);
}

// A real client: `nc` connected to web:80 with its input from a FIFO that
// the test writes lines into; what comes back is its log.
class NcClient {
 public:
  NcClient(nslab::Lab& lab, const Scratch& s) : fifo_(s.dir + "/nc.in") {
    BOOST_TEST_REQUIRE(::mkfifo(fifo_.c_str(), 0600) == 0);
    // Read-write: open() does not wait for nc, and nc never sees EOF.
    fd_ = ::open(fifo_.c_str(), O_RDWR | O_CLOEXEC);
    BOOST_TEST_REQUIRE(fd_ >= 0);
    process_ = &lab.start("client", nslab::ProcessSpec{.argv = {"sh", "-c", "exec nc 10.2.0.10 80 < " + fifo_}});
  }
  ~NcClient() { ::close(fd_); }
  NcClient(const NcClient&) = delete;
  NcClient& operator=(const NcClient&) = delete;

  // Sends a line; true when it came back (echoed by web) within `wait`.
  bool echoes(const std::string& line, std::chrono::milliseconds wait) {
    std::string text = line + "\n";
    BOOST_TEST_REQUIRE(::write(fd_, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
    return appears(text, wait);
  }
  bool appears(const std::string& text, std::chrono::milliseconds wait) {
    auto until = std::chrono::steady_clock::now() + wait;
    while (std::chrono::steady_clock::now() < until) {
      if (has(process_->log(), text)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));  // polling a log: no event to wait on
    }
    return has(process_->log(), text);
  }
  nslab::Process& process() { return *process_; }

 private:
  std::string fifo_;
  int fd_ = -1;
  nslab::Process* process_ = nullptr;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(kept_connections)

BOOST_FIXTURE_TEST_CASE(an_established_only_reload_keeps_the_connection_as_it_keeps_nc_s, nslab::LabFixture) {
  Scratch s("nslab-kept");
  auto& lab = load(s.write("stateful.yaml", kStateful));
  nslab::ProbeOptions quick{.timeout = std::chrono::milliseconds(500)};
  NcClient nc(lab, s);
  BOOST_TEST_REQUIRE(nc.appears("web 10.1.0.10\n", std::chrono::seconds(3)), nc.process().log());  // greeted
  BOOST_TEST(nc.echoes("before the reload", std::chrono::seconds(1)));
  auto& kept = open_connection(kWeb);
  BOOST_TEST_REQUIRE(kept.is_open());
  BOOST_TEST(kept.opened().served_by == "web");
  std::uint16_t sport = kept.local_port();
  BOOST_TEST(has(entry_of(lab, sport), "ESTABLISHED"), entry_of(lab, sport));
  check_exchange(kept, Verdict::reachable);

  reload(lab, kEstablishedOnly);
  BOOST_TEST(has(witness(lab.node("fw"), "iptables -S FORWARD"), "-A FORWARD -m conntrack --ctstate"));
  BOOST_TEST(!has(witness(lab.node("fw"), "iptables -S FORWARD"), "--dport 80"));
  // New connections: blocked, for nslab and for nc.
  check_probe(kWeb, Verdict::blocked, quick);
  BOOST_TEST(nslab::run_in_node(lab.node("client"), "nc -z -w 1 10.2.0.10 80").status != 0);
  // Established ones: through, for both; conntrack still has them.
  auto cap_web = lab.capture("web:eth0", fmt::format("tcp src port {}", sport));
  auto r = check_exchange(kept, Verdict::reachable, "after the reload\n");
  BOOST_TEST(r.echo.value_or("") == "after the reload\n");
  BOOST_TEST_MESSAGE(fmt::format("opened in {:.2f} ms, exchange after the reload in {:.3f} ms",
                                 static_cast<double>(kept.opened().rtt.count()) / 1000,
                                 static_cast<double>(r.rtt.count()) / 1000));
  BOOST_TEST(nc.echoes("after the reload", std::chrono::seconds(1)), nc.process().log());
  cap_web.stop();
  BOOST_TEST(cap_web.count("tcp[tcpflags] & tcp-push != 0") >= 1u);  // the data reached web
  BOOST_TEST(has(entry_of(lab, sport), "ESTABLISHED"), entry_of(lab, sport));
  BOOST_TEST(has(entry_of(lab, sport), "[ASSURED]"), entry_of(lab, sport));

  // conntrack forgets: the next segment is a new flow to the firewall, and
  // only established ones pass. The segment reaches fw and goes no further.
  BOOST_TEST(has(witness(lab.node("fw"), "conntrack -F 2>&1"), "emptied"));
  auto cap_lan = lab.capture("fw:lan", fmt::format("tcp src port {}", sport));
  auto cap_dmz = lab.capture("fw:dmz", fmt::format("tcp src port {}", sport));
  r = check_exchange(kept, Verdict::blocked, "after the flush\n");
  BOOST_TEST(has(r.detail, "no answer over the kept connection"), r.detail);
  BOOST_TEST(!nc.echoes("after the flush", std::chrono::seconds(1)), nc.process().log());
  cap_lan.stop();
  cap_dmz.stop();
  BOOST_TEST(cap_lan.packets().size() >= 1u);
  BOOST_TEST(cap_dmz.packets().size() == 0u);
  BOOST_TEST(entry_of(lab, sport).empty(), entry_of(lab, sport));  // never confirmed again
}

BOOST_FIXTURE_TEST_CASE(a_reset_after_the_reload_is_refused_and_a_drop_all_is_blocked, nslab::LabFixture) {
  Scratch s("nslab-kept");
  auto& lab = load(s.write("stateful.yaml", kStateful));
  auto& reset = open_connection(kWeb);
  auto& dropped = open_connection(kWeb);
  BOOST_TEST_REQUIRE((reset.is_open() && dropped.is_open()));
  BOOST_TEST(reset.local_port() != dropped.local_port());
  // The first one's segments answered with a reset, the second's dropped.
  reload(lab, fmt::format("-P FORWARD DROP\n"
                          "-A FORWARD -p tcp --sport {} -j REJECT --reject-with tcp-reset\n",
                          reset.local_port())
                  .c_str());
  auto r = check_exchange(reset, Verdict::refused);
  BOOST_TEST(has(r.detail, "connection reset (TCP RST)"), r.detail);
  // A witness: the REJECT rule's own packet counter.
  std::string hits = witness(lab.node("fw"), "iptables -L FORWARD -v -n -x | awk '/REJECT/ { print $1 }'");
  BOOST_TEST(std::stoi(hits) >= 1, hits);
  r = check_exchange(dropped, Verdict::blocked);
  BOOST_TEST(has(r.detail, "unacknowledged"), r.detail);
  // A refused connection stays refused: its socket is reset.
  check_exchange(reset, Verdict::refused);
}

// An ICMP error for a segment of an established connection: the verdict a
// probe gets for it, read at once through IP_RECVERR (a client without it
// retransmits until it gives up, then reports the same error). The socket
// learns the errno only, not the sender.
BOOST_FIXTURE_TEST_CASE(an_icmp_error_for_a_kept_connection_is_its_verdict, nslab::LabFixture) {
  Scratch s("nslab-kept");
  auto& lab = load(s.write("stateful.yaml", kStateful));
  auto& port = open_connection(kWeb);
  auto& admin = open_connection(kWeb);
  BOOST_TEST_REQUIRE((port.is_open() && admin.is_open()));
  reload(lab, fmt::format("-P FORWARD DROP\n"
                          "-A FORWARD -p tcp --sport {} -j REJECT\n"
                          "-A FORWARD -p tcp --sport {} -j REJECT --reject-with icmp-admin-prohibited\n",
                          port.local_port(), admin.local_port())
                  .c_str());
  auto r = check_exchange(port, Verdict::refused);
  BOOST_TEST(has(r.detail, "ICMP port unreachable (Connection refused)"), r.detail);
  r = check_exchange(admin, Verdict::unreachable);
  BOOST_TEST(has(r.detail, "ICMP host unreachable or prohibited (No route to host)"), r.detail);
}

BOOST_FIXTURE_TEST_CASE(a_kept_udp_flow_rides_its_conntrack_entry, nslab::LabFixture) {
  Scratch s("nslab-kept");
  auto& lab = load(s.write("stateful.yaml", kStateful));
  nslab::Probe dns{.from = "client", .to = "web", .protocol = nslab::Protocol::udp, .port = 53};
  auto& flow = open_connection(dns);
  BOOST_TEST_REQUIRE(flow.is_open());
  std::string table = witness(lab.node("fw"), "conntrack -L -p udp --dport 53 2>/dev/null");
  BOOST_TEST(has(table, fmt::format("sport={} ", flow.local_port())), table);
  reload(lab, kEstablishedOnly);
  check_probe(dns, Verdict::blocked, {.timeout = std::chrono::milliseconds(500)});
  check_exchange(flow, Verdict::reachable, "same flow\n");
  BOOST_TEST(has(witness(lab.node("fw"), "conntrack -F 2>&1"), "emptied"));
  check_exchange(flow, Verdict::blocked);
  // A REJECT answers the flow's next datagram: the ICMP error with its sender.
  reload(lab, "-A FORWARD -p udp -j REJECT\n");
  auto r = check_exchange(flow, Verdict::refused);
  BOOST_TEST(has(r.detail, "ICMP port unreachable from 10.1.0.1"), r.detail);
}

BOOST_FIXTURE_TEST_CASE(an_icmp_probe_cannot_be_kept_and_a_blocked_open_holds_nothing, nslab::LabFixture) {
  Scratch s("nslab-kept");
  auto& lab = load(s.write("stateful.yaml", kStateful));
  BOOST_CHECK_THROW(lab.open_connection(nslab::Probe{.from = "client", .to = "web"}), nslab::ConfigError);
  reload(lab, kEstablishedOnly);
  auto& c = open_connection(kWeb, Verdict::blocked, {.timeout = std::chrono::milliseconds(300)});
  BOOST_TEST(!c.is_open());
  BOOST_TEST(c.local_port() == 0);
  try {
    c.exchange();
    BOOST_TEST(false, "an exchange over a connection never opened must throw");
  } catch (const nslab::Error& e) {
    BOOST_TEST(has(e.what(), "is not open (opening it was blocked"), e.what());
  }
}

// The scenario file: nslab check passes it, and the same file with a wrong
// expectation fails at that expectation's line with the evidence.
BOOST_AUTO_TEST_CASE(the_example_scenario_passes_and_a_wrong_kept_verdict_fails_with_evidence) {
  std::string file = std::string(NSLAB_SCENARIOS) + "/steps/rule-reload-keeps-established.yaml";
  auto ok = nslab::run_command(std::string(NSLAB_BINARY) + " check " + file + " 2>&1");
  BOOST_TEST(ok.status == 0, ok.output);
  BOOST_TEST(has(ok.output, "kept page (client -> web tcp/80): reachable"), ok.output);

  Scratch s("nslab-kept");
  std::string text = nslab::run_command("cat " + file).output;
  std::string wrong = text;
  auto at = wrong.rfind("{ kept: page, verdict: blocked }");
  BOOST_TEST_REQUIRE(at != std::string::npos);
  wrong.replace(at, 32, "{ kept: page, verdict: reachable }");
  auto bad = nslab::run_command(std::string(NSLAB_BINARY) + " check " + s.write("wrong.yaml", wrong) + " 2>&1");
  BOOST_TEST(bad.status == 1, bad.output);
  BOOST_TEST(has(bad.output, "observed blocked (no answer over the kept connection"), bad.output);
}

BOOST_AUTO_TEST_SUITE_END()
