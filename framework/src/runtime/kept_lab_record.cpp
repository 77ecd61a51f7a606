// Kept labs' records: where they live, their text, and the checks that
// decide whether one may be trusted (kept_lab.h).
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <fmt/format.h>
#include <random>
#include <set>
#include <sstream>

#include "kept_lab.h"
#include "kept_lab_control.h"
#include "kept_lab_detail.h"
#include "nslab/error.h"
#include "nslab/names.h"
#include "rootless.h"
#include "sys.h"

namespace nslab {

namespace {

constexpr const char* kFormat = "nslab-kept-lab 1";

bool parse_u64(std::string_view s, std::uint64_t& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

std::string printable(std::string s) {
  for (char& c : s)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return s;
}

// Why a record's file or directory may not be trusted, or empty.
std::string untrusted(const struct stat& st, const std::string& what, bool dir) {
  if (dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))
    return fmt::format("{} is not a {}", what, dir ? "directory" : "regular file");
  if (st.st_uid != ::geteuid())
    return fmt::format("{} is owned by {}, not by you ({})", what, uid_text(st.st_uid), uid_text(::geteuid()));
  if (st.st_mode & (S_IWGRP | S_IWOTH))
    return fmt::format("{} is writable by {} (mode {:04o})", what, (st.st_mode & S_IWOTH) ? "anyone" : "its group",
                       st.st_mode & 07777);
  return {};
}

Fd open_dir_checked(int at, const std::string& name, const std::string& what) {
  int fd = ::openat(at, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ELOOP || errno == ENOTDIR)
      throw Error(fmt::format("refusing {}: it is not a directory (a symbolic link?)", what));
    throw SystemError(fmt::format("cannot open {}", what), errno);
  }
  Fd dir(fd);
  struct stat st {};
  ::fstat(dir.get(), &st);
  if (auto why = untrusted(st, what, true); !why.empty()) throw Error("refusing " + why);
  return dir;
}

// Parses and checks a record; throws Error naming the first problem.
KeptLab parse_record(const std::string& text, const std::string& id, const std::string& path) {
  auto bad = [&](const std::string& why) { return Error(fmt::format("refusing the record {}: {}", path, why)); };
  std::istringstream in(text);
  std::string line;
  if (!std::getline(in, line) || line != kFormat)
    throw bad("it is not an nslab record (no \"" + std::string(kFormat) + "\" line)");
  KeptLab k;
  std::set<std::string> seen, nodes;
  while (std::getline(in, line)) {
    auto space = line.find(' ');
    std::string key = line.substr(0, space);
    std::string rest = space == std::string::npos ? "" : line.substr(space + 1);
    std::vector<std::string> f;
    for (std::istringstream words(rest); words >> line;) f.push_back(line);
    auto numbers = [&](std::size_t count, std::initializer_list<std::uint64_t*> out) {
      if (f.size() != count) throw bad(fmt::format("its \"{}\" line needs {} numbers", key, count));
      std::size_t i = 0;
      for (auto* o : out)
        if (!parse_u64(f[i++], *o)) throw bad(fmt::format("its \"{}\" line has \"{}\", not a number", key, f[i - 1]));
    };
    if (key != "netns" && key != "hostname" && key != "cgroup" && !seen.insert(key).second)
      throw bad(fmt::format("it has two \"{}\" lines", key));
    if (key == "id") {
      if (f.size() != 1 || f[0] != id)
        throw bad(fmt::format("its id \"{}\" is not its directory's name \"{}\"", rest, id));
      k.id = f[0];
    } else if (key == "scenario") {
      k.scenario = rest;
    } else if (key == "keeper") {
      std::uint64_t pid = 0, start = 0;
      numbers(3, {&pid, &start, &k.keeper_pidns});
      if (pid == 0 || pid > 4194304) throw bad(fmt::format("its keeper pid {} is not a pid", pid));
      k.keeper = static_cast<pid_t>(pid);
      k.keeper_start = start;
    } else if (key == "keeper-namespaces") {
      numbers(2, {&k.keeper_userns, &k.keeper_mntns});
    } else if (key == "keeper-exe") {
      numbers(2, {&k.keeper_exe_dev, &k.keeper_exe_ino});
    } else if (key == "netns") {
      if (f.size() != 3) throw bad("a \"netns\" line needs a node, a name and an inode");
      KeptLab::Namespace n{f[0], f[1], 0};
      if (auto why = node_name_problem(n.node)) throw bad(fmt::format("node \"{}\": {}", n.node, *why));
      if (n.name != id + "-" + n.node)
        throw bad(fmt::format("the namespace of node \"{}\" is recorded as \"{}\", not \"{}-{}\" as up names it",
                              n.node, n.name, id, n.node));
      if (!parse_u64(f[2], n.inode)) throw bad(fmt::format("the inode of node \"{}\" is not a number", n.node));
      if (!nodes.insert(n.node).second) throw bad(fmt::format("node \"{}\" is listed twice", n.node));
      k.netns.push_back(std::move(n));
    } else if (key == "hostname") {
      // After the node's netns line, as record_text writes it.
      if (f.size() != 2) throw bad("a \"hostname\" line needs a node and a hostname");
      auto it = std::find_if(k.netns.begin(), k.netns.end(), [&](const auto& n) { return n.node == f[0]; });
      if (it == k.netns.end()) throw bad(fmt::format("a hostname for node \"{}\", which it does not list", f[0]));
      if (f[1].size() > 64 || !std::all_of(f[1].begin(), f[1].end(), [](unsigned char c) {
            return std::isalnum(c) || c == '-' || c == '_' || c == '.';
          }))
        throw bad(fmt::format("node \"{}\" has a hostname \"{}\" that no scenario allows", f[0], printable(f[1])));
      it->hostname = f[1];
    } else if (key == "cgroup") {
      // "cgroup NODE DIR": DIR is the rest of the line (a cgroup path may hold
      // spaces), a directory nslab made for the node below /sys/fs/cgroup.
      auto node_end = rest.find(' ');
      std::string node = rest.substr(0, node_end), dir = node_end == std::string::npos ? "" : rest.substr(node_end + 1);
      auto it = std::find_if(k.netns.begin(), k.netns.end(), [&](const auto& n) { return n.node == node; });
      if (it == k.netns.end())
        throw bad(fmt::format("a cgroup for node \"{}\", which it does not list", printable(node)));
      bool ours = dir.rfind("/sys/fs/cgroup/", 0) == 0 && dir.ends_with("/" + node) &&
                  dir.find("/nslab-") != std::string::npos && dir.find("/../") == std::string::npos &&
                  dir.find("/./") == std::string::npos &&
                  std::none_of(dir.begin(), dir.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; });
      if (!ours)
        throw bad(fmt::format("node \"{}\" has a cgroup \"{}\" that nslab would not make", node, printable(dir)));
      it->cgroups.push_back(dir);
    } else {
      throw bad(fmt::format("unknown line \"{}\"", printable(key)));
    }
  }
  for (const char* key : {"id", "keeper", "keeper-namespaces", "keeper-exe"})
    if (!seen.count(key)) throw bad(fmt::format("it has no \"{}\" line", key));
  return k;
}

}  // namespace

