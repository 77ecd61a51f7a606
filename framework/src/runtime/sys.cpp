#include "sys.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <sstream>
#include <fmt/format.h>

#include "nslab/error.h"

namespace nslab::sys {

bool errno_is_eintr() noexcept {
  return errno == EINTR;
}

Fd open(const std::string& path, int flags, mode_t mode) {
  int fd = retry([&] { return ::open(path.c_str(), flags | O_CLOEXEC, mode); });
  if (fd < 0) throw SystemError(fmt::format("cannot open {}", path), errno);
  return Fd(fd);
}

Fd socket(int domain, int type, int protocol, std::string_view what) {
  int fd = ::socket(domain, type | SOCK_CLOEXEC, protocol);
  if (fd < 0) throw SystemError(fmt::format("cannot create {}", what), errno);
  return Fd(fd);
}

void write_all(int fd, std::string_view data, std::string_view what) {
  while (!data.empty()) {
    ssize_t n = retry([&] { return ::write(fd, data.data(), data.size()); });
    if (n < 0) throw SystemError(fmt::format("cannot write {}", what), errno);
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

std::string read_file(const std::string& path) {
  Fd fd = open(path, O_RDONLY);
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = retry([&] { return ::read(fd.get(), buf, sizeof buf); });
    if (n < 0) throw SystemError(fmt::format("cannot read {}", path), errno);
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

std::optional<std::string> read_file_if(const std::string& path) {
  try {
    return read_file(path);
  } catch (const Error&) {
    return std::nullopt;
  }
}

std::optional<ProcStat> read_stat(int dirfd, const char* path) {
  int fd = ::openat(dirfd, path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  char buf[1024];
  ssize_t n = retry([&] { return ::read(fd, buf, sizeof buf - 1); });
  ::close(fd);
  if (n <= 0) return std::nullopt;
  // "pid (comm) state ppid ...": the command may hold any byte, ')' too.
  std::string_view line(buf, static_cast<std::size_t>(n));
  auto close = line.rfind(')');
  if (close == std::string_view::npos || close + 2 >= line.size()) return std::nullopt;
  ProcStat st;
  st.state = line[close + 2];
  std::istringstream rest(std::string(line.substr(close + 2)));
  std::string field;
  for (int i = 3; i <= 22 && rest >> field; ++i) {
    if (i == 4) st.ppid = std::atoi(field.c_str());
    if (i == 22) st.start = std::stoull(field);
  }
  return st;
}

std::vector<std::string> entries(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d))
      if (std::string_view name = e->d_name; name != "." && name != "..") out.emplace_back(name);
    ::closedir(d);
  }
  return out;
}

void write_file(const std::string& path, std::string_view data) {
  Fd fd = open(path, O_WRONLY);
  write_all(fd.get(), data, path);
}

void set_option(int fd, int level, int name, const void* value, unsigned size, std::string_view what) {
  if (::setsockopt(fd, level, name, value, size) != 0) throw SystemError(fmt::format("cannot set {}", what), errno);
}

void set_nonblocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) throw SystemError("cannot set O_NONBLOCK", errno);
}

unsigned long raise_fd_limit() noexcept {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return 0;
  if (lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &lim);
  }
  return lim.rlim_cur;
}

}  // namespace nslab::sys
