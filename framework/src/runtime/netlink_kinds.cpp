// Link kinds other than veth and bridge, each created in one RTM_NEWLINK
// message built with libnl's message API (as netlink.cpp builds veths), so
// that the kernel's own errno reaches the message. libnl-route's
// rtnl_link_* objects would lose it, and have no bond mode or miimon.
#include <arpa/inet.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/if_tunnel.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cerrno>
#include <fmt/format.h>

#include "netlink.h"
#include "netlink_impl.h"
#include "nslab/error.h"
#include "nslab/link_kinds.h"

namespace nslab {

using namespace nl;

namespace {

void put_u8(nl_msg* m, int type, std::uint8_t v) {
  put(m, type, &v, sizeof v);
}
void put_u16(nl_msg* m, int type, std::uint16_t v) {
  put(m, type, &v, sizeof v);
}
void put_v4(nl_msg* m, int type, const IpAddress& a) {
  put(m, type, a.data(), 4);
}

// The kind's own attributes, inside IFLA_INFO_DATA.
void put_data(nl_msg* m, const NodeInterface& i, int parent) {
  switch (i.kind) {
    case InterfaceKind::macvlan: {
      std::uint32_t mode = MACVLAN_MODE_VEPA;
      if (i.macvlan_mode == MacvlanMode::bridge) mode = MACVLAN_MODE_BRIDGE;
      if (i.macvlan_mode == MacvlanMode::private_) mode = MACVLAN_MODE_PRIVATE;
      if (i.macvlan_mode == MacvlanMode::passthru) mode = MACVLAN_MODE_PASSTHRU;
      put_u32(m, IFLA_MACVLAN_MODE, mode);
      break;
    }
    case InterfaceKind::ipvlan: {
      std::uint16_t mode = IPVLAN_MODE_L3;
      if (i.ipvlan_mode == IpvlanMode::l2) mode = IPVLAN_MODE_L2;
      if (i.ipvlan_mode == IpvlanMode::l3s) mode = IPVLAN_MODE_L3S;
      put_u16(m, IFLA_IPVLAN_MODE, mode);
      break;
    }
    case InterfaceKind::vlan: put_u16(m, IFLA_VLAN_ID, static_cast<std::uint16_t>(i.vlan_id)); break;
    case InterfaceKind::bond:
      // The bond modes are numbered as BondMode lists them.
      put_u8(m, IFLA_BOND_MODE, static_cast<std::uint8_t>(i.bond_mode));
      // Link monitoring: without it a bond never sees a member lose carrier.
      put_u32(m, IFLA_BOND_MIIMON, 100);
      break;
    case InterfaceKind::vrf: put_u32(m, IFLA_VRF_TABLE, i.table); break;
    case InterfaceKind::gre:
      if (i.local) put_v4(m, IFLA_GRE_LOCAL, *i.local);
      if (i.remote) put_v4(m, IFLA_GRE_REMOTE, *i.remote);
      if (i.ttl > 0) put_u8(m, IFLA_GRE_TTL, static_cast<std::uint8_t>(i.ttl));
      if (parent) put_u32(m, IFLA_GRE_LINK, static_cast<std::uint32_t>(parent));
      if (i.key) {
        std::uint32_t key = htonl(*i.key);
        put_u32(m, IFLA_GRE_IKEY, key);
        put_u32(m, IFLA_GRE_OKEY, key);
        put_u16(m, IFLA_GRE_IFLAGS, GRE_KEY);
        put_u16(m, IFLA_GRE_OFLAGS, GRE_KEY);
      }
      break;
    case InterfaceKind::ipip:
      if (i.local) put_v4(m, IFLA_IPTUN_LOCAL, *i.local);
      if (i.remote) put_v4(m, IFLA_IPTUN_REMOTE, *i.remote);
      if (i.ttl > 0) put_u8(m, IFLA_IPTUN_TTL, static_cast<std::uint8_t>(i.ttl));
      if (parent) put_u32(m, IFLA_IPTUN_LINK, static_cast<std::uint32_t>(parent));
      break;
    case InterfaceKind::vxlan:
      put_u32(m, IFLA_VXLAN_ID, i.vni);
      if (i.remote) put_v4(m, IFLA_VXLAN_GROUP, *i.remote);
      if (i.group) put_v4(m, IFLA_VXLAN_GROUP, *i.group);
      if (i.local) put_v4(m, IFLA_VXLAN_LOCAL, *i.local);
      if (i.ttl > 0) put_u8(m, IFLA_VXLAN_TTL, static_cast<std::uint8_t>(i.ttl));
      if (parent) put_u32(m, IFLA_VXLAN_LINK, static_cast<std::uint32_t>(parent));
      put_u16(m, IFLA_VXLAN_PORT, htons(i.dstport));
      break;
    case InterfaceKind::loopback:
    case InterfaceKind::dummy: break;
  }
}

// What the kernel's VRF documentation asks for: an unreachable default at
// the end of the VRF's table, so that a lookup that finds nothing there
// ends in the VRF instead of falling through to the main table.
constexpr std::uint32_t kVrfDefaultMetric = 4278198272u;

Msg vrf_default(std::uint32_t table, int af) {
  Msg m = new_msg(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK);
  rtmsg rtm{};
  rtm.rtm_family = static_cast<unsigned char>(af);
  rtm.rtm_table = RT_TABLE_UNSPEC;
  rtm.rtm_protocol = RTPROT_STATIC;
  rtm.rtm_type = RTN_UNREACHABLE;
  rtm.rtm_scope = RT_SCOPE_UNIVERSE;
  append(m.get(), rtm);
  put_u32(m.get(), RTA_TABLE, table);
  put_u32(m.get(), RTA_PRIORITY, kVrfDefaultMetric);
  return m;
}

bool stands_on_parent(InterfaceKind k) {
  return k == InterfaceKind::macvlan || k == InterfaceKind::ipvlan || k == InterfaceKind::vlan;
}

}  // namespace

int Netlink::create_kind(const NodeInterface& i, int parent, std::string_view label) {
  const std::string_view kind = to_string(i.kind);
  if (i.kind == InterfaceKind::loopback) throw Error(fmt::format("\"{}\" is lo; it exists already", label));
  Msg m = new_msg(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  append(m.get(), ifi);
  put_str(m.get(), IFLA_IFNAME, i.name);
  if (i.mtu > 0) put_u32(m.get(), IFLA_MTU, static_cast<std::uint32_t>(i.mtu));
  if (stands_on_parent(i.kind)) put_u32(m.get(), IFLA_LINK, static_cast<std::uint32_t>(parent));
  nlattr* linkinfo = nest(m.get(), IFLA_LINKINFO);
  put_str(m.get(), IFLA_INFO_KIND, kind);
  if (i.kind != InterfaceKind::dummy) {
    nlattr* data = nest(m.get(), IFLA_INFO_DATA);
    put_data(m.get(), i, parent);
    nla_nest_end(m.get(), data);
  }
  nla_nest_end(m.get(), linkinfo);
  int err = impl_->transact(m.get());
  // The kernel answers an unknown kind (no driver built in, no module to
  // load) with EOPNOTSUPP: "Unknown device type".
  if (err == EOPNOTSUPP)
    throw EnvironmentError(
        fmt::format("cannot create {} \"{}\": this kernel has no {} interfaces ({}, built in or "
                    "as a module)",
                    kind, label, kind, kernel_option(i.kind)));
  if (err != 0) throw NetlinkError(fmt::format("cannot create {} \"{}\"", kind, label), err);
  if (i.kind == InterfaceKind::vrf)
    for (int af : {AF_INET, AF_INET6}) {
      Msg r = vrf_default(i.table, af);
      // A kernel without IPv6 has no IPv6 table to end.
      if (int e = impl_->transact(r.get()); e != 0 && !(af == AF_INET6 && e == EAFNOSUPPORT))
        throw NetlinkError(fmt::format("cannot add \"unreachable default\" to table {} of vrf \"{}\"", i.table, label),
                           e);
    }
  // Found by a dump: link() refuses names that veths may not have ("eth0.10").
  for (const auto& l : links())
    if (l.name == i.name) return l.index;
  throw NetlinkError(fmt::format("no link \"{}\" after creating it", label), ENODEV);
}

}  // namespace nslab
