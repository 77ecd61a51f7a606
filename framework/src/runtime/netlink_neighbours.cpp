// Neighbour and bridge forwarding entries, many in flight at once.
#include "netlink.h"

#include <linux/neighbour.h>
#include <linux/rtnetlink.h>

#include <algorithm>
#include <fmt/format.h>

#include "netlink_impl.h"
#include "nslab/error.h"

namespace nslab {

using namespace nl;

void Netlink::add_neighbours(const std::vector<Neighbour>& entries) {
  nl_sock* sock = impl_->socket();
  constexpr std::size_t kInFlight = 512;  // acks the receive buffer holds at once
  for (std::size_t first = 0; first < entries.size(); first += kInFlight) {
    std::size_t last = std::min(entries.size(), first + kInFlight);
    // One datagram carries the whole chunk: the kernel handles each message
    // in turn and acks each one.
    std::vector<char> batch;
    for (std::size_t i = first; i < last; ++i) {
      const Neighbour& n = entries[i];
      Msg m = new_msg(RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE | NLM_F_ACK);
      ndmsg nd{};
      nd.ndm_ifindex = n.ifindex;
      if (n.fdb) {
        nd.ndm_family = AF_BRIDGE;
        nd.ndm_state = NUD_NOARP;  // "static": never aged out, not local
        nd.ndm_flags = NTF_MASTER;
      } else {
        nd.ndm_family = static_cast<unsigned char>(to_af(n.address.family()));
        nd.ndm_state = NUD_PERMANENT;
      }
      append(m.get(), nd);
      if (!n.fdb) put(m.get(), NDA_DST, n.address.data(), n.address.size());
      put(m.get(), NDA_LLADDR, n.mac.data(), 6);
      nl_complete_msg(sock, m.get());
      nlmsghdr* h = nlmsg_hdr(m.get());
      const char* bytes = reinterpret_cast<const char*>(h);
      batch.insert(batch.end(), bytes, bytes + NLMSG_ALIGN(h->nlmsg_len));
    }
    if (nl_sendto(sock, batch.data(), batch.size()) < 0)
      throw NetlinkError(fmt::format("cannot send neighbour entries in \"{}\"", impl_->owner), EIO);
    struct Ctx {
      std::size_t acks = 0;
      int err = 0;
    } ctx;
    nl_cb* cb = nl_cb_clone(nl_socket_get_cb(sock));
    if (!cb) throw std::bad_alloc();
    nl_cb_err(
        cb, NL_CB_CUSTOM,
        [](sockaddr_nl*, nlmsgerr* e, void* arg) -> int {
          auto* c = static_cast<Ctx*>(arg);
          ++c->acks;
          if (e->error && !c->err) c->err = -e->error;
          return NL_OK;
        },
        &ctx);
    nl_cb_set(
        cb, NL_CB_ACK, NL_CB_CUSTOM,
        [](nl_msg*, void* arg) -> int {
          ++static_cast<Ctx*>(arg)->acks;
          return NL_OK;
        },
        &ctx);
    // Several requests are in flight, so answers may not match the last
    // sequence number sent.
    nl_cb_set(
        cb, NL_CB_SEQ_CHECK, NL_CB_CUSTOM, [](nl_msg*, void*) -> int { return NL_OK; }, nullptr);
    while (ctx.acks < last - first) {
      if (nl_recvmsgs(sock, cb) < 0 && ctx.acks < last - first && !ctx.err) {
        ctx.err = EIO;
        break;
      }
    }
    nl_cb_put(cb);
    if (ctx.err) throw NetlinkError(fmt::format("cannot add neighbour entries in \"{}\"", impl_->owner), ctx.err);
  }
}

}  // namespace nslab
