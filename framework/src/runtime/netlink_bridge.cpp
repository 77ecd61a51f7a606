// A bridge's switch settings through netlink (bridge_options.h): IFLA_BR_*
// in the bridge's own creation message, and per port one RTM_SETLINK of
// family AF_BRIDGE carrying IFLA_BRPORT_* (IFLA_PROTINFO) and the port's
// VLANs (IFLA_AF_SPEC, IFLA_BRIDGE_VLAN_INFO), as `ip link set ... type
// bridge_slave` and `bridge vlan add` send them. A bridge without options
// sends none of this.
#include <linux/if_bridge.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <fmt/format.h>

#include "netlink.h"
#include "netlink_impl.h"
#include "nslab/bridge_options.h"
#include "nslab/error.h"

namespace nslab {

using namespace nl;

namespace {

void put_u8(nl_msg* m, int type, std::uint8_t v) {
  put(m, type, &v, sizeof v);
}

// USER_HZ: the kernel's bridge timers are given in hundredths of a second.
constexpr std::uint32_t kCentis = 100;

// A message sized for a port's VLAN list (libnl's default is one page).
Msg big_msg(int type, int flags) {
  Msg m(nlmsg_alloc_size(1 << 16));
  if (!m || !nlmsg_put(m.get(), NL_AUTO_PORT, NL_AUTO_SEQ, type, 0, flags | NLM_F_REQUEST)) throw std::bad_alloc();
  return m;
}

Msg bridge_msg(int type, int index) {
  Msg m = big_msg(type, NLM_F_ACK);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_BRIDGE;
  ifi.ifi_index = index;
  append(m.get(), ifi);
  return m;
}

void put_vlan(nl_msg* m, std::uint16_t flags, int vid) {
  bridge_vlan_info v{};
  v.flags = flags;
  v.vid = static_cast<std::uint16_t>(vid);
  put(m, IFLA_BRIDGE_VLAN_INFO, &v, sizeof v);
}

// Tagged VLANs, runs of consecutive ids as ranges.
void put_tagged(nl_msg* m, std::vector<int> ids) {
  std::sort(ids.begin(), ids.end());
  for (std::size_t i = 0; i < ids.size();) {
    std::size_t j = i;
    while (j + 1 < ids.size() && ids[j + 1] == ids[j] + 1) ++j;
    if (j == i) {
      put_vlan(m, 0, ids[i]);
    } else {
      put_vlan(m, BRIDGE_VLAN_INFO_RANGE_BEGIN, ids[i]);
      put_vlan(m, BRIDGE_VLAN_INFO_RANGE_END, ids[j]);
    }
    i = j + 1;
  }
}

}  // namespace

void nl::put_bridge_data(nl_msg* m, const BridgeOptions& o) {
  nlattr* data = nest(m, IFLA_INFO_DATA);
  // Before the STP state: the kernel checks the delay's range once STP is on.
  if (o.stp.value_or(false) || o.forward_delay)
    put_u32(m, IFLA_BR_FORWARD_DELAY,
            static_cast<std::uint32_t>(o.forward_delay.value_or(kDefaultForwardDelay)) * kCentis);
  if (o.ageing) put_u32(m, IFLA_BR_AGEING_TIME, static_cast<std::uint32_t>(*o.ageing) * kCentis);
  if (o.stp) put_u32(m, IFLA_BR_STP_STATE, *o.stp ? 1 : 0);
  if (o.vlan_filtering) put_u8(m, IFLA_BR_VLAN_FILTERING, *o.vlan_filtering ? 1 : 0);
  if (o.mcast_snooping) put_u8(m, IFLA_BR_MCAST_SNOOPING, *o.mcast_snooping ? 1 : 0);
  if (o.nf_call_iptables) put_u8(m, IFLA_BR_NF_CALL_IPTABLES, *o.nf_call_iptables ? 1 : 0);
  nla_nest_end(m, data);
}

std::string nl::bridge_refusal(const BridgeOptions& o, int err) {
  if (err == EOPNOTSUPP && o.vlan_filtering.value_or(false))
    return "this kernel has no bridge VLAN filtering (CONFIG_BRIDGE_VLAN_FILTERING)";
  return {};
}

void Netlink::set_bridge_port(int index, const BridgePort& p, bool drop_default_vlan, std::string_view label) {
  const bool flags = p.isolated || p.hairpin || p.learning;
  auto refused = [&](const char* what, int err) {
    if (err == EOPNOTSUPP && p.has_vlans())
      throw EnvironmentError(
          fmt::format("cannot set the VLANs of bridge port \"{}\": this kernel has no bridge VLAN "
                      "filtering (CONFIG_BRIDGE_VLAN_FILTERING)",
                      label));
    throw NetlinkError(fmt::format("cannot set {} of bridge port \"{}\"", what, label), err);
  };
  if (flags || p.has_vlans()) {
    Msg m = bridge_msg(RTM_SETLINK, index);
    if (flags) {
      nlattr* info = nla_nest_start(m.get(), IFLA_PROTINFO | NLA_F_NESTED);
      if (!info) throw std::bad_alloc();
      if (p.isolated) put_u8(m.get(), IFLA_BRPORT_ISOLATED, *p.isolated ? 1 : 0);
      if (p.hairpin) put_u8(m.get(), IFLA_BRPORT_MODE, *p.hairpin ? 1 : 0);
      if (p.learning) put_u8(m.get(), IFLA_BRPORT_LEARNING, *p.learning ? 1 : 0);
      nla_nest_end(m.get(), info);
    }
    if (p.has_vlans()) {
      nlattr* spec = nest(m.get(), IFLA_AF_SPEC);
      if (p.pvid) put_vlan(m.get(), BRIDGE_VLAN_INFO_PVID | BRIDGE_VLAN_INFO_UNTAGGED, *p.pvid);
      put_tagged(m.get(), p.vlans);
      nla_nest_end(m.get(), spec);
    }
    if (int err = impl_->transact(m.get()); err != 0) refused(p.has_vlans() ? "the VLANs" : "the flags", err);
  }
  if (drop_default_vlan) {
    // The kernel's default VLAN (1, pvid untagged on every new port): an
    // access or trunk port keeps only the VLANs it was given.
    Msg m = bridge_msg(RTM_DELLINK, index);
    nlattr* spec = nest(m.get(), IFLA_AF_SPEC);
    put_vlan(m.get(), 0, 1);
    nla_nest_end(m.get(), spec);
    if (int err = impl_->transact(m.get()); err != 0 && err != ENOENT) refused("the default VLAN", err);
  }
}

void Netlink::set_bridge_options(int index, const BridgeOptions& o, std::string_view label) {
  Msg m = new_msg(RTM_NEWLINK, NLM_F_ACK);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  ifi.ifi_index = index;
  append(m.get(), ifi);
  nlattr* linkinfo = nest(m.get(), IFLA_LINKINFO);
  put_str(m.get(), IFLA_INFO_KIND, "bridge");
  put_bridge_data(m.get(), o);
  nla_nest_end(m.get(), linkinfo);
  if (int err = impl_->transact(m.get()); err != 0)
    throw NetlinkError(fmt::format("cannot set the options of bridge \"{}\"", label), err);
}

std::vector<std::pair<int, int>> Netlink::bridge_port_states() const {
  Msg m = new_msg(RTM_GETLINK, NLM_F_DUMP);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_BRIDGE;
  append(m.get(), ifi);
  std::vector<std::pair<int, int>> out;
  int err = impl_->dump(m.get(), [&](nlmsghdr* h) {
    if (h->nlmsg_type != RTM_NEWLINK) return;
    auto* info = static_cast<ifinfomsg*>(nlmsg_data(h));
    nlattr* tb[IFLA_MAX + 1] = {};
    if (nlmsg_parse(h, sizeof(ifinfomsg), tb, IFLA_MAX, nullptr) < 0 || !tb[IFLA_PROTINFO]) return;
    nlattr* port[IFLA_BRPORT_MAX + 1] = {};
    if (nla_parse_nested(port, IFLA_BRPORT_MAX, tb[IFLA_PROTINFO], nullptr) < 0 || !port[IFLA_BRPORT_STATE]) return;
    out.emplace_back(info->ifi_index, nla_get_u8(port[IFLA_BRPORT_STATE]));
  });
  if (err != 0) throw NetlinkError(fmt::format("cannot list the bridge ports of \"{}\"", impl_->owner), err);
  return out;
}

}  // namespace nslab
