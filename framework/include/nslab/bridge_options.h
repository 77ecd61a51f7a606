// A Linux bridge as a switch: its own settings (VLAN filtering, STP, ageing,
// br_netfilter, multicast snooping) and those of its ports (access and trunk
// VLANs, isolation, hairpin, learning), held by a BridgeSpec. Plain data,
// in the words of `ip link ... type bridge` and `bridge vlan`/`bridge link`;
// Topology::problems() checks them, a Lab sets them through netlink. A
// bridge whose options are all empty is created exactly as before.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nslab/error.h"

namespace nslab {

inline constexpr int kMaxVlanId = 4094;

// One port of a bridge, keyed by the port's interface name (a veth end
// "node:veth-a@br0", or a link kind with `bridge: br0`).
//   access port:  BridgePort{.name = "veth-a", .pvid = 10}       untagged in VLAN 10
//   trunk port:   BridgePort{.name = "trunk0", .vlans = {10, 20}} tagged 10 and 20
//   native VLAN:  both: untagged frames join `pvid`, the rest carry tags
// A port given a pvid or vlans keeps no other VLAN (the kernel's default
// VLAN 1 is taken away unless listed); a port not listed keeps VLAN 1.
struct BridgePort {
  std::string name;
  std::optional<int> pvid;       // 1..4094: untagged frames in and out (`bridge vlan ... pvid untagged`)
  std::vector<int> vlans;        // 1..4094: tagged on the wire
  std::optional<bool> isolated;  // an isolated port talks only to ports that are not
  std::optional<bool> hairpin;   // frames may leave by the port they came in by
  std::optional<bool> learning;  // the bridge learns source MACs on this port
  SourceLocation where;

  bool has_vlans() const noexcept { return pvid.has_value() || !vlans.empty(); }
  // "pvid 10", "vlans 10,20", "pvid 1 vlans 10,20"; empty without VLANs.
  std::string vlan_label() const;
};

struct BridgeOptions {
  std::optional<bool> vlan_filtering;  // needs CONFIG_BRIDGE_VLAN_FILTERING
  std::optional<bool> stp;             // the kernel's own STP (off by default: ports forward at once)
  std::optional<int> forward_delay;    // seconds, 2..30, with stp; nslab's default 2 (the kernel's is 15)
  std::optional<int> ageing;           // seconds a learned MAC is kept, 0..1000000 (the kernel's default 300)
  // Bridged IPv4 crosses the node's iptables/nftables `ip` hooks (FORWARD),
  // for this bridge only; needs the br_netfilter module.
  std::optional<bool> nf_call_iptables;
  std::optional<bool> mcast_snooping;  // the kernel's default: on
  std::vector<BridgePort> ports;
  SourceLocation where;

  // True when the bridge itself has a setting (sent with its creation).
  bool bridge_level() const noexcept {
    return vlan_filtering || stp || forward_delay || ageing || nf_call_iptables || mcast_snooping;
  }
  bool empty() const noexcept { return !bridge_level() && ports.empty(); }
  const BridgePort* find_port(std::string_view name) const;
  // Adds or replaces the port `port.name`; returns *this for chaining.
  BridgeOptions& port(BridgePort port);
};

// The STP forward delay nslab gives a bridge with stp and no forward_delay.
inline constexpr int kDefaultForwardDelay = 2;

}  // namespace nslab
