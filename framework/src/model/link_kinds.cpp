// The words of link kinds and their modes, and NodeSpec's builders for them.
#include "nslab/link_kinds.h"

#include <array>
#include <utility>

#include "nslab/topology.h"

namespace nslab {

namespace {

template <typename E, std::size_t N>
using Words = std::array<std::pair<E, std::string_view>, N>;

constexpr Words<InterfaceKind, 10> kKinds{{{InterfaceKind::loopback, "loopback"},
                                           {InterfaceKind::dummy, "dummy"},
                                           {InterfaceKind::macvlan, "macvlan"},
                                           {InterfaceKind::ipvlan, "ipvlan"},
                                           {InterfaceKind::vlan, "vlan"},
                                           {InterfaceKind::bond, "bond"},
                                           {InterfaceKind::vrf, "vrf"},
                                           {InterfaceKind::gre, "gre"},
                                           {InterfaceKind::ipip, "ipip"},
                                           {InterfaceKind::vxlan, "vxlan"}}};
constexpr Words<MacvlanMode, 4> kMacvlan{{{MacvlanMode::vepa, "vepa"},
                                          {MacvlanMode::bridge, "bridge"},
                                          {MacvlanMode::private_, "private"},
                                          {MacvlanMode::passthru, "passthru"}}};
constexpr Words<IpvlanMode, 3> kIpvlan{{{IpvlanMode::l3, "l3"}, {IpvlanMode::l2, "l2"}, {IpvlanMode::l3s, "l3s"}}};
constexpr Words<BondMode, 7> kBond{{{BondMode::balance_rr, "balance-rr"},
                                    {BondMode::active_backup, "active-backup"},
                                    {BondMode::balance_xor, "balance-xor"},
                                    {BondMode::broadcast, "broadcast"},
                                    {BondMode::lacp, "802.3ad"},
                                    {BondMode::balance_tlb, "balance-tlb"},
                                    {BondMode::balance_alb, "balance-alb"}}};

template <typename E, std::size_t N>
std::string_view word(const Words<E, N>& words, E value) noexcept {
  for (const auto& [v, w] : words)
    if (v == value) return w;
  return "?";
}
template <typename E, std::size_t N>
std::optional<E> parse(const Words<E, N>& words, std::string_view text) {
  for (const auto& [v, w] : words)
    if (w == text) return v;
  return std::nullopt;
}
template <typename E, std::size_t N>
std::vector<std::string> names(const Words<E, N>& words) {
  std::vector<std::string> out;
  for (const auto& [v, w] : words) out.emplace_back(w);
  return out;
}

}  // namespace

std::string_view to_string(InterfaceKind k) noexcept {
  return word(kKinds, k);
}
std::string_view to_string(MacvlanMode m) noexcept {
  return word(kMacvlan, m);
}
std::string_view to_string(IpvlanMode m) noexcept {
  return word(kIpvlan, m);
}
std::string_view to_string(BondMode m) noexcept {
  return word(kBond, m);
}
std::optional<InterfaceKind> parse_interface_kind(std::string_view text) {
  return parse(kKinds, text);
}
std::optional<MacvlanMode> parse_macvlan_mode(std::string_view text) {
  return parse(kMacvlan, text);
}
std::optional<IpvlanMode> parse_ipvlan_mode(std::string_view text) {
  return parse(kIpvlan, text);
}
std::optional<BondMode> parse_bond_mode(std::string_view text) {
  return parse(kBond, text);
}
std::vector<std::string> interface_kind_names() {
  return names(kKinds);
}
std::vector<std::string> macvlan_mode_names() {
  return names(kMacvlan);
}
std::vector<std::string> ipvlan_mode_names() {
  return names(kIpvlan);
}
std::vector<std::string> bond_mode_names() {
  return names(kBond);
}

std::string_view kernel_option(InterfaceKind k) noexcept {
  switch (k) {
    case InterfaceKind::loopback: return "";
    case InterfaceKind::dummy: return "CONFIG_DUMMY";
    case InterfaceKind::macvlan: return "CONFIG_MACVLAN";
    case InterfaceKind::ipvlan: return "CONFIG_IPVLAN";
    case InterfaceKind::vlan: return "CONFIG_VLAN_8021Q";
    case InterfaceKind::bond: return "CONFIG_BONDING";
    case InterfaceKind::vrf: return "CONFIG_NET_VRF";
    case InterfaceKind::gre: return "CONFIG_NET_IPGRE";
    case InterfaceKind::ipip: return "CONFIG_NET_IPIP";
    case InterfaceKind::vxlan: return "CONFIG_VXLAN";
  }
  return "";
}

bool is_tunnel(InterfaceKind k) noexcept {
  return k == InterfaceKind::gre || k == InterfaceKind::ipip || k == InterfaceKind::vxlan;
}

NodeSpec& NodeSpec::interface(NodeInterface spec) {
  interfaces.push_back(std::move(spec));
  return *this;
}

NodeSpec& NodeSpec::loopback(const std::vector<std::string>& addresses) {
  NodeInterface* lo = nullptr;
  for (auto& i : interfaces)
    if (i.kind == InterfaceKind::loopback) lo = &i;
  if (!lo) lo = &interfaces.emplace_back(NodeInterface{.name = "lo", .kind = InterfaceKind::loopback});
  for (const auto& a : addresses) lo->addresses.push_back(Prefix::from_string(a));
  return *this;
}

const NodeInterface* NodeSpec::find_interface(std::string_view interface_name) const {
  for (const auto& i : interfaces)
    if (i.name == interface_name) return &i;
  return nullptr;
}

}  // namespace nslab
