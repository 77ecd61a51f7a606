// The verdict table, row by row, with a real client as the witness of each
// row: curl for TCP, iputils' ping for ICMP, and a Python UDP client that
// reads ICMP errors the way traceroute does (IP_RECVERR). For every cause,
// nslab's verdict must be the one in the README's table, and the client must
// report the cause that the table maps to that verdict. The same cause gives
// the same verdict whether it lies at the source or at a router on the way.
#include <boost/test/unit_test.hpp>

#include <fmt/format.h>

#include <map>
#include <optional>
#include <algorithm>
#include <sstream>
#include <thread>

#include "nslab/lab_fixture.h"
#include "nslab/witness.h"
#include "text.h"

using nslab::Probe;
using nslab::Protocol;
using nslab::Verdict;
using nslab::testing::has;
using namespace std::chrono_literals;

namespace {

// What one protocol must show for a row: nslab's verdict, and a phrase the
// real client prints for that cause ("" when the protocol is not asked).
struct Expect {
  std::optional<Verdict> verdict;
  std::string client;
};

struct Row {
  std::string cause;
  std::string target;  // an address
  Expect tcp, udp, icmp;
  std::uint16_t tcp_port = 80;
  std::uint16_t udp_port = 53;
};

const Expect kNone{};
Expect ex(Verdict v, std::string client) {
  return Expect{v, std::move(client)};
}
constexpr auto R = Verdict::reachable;
constexpr auto X = Verdict::blocked;
constexpr auto F = Verdict::refused;  // "refused"
constexpr auto U = Verdict::unreachable;

// Sources (one node per prober, so that no router's per-source route-error
// budget is shared: the kernel sends at most 5 in a burst per source) on r's
// bridge; d behind r with one address per cause; l makes a routing loop with r.
const char* kSources[] = {"s_tcp", "s_udp", "s_icmp", "w_tcp", "w_udp", "w_icmp"};

nslab::Topology verdict_table_lab() {
  nslab::Topology t("verdict-table");
  auto& r = t.add_node("r");
  r.bridge("br0", {"10.1.0.1/24", "fd01::1/64"})
      .sysctl("net.ipv4.ip_forward", "1")
      .sysctl("net.ipv6.conf.all.forwarding", "1");
  for (const char* route : {"unreachable 10.98.1.0/24", "prohibit 10.98.2.0/24", "blackhole 10.98.3.0/24",
                            "unreachable fd98:1::/64", "prohibit fd98:2::/64", "blackhole fd98:3::/64"}) {
    std::string_view w(route);
    auto space = w.find(' ');
    r.routes.push_back(nslab::RouteSpec::make(w.substr(space + 1)));
    std::string_view type = w.substr(0, space);
    r.routes.back().type = type == "unreachable" ? nslab::RouteType::unreachable
                           : type == "prohibit"  ? nslab::RouteType::prohibit
                                                 : nslab::RouteType::blackhole;
  }
  r.route("10.98.4.0/24", "10.3.0.2").route("fd98:4::/64", "fd03::2");  // l sends it back: a loop
  r.iptables_rules(R"(
-A FORWARD -d 10.2.0.11 -j REJECT
-A FORWARD -d 10.2.0.12 -j REJECT --reject-with icmp-net-unreachable
-A FORWARD -d 10.2.0.13 -j REJECT --reject-with icmp-host-unreachable
-A FORWARD -d 10.2.0.14 -j REJECT --reject-with icmp-proto-unreachable
-A FORWARD -d 10.2.0.15 -j REJECT --reject-with icmp-net-prohibited
-A FORWARD -d 10.2.0.16 -j REJECT --reject-with icmp-host-prohibited
-A FORWARD -d 10.2.0.17 -j REJECT --reject-with icmp-admin-prohibited
-A FORWARD -d 10.2.0.18 -j DROP
-A FORWARD -p tcp -d 10.2.0.19 -j REJECT --reject-with tcp-reset)");
  r.ip6tables_rules(R"(
-A FORWARD -d fd02::11 -j REJECT
-A FORWARD -d fd02::12 -j REJECT --reject-with icmp6-no-route
-A FORWARD -d fd02::13 -j REJECT --reject-with icmp6-adm-prohibited
-A FORWARD -d fd02::14 -j REJECT --reject-with icmp6-addr-unreachable
-A FORWARD -d fd02::15 -j REJECT --reject-with icmp6-policy-fail
-A FORWARD -d fd02::16 -j REJECT --reject-with icmp6-reject-route
-A FORWARD -d fd02::18 -j DROP)");
  auto& d = t.add_node("d");
  d.route("default", "10.2.0.1").route("default6", "fd02::1");
  d.service(Protocol::tcp, 80).service(Protocol::udp, 53);
  std::string d_end = "d:eth0 10.2.0.2/24 fd02::2/64";
  for (int i = 11; i <= 21; ++i) d_end += fmt::format(" 10.2.0.{}/24 fd02::{}/64", i, i);
  t.link("r:r-d 10.2.0.1/24 fd02::1/64", d_end);
  t.add_node("l")
      .sysctl("net.ipv4.ip_forward", "1")
      .sysctl("net.ipv6.conf.all.forwarding", "1")
      .route("10.98.4.0/24", "10.3.0.1")
      .route("fd98:4::/64", "fd03::1")
      .route("default", "10.3.0.1")
      .route("default6", "fd03::1");
  t.link("r:r-l 10.3.0.1/24 fd03::1/64", "l:eth0 10.3.0.2/24 fd03::2/64");
  int i = 11;
  for (const char* s : kSources) {
    auto& n = t.add_node(s);
    n.route("10.0.0.0/8", "10.1.0.1").route("fd00::/8", "fd01::1");
    for (const char* route : {"unreachable 10.97.1.0/24", "prohibit 10.97.2.0/24", "blackhole 10.97.3.0/24",
                              "unreachable fd97:1::/64", "prohibit fd97:2::/64", "blackhole fd97:3::/64"}) {
      std::string_view w(route);
      auto space = w.find(' ');
      n.routes.push_back(nslab::RouteSpec::make(w.substr(space + 1)));
      std::string_view type = w.substr(0, space);
      n.routes.back().type = type == "unreachable" ? nslab::RouteType::unreachable
                             : type == "prohibit"  ? nslab::RouteType::prohibit
                                                   : nslab::RouteType::blackhole;
    }
    n.iptables_rules("-A OUTPUT -d 10.2.0.20 -j DROP\n-A OUTPUT -d 10.2.0.21 -j REJECT");
    n.ip6tables_rules("-A OUTPUT -d fd02::20 -j DROP\n-A OUTPUT -d fd02::21 -j REJECT");
    t.link(fmt::format("{}:eth0 10.1.0.{}/24 fd01::{}/64", s, i, i), fmt::format("r:p-{}@br0", s));
    ++i;
  }
  return t;
}

std::vector<Row> ipv4_rows() {
  return {
      {"answered (control)", "10.2.0.2", ex(R, "Connected to"), ex(R, "reply"), ex(R, "bytes from 10.2.0.2")},
      {"closed port: TCP reset, ICMP port unreachable", "10.2.0.2", ex(F, "Connection refused"),
       ex(F, "Connection refused"), kNone, 81, 54},
      {"REJECT (icmp-port-unreachable)", "10.2.0.11", ex(F, "Connection refused"), ex(F, "Connection refused"),
       ex(F, "Destination Port Unreachable")},
      {"REJECT --reject-with tcp-reset", "10.2.0.19", ex(F, "Connection refused"), kNone, kNone},
      {"REJECT icmp-net-unreachable", "10.2.0.12", ex(U, "Network is unreachable"), ex(U, "Network is unreachable"),
       ex(U, "Destination Net Unreachable")},
      {"REJECT icmp-host-unreachable", "10.2.0.13", ex(U, "No route to host"), ex(U, "No route to host"),
       ex(U, "Destination Host Unreachable")},
      {"REJECT icmp-proto-unreachable", "10.2.0.14", ex(F, "Protocol not available"), ex(F, "Protocol not available"),
       ex(F, "Destination Protocol Unreachable")},
      {"REJECT icmp-net-prohibited", "10.2.0.15", ex(U, "Network is unreachable"), ex(U, "Network is unreachable"),
       ex(U, "Destination Net Prohibited")},
      {"REJECT icmp-host-prohibited", "10.2.0.16", ex(U, "No route to host"), ex(U, "No route to host"),
       ex(U, "Destination Host Prohibited")},
      {"REJECT icmp-admin-prohibited", "10.2.0.17", ex(U, "No route to host"), ex(U, "No route to host"),
       ex(U, "Packet filtered")},
      {"DROP on the way", "10.2.0.18", ex(X, "imeout"), ex(X, "timed out"), ex(X, "100% packet loss")},
      {"unreachable route at a router", "10.98.1.1", ex(U, "No route to host"), ex(U, "No route to host"),
       ex(U, "Destination Host Unreachable")},
      {"prohibit route at a router", "10.98.2.1", ex(U, "No route to host"), ex(U, "No route to host"),
       ex(U, "Packet filtered")},
      {"blackhole route at a router", "10.98.3.1", ex(X, "imeout"), ex(X, "timed out"), ex(X, "100% packet loss")},
      {"no route at a router", "10.99.9.9", ex(U, "Network is unreachable"), ex(U, "Network is unreachable"),
       ex(U, "Destination Net Unreachable")},
      {"routing loop: TTL exceeded", "10.98.4.1", ex(U, "No route to host"), ex(U, "No route to host"),
       ex(U, "Time to live exceeded")},
      {"no route at the source", "172.16.0.1", ex(U, "Network is unreachable"), ex(U, "Network is unreachable"),
       ex(U, "Network is unreachable")},
      {"unreachable route at the source", "10.97.1.1", ex(U, "No route to host"), ex(U, "No route to host"),
       ex(U, "No route to host")},
      {"prohibit route at the source", "10.97.2.1", ex(U, "Permission denied"), ex(U, "Permission denied"),
       ex(U, "check your local firewall rules")},
      {"blackhole route at the source", "10.97.3.1", ex(X, "Invalid argument"), ex(X, "Invalid argument"),
       ex(X, "Invalid argument")},
      {"the source's own OUTPUT DROP", "10.2.0.20", ex(X, "imeout"), ex(X, "Operation not permitted"),
       ex(X, "100% packet loss")},
      {"the source's own OUTPUT REJECT", "10.2.0.21", ex(F, "Connection refused"), ex(F, "Connection refused"),
       ex(F, "Destination Port Unreachable")},
  };
}

std::vector<Row> ipv6_rows() {
  return {
      {"answered (control)", "fd02::2", ex(R, "Connected to"), ex(R, "reply"), ex(R, "bytes from fd02::2")},
      {"closed port", "fd02::2", ex(F, "Connection refused"), ex(F, "Connection refused"), kNone, 81, 54},
      {"REJECT (icmp6-port-unreachable)", "fd02::11", ex(F, "Connection refused"), ex(F, "Connection refused"),
       ex(F, "Port unreachable")},
      {"REJECT icmp6-no-route", "fd02::12", ex(U, "Network is unreachable"), ex(U, "Network is unreachable"),
       ex(U, "No route")},
      {"REJECT icmp6-adm-prohibited", "fd02::13", ex(U, "Permission denied"), ex(U, "Permission denied"),
       ex(U, "Administratively prohibited")},
      {"REJECT icmp6-addr-unreachable", "fd02::14", ex(U, "No route to host"), ex(U, "No route to host"),
       ex(U, "Address unreachable")},
      {"REJECT icmp6-policy-fail", "fd02::15", ex(U, "Permission denied"), ex(U, "Permission denied"),
       ex(U, "Unknown code 5")},
      {"REJECT icmp6-reject-route", "fd02::16", ex(U, "Permission denied"), ex(U, "Permission denied"),
       ex(U, "Unknown code 6")},
      {"DROP on the way", "fd02::18", ex(X, "imeout"), ex(X, "timed out"), ex(X, "100% packet loss")},
      {"unreachable route at a router", "fd98:1::1", ex(U, "Network is unreachable"), ex(U, "Network is unreachable"),
       ex(U, "No route")},
      {"prohibit route at a router", "fd98:2::1", ex(U, "Permission denied"), ex(U, "Permission denied"),
       ex(U, "Administratively prohibited")},
      {"blackhole route at a router", "fd98:3::1", ex(X, "imeout"), ex(X, "timed out"), ex(X, "100% packet loss")},
      {"routing loop: hop limit exceeded", "fd98:4::1", ex(U, "No route to host"), ex(U, "No route to host"),
       ex(U, "Time exceeded")},
      {"no route at the source", "2001:db8::1", ex(U, "Network is unreachable"), ex(U, "Network is unreachable"),
       ex(U, "Network is unreachable")},
      {"unreachable route at the source", "fd97:1::1", ex(U, "No route to host"), ex(U, "No route to host"),
       ex(U, "No route to host")},
      {"prohibit route at the source", "fd97:2::1", ex(U, "Permission denied"), ex(U, "Permission denied"),
       ex(U, "Permission denied")},
      {"blackhole route at the source", "fd97:3::1", ex(X, "Invalid argument"), ex(X, "Invalid argument"),
       ex(X, "Invalid argument")},
      {"the source's own OUTPUT DROP", "fd02::20", ex(X, "imeout"), ex(X, "Operation not permitted"),
       ex(X, "100% packet loss")},
      {"the source's own OUTPUT REJECT", "fd02::21", ex(F, "Connection refused"), ex(F, "Connection refused"),
       ex(F, "Port unreachable")},
  };
}

// A UDP client outside nslab (one thread per row): connect, send, wait for a
// reply or an error.
// Like traceroute, it asks for ICMP errors (IP_RECVERR); without that the
// kernel reports only "hard" errors to a connected UDP socket. When its own
// OUTPUT rules refuse the send (EPERM), it still waits for the ICMP error a
// REJECT sends back.
const char* kUdpClient = R"(import socket, sys, threading
lock = threading.Lock()
def ask(tag, addr, port):
    v6 = ':' in addr
    s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(41 if v6 else 0, 25 if v6 else 11, 1)
    s.settimeout(0.7)
    sent = None
    try:
        s.connect((addr, port))
        try:
            s.send(b'witness')
        except OSError as e:
            sent = e  # the source's own firewall; an ICMP error may follow
        s.recv(65536); out = 'reply'
    except socket.timeout:
        out = 'error: ' + (sent.strerror if sent else 'timed out')
    except OSError as e:
        out = 'error: ' + e.strerror
    with lock:
        sys.stdout.write('@%s@ %s\n' % (tag, out)); sys.stdout.flush()
jobs = [threading.Thread(target=ask, args=(a.split(',')[0], a.split(',')[1], int(a.split(',')[2]))) for a in sys.argv[1:]]
for j in jobs: j.start()
for j in jobs: j.join()
)";

