// Captures with libpcap inside nodes: on a bridge, a bridge port and both ends
// of a veth; every kind of assertion passing and failing for real; the NAT
// rewrite seen on the wire; no packet lost under a matrix; pcap files that
// tcpdump reads.
#include <boost/test/unit_test.hpp>

#include <netinet/ip_icmp.h>
#include <netinet/tcp.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fmt/format.h>

#include "nslab/lab_fixture.h"
#include "nslab/witness.h"
#include "seed_topologies.h"
#include "text.h"

using nslab::testing::has;

using nslab::Verdict;

namespace {

// A second, independent reader: Python's struct module counting the records
// of a pcap file (after checking its magic and link type). "" on a bad file.
std::string python_pcap_records(const std::string& path) {
  return nslab::run_command(
             "python3 -c 'import struct,sys\n"
             "d=open(sys.argv[1],\"rb\").read()\n"
             "m,_,_,_,_,_,lt=struct.unpack(\"<IHHiIII\",d[:24])\n"
             "assert m==0xa1b2c3d4 and lt==1\n"
             "n,o=0,24\n"
             "while o<len(d):\n"
             "  cl=struct.unpack(\"<IIII\",d[o:o+16])[2]; o+=16+cl; n+=1\n"
             "print(n)' " +
             path)
      .output;
}
nslab::Topology nat_lab() {
  nslab::Topology t = nslab::seed::host_access();
  t.node("host")
      .sysctl("net.ipv4.ip_forward", "1")
      .iptables_rules("-t nat -A POSTROUTING -s 192.168.1.0/24 -o eth0 -j MASQUERADE");
  t.add_node("external").service(nslab::Protocol::tcp, 80);
  t.link("host:eth0 203.0.113.1/24", "external:eth0 203.0.113.2/24");
  for (const char* n : {"red", "blue", "green"}) t.node(n).route("default", "192.168.1.254");
  return t;
}
}  // namespace

BOOST_FIXTURE_TEST_SUITE(capture, nslab::LabFixture)

BOOST_AUTO_TEST_CASE(both_ends_of_a_veth_see_the_same_ping) {
  auto& lab = build(nslab::seed::veth_pair());
  auto& red = capture("red:veth-red", "icmp");
  auto& blue = capture("blue:veth-blue", "icmp");
  BOOST_TEST(lab.ping("red", "blue") == Verdict::reachable);
  for (auto* cap : {&red, &blue}) {
    BOOST_TEST(cap->count() == 2u, cap->label());  // request and reply
    BOOST_TEST(cap->count("icmp[icmptype] == icmp-echo and src host 192.168.1.1") == 1u);
    BOOST_TEST(cap->count("icmp[icmptype] == icmp-echoreply and src host 192.168.1.2") == 1u);
    BOOST_TEST(cap->count_if(nslab::src("192.168.1.1")) == 1u);
    BOOST_TEST(cap->dropped() == 0u);
  }
  // Decoded fields: addresses, protocol, ICMP type, MACs of the lab's making.
  const auto& req = red.packets().at(0);
  BOOST_TEST(req.src->str() == "192.168.1.1");
  BOOST_TEST(req.dst->str() == "192.168.1.2");
  BOOST_TEST(*req.protocol == IPPROTO_ICMP);
  BOOST_TEST(*req.icmp_type == ICMP_ECHO);
  BOOST_TEST(req.src_mac[0] == 0x02);
  BOOST_TEST(req.src_mac == lab.node("red").interfaces().at(0).mac);
}

BOOST_AUTO_TEST_CASE(bridge_and_bridge_port) {
  auto& lab = build(nslab::seed::host_access());
  auto& bridge = capture("host:v-net-0", "icmp");
  auto& port = capture("host:veth-blue", "icmp");
  auto& other = capture("host:veth-green", "icmp");
  BOOST_TEST(lab.ping("red", "blue") == Verdict::reachable);
  BOOST_TEST(port.count() == 2u);
  BOOST_TEST(other.count() == 0u);   // a switch: green's port never sees it
  BOOST_TEST(bridge.count() == 2u);  // the bridge itself (promiscuous) sees it pass
}

