// ICMP types other than the echo, broadcasts and one-flow traces against the
// real thing. A timestamp request is answered where Linux answers it (a
// python3 raw-socket client sees the same reply) and dropped where an
// iptables or nft rule drops it (the rule's own packet counter counts it);
// a message without answer is `delivered` or `blocked` as the target's INPUT
// chain decides, while a capture shows it arrived on the wire either way.
// A broadcast echo is answered by exactly the nodes `ping -b` hears from. A
// UDP trace with a source port follows one of the two ECMP paths at every
// TTL, the path a python3 client with that 5-tuple sees.
#include <boost/test/unit_test.hpp>

#include <fmt/format.h>
#include <regex>
#include <set>

#include "nslab/error.h"
#include "nslab/lab_fixture.h"
#include "nslab/path.h"
#include "nslab/witness.h"
#include "text.h"

using nslab::testing::has;

using nslab::IcmpType;
using nslab::Probe;
using nslab::Protocol;
using nslab::Verdict;

namespace {

std::string scenario_path(const char* name) {
  return std::string(NSLAB_SCENARIOS) + "/" + name;
}

nslab::ProbeOptions fast() {
  nslab::ProbeOptions o;
  o.timeout = std::chrono::milliseconds(1000);
  return o;
}

Probe icmp(const char* from, const char* to, std::optional<IcmpType> type = std::nullopt) {
  return Probe{.from = from, .to = to, .protocol = Protocol::icmp, .icmp_type = type};
}

IcmpType named(const char* name, nslab::Family f = nslab::Family::ipv4) {
  return *IcmpType::parse(name, f);
}

// The packet counter of the first rule of `chain` whose line holds `what`,
// as `iptables -L CHAIN -v -x -n` prints it (its first column).
std::uint64_t rule_packets(nslab::Lab& lab, const char* node, const char* tool, const char* what) {
  auto r = nslab::run_in_node(lab.node(node), fmt::format("{} -L INPUT -v -x -n", tool));
  BOOST_TEST_REQUIRE(r.ok(), r.output);
  std::istringstream in(r.output);
  for (std::string line; std::getline(in, line);)
    if (has(line, what)) return std::stoull(line.substr(line.find_first_not_of(' ')));
  BOOST_FAIL("no rule with \"" << what << "\" in " << r.output);
  return 0;
}

// A timestamp request from a python3 raw socket in `node`: "reply type 14"
// or "no reply".
const char* kTimestampClient = R"(python3 - "$1" <<'EOF'
import socket, struct, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.settimeout(0.5)
def csum(b):
    t = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while t >> 16: t = (t & 0xffff) + (t >> 16)
    return ~t & 0xffff
body = struct.pack('!HHIII', 0x4242, 1, int(time.time() * 1000) % 86400000, 0, 0)
pkt = struct.pack('!BBH', 13, 0, 0) + body
pkt = struct.pack('!BBH', 13, 0, csum(pkt)) + body
s.sendto(pkt, (sys.argv[1], 0))
try:
    while True:
        data = s.recv(512)
        t, ident = data[20], struct.unpack('!H', data[24:26])[0]
        if t == 14 and ident == 0x4242:
            print('reply type 14'); break
except socket.timeout:
    print('no reply')
EOF)";

// The addresses a python3 client with one unconnected UDP socket per TTL,
// all bound to `sport`, hears from TTL 1..5 toward 10.9.0.2:33434.
const char* kParisClient = R"(python3 - "$1" <<'EOF'
import socket, sys, select
def hop(ttl, sport):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(('0.0.0.0', sport))
    s.setsockopt(socket.SOL_IP, 11, 1)  # IP_RECVERR
    s.setsockopt(socket.SOL_IP, socket.IP_TTL, ttl)
    s.sendto(b'x', ('10.9.0.2', 33434))
    select.select([s], [], [], 1.0)  # a queued error reads as readable
    try:
        data, anc, flags, addr = s.recvmsg(512, 512, socket.MSG_ERRQUEUE)
        return socket.inet_ntoa(anc[0][2][16 + 4:16 + 8])
    except OSError:
        return '*'
    finally:
        s.close()
