#include "stillness_ovs.h"
#include "sys.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cstdlib>
#include <set>
#include <sstream>
#include <string_view>
#include <vector>

namespace nslab::detail {

namespace {

// The system calls a thread sleeps in while it waits for its descriptors.
bool waits_for_descriptors(long nr) {
  switch (nr) {
#ifdef SYS_poll
    case SYS_poll:
#endif
#ifdef SYS_select
    case SYS_select:
#endif
#ifdef SYS_epoll_wait
    case SYS_epoll_wait:
#endif
#ifdef SYS_epoll_pwait2
    case SYS_epoll_pwait2:
#endif
    case SYS_ppoll:
    case SYS_pselect6:
    case SYS_epoll_pwait: return true;
    default: return false;
  }
}

// A poll that a signal interrupted (SIGSTOP, then SIGCONT) goes on as
// restart_syscall, which may restart anything: the kernel function it
// sleeps in says what.
bool restarted_poll(long nr, const std::string& task) {
  if (nr != SYS_restart_syscall) return false;
  auto wchan = sys::read_file_if(task + "/wchan");
  if (!wchan) return false;
  for (std::string_view f : {"poll_schedule_timeout", "do_select", "ep_poll", "do_epoll_wait"})
    if (wchan->rfind(f, 0) == 0) return true;
  return false;
}

}  // namespace

std::optional<std::string> ovs_blocker(const NodeSpec& node) {
  for (const auto& b : node.bridges) {
    if (b.kind != BridgeKind::ovs) continue;
    if (b.ovs.datapath == OvsDatapath::system)
      return fmt::format(
          "Open vSwitch bridge \"{}:{}\" forwards in the kernel's datapath, whose upcalls to ovs-vswitchd nslab "
          "does not watch",
          node.name, b.name);
    if (!openflow_lines(b.ovs.openflow).empty())
      return fmt::format("Open vSwitch bridge \"{}:{}\" has flows of the scenario's, which may answer or hold packets",
                         node.name, b.name);
  }
  return std::nullopt;
}

std::optional<std::string> switch_busy(int pid) {
  const std::string dir = fmt::format("/proc/{}", pid);
  auto tasks = sys::entries(dir + "/task");
  if (tasks.empty()) return fmt::format("ovs-vswitchd (pid {}) cannot be looked at", pid);
  for (const auto& t : tasks) {
    const std::string task = dir + "/task/" + t;
    auto stat = sys::read_stat(AT_FDCWD, (task + "/stat").c_str());
    if (!stat) return fmt::format("ovs-vswitchd (pid {}) cannot be looked at", pid);
    if (stat->state != 'S') return fmt::format("a thread of ovs-vswitchd (tid {}) is not asleep", t);
    // "NR args... sp pc" while blocked in a system call; "running", or -1
    // outside one (a page fault), otherwise. Needs ptrace access.
    auto call = sys::read_file_if(task + "/syscall");
    char* end = nullptr;
    long nr = call ? std::strtol(call->c_str(), &end, 10) : -1;
    if (!call || end == call->c_str() || !(waits_for_descriptors(nr) || restarted_poll(nr, task)))
      return fmt::format("a thread of ovs-vswitchd (tid {}) sleeps elsewhere than in poll", t);
  }
  // Its packet sockets, by inode, and what each holds unread.
  std::set<std::string> own;
  for (const auto& fd : sys::entries(dir + "/fd")) {
    char link[64];
    ssize_t n = ::readlink((dir + "/fd/" + fd).c_str(), link, sizeof link - 1);
    if (n <= 0) continue;
    std::string_view l(link, static_cast<std::size_t>(n));
    if (l.rfind("socket:[", 0) == 0 && l.back() == ']') own.emplace(l.substr(8, l.size() - 9));
  }
  auto packet = sys::read_file_if(dir + "/net/packet");
  if (!packet) return fmt::format("the packet sockets of ovs-vswitchd (pid {}) cannot be read", pid);
  std::istringstream lines(*packet);
  std::string line;
  std::getline(lines, line);  // sk RefCnt Type Proto Iface R Rmem User Inode
  while (std::getline(lines, line)) {
    std::istringstream f(line);
    std::string sk, refs, type, proto, iface, running, rmem, user, inode;
    if (!(f >> sk >> refs >> type >> proto >> iface >> running >> rmem >> user >> inode)) continue;
    if (own.count(inode) && rmem != "0")
      return fmt::format("a packet socket of ovs-vswitchd holds {} bytes unread", rmem);
  }
  return std::nullopt;
}

}  // namespace nslab::detail
