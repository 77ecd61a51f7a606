#include "leak_scan.h"

#include <dirent.h>
#include <unistd.h>

#include <fstream>
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

NetnsCensus take_census(pid_t parent) {
  NetnsCensus c;
  for_each_entry("/proc", [&](const std::string& pid) {
    if (!is_pid(pid)) return;
    std::string base = "/proc/" + pid;
    for_each_entry(base + "/task",
                   [&](const std::string& tid) { note_link(base + "/task/" + tid + "/ns/net", c.namespaces); });
    for_each_entry(base + "/fd",
                   [&](const std::string& fd) { note_link(base + "/fd/" + fd, c.namespaces); });
    if (parent > 0) {
      std::ifstream st(base + "/stat");
      std::string line;
      std::getline(st, line);
      auto close = line.rfind(')');
      if (close != std::string::npos) {
        std::istringstream rest(line.substr(close + 2));
        char state;
        pid_t ppid = 0;
        rest >> state >> ppid;
        if (ppid == parent) c.children_of_parent.insert(std::stoi(pid));
      }
    }
  });
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

int count_open_fds() {
  int n = 0;
  for_each_entry("/proc/self/fd", [&](const std::string&) { ++n; });
  return n - 1;  // the directory stream itself
}

}  // namespace nslab::testing
