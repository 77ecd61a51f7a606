// Traffic control (tbf and netem qdiscs) and the counters that tell whether
// a namespace has gone still.
#include "netlink.h"

#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/qdisc/netem.h>
#include <netlink/route/tc.h>

#include <algorithm>
#include <cstring>
#include <string_view>
#include <fmt/format.h>

#include "netlink_impl.h"
#include "nslab/error.h"

namespace nslab {

using namespace nl;

TrafficSnapshot Netlink::traffic(bool qdiscs) const {
  TrafficSnapshot t;
  if (qdiscs) {
    Msg m = new_msg(RTM_GETQDISC, NLM_F_DUMP);
    tcmsg tc{};
    tc.tcm_family = AF_UNSPEC;
    append(m.get(), tc);
    int err = impl_->dump(m.get(), [&](nlmsghdr* h) {
      if (h->nlmsg_type != RTM_NEWQDISC) return;
      nlattr* tb[TCA_MAX + 1] = {};
      if (nlmsg_parse(h, sizeof(tcmsg), tb, TCA_MAX, nullptr) < 0 || !tb[TCA_STATS]) return;
      tc_stats st{};
      std::memcpy(&st, nla_data(tb[TCA_STATS]),
                  std::min<std::size_t>(sizeof st, static_cast<std::size_t>(nla_len(tb[TCA_STATS]))));
      t.packets += st.packets + st.drops;
      t.queued += st.qlen;
      if (tb[TCA_KIND]) {
        std::string_view kind(static_cast<const char*>(nla_data(tb[TCA_KIND])));
        if (kind == "tbf" || kind == "htb") t.shaper_drops += st.drops;
      }
    });
    if (err != 0) throw NetlinkError(fmt::format("cannot read the qdiscs of \"{}\"", impl_->owner), err);
  }
  {
    Msg m = new_msg(RTM_GETLINK, NLM_F_DUMP);
    ifinfomsg ifi{};
    ifi.ifi_family = AF_UNSPEC;
    append(m.get(), ifi);
    int err = impl_->dump(m.get(), [&](nlmsghdr* h) {
      if (h->nlmsg_type != RTM_NEWLINK) return;
      nlattr* tb[IFLA_MAX + 1] = {};
      if (nlmsg_parse(h, sizeof(ifinfomsg), tb, IFLA_MAX, nullptr) < 0 || !tb[IFLA_STATS64]) return;
      rtnl_link_stats64 st{};
      std::memcpy(&st, nla_data(tb[IFLA_STATS64]),
                  std::min<std::size_t>(sizeof st, static_cast<std::size_t>(nla_len(tb[IFLA_STATS64]))));
      t.packets += st.rx_packets + st.tx_packets + st.rx_dropped + st.tx_dropped;
    });
    if (err != 0) throw NetlinkError(fmt::format("cannot read the link counters of \"{}\"", impl_->owner), err);
  }
  Msg m = new_msg(RTM_GETNEIGH, NLM_F_DUMP);
  ndmsg nd{};
  nd.ndm_family = AF_UNSPEC;
  append(m.get(), nd);
  int err = impl_->dump(m.get(), [&](nlmsghdr* h) {
    if (h->nlmsg_type != RTM_NEWNEIGH) return;
    auto* n = static_cast<ndmsg*>(nlmsg_data(h));
    if (n->ndm_family != AF_INET && n->ndm_family != AF_INET6) return;
    if (!(n->ndm_state & (NUD_INCOMPLETE | NUD_DELAY | NUD_PROBE))) return;
    nlattr* tb[NDA_MAX + 1] = {};
    if (nlmsg_parse(h, sizeof(ndmsg), tb, NDA_MAX, nullptr) < 0 || !tb[NDA_DST]) return;
    Family f = n->ndm_family == AF_INET ? Family::ipv4 : Family::ipv6;
    if (static_cast<std::size_t>(nla_len(tb[NDA_DST])) < (f == Family::ipv4 ? 4u : 16u)) return;
    t.resolving.emplace_back(n->ndm_ifindex, IpAddress::from_bytes(f, nla_data(tb[NDA_DST])));
  });
  if (err != 0) throw NetlinkError(fmt::format("cannot read the neighbours of \"{}\"", impl_->owner), err);
  std::sort(t.resolving.begin(), t.resolving.end());
  return t;
}

namespace {
struct QdiscDeleter {
  void operator()(rtnl_qdisc* q) const noexcept { rtnl_qdisc_put(q); }
};
using Qdisc = std::unique_ptr<rtnl_qdisc, QdiscDeleter>;

Qdisc new_qdisc(int index, std::uint32_t parent, std::uint32_t handle, const char* kind) {
  Qdisc q(rtnl_qdisc_alloc());
  if (!q) throw std::bad_alloc();
  rtnl_tc_set_ifindex(TC_CAST(q.get()), index);
  rtnl_tc_set_parent(TC_CAST(q.get()), parent);
  rtnl_tc_set_handle(TC_CAST(q.get()), handle);
  if (rtnl_tc_set_kind(TC_CAST(q.get()), kind) < 0) throw std::bad_alloc();
  return q;
}
}  // namespace

// Built by hand rather than with libnl's tbf API, whose rates are int bytes
// per second (at most ~17.2 Gbit/s) and which cannot send TCA_TBF_BURST.
void Netlink::add_rate_limit(int index, std::uint64_t bits_per_second, std::uint32_t parent, std::string_view label) {
  // tbf drops every frame longer than its burst, so the burst holds two of
  // the link's largest frames (MTU plus the Ethernet header) and at least
  // 10 ms at the rate; the queue holds 50 ms more.
  int mtu = 1500;
  for (const auto& l : links())
    if (l.index == index && l.mtu > 0) mtu = l.mtu;
  const std::uint64_t bytes = std::max<std::uint64_t>(bits_per_second / 8, 1);
  constexpr std::uint64_t kU32 = 0xffffffffu;
  const std::uint64_t burst = std::min(std::max(bytes / 100, 2 * (static_cast<std::uint64_t>(mtu) + 14)), kU32);
  tc_tbf_qopt opt{};
  opt.rate.rate = static_cast<std::uint32_t>(std::min(bytes, kU32));
  opt.rate.linklayer = TC_LINKLAYER_ETHERNET;  // no rate table needed
  opt.limit = static_cast<std::uint32_t>(std::min(bytes / 20 + burst, kU32));

  Msg m = new_msg(RTM_NEWQDISC, NLM_F_CREATE | NLM_F_REPLACE | NLM_F_ACK);
  tcmsg tcm{};
  tcm.tcm_family = AF_UNSPEC;
  tcm.tcm_ifindex = index;
  tcm.tcm_parent = parent ? parent : TC_H_ROOT;
  tcm.tcm_handle = parent ? TC_HANDLE(10, 0) : TC_HANDLE(1, 0);
  append(m.get(), tcm);
  put_str(m.get(), TCA_KIND, "tbf");
  nlattr* options = nest(m.get(), TCA_OPTIONS);
  put(m.get(), TCA_TBF_PARMS, &opt, sizeof opt);
  if (bytes > kU32) {
    std::uint64_t rate64 = bytes;
    put(m.get(), TCA_TBF_RATE64, &rate64, sizeof rate64);
  }
  put_u32(m.get(), TCA_TBF_BURST, static_cast<std::uint32_t>(burst));
  nla_nest_end(m.get(), options);
  impl_->must(m.get(), fmt::format("cannot limit \"{}\" to {} bit/s (tbf)", label, bits_per_second));
}

void Netlink::add_netem(int index, std::chrono::microseconds delay, std::chrono::microseconds jitter,
                        double loss_percent, std::string_view label) {
  Qdisc q = new_qdisc(index, TC_H_ROOT, TC_HANDLE(1, 0), "netem");
  if (delay.count()) rtnl_netem_set_delay(q.get(), static_cast<int>(delay.count()));
  if (jitter.count()) rtnl_netem_set_jitter(q.get(), static_cast<int>(jitter.count()));
  if (loss_percent > 0) {
    // netem's loss is a fraction of 2^32.
    auto scaled = static_cast<std::uint32_t>(std::min(loss_percent / 100.0, 1.0) * 4294967295.0);
    rtnl_netem_set_loss(q.get(), static_cast<int>(scaled));
  }
  nl_msg* raw = nullptr;
  if (rtnl_qdisc_build_add_request(q.get(), NLM_F_CREATE | NLM_F_REPLACE, &raw) < 0) throw std::bad_alloc();
  Msg m(raw);
  nlmsg_hdr(m.get())->nlmsg_flags |= NLM_F_ACK;
  impl_->must(m.get(), fmt::format("cannot add netem to \"{}\"", label));
}

bool Netlink::can_add_netem(int index) {
  Qdisc q = new_qdisc(index, TC_H_ROOT, TC_HANDLE(1, 0), "netem");
  nl_msg* raw = nullptr;
  if (rtnl_qdisc_build_add_request(q.get(), NLM_F_CREATE, &raw) < 0) return false;
  Msg m(raw);
  nlmsg_hdr(m.get())->nlmsg_flags |= NLM_F_ACK;
  return impl_->transact(m.get()) == 0;
}

}  // namespace nslab