std::string client_command(Protocol p, const Row& row) {
  bool v6 = row.target.find(':') != std::string::npos;
  switch (p) {
    case Protocol::tcp:
      return fmt::format("curl -v -sS -o /dev/null --connect-timeout 2 http://{}:{}/ 2>&1; true",
                         v6 ? "[" + row.target + "]" : row.target, row.tcp_port);
    case Protocol::udp: return {};  // one client process for every row, below
    case Protocol::icmp: return fmt::format("ping {} -n -c1 -W1 {} 2>&1; true", v6 ? "-6" : "-4", row.target);
  }
  return {};
}

// Runs every row's client for one protocol at once, in its own node, and
// returns each row's output.
std::vector<std::string> run_clients(nslab::Lab& lab, const char* node, Protocol p, const std::vector<Row>& rows,
                                     Expect Row::*slot) {
  std::string quoted;  // the client's source in single quotes, for sh
  for (char c : std::string_view(kUdpClient)) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  std::string script = fmt::format("export UDP_CLIENT='{}'\n", quoted);
  std::string udp_rows;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (!(rows[i].*slot).verdict) continue;
    if (p == Protocol::udp)
      udp_rows += fmt::format(" {},{},{}", i, rows[i].target, rows[i].udp_port);
    else
      script += fmt::format("( {} ) 2>&1 | sed 's/^/@{}@ /' &\n", client_command(p, rows[i]), i);
  }
  if (!udp_rows.empty()) script += fmt::format("python3 -c \"$UDP_CLIENT\"{} &\n", udp_rows);
  script += "wait\n";
  auto r = nslab::run_in_node(lab.node(node), script);
  std::vector<std::string> out(rows.size());
  std::istringstream in(r.output);
  for (std::string line; std::getline(in, line);) {
    if (line.size() < 3 || line[0] != '@') continue;
    auto end = line.find('@', 1);
    out.at(std::stoul(line.substr(1, end - 1))) += line.substr(end + 2) + "\n";
  }
  return out;
}

