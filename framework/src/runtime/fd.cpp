#include "nslab/fd.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <fmt/format.h>
#include <fstream>

#include "fd_limit.h"

namespace nslab {

void Fd::reset(int fd) noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

std::optional<std::string> descriptor_exhaustion(int err) {
  if (err == EMFILE) {
    rlimit lim{};
    ::getrlimit(RLIMIT_NOFILE, &lim);
    return fmt::format(
        "too many open files (limit {}; a lab holds one or two per node, "
        "see `ulimit -n`)",
        lim.rlim_cur);
  }
  if (err == ENFILE) return std::string("the machine's table of open files is full (fs.file-max)");
  return std::nullopt;
}

unsigned long ensure_fd_limit(unsigned long wanted) noexcept {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return 0;
  if (lim.rlim_max != RLIM_INFINITY && lim.rlim_max < wanted) {
    unsigned long ceiling = 0;
    std::ifstream("/proc/sys/fs/nr_open") >> ceiling;
    rlimit more = lim;
    more.rlim_max = std::min<rlim_t>(std::max<rlim_t>(wanted, lim.rlim_max), ceiling ? ceiling : wanted);
    more.rlim_cur = more.rlim_max;
    if (more.rlim_max > lim.rlim_max && ::setrlimit(RLIMIT_NOFILE, &more) == 0) return more.rlim_cur;
  }
  if (lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &lim);
  }
  return lim.rlim_cur;
}

}  // namespace nslab
