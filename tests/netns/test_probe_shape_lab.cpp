// A probe's packet shape against the real thing: ttl, size and df probes
// over a router whose far link has a smaller MTU, each verdict and its
// evidence checked against what `ping -t` and `ping -M do -s` (iputils)
// report on the same path, and a tcpdump on the far side as the witness
// that the packets really had the TTL and size asked for.
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <cstdio>
#include <fmt/format.h>

#include "nslab/lab_fixture.h"
#include "nslab/witness.h"
#include "text.h"

using nslab::testing::has;

using nslab::Probe;
using nslab::Protocol;
using nslab::Verdict;

namespace {

// a -- r -- b, dual stack; the r--b link has MTU 1400, so a 1500-byte
// datagram from a fits a's own link and not the path. b serves udp/53, tcp/80.
nslab::Topology mtu_lab() {
  nslab::Topology t("shape");
  t.add_node("a").route("default", "10.0.0.1").route("default6", "fd00:a::1");
  t.add_node("r").sysctl("net.ipv4.ip_forward", "1").sysctl("net.ipv6.conf.all.forwarding", "1");
  t.add_node("b").route("default", "10.0.1.1").route("default6", "fd00:b::1");
  t.node("b").service(Protocol::udp, 53).service(Protocol::tcp, 80);
  t.link("a:eth0 10.0.0.2/24 fd00:a::2/64", "r:eth0 10.0.0.1/24 fd00:a::1/64");
  auto& far = t.link("r:eth1 10.0.1.1/24 fd00:b::1/64", "b:eth0 10.0.1.2/24 fd00:b::2/64");
  far.a.mtu = far.b.mtu = 1400;
  return t;
}

nslab::ProbeOptions fast() {
  nslab::ProbeOptions o;
  o.timeout = std::chrono::milliseconds(1000);
  return o;
}

// tcpdump, as root, drops privileges to its own user; inside a user
// namespace (a rootless run) it cannot and refuses to read the file. The
// capture's own BPF (libpcap's) is the witness there.
bool cannot_drop_privileges(const nslab::ProcessResult& r) {
  if (!has(r.output, "Couldn't change to")) return false;
  BOOST_TEST_MESSAGE("tcpdump cannot drop privileges in this user namespace; libpcap's BPF is the witness");
  return true;
}

Probe shaped(Protocol proto, std::uint16_t port, const char* to = "10.0.1.2") {
  Probe p;
  p.from = "a";
  p.to = to;
  p.protocol = proto;
  p.port = port;
  return p;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(probe_shape_lab, nslab::LabFixture)

// ping -t 1 says "Time to live exceeded" from the router: so does the probe,
// over icmp, udp and tcp, in both families; one hop more reaches b.
BOOST_AUTO_TEST_CASE(a_ttl_too_small_is_time_exceeded_from_the_router) {
  auto& lab = build(mtu_lab());
  auto ping = nslab::run_in_node(lab.node("a"), "ping -n -c 1 -W 1 -t 1 10.0.1.2");
  BOOST_TEST(!ping.ok(), ping.output);
  BOOST_TEST(has(ping.output, "From 10.0.0.1 icmp_seq=1 Time to live exceeded"), ping.output);

  for (Protocol proto : {Protocol::icmp, Protocol::udp, Protocol::tcp}) {
    Probe p = shaped(proto, proto == Protocol::icmp ? 0 : proto == Protocol::udp ? 53 : 80);
    p.ttl = 1;
    auto r = lab.probe(p, fast());
    BOOST_TEST(r.verdict == Verdict::unreachable, p.str() << ": " << r.detail);
    BOOST_TEST(has(r.detail, "ICMP time exceeded from 10.0.0.1"), p.str() << ": " << r.detail);
    p.ttl = 2;
    auto ok = lab.probe(p, fast());
    BOOST_TEST(ok.verdict == Verdict::reachable, p.str() << ": " << ok.detail);
  }
  Probe v6 = shaped(Protocol::icmp, 0, "fd00:b::2");
  v6.ttl = 1;
  auto r6 = lab.probe(v6, fast());
  BOOST_TEST(r6.verdict == Verdict::unreachable, r6.detail);
  BOOST_TEST(has(r6.detail, "ICMPv6 time exceeded from fd00:a::1"), r6.detail);
  auto ping6 = nslab::run_in_node(lab.node("a"), "ping -6 -n -c 1 -W 1 -t 1 fd00:b::2");
  BOOST_TEST(has(ping6.output, "Time exceeded: Hop limit"), ping6.output);
}

// The TTL and size are on the wire: b's capture, read back by tcpdump (an
// independent parser), shows the echo with ttl 7 - 1 and 1000 data bytes.
BOOST_AUTO_TEST_CASE(ttl_and_size_are_on_the_wire) {
  auto& lab = build(mtu_lab());
  auto cap = lab.capture("b:eth0", "icmp");
  Probe p = shaped(Protocol::icmp, 0);
  p.ttl = 7;
  p.size = 1000;
  auto r = lab.probe(p, fast());
  BOOST_TEST(r.verdict == Verdict::reachable, r.detail);
  cap.stop();
  std::string file = fmt::format("/tmp/nslab-shape-{}.pcap", ::getpid());
  cap.save(file);
  auto dump = nslab::run_command("tcpdump -n -v -r " + file + " 'icmp[icmptype] = icmp-echo'");
  std::remove(file.c_str());
  if (cannot_drop_privileges(dump)) {
    BOOST_TEST(cap.count("icmp[icmptype] = icmp-echo and ip[8] = 6 and ip[2:2] = 1028") >= 1u);
    return;
  }
  BOOST_TEST(dump.ok(), dump.output);
  BOOST_TEST(has(dump.output, "ttl 6,"), dump.output);
  BOOST_TEST(has(dump.output, "length 1028"), dump.output);  // 20 + 8 + 1000
  BOOST_TEST(has(dump.output, "10.0.0.2 > 10.0.1.2: ICMP echo request"), dump.output);
}

// The TOS byte is on the wire for icmp, udp and tcp, as `ping -Q` puts it:
// tcpdump reads "tos 0xb8" (DSCP 46, EF) off b's capture for each.
BOOST_AUTO_TEST_CASE(tos_is_on_the_wire) {
  auto& lab = build(mtu_lab());
  auto cap = lab.capture("b:eth0", "ip and not arp");
  for (Protocol proto : {Protocol::icmp, Protocol::udp, Protocol::tcp}) {
    Probe p = shaped(proto, proto == Protocol::icmp ? 0 : proto == Protocol::udp ? 53 : 80);
    p.tos = 0xb8;
    auto r = lab.probe(p, fast());
    BOOST_TEST(r.verdict == Verdict::reachable, p.str() << ": " << r.detail);
  }
  auto ping = nslab::run_in_node(lab.node("a"), "ping -n -c 1 -W 1 -Q 0x28 10.0.1.2");
  BOOST_TEST(ping.ok(), ping.output);
  cap.stop();
  std::string file = fmt::format("/tmp/nslab-tos-{}.pcap", ::getpid());
  cap.save(file);
  auto from_a = [&](const std::string& filter) {
    return nslab::run_command("tcpdump -n -v -r " + file + " 'src host 10.0.0.2 and " + filter + "'");
  };
  auto echo = from_a("icmp[icmptype] = icmp-echo and ip[1] = 0xb8");
  auto udp = from_a("udp dst port 53");
  auto tcp = from_a("tcp dst port 80 and tcp[tcpflags] & tcp-syn != 0");
  auto by_ping = from_a("icmp[icmptype] = icmp-echo and ip[1] = 0x28");
  std::remove(file.c_str());
  if (cannot_drop_privileges(echo)) {
    for (const char* f : {"icmp[icmptype] = icmp-echo and ip[1] = 0xb8", "udp dst port 53 and ip[1] = 0xb8",
                          "tcp dst port 80 and ip[1] = 0xb8", "icmp[icmptype] = icmp-echo and ip[1] = 0x28"})
      BOOST_TEST(cap.count(std::string("src host 10.0.0.2 and ") + f) >= 1u, f);
  } else {
    BOOST_TEST(has(echo.output, "tos 0xb8"), echo.output);
    BOOST_TEST(has(udp.output, "tos 0xb8"), udp.output);
    BOOST_TEST(!has(udp.output, "tos 0x0,"), udp.output);
    BOOST_TEST(has(tcp.output, "tos 0xb8"), tcp.output);
    BOOST_TEST(has(by_ping.output, "tos 0x28"), by_ping.output);  // ping -Q marks the same byte
  }
  // IPv6: the traffic class.
  auto cap6 = lab.capture("b:eth0", "icmp6 and ip6[0:2] & 0x0ff0 = 0x0b80");
  Probe v6 = shaped(Protocol::icmp, 0, "fd00:b::2");
  v6.tos = 0xb8;
  BOOST_TEST(lab.probe(v6, fast()).verdict == Verdict::reachable);
  cap6.stop();
  BOOST_TEST(cap6.count() >= 1u);
}

// ping -M do -s 1472 over the 1400-byte link: "Frag needed and DF set (mtu
// = 1400)" from the router. The probe gives that evidence, unreachable.
BOOST_AUTO_TEST_CASE(df_too_big_for_the_path_is_fragmentation_needed) {
  auto& lab = build(mtu_lab());
  Probe p = shaped(Protocol::icmp, 0);
  p.size = 1472;
  p.df = true;
  auto r = lab.probe(p, fast());
  BOOST_TEST(r.verdict == Verdict::unreachable, r.detail);
  BOOST_TEST(has(r.detail, "ICMP fragmentation needed (mtu 1400) from 10.0.0.1"), r.detail);
  // The kernel of a has learned the path's MTU now: ping and the probe both
  // stop at the source.
  auto ping = nslab::run_in_node(lab.node("a"), "ping -n -c 1 -W 1 -M do -s 1472 10.0.1.2");
  BOOST_TEST(!ping.ok(), ping.output);
  BOOST_TEST(has(ping.output, "mtu=1400"), ping.output);
  auto again = lab.probe(p, fast());
  BOOST_TEST(again.verdict == Verdict::unreachable, again.detail);
  BOOST_TEST(has(again.detail, "Message too long"), again.detail);
  // What fits the path (1372 + 8 + 20 = 1400) goes through with df.
  p.size = 1372;
  auto fits = lab.probe(p, fast());
  BOOST_TEST(fits.verdict == Verdict::reachable, fits.detail);
  auto ping_fits = nslab::run_in_node(lab.node("a"), "ping -n -c 1 -W 1 -M do -s 1372 10.0.1.2");
  BOOST_TEST(ping_fits.ok(), ping_fits.output);
}

BOOST_AUTO_TEST_CASE(ping_sees_the_same_fragmentation_needed) {
  auto& lab = build(mtu_lab());
  auto ping = nslab::run_in_node(lab.node("a"), "ping -n -c 1 -W 1 -M do -s 1472 10.0.1.2");
  BOOST_TEST(!ping.ok(), ping.output);
  BOOST_TEST(has(ping.output, "From 10.0.0.1 icmp_seq=1 Frag needed and DF set (mtu = 1400)"), ping.output);
}

// Without df, the first too-big echo teaches the kernel the MTU and the
// resend goes in fragments: reachable, as plain `ping -s 1472` is.
BOOST_AUTO_TEST_CASE(without_df_a_large_echo_is_fragmented_and_answered) {
  auto& lab = build(mtu_lab());
  Probe p = shaped(Protocol::icmp, 0);
  p.size = 1472;
  auto r = lab.probe(p, fast());
  BOOST_TEST(r.verdict == Verdict::reachable, r.detail);
  BOOST_TEST(has(r.detail, "echo reply from 10.0.1.2"), r.detail);
  auto ping = nslab::run_in_node(lab.node("a"), "ping -n -c 2 -i 0.2 -W 1 -s 1472 10.0.1.2");
  BOOST_TEST(has(ping.output, "1480 bytes from 10.0.1.2"), ping.output);
  // Larger than a's own link: fragmented at the source from the start.
  p.size = 3000;
  auto big = lab.probe(p, fast());
  BOOST_TEST(big.verdict == Verdict::reachable, big.detail);
}

// Larger than the source's own link, with df: EMSGSIZE at once, as
// `ping -M do -s 1473` fails with "message too long".
BOOST_AUTO_TEST_CASE(df_larger_than_the_own_link_fails_at_the_source) {
  auto& lab = build(mtu_lab());
  Probe p = shaped(Protocol::icmp, 0);
  p.size = 1473;
  p.df = true;
  auto r = lab.probe(p, fast());
  BOOST_TEST(r.verdict == Verdict::unreachable, r.detail);
  BOOST_TEST(has(r.detail, "Message too long"), r.detail);
  auto ping = nslab::run_in_node(lab.node("a"), "ping -n -c 1 -W 1 -M do -s 1473 10.0.1.2");
  BOOST_TEST(!ping.ok(), ping.output);
  BOOST_TEST(has(ping.output, "message too long"), ping.output);
}

// UDP with df: the router's "fragmentation needed" is the verdict; without
// df the datagram is resent in fragments and b's service echoes it.
BOOST_AUTO_TEST_CASE(udp_df_and_size) {
  auto& lab = build(mtu_lab());
  Probe p = shaped(Protocol::udp, 53);
  p.size = 1472;
  p.df = true;
  auto r = lab.probe(p, fast());
  BOOST_TEST(r.verdict == Verdict::unreachable, r.detail);
  BOOST_TEST(has(r.detail, "ICMP fragmentation needed (mtu 1400) from 10.0.0.1"), r.detail);
  auto local = lab.probe(p, fast());  // the kernel knows the MTU now
  BOOST_TEST(local.verdict == Verdict::unreachable, local.detail);
  BOOST_TEST(has(local.detail, "mtu 1400 toward 10.0.1.2"), local.detail);
  p.df = false;
  auto frag = lab.probe(p, fast());
  BOOST_TEST(frag.verdict == Verdict::reachable, frag.detail);
  BOOST_TEST(has(frag.detail, "payload echoed"), frag.detail);
  BOOST_TEST(!frag.payload_problem());
  BOOST_TEST(frag.probe.payload.size() == 1472u);
}

// IPv6: a router never fragments; too big is "packet too big" with the MTU.
BOOST_AUTO_TEST_CASE(ipv6_df_too_big_is_packet_too_big) {
  auto& lab = build(mtu_lab());
  Probe p = shaped(Protocol::icmp, 0, "fd00:b::2");
  p.size = 1452;  // 1452 + 8 + 40 = 1500
  p.df = true;
  auto r = lab.probe(p, fast());
  BOOST_TEST(r.verdict == Verdict::unreachable, r.detail);
  BOOST_TEST(has(r.detail, "ICMPv6 packet too big (mtu 1400) from fd00:a::1"), r.detail);
}

// A tcp/udp size is a generated payload of that many bytes, echoed back.
BOOST_AUTO_TEST_CASE(a_tcp_size_is_a_payload_of_that_many_bytes) {
  auto& lab = build(mtu_lab());
  Probe p = shaped(Protocol::tcp, 80);
  p.size = 100000;
  auto r = lab.probe(p, fast());
  BOOST_TEST(r.verdict == Verdict::reachable, r.detail);
  BOOST_TEST(has(r.detail, "payload echoed"), r.detail);
  BOOST_TEST(r.probe.payload.size() == 100000u);
}

// Bad shapes from C++ are refused as the scenario loader refuses them.
BOOST_AUTO_TEST_CASE(a_bad_shape_is_a_config_error) {
  auto& lab = build(mtu_lab());
  Probe ttl = shaped(Protocol::icmp, 0);
  ttl.ttl = 256;
  BOOST_CHECK_THROW(lab.probe(ttl, fast()), nslab::ConfigError);
  Probe df = shaped(Protocol::tcp, 80);
  df.df = true;
  BOOST_CHECK_THROW(lab.probe(df, fast()), nslab::ConfigError);
  Probe both = shaped(Protocol::udp, 53);
  both.size = 10;
  both.payload = "x";
  BOOST_CHECK_THROW(lab.probe(both, fast()), nslab::ConfigError);
  Probe huge = shaped(Protocol::icmp, 0);
  huge.size = nslab::Probe::kMaxEchoData + 1;
  BOOST_CHECK_THROW(lab.probe(huge, fast()), nslab::ConfigError);
}

BOOST_AUTO_TEST_SUITE_END()
