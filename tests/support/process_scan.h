// Processes found by their exact command line, anywhere on the machine. A
// process that escaped a lab is reparented away from the test (to init, or
// to a subreaper), so a census of the test's own descendants cannot see it;
// a scan of every /proc/PID/cmdline can. Tests give their programs argv that
// no other test uses (unique_token), so parallel tests do not disturb it.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <sys/types.h>
#include <unistd.h>

#include <chrono>
#include <fmt/format.h>
#include <string>
#include <thread>
#include <vector>

namespace nslab::testing {

// "1777.0123405": a number of seconds for `sleep`, unique to this test
// process and n, about `seconds` long.
inline std::string unique_token(int seconds, int n) {
  return fmt::format("{}.{:07}{:02}", seconds, ::getpid() % 10000000, n);
}

// Live processes (zombies have no command line) whose argv is exactly argv.
inline std::vector<pid_t> processes_with_argv(const std::vector<std::string>& argv) {
  std::string want;
  for (const auto& a : argv) want += a + '\0';
  std::vector<pid_t> found;
  DIR* d = ::opendir("/proc");
  if (!d) return found;
  while (auto* e = ::readdir(d)) {
    if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
    // read(2), not a stream: a process that exits meanwhile reads as empty.
    int fd = ::open((std::string("/proc/") + e->d_name + "/cmdline").c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    std::string cmdline;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) cmdline.append(buf, static_cast<std::size_t>(n));
    ::close(fd);
    if (cmdline == want) found.push_back(static_cast<pid_t>(std::stol(e->d_name)));
  }
  ::closedir(d);
  return found;
}

// Waits until no process has this argv; false if one still does at the limit.
inline bool none_with_argv_within(const std::vector<std::string>& argv, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!processes_with_argv(argv).empty()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

// Waits until a process has this argv; false if none does at the limit.
inline bool some_with_argv_within(const std::vector<std::string>& argv, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (processes_with_argv(argv).empty()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

}  // namespace nslab::testing
