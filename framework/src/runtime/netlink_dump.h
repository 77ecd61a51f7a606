// One dump over a raw netlink socket (sock_diag, rtnetlink, nfnetlink), for
// the few reads that need no libnl: the request sent, every answer handed
// over, until the kernel's NLMSG_DONE. Retries EINTR (sys.h).
#pragma once

#include <linux/netlink.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstddef>
#include <vector>

#include "sys.h"

namespace nslab::detail {

// Sends `request` (`size` bytes, an nlmsghdr with NLM_F_DUMP and its body)
// on `fd` and calls each(const nlmsghdr&) for every answer; `each` returns
// false to stop early. Returns 0 when the dump ended or was stopped, else the
// error: the kernel's NLMSG_ERROR, a failed send or recv, ENODATA for a socket
// that closed.
template <typename Each>
int netlink_dump(int fd, const void* request, std::size_t size, Each&& each) {
  if (sys::retry([&] { return ::send(fd, request, size, 0); }) < 0) return errno;
  std::vector<char> buf(1 << 16);  // a dump's batch fits one page or two; nf_tables' are larger
  for (;;) {
    ssize_t n = sys::retry([&] { return ::recv(fd, buf.data(), buf.size(), 0); });
    if (n < 0) return errno;
    if (n == 0) return ENODATA;
    auto left = static_cast<unsigned>(n);
    for (auto* h = reinterpret_cast<const nlmsghdr*>(buf.data()); NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
      if (h->nlmsg_type == NLMSG_DONE) return 0;
      if (h->nlmsg_type == NLMSG_ERROR) {
        const auto* e = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
        return -e->error;  // 0: an acknowledgement, the end
      }
      if (!each(*h)) return 0;
    }
  }
}

// Calls fn(type, data, length) for each attribute of a netlink message body
// (`size` bytes at `p`), the type without its NLA_F_NESTED and byte-order flags;
// stops at the first malformed one.
template <typename Fn>
void for_each_attribute(const char* p, int size, Fn&& fn) {
  while (size >= static_cast<int>(sizeof(nlattr))) {
    const auto* a = reinterpret_cast<const nlattr*>(p);
    if (a->nla_len < sizeof(nlattr) || a->nla_len > size) break;
    fn(a->nla_type & NLA_TYPE_MASK, p + NLA_HDRLEN, static_cast<int>(a->nla_len - NLA_HDRLEN));
    int step = NLA_ALIGN(a->nla_len);
    p += step;
    size -= step;
  }
}

}  // namespace nslab::detail
