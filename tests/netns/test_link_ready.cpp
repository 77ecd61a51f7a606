// build() returns only when every link passes packets: the first burst of
// single-shot probes after build() is answered in full, also while the
// kernel is still destroying the namespaces of a lab that held nftables
// rules (the situation of impairment/loss_is_counted_over_many_probes, whose
// clean control lab once answered 0 of 400, and of its rate test, whose
// unshaped control once measured 19.4 Mbit/s: its first SYN was lost, and
// connect() waited for the kernel's retransmission a second later).
//
// The cause, fixed in Lab::wait_links_up: until the veth end that was set
// up first is operationally up, its transmit queue is still the kernel's
// noop qdisc and drops every packet silently (counted as TX dropped),
// although netlink already shows carrier, IFF_RUNNING and qdisc "noqueue".
#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>

#include "netlink.h"
#include "node_internals.h"
#include "nslab/impairment.h"
#include "nslab/lab.h"
#include "nslab/witness.h"
#include "seed_topologies.h"

using namespace std::chrono_literals;

namespace {

nslab::Topology lossy_pair() {
  auto t = nslab::seed::veth_pair();
  nslab::Impairment im;
  im.loss_percent = 20;
  im.direction = nslab::Impairment::Direction::a_to_b;
  t.links().at(0).impair = im;
  return t;
}

}  // namespace

BOOST_AUTO_TEST_CASE(the_first_burst_after_build_is_answered) {
  for (int i = 0; i < 100; ++i) {
    {
      nslab::Lab gone(lossy_pair());
    }  // its namespaces die in the background, now
    nslab::Lab lab(nslab::seed::veth_pair());
    std::vector<nslab::Probe> probes(400, nslab::Probe{"red", "blue"});
    nslab::ProbeOptions once;  // single shot: nothing is resent
    once.timeout = 500ms;
    once.retry_interval = 60s;
    std::size_t n = 0;
    for (const auto& r : lab.probe(probes, once)) n += r.verdict == nslab::Verdict::reachable;
    if (n != 400) {
      auto red = nslab::run_in_node(lab.node("red"), "ip -s link show dev veth-red");
      BOOST_TEST(n == 400u, "lab " << i << ": " << n << " of 400 answered right after build(); red:\n" << red.output);
      return;
    }
  }
}

BOOST_AUTO_TEST_CASE(a_connect_right_after_build_needs_no_syn_retransmission) {
  for (int i = 0; i < 100; ++i) {
    {
      nslab::Lab gone(lossy_pair());
    }
    nslab::Lab lab(nslab::seed::veth_pair());
    nslab::Fd listener = lab.node("blue").socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(9000);
    BOOST_REQUIRE(::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    BOOST_REQUIRE(::listen(listener.get(), 1) == 0);
    nslab::Fd client = lab.node("red").socket(AF_INET, SOCK_STREAM, 0);
    inet_pton(AF_INET, "192.168.1.2", &addr.sin_addr);
    auto t0 = std::chrono::steady_clock::now();
    BOOST_REQUIRE(::connect(client.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
    if (took > 500ms) {
      auto red = nslab::run_in_node(lab.node("red"), "ip -s link show dev veth-red");
      BOOST_TEST(took.count() < 500, "lab " << i << ": connect() took " << took.count() << " ms; red:\n" << red.output);
      return;
    }
  }
}

// The build looks ifindexes up by name (Netlink::index_of, SIOCGIFINDEX on
// the node's netlink socket, inside the node): any name the kernel allows,
// a dotted VLAN-style one too, and the index iproute2 shows.
BOOST_AUTO_TEST_CASE(ifindexes_by_name_agree_with_iproute2) {
  nslab::Lab lab(nslab::seed::veth_pair());
  auto made = nslab::run_in_node(lab.node("red"), "ip link add x.10 type veth peer name y.10");
  BOOST_REQUIRE_MESSAGE(made.status == 0, made.output);
  for (const char* name : {"x.10", "y.10", "lo"}) {
    auto ip = nslab::run_in_node(lab.node("red"), std::string("ip -o link show ") + name);
    BOOST_REQUIRE_MESSAGE(ip.status == 0, ip.output);
    const int by_ip = std::stoi(ip.output.substr(0, ip.output.find(':')));
    BOOST_TEST(nslab::NodeInternals::netlink(lab.node("red")).index_of(name).value_or(-1) == by_ip,
               name << ": " << ip.output);
  }
  BOOST_TEST(!nslab::NodeInternals::netlink(lab.node("red")).index_of("nosuch.1").has_value());
  BOOST_TEST(!nslab::NodeInternals::netlink(lab.node("blue")).index_of("x.10").has_value());  // red's, not blue's
}
