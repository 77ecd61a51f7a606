// Nexthop objects as RTM_NEWNEXTHOP messages (what `ip nexthop add` sends),
// built with libnl's message API like the rest of the wrapper.
#include <linux/nexthop.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <fmt/format.h>
#include <vector>

#include "netlink.h"
#include "netlink_impl.h"
#include "nslab/error.h"

namespace nslab {

using namespace nl;

void Netlink::add_nexthop(const NexthopRequest& h) {
  Msg m = new_msg(RTM_NEWNEXTHOP, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK);
  nhmsg nhm{};
  // A group has no family of its own (the kernel takes its members').
  nhm.nh_family = static_cast<unsigned char>(h.group.empty() ? to_af(h.family) : AF_UNSPEC);
  nhm.nh_protocol = RTPROT_STATIC;
  if (h.onlink) nhm.nh_flags |= RTNH_F_ONLINK;
  append(m.get(), nhm);
  put_u32(m.get(), NHA_ID, h.id);
  if (h.blackhole) put(m.get(), NHA_BLACKHOLE, nullptr, 0);
  if (h.oif > 0) put_u32(m.get(), NHA_OIF, static_cast<std::uint32_t>(h.oif));
  if (h.gateway) put(m.get(), NHA_GATEWAY, h.gateway->data(), h.gateway->size());
  if (!h.group.empty()) {
    std::vector<nexthop_grp> members(h.group.size());
    for (std::size_t i = 0; i < h.group.size(); ++i) {
      members[i].id = h.group[i].first;
      members[i].weight = static_cast<std::uint8_t>(h.group[i].second - 1);  // the kernel counts from 0
    }
    put(m.get(), NHA_GROUP, members.data(), members.size() * sizeof(nexthop_grp));
  }
  int err = impl_->transact(m.get());
  if (err == EOPNOTSUPP || err == EAFNOSUPPORT)
    throw EnvironmentError(
        fmt::format("cannot add nexthop \"{}\": this kernel has no nexthop objects (5.3 or later)", h.label));
  if (err != 0) throw NetlinkError(fmt::format("cannot add nexthop \"{}\"", h.label), err);
}

}  // namespace nslab