print(' '.join(hop(t, int(sys.argv[1])) for t in range(1, 6)))
EOF)";

std::string hop_addresses(const nslab::TraceResult& r) {
  std::string out;
  for (const auto& h : r.hops) out += (out.empty() ? "" : " ") + (h.address ? h.address->str() : "*");
  return out;
}

// A path of the lab that exists: r1 then s1, or r2 then s2.
bool one_path(const nslab::TraceResult& r) {
  auto p = r.path();
  return p.size() == 5 && p[0] == "gw" && p[3] == "j" && p[4] == "dst" &&
         ((p[1] == "r1" && p[2] == "s1") || (p[1] == "r2" && p[2] == "s2"));
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(icmp_types_lab, nslab::LabFixture)

// Linux answers a timestamp request (a real client hears type 14); where
// INPUT drops it, neither nslab nor that client hears anything, and the
// rule's counter goes up by what nslab sent, though the request arrived.
BOOST_AUTO_TEST_CASE(timestamp_is_answered_unless_a_rule_drops_it) {
  auto& lab = load(scenario_path("firewall/icmp-types.yaml"));
  auto client = [&](const char* to) {
    return nslab::run_in_node(lab.node("client"), std::string("set -- ") + to + "; " + kTimestampClient).output;
  };
  BOOST_TEST(has(client("10.0.3.2"), "reply type 14"));
  BOOST_TEST(has(client("10.0.1.2"), "no reply"));

  auto open = lab.probe(icmp("client", "open", IcmpType::timestamp()), fast());
  BOOST_TEST((open.verdict == Verdict::reachable), open.detail);
  BOOST_REQUIRE(open.icmp);
  BOOST_TEST(open.icmp->type == 14);
  BOOST_TEST(has(open.detail, "ICMP timestamp-reply from 10.0.3.2"), open.detail);

  auto before = rule_packets(lab, "ipt", "iptables", "icmptype 13");
  auto cap = lab.capture("ipt:eth0", "icmp[icmptype] = icmp-tstamp");
  auto dropped = lab.probe(icmp("client", "ipt", IcmpType::timestamp()), fast());
  cap.stop();
  BOOST_TEST((dropped.verdict == Verdict::blocked), dropped.detail);
  auto counted = rule_packets(lab, "ipt", "iptables", "icmptype 13") - before;
  BOOST_TEST(counted >= 1u);
  BOOST_TEST(cap.count() == counted);  // every request arrived; the rule took each one
  BOOST_TEST((lab.probe(icmp("client", "ipt"), fast()).verdict == Verdict::reachable));  // echo allowed

  // The rule gone, the same probe is answered.
  BOOST_TEST(
      nslab::run_in_node(lab.node("ipt"), "iptables -D INPUT -p icmp --icmp-type timestamp-request -j DROP").ok());
  auto again = lab.probe(icmp("client", "ipt", IcmpType::timestamp()), fast());
  BOOST_TEST((again.verdict == Verdict::reachable), again.detail);
}

// No answer comes to a redirect or an unreachable: the target's raw socket
// decides. iptables, ip6tables and nft counters count what INPUT dropped;
// the capture in front of INPUT saw every message.
BOOST_AUTO_TEST_CASE(a_message_without_answer_is_delivered_unless_input_drops_it) {
  auto& lab = load(scenario_path("firewall/icmp-types.yaml"));
  auto before = rule_packets(lab, "ipt", "iptables", "icmptype 5");
  auto cap = lab.capture("ipt:eth0", "icmp[icmptype] = icmp-redirect");
  auto redirect = lab.probe(icmp("client", "ipt", named("redirect")), fast());
  cap.stop();
  BOOST_TEST((redirect.verdict == Verdict::blocked), redirect.detail);
  auto counted = rule_packets(lab, "ipt", "iptables", "icmptype 5") - before;
  BOOST_TEST(counted >= 1u);
  BOOST_TEST(cap.count() == counted);

  auto unreach = lab.probe(icmp("client", "ipt", IcmpType{nslab::Family::ipv4, 3, 3}), fast());
  BOOST_TEST((unreach.verdict == Verdict::delivered), unreach.detail);
  BOOST_TEST(has(unreach.detail, "ICMP port-unreachable seen by a raw socket in ipt"), unreach.detail);

  auto ra6_before = rule_packets(lab, "ipt", "ip6tables", "ipv6-icmptype 134");
  auto ra6 = lab.probe(icmp("client", "ipt", named("router-advertisement", nslab::Family::ipv6)), fast());
  BOOST_TEST((ra6.verdict == Verdict::blocked), ra6.detail);
  BOOST_TEST(rule_packets(lab, "ipt", "ip6tables", "ipv6-icmptype 134") - ra6_before >= 1u);

  auto nft_unreach = lab.probe(icmp("client", "nft", named("port-unreachable")), fast());
  BOOST_TEST((nft_unreach.verdict == Verdict::blocked), nft_unreach.detail);
  auto listed = nslab::run_in_node(lab.node("nft"), "nft list chain inet filter input");
  std::smatch m;
  BOOST_TEST_REQUIRE(
      std::regex_search(listed.output, m, std::regex("destination-unreachable counter packets ([0-9]+)")),
      listed.output);
  BOOST_TEST(std::stoull(m[1]) >= 1u);

  // The rule gone, the redirect is delivered.
  BOOST_TEST(nslab::run_in_node(lab.node("ipt"), "iptables -D INPUT -p icmp --icmp-type redirect -j DROP").ok());
  auto now = lab.probe(icmp("client", "ipt", named("redirect")), fast());
  BOOST_TEST((now.verdict == Verdict::delivered), now.detail);
}

// The nodes that answer a broadcast echo are those `ping -b` hears from; a
// node that stops ignoring broadcasts joins both lists.
BOOST_AUTO_TEST_CASE(a_broadcast_is_answered_by_whoever_ping_b_hears) {
  auto& lab = load(scenario_path("switching/broadcast-ping.yaml"));
  auto ping = nslab::run_in_node(lab.node("a"), "ping -n -b -c 2 -W 1 192.168.1.255 2>&1");
  BOOST_TEST(has(ping.output, "from 192.168.1.2"), ping.output);
  BOOST_TEST(has(ping.output, "from 192.168.1.3"), ping.output);
  BOOST_TEST(!has(ping.output, "from 192.168.1.4"), ping.output);
  auto r = lab.probe(icmp("a", "192.168.1.255"), fast());
  BOOST_TEST((r.verdict == Verdict::reachable), r.detail);
  BOOST_TEST(r.probe.broadcast);  // the address of a's own subnet says so
  BOOST_TEST((r.answered_by == std::vector<std::string>{"b", "c"}), r.detail);

  BOOST_TEST(nslab::run_in_node(lab.node("d"), "sysctl -qw net.ipv4.icmp_echo_ignore_broadcasts=0").ok());
  ping = nslab::run_in_node(lab.node("a"), "ping -n -b -c 2 -W 1 192.168.1.255 2>&1");
  BOOST_TEST(has(ping.output, "from 192.168.1.4"), ping.output);
  r = lab.probe(icmp("a", "192.168.1.255"), fast());
  BOOST_TEST((r.answered_by == std::vector<std::string>{"b", "c", "d"}), r.detail);

  auto none = lab.probe(icmp("x", "192.168.2.255"), fast());
  BOOST_TEST((none.verdict == Verdict::blocked), none.detail);
  BOOST_TEST(none.answered_by.empty());
}

// A UDP trace with a source port is one flow: every TTL follows one of the
// two paths (never r1 then s2), the same one each time, and the one a
// python3 client with the same 5-tuple hears; the sports spread over both
// paths. Without a source port, each TTL is a flow of its own, and some
// trace shows a path that does not exist.
BOOST_AUTO_TEST_CASE(a_udp_trace_with_a_source_port_keeps_one_ecmp_path) {
  auto& lab = load(scenario_path("routing/paris-ecmp.yaml"));
  auto trace = [&](std::uint16_t sport) {
    Probe p{.from = "a", .to = "dst", .protocol = Protocol::udp, .port = 33434, .sport = sport};
    return lab.trace(nslab::PathTrace{.probe = p, .max_hops = 8}, fast());
  };
  std::set<std::string> second_hops;
  for (std::uint16_t sport = 40100; sport < 40116; ++sport) {
    auto r = trace(sport);
    BOOST_TEST(r.reached, r.table());
    BOOST_TEST(one_path(r), "sport " << sport << ": " << r.str());
    BOOST_TEST(trace(sport).path() == r.path(), "sport " << sport);
    if (r.hops.size() > 1) second_hops.insert(r.hops[1].node);
    BOOST_TEST_MESSAGE("sport " << sport << ": " << r.str() << " in " << r.elapsed_ms << " ms");
    if (sport < 40104) {
      auto py = nslab::run_in_node(lab.node("a"), fmt::format("set -- {}; {}", sport, kParisClient));
      BOOST_TEST(has(py.output, hop_addresses(r)),
                 "sport " << sport << ": python3 " << py.output << " nslab " << hop_addresses(r));
    }
  }
  BOOST_TEST(second_hops.size() == 2u);  // both paths carry some flow
  int impossible = 0;
  for (int k = 0; k < 16; ++k) {
    Probe p{.from = "a", .to = "dst", .protocol = Protocol::udp, .port = 33434};
    auto r = lab.trace(nslab::PathTrace{.probe = p, .max_hops = 8}, fast());
    BOOST_TEST(r.reached, r.table());
    if (!one_path(r)) ++impossible;
  }
  BOOST_TEST(impossible >= 1);
  BOOST_TEST_MESSAGE(impossible << " of 16 traces without a source port showed a path that does not exist");
}

// What a probe made in C++ cannot be is refused with the probe's name, as
// the scenario loader refuses it at file:line:column.
BOOST_AUTO_TEST_CASE(api_mistakes_are_config_errors) {
  auto& lab = load(scenario_path("firewall/icmp-types.yaml"));
  auto refused = [&](const Probe& p, const std::string& why) {
    try {
      lab.probe(p, fast());
      BOOST_ERROR(p.str() << ": not refused");
    } catch (const nslab::ConfigError& e) {
      BOOST_TEST(has(e.what(), why), e.what());
    }
  };
  auto tcp = icmp("client", "ipt", IcmpType::timestamp());
  tcp.protocol = Protocol::tcp;
  tcp.port = 80;
  refused(tcp, "an ICMP type needs an icmp probe");
  refused(icmp("client", "10.0.1.2", named("router-advertisement", nslab::Family::ipv6)),
          "an ICMPv6 type needs an ipv6 target");
  auto sized = icmp("client", "ipt", IcmpType::timestamp());
  sized.size = 100;
  refused(sized, "size is an echo's data");
  refused(icmp("client", "10.0.1.99", named("redirect")), "10.0.1.99 is no address of a lab node to watch for it");
  auto bc = icmp("client", "fd00:1::2");
  bc.broadcast = true;
  refused(bc, "IPv6 has no broadcast");
  Probe tcp_trace{.from = "client", .to = "ipt", .protocol = Protocol::tcp, .port = 80, .sport = 4000};
  try {
    lab.trace(nslab::PathTrace{.probe = tcp_trace}, fast());
    BOOST_ERROR("a TCP trace with a sport is not refused");
  } catch (const nslab::ConfigError& e) {
    BOOST_TEST(has(e.what(), "needs a udp trace; each TTL of a TCP trace is a connection of its own"), e.what());
  }
}

BOOST_AUTO_TEST_SUITE_END()
