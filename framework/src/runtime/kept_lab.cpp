#include "kept_lab.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fmt/format.h>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "nslab/error.h"
#include "nslab/lab.h"
#include "rootless.h"
#include "sys.h"
#include "nslab/topology.h"

namespace nslab {

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr const char* kNetnsDir = "/run/netns";
constexpr const char* kFormat = "nslab-kept-lab 1";

std::uint64_t own_ns(const char* which) {
  struct stat st {};
  return ::stat(fmt::format("/proc/self/ns/{}", which).c_str(), &st) == 0 ? st.st_ino : 0;
}

// The caller's uid outside its user namespace (the same inside a rootless
// sandbox and out of it, so both name the same /tmp/nslab-UID).
uid_t caller_uid() {
  uid_t e = ::geteuid();
  std::ifstream in("/proc/self/uid_map");
  unsigned long long inside, outside, count;
  while (in >> inside >> outside >> count)
    if (e >= inside && e < inside + count) return static_cast<uid_t>(outside + (e - inside));
  return e;
}

// Our pid as /proc counts it: not getpid() when /proc belongs to an
// ancestor PID namespace.
long pid_in_proc() {
  char buf[32];
  ssize_t n = ::readlink("/proc/self", buf, sizeof buf);
  long v = -1;
  if (n > 0) std::from_chars(buf, buf + n, v);
  return v;
}

bool parse_u64(std::string_view s, std::uint64_t& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

// State and start time of /proc/PID/stat, read through dirfd (a /proc/PID
// directory) or from path; empty when the process is gone.
struct ProcStat {
  char state = 0;
  unsigned long long start = 0;
};
std::optional<ProcStat> read_stat(int dirfd, const char* path) {
  int fd = ::openat(dirfd, path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  char buf[1024];
  ssize_t n = sys::retry([&] { return ::read(fd, buf, sizeof buf - 1); });
  ::close(fd);
  if (n <= 0) return std::nullopt;
  std::string_view line(buf, static_cast<std::size_t>(n));
  auto close = line.rfind(')');
  if (close == std::string_view::npos || close + 2 >= line.size()) return std::nullopt;
  ProcStat st;
  st.state = line[close + 2];
  std::istringstream rest(std::string(line.substr(close + 2)));
  std::string field;
  for (int i = 3; i <= 22 && rest >> field; ++i)
    if (i == 22) st.start = std::stoull(field);
  return st;
}

// Why a record's file or directory may not be trusted, or empty.
std::string untrusted(const struct stat& st, const std::string& what, bool dir) {
  if (dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))
    return fmt::format("{} is not a {}", what, dir ? "directory" : "regular file");
  if (st.st_uid != ::geteuid())
    return fmt::format("{} is owned by uid {}, not by you (uid {})", what, st.st_uid, ::geteuid());
  if (st.st_mode & (S_IWGRP | S_IWOTH))
    return fmt::format("{} is writable by {} (mode {:04o})", what, (st.st_mode & S_IWOTH) ? "anyone" : "its group",
                       st.st_mode & 07777);
  return {};
}

Fd open_dir_checked(int at, const std::string& name, const std::string& what) {
  int fd = ::openat(at, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ELOOP || errno == ENOTDIR) throw Error(fmt::format("refusing {}: it is not a directory (a symbolic link?)", what));
    throw SystemError(fmt::format("cannot open {}", what), errno);
  }
  Fd dir(fd);
  struct stat st {};
  ::fstat(dir.get(), &st);
  if (auto why = untrusted(st, what, true); !why.empty()) throw Error("refusing " + why);
  return dir;
}

// The state directory; empty when it does not exist and create is false.
Fd open_root(bool create) {
  const std::string root = kept_lab_root();
  bool made = false;
  if (create) {
    if (::mkdir(root.c_str(), 0700) == 0) made = true;
    else if (errno != EEXIST) throw SystemError(fmt::format("cannot create the state directory {}", root), errno);
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

std::string state_path(const std::string& id) { return kept_lab_root() + "/" + id + "/state"; }

std::string printable(std::string s) {
  for (char& c : s)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return s;
}

std::string record_text(const KeptLab& k) {
  std::string s = fmt::format("{}\nid {}\nscenario {}\nkeeper {} {} {}\nkeeper-namespaces {} {}\nkeeper-exe {} {}\n",
                              kFormat, k.id, printable(k.scenario), k.keeper, k.keeper_start, k.keeper_pidns,
                              k.keeper_userns, k.keeper_mntns, k.keeper_exe_dev, k.keeper_exe_ino);
  for (const auto& n : k.netns) s += fmt::format("netns {} {} {}\n", n.node, n.name, n.inode);
  return s;
}

// Parses and checks a record; throws Error naming the first problem.
KeptLab parse_record(const std::string& text, const std::string& id, const std::string& path) {
  auto bad = [&](const std::string& why) { return Error(fmt::format("refusing the record {}: {}", path, why)); };
  std::istringstream in(text);
  std::string line;
  if (!std::getline(in, line) || line != kFormat) throw bad("it is not an nslab record (no \"" + std::string(kFormat) + "\" line)");
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
    if (key != "netns" && !seen.insert(key).second) throw bad(fmt::format("it has two \"{}\" lines", key));
    if (key == "id") {
      if (f.size() != 1 || f[0] != id) throw bad(fmt::format("its id \"{}\" is not its directory's name \"{}\"", rest, id));
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
        throw bad(fmt::format("the namespace of node \"{}\" is recorded as \"{}\", not \"{}-{}\" as up names it", n.node,
                              n.name, id, n.node));
      if (!parse_u64(f[2], n.inode)) throw bad(fmt::format("the inode of node \"{}\" is not a number", n.node));
      if (!nodes.insert(n.node).second) throw bad(fmt::format("node \"{}\" is listed twice", n.node));
      k.netns.push_back(std::move(n));
    } else {
      throw bad(fmt::format("unknown line \"{}\"", printable(key)));
    }
  }
  for (const char* key : {"id", "keeper", "keeper-namespaces", "keeper-exe"})
    if (!seen.count(key)) throw bad(fmt::format("it has no \"{}\" line", key));
  return k;
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

// ---------------------------------------------------------------------------
// The keeper, found and checked through a /proc/PID handle.

struct Keeper {
  KeeperStatus status;
  Fd dir;  // /proc/PID while running: it names that process, never a later one with its pid
};

Keeper find_keeper(const KeptLab& k) {
  Keeper kp;
  auto unknown = [&](std::string why) {
    kp.status = {KeeperStatus::unknown, std::move(why)};
    return std::move(kp);
  };
  auto gone = [&](std::string why) {
    kp.status = {KeeperStatus::gone, std::move(why)};
    kp.dir.reset();
    return std::move(kp);
  };
  if (k.keeper_pidns != own_ns("pid"))
    return unknown(fmt::format("its keeper (pid {}) was recorded in another PID namespace (pid:[{}]; this is "
                               "pid:[{}]), where that pid names another process; run nslab there",
                               k.keeper, k.keeper_pidns, own_ns("pid")));
  if (pid_in_proc() != ::getpid())
    return unknown("/proc here shows another PID namespace's processes, so pids cannot be checked; mount a /proc "
                   "for this PID namespace");
  kp.dir = Fd(::open(fmt::format("/proc/{}", k.keeper).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!kp.dir) return gone(fmt::format("the keeper (pid {}) has exited", k.keeper));
  auto st = read_stat(kp.dir.get(), "stat");
  if (!st || st->state == 'Z') return gone(fmt::format("the keeper (pid {}) has exited", k.keeper));
  if (st->start != k.keeper_start)
    return gone(fmt::format("the keeper (pid {}) has exited; that pid now names another process, left alone",
                            k.keeper));
  struct stat exe {};
  if (::fstatat(kp.dir.get(), "exe", &exe, 0) != 0)
    return unknown(fmt::format("cannot check that pid {} is the keeper: its executable: {}", k.keeper,
                               std::strerror(errno)));
  if (exe.st_dev != k.keeper_exe_dev || exe.st_ino != k.keeper_exe_ino) {
    char path[4096];
    ssize_t n = ::readlinkat(kp.dir.get(), "exe", path, sizeof path - 1);
    return unknown(fmt::format("pid {} started when the keeper did but runs {}, not the keeper's nslab; it is "
                               "not signalled",
                               k.keeper, n > 0 ? std::string(path, static_cast<std::size_t>(n)) : "another program"));
  }
  kp.status = {KeeperStatus::running, fmt::format("pid {}", k.keeper)};
  return kp;
}

bool still_running(const Keeper& kp) {
  auto st = read_stat(kp.dir.get(), "stat");
  return st && st->state != 'Z';
}

bool signal_keeper(const Keeper& kp, int sig) {
  return ::syscall(SYS_pidfd_send_signal, kp.dir.get(), sig, nullptr, 0) == 0;
}

bool stopped_within(const Keeper& kp, std::chrono::milliseconds limit) {
  auto deadline = Clock::now() + limit;
  while (still_running(kp)) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

// Joins the keeper's user and mount namespaces where they are not ours,
// checked against the record. The working directory is kept where it exists.
void enter_keeper_namespaces(const Keeper& kp, const KeptLab& k) {
  struct Target {
    const char* name;
    int type;
    std::uint64_t recorded;
    Fd fd;
  } targets[] = {{"user", CLONE_NEWUSER, k.keeper_userns, {}}, {"mnt", CLONE_NEWNS, k.keeper_mntns, {}}};
  for (auto& t : targets) {
    t.fd = Fd(::openat(kp.dir.get(), fmt::format("ns/{}", t.name).c_str(), O_RDONLY | O_CLOEXEC));
    if (!t.fd) throw SystemError(fmt::format("cannot open the {} namespace of keeper {}", t.name, k.keeper), errno);
    struct stat st {};
    ::fstat(t.fd.get(), &st);
    if (st.st_ino != t.recorded)
      throw Error(fmt::format("keeper {}'s {} namespace is not the one up recorded", k.keeper, t.name));
  }
  char cwd[4096];
  bool have_cwd = ::getcwd(cwd, sizeof cwd) != nullptr;
  bool moved = false;
  for (auto& t : targets) {
    if (t.recorded == own_ns(t.name)) continue;
    if (::setns(t.fd.get(), t.type) != 0)
      throw SystemError(fmt::format("cannot enter the {} namespace of lab {}'s keeper (pid {})", t.name, k.id, k.keeper),
                        errno);
    moved = moved || t.type == CLONE_NEWNS;
  }
  if (moved && (!have_cwd || ::chdir(cwd) != 0)) (void)!::chdir("/");
}

// True when the namespace file is the network namespace up made.
bool is_recorded_netns(int fd, const KeptLab::Namespace& ns) {
  struct statfs fs {};
  struct stat st {};
  return ::fstatfs(fd, &fs) == 0 && fs.f_type == NSFS_MAGIC && ::ioctl(fd, NS_GET_NSTYPE) == CLONE_NEWNET &&
         ::fstat(fd, &st) == 0 && st.st_ino == ns.inode;
}

// True when /proc/self/mountinfo has a mount at path (seen or hidden).
bool mount_left_at(const std::string& path) {
  std::ifstream in("/proc/self/mountinfo");
  for (std::string line; std::getline(in, line);) {
    std::istringstream f(line);
    std::string id, parent, dev, root, point;
    f >> id >> parent >> dev >> root >> point;
    if (point == path) return true;
  }
  return false;
}

enum class Removal { removed, absent, stayed };

// Unmounts and removes one recorded namespace file; says what happened.
std::pair<Removal, std::string> remove_netns_file(const KeptLab::Namespace& ns) {
  const std::string path = std::string(kNetnsDir) + "/" + ns.name;
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) return {Removal::stayed, fmt::format("{}: cannot check it: {}", path, std::strerror(errno))};
    if (mount_left_at(path))
      return {Removal::stayed, fmt::format("{}: a mount of it is still there, hidden under another mount", path)};
    return {Removal::absent, fmt::format("{} was already gone", path)};
  }
  {
    Fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
    struct statfs fs {};
    bool mounted = fd && ::fstatfs(fd.get(), &fs) == 0 && fs.f_type == NSFS_MAGIC;
    // The empty file up creates before it bind-mounts onto it (a crash in
    // between leaves it alone) is up's too.
    bool placeholder = !mounted && S_ISREG(st.st_mode) && st.st_size == 0 && st.st_uid == ::geteuid();
    if (!(mounted ? is_recorded_netns(fd.get(), ns) : placeholder))
      return {Removal::stayed, fmt::format("{} is not the namespace up made for node \"{}\"; left alone", path, ns.node)};
  }
  for (int i = 0; i < 16 && ::umount2(path.c_str(), MNT_DETACH) == 0; ++i) {
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    int err = errno;
    if (mount_left_at(path))
      return {Removal::stayed, fmt::format("{}: a mount of it is still there, hidden under another mount ({})", path,
                                           std::strerror(err))};
    return {Removal::stayed, fmt::format("{}: cannot remove it: {}", path, std::strerror(err))};
  }
  if (::lstat(path.c_str(), &st) == 0 || mount_left_at(path))
    return {Removal::stayed, fmt::format("{} is still there after removal", path)};
  return {Removal::removed, fmt::format("removed {}", path)};
}

// Removes the record's files (only the names up writes) and its directory.
std::string remove_record(int root, const std::string& id) {
  Fd dir(::openat(root, id.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (dir) {
    ::unlinkat(dir.get(), "state", 0);
    ::unlinkat(dir.get(), "state.new", 0);
  }
  if (::unlinkat(root, id.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT)
    return fmt::format("the record {}/{} stays: {}", kept_lab_root(), id, std::strerror(errno));
  return {};
}

// Like iproute2: /run/netns is a shared mount point, so that `ip netns add`
// does not stack a bind mount over it (which would hide our mounts from
// `down`), and an unmount here reaches the copies in other mount namespaces.
void prepare_netns_dir() {
  if (::mkdir(kNetnsDir, 0755) != 0 && errno != EEXIST) throw SystemError("cannot create /run/netns", errno);
  if (::mount("", kNetnsDir, "none", MS_SHARED | MS_REC, nullptr) == 0) return;
  if (errno != EINVAL) throw SystemError("cannot make /run/netns a shared mount", errno);
  if (::mount(kNetnsDir, kNetnsDir, "none", MS_BIND | MS_REC, nullptr) != 0)
    throw SystemError("cannot bind-mount /run/netns onto itself", errno);
  if (::mount("", kNetnsDir, "none", MS_SHARED | MS_REC, nullptr) != 0)
    throw SystemError("cannot make /run/netns a shared mount", errno);
}

}  // namespace

std::string kept_lab_root() {
  if (const char* dir = std::getenv("NSLAB_STATE_DIR"); dir && *dir) return dir;
  if (::geteuid() == 0 && in_initial_user_namespace()) return "/run/nslab";
  if (const char* xdg = std::getenv("XDG_RUNTIME_DIR"); xdg && xdg[0] == '/') {
    struct stat st {};
    if (::lstat(xdg, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == ::geteuid() && (st.st_mode & 077) == 0)
      return std::string(xdg) + "/nslab";
  }
  return fmt::format("/tmp/nslab-{}", caller_uid());
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
    return fmt::format("/proc shows another PID namespace's processes (this process is pid {} here and {} in /proc), "
                       "so the keeper's pid could not be recorded as `down` will see it; mount a /proc for this PID "
                       "namespace (unshare --mount-proc), or run nslab up outside it",
                       ::getpid(), pid_in_proc());
  return std::nullopt;
}

void prepare_kept_lab_root() { open_root(true); }

KeptLab publish_lab(const Lab& lab, const std::string& id, const std::string& scenario) {
  if (auto why = kept_lab_id_problem(id)) throw Error(fmt::format("\"{}\" is not a lab name: {}", id, *why));
  if (auto why = keeper_recording_problem()) throw EnvironmentError(*why);
  KeptLab k;
  k.id = id;
  k.scenario = scenario;
  k.keeper = ::getpid();
  auto self = read_stat(AT_FDCWD, "/proc/self/stat");
  if (!self) throw SystemError("cannot read /proc/self/stat", errno);
  k.keeper_start = self->start;
  k.keeper_pidns = own_ns("pid");
  k.keeper_userns = own_ns("user");
  k.keeper_mntns = own_ns("mnt");
  struct stat exe {};
  if (::stat("/proc/self/exe", &exe) != 0) throw SystemError("cannot stat /proc/self/exe", errno);
  k.keeper_exe_dev = exe.st_dev;
  k.keeper_exe_ino = exe.st_ino;
  for (const auto& n : lab.nodes()) k.netns.push_back({n->name(), id + "-" + n->name(), n->netns().inode()});

  Fd root = open_root(true);
  const std::string dir_path = kept_lab_root() + "/" + id;
  if (::mkdirat(root.get(), id.c_str(), 0700) != 0) throw SystemError(fmt::format("cannot create {}", dir_path), errno);
  Fd dir = [&] {
    Fd d(::openat(root.get(), id.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!d) throw SystemError(fmt::format("cannot open {}", dir_path), errno);
    ::fchmod(d.get(), 0700);
    return d;
  }();
  {
    Fd file(::openat(dir.get(), "state.new", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!file) throw SystemError(fmt::format("cannot create {}.new", state_path(id)), errno);
    ::fchmod(file.get(), 0600);
    sys::write_all(file.get(), record_text(k), state_path(id));
    if (::fsync(file.get()) != 0) throw SystemError(fmt::format("cannot write {}", state_path(id)), errno);
  }
  if (::renameat(dir.get(), "state.new", dir.get(), "state") != 0)
    throw SystemError(fmt::format("cannot write {}", state_path(id)), errno);

  prepare_netns_dir();
  for (const auto& n : lab.nodes()) {
    std::string path = std::string(kNetnsDir) + "/" + id + "-" + n->name();
    int fd = ::open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
    if (fd < 0) throw SystemError(fmt::format("cannot create {}", path), errno);
    ::close(fd);
    if (::mount(n->netns().path().c_str(), path.c_str(), nullptr, MS_BIND, nullptr) != 0) {
      int err = errno;
      ::unlink(path.c_str());
      throw SystemError(fmt::format("cannot bind-mount node \"{}\" at {}", n->name(), path), err);
    }
  }
  return k;
}

void unpublish_lab(const KeptLab& k) {
  bool stayed = false;
  for (const auto& ns : k.netns) stayed = remove_netns_file(ns).first == Removal::stayed || stayed;
  // What stayed keeps its record, for `nslab down` to report and retry.
  if (stayed) return;
  try {
    if (Fd root = open_root(false)) remove_record(root.get(), k.id);
  } catch (const Error&) {
  }
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

KeeperStatus keeper_status(const KeptLab& k) { return find_keeper(k).status; }

Fd enter_kept_node(const KeptLab& k, const std::string& node) {
  const KeptLab::Namespace* ns = nullptr;
  std::string nodes;
  for (const auto& n : k.netns) {
    if (n.node == node) ns = &n;
    nodes += " " + n.node;
  }
  if (!ns) throw Error(fmt::format("lab {} has no node \"{}\" (nodes:{})", k.id, node, nodes));
  Keeper kp = find_keeper(k);
  if (kp.status.state == KeeperStatus::gone)
    throw Error(fmt::format("lab {} is not running: {}; `nslab down {}` removes what is left", k.id, kp.status.detail, k.id));
  if (kp.status.state == KeeperStatus::unknown) throw Error(fmt::format("lab {}: {}", k.id, kp.status.detail));
  enter_keeper_namespaces(kp, k);
  const std::string path = std::string(kNetnsDir) + "/" + ns->name;
  Fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
  if (!fd) throw SystemError(fmt::format("cannot open {}", path), errno);
  if (!is_recorded_netns(fd.get(), *ns))
    throw Error(fmt::format("refusing {}: it is not the network namespace up made for node \"{}\" of lab {}", path,
                            node, k.id));
  return fd;
}

DownReport remove_kept_lab(const std::string& id) {
  KeptLab k = find_kept_lab(id);
  Fd root = open_root(false);  // held: the record stays reachable after entering the keeper's namespaces
  DownReport r;
  Keeper kp = find_keeper(k);
  if (kp.status.state == KeeperStatus::unknown) {
    r.stayed.push_back(kp.status.detail + "; nothing was touched");
    return r;
  }
  if (kp.status.state == KeeperStatus::running) {
    try {
      enter_keeper_namespaces(kp, k);
    } catch (const Error& e) {
      r.stayed.push_back(fmt::format("{}; nothing was touched", e.what()));
      return r;
    }
    if (!signal_keeper(kp, SIGTERM) && errno != ESRCH) {
      r.stayed.push_back(fmt::format("cannot signal keeper {}: {}; nothing was touched", k.keeper, std::strerror(errno)));
      return r;
    }
    if (stopped_within(kp, 5s)) {
      r.done.push_back(fmt::format("stopped keeper {}", k.keeper));
    } else {
      signal_keeper(kp, SIGKILL);
      if (stopped_within(kp, 5s))
        r.done.push_back(fmt::format("killed keeper {} (it did not stop within 5 s of SIGTERM)", k.keeper));
      else
        r.stayed.push_back(fmt::format("keeper {} still runs after SIGKILL", k.keeper));
    }
  } else {
    r.done.push_back(kp.status.detail);
    if (k.keeper_mntns != own_ns("mnt")) {
      // A rootless lab, or one made in a private mount namespace: its
      // /run/netns entries lived in the keeper's mount namespace.
      r.done.push_back(fmt::format("its /run/netns entries were in the keeper's mount namespace (mnt:[{}]), which "
                                   "ended with it",
                                   k.keeper_mntns));
      if (auto why = remove_record(root.get(), k.id); !why.empty()) r.stayed.push_back(why);
      else r.done.push_back(fmt::format("removed the record of {}", k.id));
      return r;
    }
  }
  const bool keeper_stopped = kp.status.state == KeeperStatus::running;
  for (const auto& ns : k.netns) {
    auto [what, line] = remove_netns_file(ns);
    // A keeper that stopped removed its own files; they are checked gone.
    if (what == Removal::absent && keeper_stopped) line = fmt::format("removed {}/{}", kNetnsDir, ns.name);
    (what == Removal::stayed ? r.stayed : r.done).push_back(line);
  }
  if (!r.ok()) {
    r.done.push_back(fmt::format("kept the record, so that `nslab down {}` can try again", k.id));
    return r;
  }
  if (auto why = remove_record(root.get(), k.id); !why.empty()) r.stayed.push_back(why);
  else r.done.push_back(fmt::format("removed the record of {}", k.id));
  return r;
}

}  // namespace nslab