void check_rows(nslab::Lab& lab, const std::vector<Row>& rows) {
  struct Column {
    Protocol protocol;
    Expect Row::*slot;
    const char* source;
    const char* witness;
  };
  const Column columns[] = {{Protocol::tcp, &Row::tcp, "s_tcp", "w_tcp"},
                            {Protocol::udp, &Row::udp, "s_udp", "w_udp"},
                            {Protocol::icmp, &Row::icmp, "s_icmp", "w_icmp"}};
  std::vector<Probe> probes;
  std::vector<std::pair<const Row*, const Column*>> asked;
  for (const auto& c : columns)
    for (const auto& row : rows)
      if ((row.*c.slot).verdict) {
        Probe p{.from = c.source, .to = row.target, .protocol = c.protocol};
        if (c.protocol == Protocol::tcp) p.port = row.tcp_port;
        if (c.protocol == Protocol::udp) p.port = row.udp_port;
        probes.push_back(p);
        asked.emplace_back(&row, &c);
      }
  nslab::ProbeOptions options;
  options.timeout = 700ms;
  auto results = lab.probe(probes, options);
  std::map<Protocol, std::vector<std::string>> clients;
  for (const auto& c : columns) {
    auto& out = clients[c.protocol];
    out = run_clients(lab, c.witness, c.protocol, rows, c.slot);
    // A client that printed nothing (all run at once, on a loaded machine)
    // runs again alone: the witness must have spoken before it is compared.
    for (std::size_t i = 0; i < rows.size(); ++i) {
      if (!(rows[i].*c.slot).verdict || !out[i].empty()) continue;
      std::vector<Row> alone = rows;
      for (std::size_t j = 0; j < alone.size(); ++j)
        if (j != i) (alone[j].*c.slot).verdict.reset();
      out[i] = run_clients(lab, c.witness, c.protocol, alone, c.slot)[i];
      BOOST_TEST_MESSAGE(rows[i].cause << ": the " << nslab::to_string(c.protocol) << " client ran again alone");
    }
  }
  for (std::size_t k = 0; k < results.size(); ++k) {
    const auto& [row, column] = asked[k];
    const Expect& want = row->*(column->slot);
    const auto& got = results[k];
    const std::string& client = clients[column->protocol][static_cast<std::size_t>(row - rows.data())];
    BOOST_TEST_CONTEXT(row->cause << ", " << got.probe.str()) {
      BOOST_TEST(got.verdict == *want.verdict, "nslab: " << got.verdict << " (" << got.detail << ")");
      BOOST_TEST(has(client, want.client), "the real client should report \"" << want.client << "\":\n" << client);
    }
  }
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(verdict_table, nslab::LabFixture)

BOOST_AUTO_TEST_CASE(every_ipv4_cause_reads_as_a_real_client_reports_it) {
  auto& lab = build(verdict_table_lab());
  check_rows(lab, ipv4_rows());
}

BOOST_AUTO_TEST_CASE(every_ipv6_cause_reads_as_a_real_client_reports_it) {
  auto& lab = build(verdict_table_lab());
  check_rows(lab, ipv6_rows());
}

// The ICMP limiter and the route-error limiter share one per-peer token
// bucket. A lab turns ICMP rate limiting off with the mask, which leaves the
// bucket alone: after a REJECT's error, a route error to the same source is
// still sent. The negative control sets the old default (icmp_ratelimit = 0)
// and shows that it loses the route errors.
BOOST_AUTO_TEST_CASE(route_errors_follow_a_reject_to_the_same_source) {
  auto probe_after_reject = [&](bool old_default) {
    auto t = verdict_table_lab();
    if (old_default) t.node("r").sysctl("net.ipv4.icmp_ratemask", "6168").sysctl("net.ipv4.icmp_ratelimit", "0");
    auto& lab = build(std::move(t));
    nslab::ProbeOptions options;
    options.timeout = 500ms;
    BOOST_TEST(lab.tcp("s_tcp", "10.2.0.11", 22, options).verdict == Verdict::refused);
    std::this_thread::sleep_for(20ms);  // a jiffy later: the limiter refills its bucket from then on
    return lab.probe({Probe{.from = "s_tcp", .to = "10.98.1.1", .protocol = Protocol::tcp, .port = 80},
                      Probe{.from = "s_tcp", .to = "10.98.1.2", .protocol = Protocol::udp, .port = 53},
                      Probe{.from = "s_tcp", .to = "10.98.1.3"}},
                     options);
  };
  for (const auto& r : probe_after_reject(false))
    BOOST_TEST(r.verdict == Verdict::unreachable, r.probe.str() << ": " << r.detail);
  auto old = probe_after_reject(true);
  BOOST_TEST(std::count_if(old.begin(), old.end(), [](auto& r) { return r.verdict == Verdict::blocked; }) >= 1,
             "with icmp_ratelimit = 0 the route errors should be lost (the negative control)");
}

// A local error that says nothing about the network is an error of the run:
// with one local port, a second connection to the same place cannot get an
// address (EADDRNOTAVAIL), which is not "unreachable".
BOOST_AUTO_TEST_CASE(running_out_of_local_ports_fails_the_run) {
  auto t = verdict_table_lab();
  t.node("s_tcp").sysctl("net.ipv4.ip_local_port_range", "40000 40000");
  auto& lab = build(std::move(t));
  Probe p{.from = "s_tcp", .to = "10.2.0.18", .protocol = Protocol::tcp, .port = 80};
  nslab::ProbeOptions options;
  options.timeout = 300ms;
  BOOST_CHECK_EXCEPTION(lab.probe({p, p}, options), nslab::SystemError, [](const nslab::SystemError& e) {
    return has(e.what(), "s_tcp -> 10.2.0.18 tcp/80") && has(e.what(), "Cannot assign requested address");
  });
}

BOOST_AUTO_TEST_SUITE_END()