namespace kept_detail {

std::uint64_t own_ns(const char* which) {
  struct stat st {};
  return ::stat(fmt::format("/proc/self/ns/{}", which).c_str(), &st) == 0 ? st.st_ino : 0;
}

long pid_in_proc() {
  char buf[32];
  ssize_t n = ::readlink("/proc/self", buf, sizeof buf);
  long v = -1;
  if (n > 0) std::from_chars(buf, buf + n, v);
  return v;
}

Fd open_root(bool create) {
  const std::string root = kept_lab_root();
  bool made = false;
  if (create) {
    if (::mkdir(root.c_str(), 0700) == 0)
      made = true;
    else if (errno != EEXIST)
      throw SystemError(fmt::format("cannot create the state directory {}", root), errno);
  }
  if (!create && ::access(root.c_str(), F_OK) != 0 && errno == ENOENT) return Fd();
  Fd dir = [&] {
    if (made) {
      // Fixed mode, whatever the umask.
      Fd d(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (d) ::fchmod(d.get(), 0700);
    }
    return open_dir_checked(AT_FDCWD, root, "state directory " + root);
  }();
  return dir;
}

Fd open_record_dir(int root, const std::string& id) {
  if (auto why = kept_lab_id_problem(id)) throw Error(fmt::format("\"{}\" is not a lab name: {}", id, *why));
  return open_dir_checked(root, id, "record directory " + kept_lab_root() + "/" + id);
}

std::string state_path(const std::string& id) {
  return kept_lab_root() + "/" + id + "/state";
}

std::string record_text(const KeptLab& k) {
  std::string s = fmt::format("{}\nid {}\nscenario {}\nkeeper {} {} {}\nkeeper-namespaces {} {}\nkeeper-exe {} {}\n",
                              kFormat, k.id, printable(k.scenario), k.keeper, k.keeper_start, k.keeper_pidns,
                              k.keeper_userns, k.keeper_mntns, k.keeper_exe_dev, k.keeper_exe_ino);
  for (const auto& n : k.netns) {
    s += fmt::format("netns {} {} {}\n", n.node, n.name, n.inode);
    if (!n.hostname.empty()) s += fmt::format("hostname {} {}\n", n.node, n.hostname);
    for (const auto& dir : n.cgroups) s += fmt::format("cgroup {} {}\n", n.node, dir);
  }
  return s;
}

KeptLab read_record(int root, const std::string& id) {
  if (auto why = kept_lab_id_problem(id)) throw Error(fmt::format("\"{}\" is not a lab name: {}", id, *why));
  const std::string dir_path = kept_lab_root() + "/" + id;
  Fd dir = open_dir_checked(root, id, "record directory " + dir_path);
  int fd = ::openat(dir.get(), "state", O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ENOENT) throw Error(fmt::format("the record {} has no state file", dir_path));
    throw SystemError(fmt::format("cannot open {}", state_path(id)), errno);
  }
  Fd file(fd);
  struct stat st {};
  ::fstat(file.get(), &st);
  if (auto why = untrusted(st, "record " + state_path(id), false); !why.empty()) throw Error("refusing " + why);
  if (st.st_size > (1 << 20)) throw Error(fmt::format("refusing the record {}: it is too large", state_path(id)));
  std::string text;
  char buf[4096];
  for (ssize_t n; (n = sys::retry([&] { return ::read(file.get(), buf, sizeof buf); })) > 0;)
    text.append(buf, static_cast<std::size_t>(n));
  return parse_record(text, id, state_path(id));
}

std::string remove_record(int root, const std::string& id) {
  Fd dir(::openat(root, id.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (dir) {
    ::unlinkat(dir.get(), "state", 0);
    ::unlinkat(dir.get(), "state.new", 0);
    ::unlinkat(dir.get(), kLockFile, 0);
    ::unlinkat(dir.get(), kKeeperControlFile, 0);
  }
  if (::unlinkat(root, id.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT)
    return fmt::format("the record {}/{} stays: {}", kept_lab_root(), id, std::strerror(errno));
  return {};
}

LockState keeper_lock(int root, const std::string& id) {
  Fd dir(::openat(root, id.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dir) return LockState::none;
  Fd lock(::openat(dir.get(), kLockFile, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
  if (!lock) return LockState::none;
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  if (sys::retry([&] { return ::fcntl(lock.get(), F_GETLK, &fl); }) != 0) return LockState::none;
  return fl.l_type == F_UNLCK ? LockState::free : LockState::held;
}

}  // namespace kept_detail

using namespace kept_detail;

std::string kept_lab_root() {
  if (const char* dir = std::getenv("NSLAB_STATE_DIR"); dir && *dir) return dir;
  if (::geteuid() == 0 && in_initial_user_namespace()) return "/run/nslab";
  if (const char* xdg = std::getenv("XDG_RUNTIME_DIR"); xdg && xdg[0] == '/') {
    struct stat st {};
    if (::lstat(xdg, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == ::geteuid() && (st.st_mode & 077) == 0)
      return std::string(xdg) + "/nslab";
  }
  return fmt::format("/tmp/nslab-{}", outer_uid(::geteuid()).value_or(::geteuid()));
}

std::string new_kept_lab_id(const std::string& name) {
  std::random_device rd;
  std::string base;
  for (char c : name) base += (std::isalnum(static_cast<unsigned char>(c)) || c == '-') ? c : '-';
  while (!base.empty() && !std::isalnum(static_cast<unsigned char>(base.front()))) base.erase(0, 1);
  if (base.size() > 24) base.resize(24);
  return fmt::format("{}-{:06x}", base.empty() ? "lab" : base, rd() & 0xffffff);
}

std::optional<std::string> kept_lab_id_problem(std::string_view id) {
  if (id.empty()) return "it is empty";
  if (id.size() > 64) return "it is longer than 64 characters";
  if (!std::isalnum(static_cast<unsigned char>(id.front()))) return "it must start with a letter or a digit";
  for (char c : id)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_')
      return fmt::format("it holds '{}' (only letters, digits, '-' and '_' are allowed)", printable(std::string(1, c)));
  return {};
}

std::optional<std::string> keeper_recording_problem() {
  if (pid_in_proc() != ::getpid())
    return fmt::format(
        "/proc shows another PID namespace's processes (this process is pid {} here and {} in /proc), "
        "so the keeper's pid could not be recorded as `down` will see it; mount a /proc for this PID "
        "namespace (unshare --mount-proc), or run nslab up outside it",
        ::getpid(), pid_in_proc());
  return std::nullopt;
}

void prepare_kept_lab_root() {
  open_root(true);
}

std::vector<KeptLabEntry> list_kept_labs() {
  std::vector<KeptLabEntry> out;
  Fd root = open_root(false);
  if (!root) return out;
  int copy = ::fcntl(root.get(), F_DUPFD_CLOEXEC, 0);
  DIR* d = copy >= 0 ? ::fdopendir(copy) : nullptr;
  if (!d) throw SystemError(fmt::format("cannot list {}", kept_lab_root()), errno);
  std::vector<std::string> names;
  while (auto* e = ::readdir(d))
    if (std::string n = e->d_name; n != "." && n != "..") names.push_back(n);
  ::closedir(d);
  std::sort(names.begin(), names.end());
  for (const auto& name : names) {
    KeptLabEntry e{name, std::nullopt, {}};
    try {
      e.lab = read_record(root.get(), name);
    } catch (const Error& err) {
      e.problem = err.what();
    }
    out.push_back(std::move(e));
  }
  return out;
}

bool kept_lab_recorded(const std::string& id) {
  if (kept_lab_id_problem(id)) return false;
  struct stat st {};
  // Anything but "no such entry" (no permission to look) is for
  // find_kept_lab to report.
  return ::lstat((kept_lab_root() + "/" + id).c_str(), &st) == 0 || errno != ENOENT;
}

KeptLab find_kept_lab(const std::string& id) {
  if (auto why = kept_lab_id_problem(id)) throw Error(fmt::format("\"{}\" is not a lab name: {}", id, *why));
  Fd root = open_root(false);
  if (!root || !kept_lab_recorded(id)) {
    std::string known;
    if (root)
      for (const auto& e : list_kept_labs()) known += " " + e.id;
    throw Error(fmt::format("no lab \"{}\" is up{}", id, known.empty() ? "" : " (labs up:" + known + ")"));
  }
  return read_record(root.get(), id);
}

}  // namespace nslab