BOOST_AUTO_TEST_CASE(tcp_fields_and_flags) {
  auto t = nslab::seed::veth_pair();
  t.node("blue").service(nslab::Protocol::tcp, 80);
  auto& lab = build(std::move(t));
  auto& cap = capture("blue:veth-blue", "tcp port 80");
  BOOST_TEST(lab.tcp("red", "blue", 80).verdict == Verdict::reachable);
  auto closed = lab.tcp("red", "blue", 81);  // filtered out of this capture
  BOOST_TEST(closed.verdict == Verdict::refused);
  BOOST_TEST(cap.count("tcp[tcpflags] == tcp-syn") == 1u);
  BOOST_TEST(cap.count("tcp[tcpflags] == (tcp-syn|tcp-ack)") == 1u);
  std::size_t syn = cap.count_if(
      [](const nslab::Packet& p) { return p.tcp_flags && *p.tcp_flags == TH_SYN && p.dport == 80 && p.sport >= 1024; });
  BOOST_TEST(syn == 1u);
  BOOST_TEST(cap.count("port 81") == 0u);
}

BOOST_AUTO_TEST_CASE(masquerade_rewrites_the_source_on_the_wire) {
  auto& lab = build(nat_lab());
  auto& outside = capture("external:eth0", "icmp");
  auto& inside = capture("host:veth-red", "icmp");
  BOOST_TEST(lab.ping("red", "external") == Verdict::reachable);
  BOOST_TEST(inside.count("src host 192.168.1.1 and icmp[icmptype] == icmp-echo") == 1u);
  BOOST_TEST(outside.count("src host 203.0.113.1 and icmp[icmptype] == icmp-echo") == 1u);
  BOOST_TEST(outside.count("src net 192.168.1.0/24") == 0u);  // red's own address never leaves
}

BOOST_AUTO_TEST_CASE(a_drop_leaves_the_target_port_silent) {
  auto t = nslab::seed::host_access();
  // Bridged traffic filtered by the host: blue takes no ping from red.
  t.node("host").nftables_ruleset(
      "table bridge f { chain forward { type filter hook forward priority 0; "
      "ip saddr 192.168.1.1 ip daddr 192.168.1.2 icmp type echo-request drop; }; }");
  auto& lab = build(std::move(t));
  auto& red_port = capture("host:veth-red", "icmp");
  auto& blue_port = capture("host:veth-blue", "icmp");
  nslab::ProbeOptions fast;
  fast.timeout = std::chrono::milliseconds(400);
  BOOST_TEST(lab.ping("red", "blue", fast) == Verdict::blocked);
  BOOST_TEST(red_port.count() >= 1u);   // it left red (and was sent again)
  BOOST_TEST(blue_port.count() == 0u);  // and never reached blue's port
  BOOST_TEST(lab.ping("red", "green", fast) == Verdict::reachable);
}

BOOST_AUTO_TEST_CASE(count_assertions_fail_for_real) {
  auto& lab = build(nslab::seed::veth_pair());
  auto& cap = capture("blue:veth-blue", "icmp");
  lab.ping("red", "blue");
  nslab::CountSpec exactly_two{nslab::CountSpec::Op::eq, 2}, zero{nslab::CountSpec::Op::eq, 0},
      at_most_one{nslab::CountSpec::Op::le, 1}, at_least_three{nslab::CountSpec::Op::ge, 3};
  BOOST_TEST(exactly_two.holds(cap.count()));
  BOOST_TEST(!zero.holds(cap.count()));
  BOOST_TEST(!at_most_one.holds(cap.count()));
  BOOST_TEST(!at_least_three.holds(cap.count()));
  BOOST_TEST(nslab::CountSpec::parse(">= 1")->str() == ">= 1");
  BOOST_TEST(nslab::CountSpec::parse("0")->holds(0));
  BOOST_TEST(!nslab::CountSpec::parse("lots"));
  BOOST_TEST(!nslab::src("192.168.1.2")(cap.packets().at(0)));
}

