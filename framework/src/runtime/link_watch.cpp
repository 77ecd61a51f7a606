#include "link_watch.h"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <sys/socket.h>

#include <cerrno>
#include <fmt/format.h>

#include "fd_limit.h"
#include "netlink_impl.h"
#include "nslab/error.h"
#include "nslab/netns.h"
#include "sys.h"

namespace nslab {

LinkWatch LinkWatch::open(int netns_fd, const std::string& owner) {
  return on_new_thread([&] {
    if (::setns(netns_fd, CLONE_NEWNET) != 0)
      throw SystemError(fmt::format("cannot enter \"{}\" to watch its links (setns)", owner), errno);
    int raw = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
    if (raw < 0) {
      int err = errno;
      if (auto why = descriptor_exhaustion(err))
        throw EnvironmentError(fmt::format("cannot open a netlink socket in \"{}\": {}", owner, *why));
      throw SystemError(fmt::format("cannot open a netlink socket in \"{}\"", owner), err);
    }
    Fd fd(raw);
    // A hub of thousands of ports gets a notification or more per port as
    // they come up; a queue that overflows costs a dump of all its links,
    // which the kernel makes in O(ports²) (README, Benchmarks). Forced past
    // net.core.rmem_max where the namespace's owner may (CAP_NET_ADMIN over
    // it: root, or the lab's own user namespace); memory is used only as
    // notifications wait.
    int forced = 32 << 20;
    if (::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUFFORCE, &forced, sizeof forced) != 0) {
      int size = 1 << 20;
      sys::set_option(fd.get(), SOL_SOCKET, SO_RCVBUF, size, "the receive buffer of a link watch");
    }
    sockaddr_nl local{};
    local.nl_family = AF_NETLINK;
    local.nl_groups = RTMGRP_LINK;
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&local), sizeof local) != 0)
      throw SystemError(fmt::format("cannot watch the links of \"{}\"", owner), errno);
    return LinkWatch(std::move(fd));
  });
}

std::vector<LinkInfo> LinkWatch::read(bool& overflowed) {
  std::vector<LinkInfo> out;
  alignas(nlmsghdr) char buf[64 * 1024];
  for (;;) {
    ssize_t n = sys::retry([&] { return ::recv(fd_.get(), buf, sizeof buf, 0); });
    if (n < 0) {
      if (errno == ENOBUFS) {
        overflowed = true;
        continue;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK) return out;
      throw SystemError("cannot read link notifications", errno);
    }
    auto len = static_cast<int>(n);
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, len); h = NLMSG_NEXT(h, len))
      if (h->nlmsg_type == RTM_NEWLINK) out.push_back(parse_link(h));
  }
}

}  // namespace nslab
