#include "sysctl.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <fmt/format.h>

#include "fd_limit.h"
#include "nslab/error.h"
#include "nslab/topology.h"
#include "sys.h"

namespace nslab {

namespace {

// "net/ipv4/ip_forward" for "net.ipv4.ip_forward": relative to procfs's sys/.
std::string relative_path(std::string_view key) {
  if (auto why = sysctl_key_problem(key)) throw ConfigError(*why);
  std::string p(key);
  std::replace(p.begin(), p.end(), '.', '/');
  return p;
}

std::string path_of(std::string_view key) {
  return "/proc/sys/" + relative_path(key);
}

void write_value(int fd, std::string_view key, std::string_view value, const std::string& path) {
  try {
    // With a newline, as sysctl(8) writes: an empty value is then written
    // (clearing a list like net.ipv6.icmp.ratemask), not silently skipped.
    sys::write_all(fd, std::string(value) + "\n", path);
  } catch (const SystemError& e) {
    throw SystemError(fmt::format("cannot set sysctl {}={}", key, value), e.code());
  }
}

[[noreturn]] void open_failed(std::string_view key, std::string_view value, const std::string& path, int err) {
  if (err == ENOENT) throw ConfigError(fmt::format("unknown sysctl \"{}\" (no {} in this namespace)", key, path));
  if (auto why = descriptor_exhaustion(err))
    throw EnvironmentError(fmt::format("cannot set sysctl {}={}: {}", key, value, *why));
  throw SystemError(fmt::format("cannot set sysctl {}={}", key, value), err);
}

// Once procfs could not be mounted, the process does not try again.
std::atomic<bool> g_no_private_procfs{false};

// A detached procfs instance; an invalid Fd where none can be made.
Fd mount_procfs() {
  if (g_no_private_procfs.load(std::memory_order_relaxed)) return Fd();
  Fd fs(::fsopen("proc", FSOPEN_CLOEXEC));
  if (fs && ::fsconfig(fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) == 0) {
    Fd mnt(::fsmount(fs.get(), FSMOUNT_CLOEXEC, MOUNT_ATTR_NOEXEC | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV));
    if (mnt) return mnt;
  }
  // Not permitted or not supported: the same answer every time. Anything else
  // (out of descriptors or memory) may pass: /proc/sys serves this once.
  if (errno == EPERM || errno == ENOSYS || errno == ENODEV || errno == EINVAL)
    g_no_private_procfs.store(true, std::memory_order_relaxed);
  return Fd();
}

}  // namespace

bool sysctl_exists_here(std::string_view key) {
  return ::access(path_of(key).c_str(), F_OK) == 0;
}

void write_sysctl_here(std::string_view key, std::string_view value) {
  std::string path = path_of(key);
  int fd = sys::retry([&] { return ::open(path.c_str(), O_WRONLY | O_CLOEXEC); });
  if (fd < 0) open_failed(key, value, path, errno);
  Fd owned(fd);
  write_value(owned.get(), key, value, path);
}

std::string read_sysctl_here(std::string_view key) {
  std::string v = sys::read_file(path_of(key));
  while (!v.empty() && (v.back() == '\n' || v.back() == ' ')) v.pop_back();
  return v;
}

int SysctlWriter::root() {
  if (proc_ && writes_ >= kRemountAfter) proc_.reset();
  if (!proc_) {
    proc_ = mount_procfs();
    writes_ = 0;
  }
  return proc_.get();
}

int SysctlWriter::root_for(int lookups) {
  int r = root();
  if (r >= 0) writes_ += lookups;
  return r;
}

bool SysctlWriter::private_procfs() {
  return root() >= 0;
}

bool SysctlWriter::exists(std::string_view key) {
  int r = root();
  if (r < 0) return sysctl_exists_here(key);
  ++writes_;  // a lookup leaves dentries as a write does
  return ::faccessat(r, ("sys/" + relative_path(key)).c_str(), F_OK, 0) == 0;
}

void SysctlWriter::write(std::string_view key, std::string_view value) {
  int r = root();
  if (r < 0) return write_sysctl_here(key, value);
  ++writes_;
  std::string rel = "sys/" + relative_path(key);
  int fd = sys::retry([&] { return ::openat(r, rel.c_str(), O_WRONLY | O_CLOEXEC); });
  if (fd < 0) open_failed(key, value, "/proc/" + rel, errno);
  Fd owned(fd);
  write_value(owned.get(), key, value, "/proc/" + rel);
}

}  // namespace nslab
