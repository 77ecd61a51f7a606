// LinkWatch: a namespace's link notifications (RTNLGRP_LINK), for waiting
// on many links without dumping them all again and again.
#pragma once

#include <string>
#include <vector>

#include "netlink.h"
#include "nslab/fd.h"

namespace nslab {

class LinkWatch {
 public:
  // Subscribes inside the namespace netns_fd (on a thread made for it).
  // Changes from then on are announced; what was before, a dump shows.
  static LinkWatch open(int netns_fd, const std::string& owner);

  int fd() const noexcept { return fd_.get(); }  // readable when news arrived
  // The links announced since the last call, without blocking. Sets
  // `overflowed` when the kernel dropped announcements (ENOBUFS): the caller
  // must then dump the links again.
  std::vector<LinkInfo> read(bool& overflowed);

 private:
  explicit LinkWatch(Fd fd) : fd_(std::move(fd)) {}
  Fd fd_;
};

}  // namespace nslab
