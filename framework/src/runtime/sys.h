// The one thin wrapper around the system calls nslab makes. EINTR is retried
// here and nowhere else; failures become SystemError naming what failed.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nslab/fd.h"

namespace nslab::sys {

bool errno_is_eintr() noexcept;

// Calls fn() until it does not fail with EINTR; returns its result.
template <typename F>
auto retry(F&& fn) {
  for (;;) {
    auto r = fn();
    if (!(r == -1 && errno_is_eintr())) return r;
  }
}

// open(2) with O_CLOEXEC, throwing SystemError("cannot open <path>").
Fd open(const std::string& path, int flags, mode_t mode = 0);
// socket(2) with SOCK_CLOEXEC, throwing SystemError naming `what`.
Fd socket(int domain, int type, int protocol, std::string_view what);
// Writes all of data or throws naming `what`.
void write_all(int fd, std::string_view data, std::string_view what);
// Reads a whole small file (procfs, sysfs).
std::string read_file(const std::string& path);
// The same, or empty when it cannot be opened or read (a process that is
// gone, a file this process may not read).
std::optional<std::string> read_file_if(const std::string& path);
// What /proc/PID/stat says of a process: its state letter, its parent and
// its start time (clock ticks after boot). Read through dirfd (a /proc/PID
// directory) or from path (dirfd AT_FDCWD); empty when the process is gone.
struct ProcStat {
  char state = 0;
  int ppid = 0;
  unsigned long long start = 0;
};
std::optional<ProcStat> read_stat(int dirfd, const char* path);
// The names in a directory, without "." and "..", in no order; none when
// it cannot be read.
std::vector<std::string> entries(const std::string& dir);
// Writes a whole small file (procfs, sysfs) opened O_WRONLY.
void write_file(const std::string& path, std::string_view data);
// setsockopt(2), throwing SystemError("cannot set <what>").
void set_option(int fd, int level, int name, const void* value, unsigned size, std::string_view what);
template <typename T>
void set_option(int fd, int level, int name, const T& value, std::string_view what) {
  set_option(fd, level, name, &value, sizeof value, what);
}
// Sets O_NONBLOCK.
void set_nonblocking(int fd);
// Raises RLIMIT_NOFILE's soft limit to its hard limit (large labs hold
// several descriptors per node). Returns the new soft limit.
unsigned long raise_fd_limit() noexcept;

}  // namespace nslab::sys
