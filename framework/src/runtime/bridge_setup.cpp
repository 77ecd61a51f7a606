#include "bridge_setup.h"

#include <linux/if_bridge.h>

#include <algorithm>
#include <fmt/format.h>
#include <set>
#include <thread>
#include <unordered_map>

#include "lab_build.h"
#include "nslab/error.h"

namespace nslab {

namespace {

bool has_stp(const NodeSpec& n) {
  for (const auto& b : n.bridges)
    if (b.switching.stp.value_or(false)) return true;
  return false;
}

bool has_ports(const NodeSpec& n) {
  for (const auto& b : n.bridges)
    if (!b.switching.ports.empty()) return true;
  return false;
}

}  // namespace

void check_bridge_netfilter(const NodeSpec& spec, bool has_bridge_nf) {
  if (has_bridge_nf) return;
  for (const auto& b : spec.bridges)
    if (b.switching.nf_call_iptables.value_or(false))
      throw EnvironmentError(
          fmt::format("bridge \"{}:{}\" asks for nf_call_iptables, and the br_netfilter module is "
                      "not loaded (it is machine-wide: `modprobe br_netfilter` as root)",
                      spec.name, b.name));
}

void set_bridge_ports(const Topology& t, const std::vector<std::unique_ptr<Node>>& nodes) {
  const auto& specs = t.nodes();
  for (std::size_t k = 0; k < specs.size() && k < nodes.size(); ++k) {
    const NodeSpec& spec = specs[k];
    if (!has_ports(spec)) continue;
    Netlink& nl = netlink_of(*nodes[k]);
    std::unordered_map<std::string, int> index;
    for (const auto& l : nl.links()) index.emplace(l.name, l.index);
    for (const auto& b : spec.bridges)
      for (const auto& p : b.switching.ports) {
        auto it = index.find(p.name);
        if (it == index.end()) throw Error(fmt::format("bridge port \"{}:{}\" does not exist", spec.name, p.name));
        bool keeps_1 = p.pvid == 1 || std::find(p.vlans.begin(), p.vlans.end(), 1) != p.vlans.end();
        try {
          nl.set_bridge_port(it->second, p, p.has_vlans() && !keeps_1, spec.name + ":" + p.name);
        } catch (const NetlinkError& e) {
          throw ConfigError(e.what(), p.where.known() ? p.where : b.where);
        }
      }
  }
}

std::chrono::milliseconds stp_settle_time(const Topology& t) {
  int delay = 0;
  for (const auto& n : t.nodes())
    for (const auto& b : n.bridges)
      if (b.switching.stp.value_or(false))
        delay = std::max(delay, b.switching.forward_delay.value_or(kDefaultForwardDelay));
  return delay ? std::chrono::milliseconds(2000 * delay + 1000) : std::chrono::milliseconds(0);
}

void wait_stp_forwarding(const Topology& t, const std::vector<std::unique_ptr<Node>>& nodes,
                         std::chrono::steady_clock::time_point deadline) {
  const auto& specs = t.nodes();
  for (std::size_t k = 0; k < specs.size() && k < nodes.size(); ++k) {
    if (!has_stp(specs[k])) continue;
    Netlink& nl = netlink_of(*nodes[k]);
    // The ports of this node's STP bridges.
    std::set<int> stp_bridges;
    for (const auto& b : specs[k].bridges)
      if (b.switching.stp.value_or(false)) stp_bridges.insert(nl.link(b.name).index);
    std::set<int> ports;
    for (const auto& l : nl.links())
      if (stp_bridges.count(l.master)) ports.insert(l.index);
    for (;;) {
      std::string late;
      for (auto [ifindex, state] : nl.bridge_port_states())
        if (ports.count(ifindex) && (state == BR_STATE_LISTENING || state == BR_STATE_LEARNING))
          late += fmt::format(" {}", ifindex);
      if (late.empty()) break;
      if (std::chrono::steady_clock::now() > deadline)
        throw TimeoutError(
            fmt::format("node \"{}\": STP bridge ports (ifindex{}) still not forwarding", specs[k].name, late));
      // STP's own timers run in seconds; a poll every 50 ms costs nothing.
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
}

}  // namespace nslab
