#include "nslab/subprocess.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fmt/format.h>
#include <thread>

#include "nslab/error.h"
#include "nslab/netns.h"
#include "nslab/sys.h"

namespace nslab {

std::string find_program(const std::string& name) {
  if (name.find('/') != std::string::npos) return ::access(name.c_str(), X_OK) == 0 ? name : "";
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  dirs += ":/usr/sbin:/sbin";
  std::size_t start = 0;
  while (start <= dirs.size()) {
    auto end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string candidate = dirs.substr(start, end - start) + "/" + name;
    if (end > start && ::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return {};
}

namespace {

ProcessResult run(int netns_fd, const std::vector<std::string>& argv, const std::string& input) {
  std::string exe = find_program(argv.at(0));
  if (exe.empty())
    throw EnvironmentError(fmt::format("\"{}\" is not installed (not found in PATH)", argv[0]));
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);

  int in[2], out[2];
  if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0)
    throw SystemError("cannot create pipes", errno);
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) throw SystemError(fmt::format("cannot fork for {}", argv[0]), errno);
  if (pid == 0) {
    // Only async-signal-safe calls from here to exec.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    if (netns_fd >= 0 && ::setns(netns_fd, CLONE_NEWNET) != 0) ::_exit(126);
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    ::dup2(out[1], 2);
    ::execv(exe.c_str(), args.data());
    ::_exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  Fd to_child(in[1]), from_child(out[0]);
  std::thread writer([&] {
    try {
      sys::write_all(to_child.get(), input, argv[0]);
    } catch (const Error&) {
    }
    to_child.reset();
  });
  ProcessResult r;
  char buf[4096];
  for (;;) {
    ssize_t n = sys::retry([&] { return ::read(from_child.get(), buf, sizeof buf); });
    if (n <= 0) break;
    r.output.append(buf, static_cast<std::size_t>(n));
  }
  writer.join();
  int st = 0;
  sys::retry([&] { return ::waitpid(pid, &st, 0); });
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
  return r;
}

}  // namespace

ProcessResult run_in_netns(const Netns& ns, const std::vector<std::string>& argv,
                           const std::string& input) {
  return run(ns.fd(), argv, input);
}

ProcessResult run_program(const std::vector<std::string>& argv, const std::string& input) {
  return run(-1, argv, input);
}

}  // namespace nslab
