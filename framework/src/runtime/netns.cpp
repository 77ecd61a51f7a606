#include "nslab/netns.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fmt/format.h>

#include "nslab/error.h"
#include "fd_limit.h"
#include "sys.h"

namespace nslab {

Netns Netns::open(const std::string& path) {
  int raw = sys::retry([&] { return ::open(path.c_str(), O_RDONLY | O_CLOEXEC); });
  if (raw < 0) {
    int err = errno;
    // Out of descriptors is the machine's limit, not a missing namespace: say which.
    if (auto why = descriptor_exhaustion(err)) throw EnvironmentError(fmt::format("cannot open {}: {}", path, *why));
    throw SystemError(fmt::format("cannot open {}", path), err);
  }
  Fd fd(raw);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw SystemError(fmt::format("cannot stat {}", path), errno);
  return Netns(std::move(fd), st.st_ino);
}

std::string Netns::path() const {
  return fmt::format("/proc/{}/fd/{}", ::getpid(), fd_.get());
}

Netns Netns::of_current_thread() {
  return open("/proc/thread-self/ns/net");
}

void Netns::enter_this_thread() const {
  if (::setns(fd_.get(), CLONE_NEWNET) != 0) {
    int err = errno;
    if (err == EPERM)
      throw EnvironmentError(
          "cannot enter a lab's network namespace (setns): Operation not permitted; "
          "nslab needs CAP_SYS_ADMIN and CAP_NET_ADMIN: run as root or under `unshare -Urn`");
    throw SystemError("cannot enter network namespace (setns)", err);
  }
}

Netns Netns::unshare_this_thread() {
  if (::unshare(CLONE_NEWNET) != 0) {
    int err = errno;
    if (err == EPERM)
      throw EnvironmentError(
          "cannot create a network namespace (unshare CLONE_NEWNET): Operation not permitted; "
          "nslab needs CAP_SYS_ADMIN and CAP_NET_ADMIN: run as root or under `unshare -Urn`");
    if (err == EINVAL) throw EnvironmentError("cannot create a network namespace: the kernel lacks CONFIG_NET_NS");
    throw SystemError("cannot create a network namespace (unshare CLONE_NEWNET)", err);
  }
  return of_current_thread();
}

Netns Netns::create() {
  return on_new_thread([] { return unshare_this_thread(); });
}

}  // namespace nslab
