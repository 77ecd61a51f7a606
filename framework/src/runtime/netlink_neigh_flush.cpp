// What a step undoes in a running lab: a root qdisc deleted (an impairment
// removed), and the neighbour entries a probe left unresolved while a link
// was down, deleted once it is up again.
#include <linux/neighbour.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>

#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <vector>

#include "netlink.h"
#include "netlink_impl.h"
#include "nslab/error.h"

namespace nslab {

using namespace nl;

void Netlink::delete_root_qdisc(int index, std::string_view label) {
  Msg m = new_msg(RTM_DELQDISC, NLM_F_ACK);
  tcmsg tcm{};
  tcm.tcm_family = AF_UNSPEC;
  tcm.tcm_ifindex = index;
  tcm.tcm_parent = TC_H_ROOT;
  append(m.get(), tcm);
  int err = impl_->transact(m.get());
  // ENOENT / EINVAL: the default qdisc is there already (nothing to delete).
  if (err != 0 && err != ENOENT && err != EINVAL)
    throw NetlinkError(fmt::format("cannot delete the root qdisc of \"{}\"", label), err);
}

std::size_t Netlink::flush_unresolved_neighbours(int index, std::string_view label) {
  // Collected first, deleted after: a request in the middle of a dump would
  // mix its answer into the dump's.
  struct Entry {
    unsigned char family;
    std::vector<unsigned char> dst;
  };
  std::vector<Entry> unresolved;
  Msg d = new_msg(RTM_GETNEIGH, NLM_F_DUMP);
  ndmsg q{};
  q.ndm_family = AF_UNSPEC;
  append(d.get(), q);
  int err = impl_->dump(d.get(), [&](nlmsghdr* h) {
    if (h->nlmsg_type != RTM_NEWNEIGH) return;
    auto* n = static_cast<ndmsg*>(nlmsg_data(h));
    if (n->ndm_ifindex != index || (n->ndm_family != AF_INET && n->ndm_family != AF_INET6)) return;
    if (!(n->ndm_state & (NUD_INCOMPLETE | NUD_FAILED))) return;
    nlattr* tb[NDA_MAX + 1] = {};
    if (nlmsg_parse(h, sizeof(ndmsg), tb, NDA_MAX, nullptr) < 0 || !tb[NDA_DST]) return;
    const auto* bytes = static_cast<const unsigned char*>(nla_data(tb[NDA_DST]));
    unresolved.push_back({n->ndm_family, {bytes, bytes + nla_len(tb[NDA_DST])}});
  });
  if (err != 0) throw NetlinkError(fmt::format("cannot read the neighbours of \"{}\"", label), err);
  std::size_t deleted = 0;
  for (const auto& e : unresolved) {
    Msg m = new_msg(RTM_DELNEIGH, NLM_F_ACK);
    ndmsg nd{};
    nd.ndm_family = e.family;
    nd.ndm_ifindex = index;
    append(m.get(), nd);
    put(m.get(), NDA_DST, e.dst.data(), e.dst.size());
    int e2 = impl_->transact(m.get());
    if (e2 == 0) ++deleted;
    // ENOENT: resolved or gone meanwhile, which is what was wanted.
    else if (e2 != ENOENT)
      throw NetlinkError(fmt::format("cannot delete an unresolved neighbour of \"{}\"", label), e2);
  }
  return deleted;
}

}  // namespace nslab
