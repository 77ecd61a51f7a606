// Routes (with tables, sources, protocols, scopes and multipath next hops)
// and policy rules, as RTM_NEWROUTE and RTM_NEWRULE messages built with
// libnl's message API, like the rest of the wrapper (netlink_impl.h).
#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>

#include <fmt/format.h>

#include "netlink.h"
#include "netlink_impl.h"
#include "nslab/error.h"

namespace nslab {

using namespace nl;

namespace {

unsigned char route_type(RouteType t) {
  switch (t) {
    case RouteType::unicast: return RTN_UNICAST;
    case RouteType::blackhole: return RTN_BLACKHOLE;
    case RouteType::unreachable: return RTN_UNREACHABLE;
    case RouteType::prohibit: return RTN_PROHIBIT;
    case RouteType::local: return RTN_LOCAL;
    case RouteType::throw_: return RTN_THROW;
  }
  return RTN_UNICAST;
}

// The scope `ip route` gives a route by default: host for a local route,
// link for a unicast route through a device alone, else universe.
unsigned char default_scope(const RouteRequest& r) {
  if (r.type == RouteType::local) return RT_SCOPE_HOST;
  if (r.type == RouteType::unicast && !r.gateway && r.oif && r.nexthops.empty()) return RT_SCOPE_LINK;
  return RT_SCOPE_UNIVERSE;
}

// RTA_MULTIPATH: one rtnexthop per hop, each followed by its gateway.
void put_nexthops(nl_msg* m, const RouteRequest& r) {
  nlattr* mp = nest(m, RTA_MULTIPATH);
  for (const auto& h : r.nexthops) {
    void* room = nlmsg_reserve(m, sizeof(rtnexthop), NLMSG_ALIGNTO);
    if (!room) throw std::bad_alloc();
    auto* nh = static_cast<rtnexthop*>(room);
    const auto start = reinterpret_cast<char*>(nh) - reinterpret_cast<char*>(nlmsg_hdr(m));
    nh->rtnh_flags = h.onlink ? RTNH_F_ONLINK : 0;
    nh->rtnh_hops = static_cast<unsigned char>(h.weight - 1);
    nh->rtnh_ifindex = h.oif;
    if (h.gateway) put(m, RTA_GATEWAY, h.gateway->data(), h.gateway->size());
    // The message may have grown elsewhere: find the hop again by its offset.
    nh = reinterpret_cast<rtnexthop*>(reinterpret_cast<char*>(nlmsg_hdr(m)) + start);
    nh->rtnh_len = static_cast<unsigned short>(nlmsg_hdr(m)->nlmsg_len - static_cast<std::uint32_t>(start));
  }
  nla_nest_end(m, mp);
}

}  // namespace

void Netlink::add_route(const RouteRequest& r) {
  route_message(r, true);
}

void Netlink::delete_route(const RouteRequest& r) {
  route_message(r, false);
}

// RTM_NEWROUTE or RTM_DELROUTE: the kernel deletes the route that matches
// every attribute given.
void Netlink::route_message(const RouteRequest& r, bool add) {
  Msg m = add ? new_msg(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK) : new_msg(RTM_DELROUTE, NLM_F_ACK);
  rtmsg rtm{};
  rtm.rtm_family = static_cast<unsigned char>(to_af(r.family));
  rtm.rtm_dst_len = r.destination ? static_cast<unsigned char>(r.destination->length()) : 0;
  rtm.rtm_table = static_cast<unsigned char>(r.table < 256 ? r.table : RT_TABLE_UNSPEC);
  // A delete matches any protocol and scope (as `ip route del` does).
  rtm.rtm_protocol = add ? r.protocol : 0;
  rtm.rtm_type = route_type(r.type);
  rtm.rtm_scope = r.scope ? *r.scope : add ? default_scope(r) : static_cast<unsigned char>(RT_SCOPE_NOWHERE);
  if (r.onlink) rtm.rtm_flags |= RTNH_F_ONLINK;
  append(m.get(), rtm);
  if (r.destination) {
    auto net = r.destination->network().address();
    put(m.get(), RTA_DST, net.data(), net.size());
  }
  if (r.table >= 256) put_u32(m.get(), RTA_TABLE, r.table);
  if (r.gateway) put(m.get(), RTA_GATEWAY, r.gateway->data(), r.gateway->size());
  if (r.oif > 0) put_u32(m.get(), RTA_OIF, static_cast<std::uint32_t>(r.oif));
  if (r.metric > 0) put_u32(m.get(), RTA_PRIORITY, static_cast<std::uint32_t>(r.metric));
  if (r.src) put(m.get(), RTA_PREFSRC, r.src->data(), r.src->size());
  if (!r.nexthops.empty()) put_nexthops(m.get(), r);
  if (r.nhid) put_u32(m.get(), RTA_NH_ID, r.nhid);
  impl_->must(m.get(), fmt::format("cannot {} route \"{}\"", add ? "add" : "delete", r.label));
}

namespace {

Msg rule_message(int type, int flags, const RuleRequest& r) {
  Msg m = new_msg(type, flags);
  fib_rule_hdr h{};
  h.family = static_cast<unsigned char>(to_af(r.family));
  h.src_len = r.from ? static_cast<unsigned char>(r.from->length()) : 0;
  h.dst_len = r.to ? static_cast<unsigned char>(r.to->length()) : 0;
  h.action = r.action;
  h.table = static_cast<unsigned char>(r.table < 256 ? r.table : RT_TABLE_UNSPEC);
  if (r.invert) h.flags |= FIB_RULE_INVERT;
  append(m.get(), h);
  if (r.from) put(m.get(), FRA_SRC, r.from->address().data(), r.from->address().size());
  if (r.to) put(m.get(), FRA_DST, r.to->address().data(), r.to->address().size());
  if (r.fwmark) put_u32(m.get(), FRA_FWMARK, *r.fwmark);
  if (r.fwmask) put_u32(m.get(), FRA_FWMASK, *r.fwmask);
  if (!r.iif.empty()) put_str(m.get(), FRA_IIFNAME, r.iif);
  if (!r.oif.empty()) put_str(m.get(), FRA_OIFNAME, r.oif);
  if (r.priority) put_u32(m.get(), FRA_PRIORITY, *r.priority);
  if (r.action == FR_ACT_TO_TBL) put_u32(m.get(), FRA_TABLE, r.table);
  return m;
}

}  // namespace

void Netlink::add_rule(const RuleRequest& r) {
  Msg m = rule_message(RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK, r);
  impl_->must(m.get(), fmt::format("cannot add rule \"{}\"", r.label));
}

// The kernel deletes the first rule that matches every attribute given
// (`ip rule del` does the same): a rule without a priority matches any.
void Netlink::delete_rule(const RuleRequest& r) {
  Msg m = rule_message(RTM_DELRULE, NLM_F_ACK, r);
  impl_->must(m.get(), fmt::format("cannot delete rule \"{}\"", r.label));
}

}  // namespace nslab
