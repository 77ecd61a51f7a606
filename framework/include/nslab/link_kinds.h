// Interfaces a node makes of its own, besides veth ends and bridges: dummy,
// macvlan, ipvlan, vlan, bond, vrf, gre, ipip and vxlan, and addresses on
// lo (a scenario node's `interfaces:`). Plain data: Topology::problems()
// checks them, a Lab creates them inside their node once its veths and
// bridges exist, each after the interfaces it stands on.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nslab/error.h"
#include "nslab/ip_address.h"

namespace nslab {

enum class InterfaceKind { loopback, dummy, macvlan, ipvlan, vlan, bond, vrf, gre, ipip, vxlan };
// The kernel's defaults first: macvlan vepa, ipvlan l3, bond balance-rr.
enum class MacvlanMode { vepa, bridge, private_, passthru };
enum class IpvlanMode { l3, l2, l3s };
enum class BondMode { balance_rr, active_backup, balance_xor, broadcast, lacp, balance_tlb, balance_alb };

// The words a scenario writes ("vlan", "private", "active-backup", "802.3ad").
std::string_view to_string(InterfaceKind k) noexcept;
std::string_view to_string(MacvlanMode m) noexcept;
std::string_view to_string(IpvlanMode m) noexcept;
std::string_view to_string(BondMode m) noexcept;
std::optional<InterfaceKind> parse_interface_kind(std::string_view text);
std::optional<MacvlanMode> parse_macvlan_mode(std::string_view text);
std::optional<IpvlanMode> parse_ipvlan_mode(std::string_view text);
std::optional<BondMode> parse_bond_mode(std::string_view text);
// Every word of a kind of value, for messages and "did you mean".
std::vector<std::string> interface_kind_names();
std::vector<std::string> macvlan_mode_names();
std::vector<std::string> ipvlan_mode_names();
std::vector<std::string> bond_mode_names();

// The kernel option a kind needs ("CONFIG_VLAN_8021Q"); empty for lo.
std::string_view kernel_option(InterfaceKind k) noexcept;
// gre, ipip and vxlan join two nodes across the routed underlay.
bool is_tunnel(InterfaceKind k) noexcept;

inline constexpr std::uint16_t kVxlanPort = 4789;  // IANA's
inline constexpr std::uint32_t kMaxVni = (1u << 24) - 1;

// One interface of a node, with the keys its kind uses (the others stay at
// their defaults; problems() refuses a key set for a kind that has no use
// for it). Build with designated initialisers:
//   NodeInterface{.name = "eth0.10", .kind = InterfaceKind::vlan, .parent = "eth0", .vlan_id = 10}
struct NodeInterface {
  std::string name;  // "lo" for kind loopback; a vlan may have a dot: "eth0.10"
  InterfaceKind kind = InterfaceKind::dummy;
  std::vector<Prefix> addresses;
  int mtu = 0;     // 0: the kernel's default (a vlan or macvlan: its parent's)
  bool up = true;  // false leaves it down
  // macvlan, ipvlan, vlan: the interface it stands on; gre, ipip, vxlan:
  // the underlay device it is bound to (optional).
  std::string parent;
  // A bridge of the node this interface is a port of (dummy, macvlan, vlan,
  // bond, vxlan): a VLAN or a VXLAN into a switch.
  std::string bridge;
  MacvlanMode macvlan_mode = MacvlanMode::vepa;
  IpvlanMode ipvlan_mode = IpvlanMode::l3;
  BondMode bond_mode = BondMode::balance_rr;
  int vlan_id = 0;                   // vlan: 1..4094
  std::vector<std::string> members;  // bond, vrf: interfaces of the node it enslaves
  std::uint32_t table = 0;           // vrf: its routing table
  // gre, ipip, vxlan: underlay addresses (IPv4). vxlan takes `remote` (one
  // peer) or `group` (a multicast group), not both.
  std::optional<IpAddress> local;
  std::optional<IpAddress> remote;
  std::optional<IpAddress> group;
  int ttl = -1;                        // gre, ipip, vxlan: 1..255; -1: inherit (the kernel's default)
  std::optional<std::uint32_t> key;    // gre: the GRE key, both ways
  std::uint32_t vni = 0;               // vxlan: 0..16777215
  std::uint16_t dstport = kVxlanPort;  // vxlan: the UDP port, both ways
  SourceLocation where;

  std::string label(std::string_view node) const { return std::string(node) + ":" + name; }
};

}  // namespace nslab
