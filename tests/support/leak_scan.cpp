#include "leak_scan.h"

#include <dirent.h>
#include <unistd.h>

#include "nslab/lab.h"

#include <fstream>
#include <map>
#include <sstream>
#include <string>

namespace nslab::testing {

namespace {

template <typename F>
void for_each_entry(const std::string& dir, F&& fn) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;
  while (auto* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    fn(std::string(e->d_name));
  }
  ::closedir(d);
}

void note_link(const std::string& path, std::set<std::uint64_t>& out) {
  char buf[128];
  ssize_t n = ::readlink(path.c_str(), buf, sizeof buf - 1);
  if (n <= 0) return;
  std::string s(buf, static_cast<std::size_t>(n));
  if (s.rfind("net:[", 0) == 0) out.insert(std::stoull(s.substr(5)));
}

bool is_pid(const std::string& s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
}

}  // namespace

pid_t parent_of(const std::string& pid) {
  std::ifstream st("/proc/" + pid + "/stat");
  std::string line;
  std::getline(st, line);
  auto close = line.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(line.substr(close + 2));
  char state;
  pid_t ppid = 0;
  rest >> state >> ppid;
  return ppid;
}

NetnsCensus take_census() {
  NetnsCensus c;
  std::map<pid_t, pid_t> parent;
  for_each_entry("/proc", [&](const std::string& pid) {
    if (is_pid(pid)) parent[std::stoi(pid)] = parent_of(pid);
  });
  const pid_t self = ::getpid();
  auto descends = [&](pid_t p) {
    for (int depth = 0; p > 1 && depth < 64; ++depth) {
      auto it = parent.find(p);
      if (it == parent.end()) return false;
      if (it->second == self) return true;
      p = it->second;
    }
    return false;
  };
  for (const auto& [pid, ppid] : parent) {
    (void)ppid;
    if (pid != self && !descends(pid)) continue;
    if (pid != self) c.descendants.insert(pid);
    std::string base = "/proc/" + std::to_string(pid);
    for_each_entry(base + "/task",
                   [&](const std::string& tid) { note_link(base + "/task/" + tid + "/ns/net", c.namespaces); });
    for_each_entry(base + "/fd", [&](const std::string& fd) { note_link(base + "/fd/" + fd, c.namespaces); });
  }
  std::ifstream mi("/proc/self/mountinfo");
  for (std::string line; std::getline(mi, line);)
    if (line.find(" - nsfs ") != std::string::npos) c.nsfs_mounts.insert(line);
  return c;
}

std::set<std::uint64_t> new_namespaces(const NetnsCensus& before, const NetnsCensus& now) {
  std::set<std::uint64_t> out;
  for (auto ns : now.namespaces)
    if (!before.namespaces.count(ns)) out.insert(ns);
  return out;
}

std::optional<std::string> cannot_drop_privileges() {
  std::ifstream in("/proc/self/uid_map");
  std::string inside, outside, count;
  in >> inside >> outside >> count;
  if (::geteuid() != 0 || outside != "0" || count != "4294967295")
    return std::string("only the machine's real root can switch to another user (this is a rootless run)");
  if (::access("/usr/bin/setpriv", X_OK) != 0 && ::access("/bin/setpriv", X_OK) != 0)
    return std::string("setpriv (util-linux) is not installed");
  return std::nullopt;
}

int count_open_fds() {
  int n = 0;
  for_each_entry("/proc/self/fd", [&](const std::string&) { ++n; });
  return n - 1;  // the directory stream itself
}

LabChild spawn_lab_child(const Topology& topology, const std::function<std::string(Lab&)>& report) {
  int p[2];
  if (::pipe(p) != 0) return {};
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(p[0]);
    ::close(p[1]);
    return {};
  }
  if (pid == 0) {
    ::close(p[0]);
    try {
      Lab lab(topology);
      std::string line = (report ? report(lab) : std::string()) + "\n";
      (void)!::write(p[1], line.data(), line.size());
      for (;;) ::pause();
    } catch (...) {
      ::_exit(3);
    }
  }
  ::close(p[1]);
  return {pid, p[0]};
}

std::optional<std::string> read_child_line(int fd) {
  std::string line;
  char c = 0;
  while (::read(fd, &c, 1) == 1) {
    if (c == '\n') return line;
    line += c;
  }
  return std::nullopt;
}

}  // namespace nslab::testing