BOOST_AUTO_TEST_CASE(an_invalid_filter_names_itself_and_libpcaps_reason) {
  auto& lab = build(nslab::seed::veth_pair());
  BOOST_CHECK_EXCEPTION(lab.capture("red:veth-red", "icmp and and"), nslab::ConfigError,
                        [](const nslab::ConfigError& e) {
                          return has(e.what(), "capture filter \"icmp and and\" on \"red:veth-red\" is invalid: ") &&
                                 has(e.what(), "syntax error");
                        });
  BOOST_CHECK_EXCEPTION(lab.capture("red:eth9"), nslab::Error,
                        [](const nslab::Error& e) { return has(e.what(), "cannot capture on \"red:eth9\""); });
  BOOST_TEST(!nslab::bpf_filter_problem("tcp port 80").has_value());
}

BOOST_AUTO_TEST_CASE(no_packet_lost_during_a_110_probe_matrix) {
  build(nslab::seed::bridge_n(11));
  auto& cap = capture("host:v-net-0", "icmp");
  nslab::MatrixSpec spec;
  for (int i = 1; i <= 11; ++i) spec.nodes.push_back(fmt::format("n{}", i));
  auto report = check_matrix(spec);
  BOOST_TEST(report.results.size() == 110u);
  cap.stop();
  BOOST_TEST(cap.count("icmp[icmptype] == icmp-echo") == 110u);
  BOOST_TEST(cap.count("icmp[icmptype] == icmp-echoreply") == 110u);
  BOOST_TEST(cap.dropped() == 0u);
}

BOOST_AUTO_TEST_CASE(pcap_files_are_read_by_tcpdump) {
  auto& lab = build(nat_lab());
  auto& cap = capture("external:eth0");
  lab.ping("red", "external");
  lab.tcp("blue", "external", 80);
  cap.stop();  // the connection's last segments may still be on their way
  auto path = std::filesystem::temp_directory_path() / fmt::format("nslab-test-capture-{}.pcap", ::getpid());
  cap.save(path.string());
  BOOST_TEST(python_pcap_records(path.string()) == fmt::format("{}\n", cap.count()));
  auto r = nslab::run_command("tcpdump -n -r " + path.string());
  // tcpdump, as root, drops privileges to its own user; inside a user
  // namespace (a rootless run) it cannot, and refuses to go on.
  if (!has(r.output, "Couldn't change to")) {
    BOOST_TEST(r.ok(), r.output);
    BOOST_TEST(has(r.output, "203.0.113.1 > 203.0.113.2: ICMP echo request"), r.output);
    BOOST_TEST(has(r.output, "203.0.113.2.80: Flags [S]"), r.output);
    auto lines = nslab::run_command("tcpdump -n -r " + path.string() + " 2>/dev/null | grep -c ' IP '");
    BOOST_TEST(std::stoul(lines.output) == cap.count(), r.output);
  } else {
    BOOST_TEST_MESSAGE("tcpdump cannot drop privileges in this user namespace; Python read the file");
  }
  std::filesystem::remove(path);
}

BOOST_AUTO_TEST_CASE(the_fixture_keeps_pcaps_when_asked) {
  auto dir = std::filesystem::temp_directory_path() / "nslab-test-artifacts";
  std::filesystem::remove_all(dir);
  ::setenv("NSLAB_ARTIFACTS", dir.c_str(), 1);
  ::setenv("NSLAB_KEEP_PCAPS", "1", 1);
  {
    nslab::LabFixture inner;
    inner.build(nslab::seed::veth_pair());
    inner.capture("red:veth-red", "icmp");
    inner.lab().ping("red", "blue");
  }
  ::unsetenv("NSLAB_KEEP_PCAPS");
  ::unsetenv("NSLAB_ARTIFACTS");
  auto file = dir / "the_fixture_keeps_pcaps_when_asked-1-red-veth-red.pcap";
  BOOST_TEST(std::filesystem::exists(file), file);
  BOOST_TEST(python_pcap_records(file.string()) == "2\n");
  std::filesystem::remove_all(dir);
}

BOOST_AUTO_TEST_SUITE_END()
