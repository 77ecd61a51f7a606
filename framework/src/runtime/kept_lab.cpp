// Kept labs' keepers, found and checked; `nslab exec` and `nslab down`
// (kept_lab.h). Records are in kept_lab_record.cpp, the keeper itself in
// keeper.cpp.
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

#include <chrono>
#include <cstring>
#include <fmt/format.h>
#include <fstream>
#include <sstream>
#include <thread>

#include "kept_lab_detail.h"
#include "nslab/error.h"
#include "nslab/netns.h"

namespace nslab {

using namespace kept_detail;

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// True when some process that this /proc shows lives in that PID namespace
// (false also when /proc cannot show it: a namespace that is not ours or a
// descendant's).
bool pid_namespace_alive(std::uint64_t inode) {
  DIR* d = ::opendir("/proc");
  if (!d) return false;
  bool alive = false;
  while (auto* e = ::readdir(d)) {
    if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
    struct stat st {};
    if (::stat(fmt::format("/proc/{}/ns/pid", e->d_name).c_str(), &st) == 0 && st.st_ino == inode) {
      alive = true;
      break;
    }
  }
  ::closedir(d);
  return alive;
}

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
  // The lock answers from anywhere whether the keeper lives; pids answer
  // only in its own PID namespace, with a /proc of that namespace.
  const LockState lock = [&] {
    Fd root = open_root(false);
    return root ? keeper_lock(root.get(), k.id) : LockState::none;
  }();
  if (k.keeper_pidns != own_ns("pid")) {
    if (lock == LockState::free)
      return gone(fmt::format(
          "the keeper (pid {} of PID namespace pid:[{}]) has exited: it no longer holds the "
          "record's lock{}",
          k.keeper, k.keeper_pidns, pid_namespace_alive(k.keeper_pidns) ? "" : ", and that PID namespace has ended"));
    return unknown(
        fmt::format("its keeper (pid {}) was recorded in another PID namespace (pid:[{}]; this is "
                    "pid:[{}]), where that pid names another process, and it still holds the record's "
                    "lock; run nslab there",
                    k.keeper, k.keeper_pidns, own_ns("pid")));
  }
  if (pid_in_proc() != ::getpid()) {
    if (lock == LockState::free)
      return gone(fmt::format("the keeper (pid {}) has exited: it no longer holds the record's lock", k.keeper));
    return unknown(
        "/proc here shows another PID namespace's processes, so pids cannot be checked; mount a /proc "
        "for this PID namespace");
  }
  kp.dir = Fd(::open(fmt::format("/proc/{}", k.keeper).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!kp.dir) return gone(fmt::format("the keeper (pid {}) has exited", k.keeper));
  auto st = read_stat(kp.dir.get(), "stat");
  if (!st || st->state == 'Z') return gone(fmt::format("the keeper (pid {}) has exited", k.keeper));
  if (st->start != k.keeper_start)
    return gone(
        fmt::format("the keeper (pid {}) has exited; that pid now names another process, left alone", k.keeper));
  struct stat exe {};
  if (::fstatat(kp.dir.get(), "exe", &exe, 0) != 0)
    return unknown(
        fmt::format("cannot check that pid {} is the keeper: its executable: {}", k.keeper, std::strerror(errno)));
  if (exe.st_dev != k.keeper_exe_dev || exe.st_ino != k.keeper_exe_ino) {
    char path[4096];
    ssize_t n = ::readlinkat(kp.dir.get(), "exe", path, sizeof path - 1);
    return unknown(
        fmt::format("pid {} started when the keeper did but runs {}, not the keeper's nslab; it is "
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
      throw SystemError(
          fmt::format("cannot enter the {} namespace of lab {}'s keeper (pid {})", t.name, k.id, k.keeper), errno);
    moved = moved || t.type == CLONE_NEWNS;
  }
  if (moved && (!have_cwd || ::chdir(cwd) != 0)) (void)!::chdir("/");
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

}  // namespace

namespace kept_detail {

bool is_recorded_netns(int fd, const KeptLab::Namespace& ns) {
  struct statfs fs {};
  struct stat st {};
  return ::fstatfs(fd, &fs) == 0 && fs.f_type == NSFS_MAGIC && ::ioctl(fd, NS_GET_NSTYPE) == CLONE_NEWNET &&
         ::fstat(fd, &st) == 0 && st.st_ino == ns.inode;
}

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
      return {Removal::stayed,
              fmt::format("{} is not the namespace up made for node \"{}\"; left alone", path, ns.node)};
  }
  for (int i = 0; i < 16 && ::umount2(path.c_str(), MNT_DETACH) == 0; ++i) {}
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

}  // namespace kept_detail

KeeperStatus keeper_status(const KeptLab& k) {
  return find_keeper(k).status;
}

namespace {

const KeptLab::Namespace& kept_node(const KeptLab& k, const std::string& node) {
  std::string nodes;
  for (const auto& n : k.netns) {
    if (n.node == node) return n;
    nodes += " " + n.node;
  }
  throw Error(fmt::format("lab {} has no node \"{}\" (nodes:{})", k.id, node, nodes));
}

// The keeper, which must be running; its namespaces entered.
void enter_running_keeper(const KeptLab& k) {
  Keeper kp = find_keeper(k);
  if (kp.status.state == KeeperStatus::gone)
    throw Error(
        fmt::format("lab {} is not running: {}; `nslab down {}` removes what is left", k.id, kp.status.detail, k.id));
  if (kp.status.state == KeeperStatus::unknown) throw Error(fmt::format("lab {}: {}", k.id, kp.status.detail));
  enter_keeper_namespaces(kp, k);
}

// The node's namespace file, checked; the very namespace checked, through its descriptor.
Netns open_kept_netns(const KeptLab& k, const KeptLab::Namespace& ns) {
  const std::string path = std::string(kNetnsDir) + "/" + ns.name;
  Fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
  if (!fd) throw SystemError(fmt::format("cannot open {}", path), errno);
  if (!is_recorded_netns(fd.get(), ns))
    throw Error(fmt::format("refusing {}: it is not the network namespace up made for node \"{}\" of lab {}", path,
                            ns.node, k.id));
  return Netns::open(fmt::format("/proc/self/fd/{}", fd.get()));
}

}  // namespace

Netns enter_kept_node(const KeptLab& k, const std::string& node) {
  const KeptLab::Namespace& ns = kept_node(k, node);
  enter_running_keeper(k);
  Netns netns = open_kept_netns(k, ns);
  // A limited node's commands run under its limits, as its programs do: the
  // process joins the node's cgroups (their paths are the keeper's).
  for (const auto& dir : ns.cgroups) {
    Fd procs(::open((dir + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC));
    if (!procs || ::write(procs.get(), "0", 1) != 1)
      throw SystemError(fmt::format("cannot join the cgroup {} of node \"{}\" (its limits:)", dir, node), errno);
  }
  netns.enter_this_thread();
  return netns;
}

std::vector<Netns> open_kept_nodes(const KeptLab& k) {
  enter_running_keeper(k);
  std::vector<Netns> out;
  out.reserve(k.netns.size());
  for (const auto& ns : k.netns) out.push_back(open_kept_netns(k, ns));
  return out;
}

std::optional<std::string> take_kept_node_hostname(const KeptLab& k, const std::string& node) {
  const KeptLab::Namespace& ns = kept_node(k, node);
  const std::string& name = ns.hostname.empty() ? ns.node : ns.hostname;
  if (::unshare(CLONE_NEWUTS) != 0)
    return fmt::format("cannot make a UTS namespace for node \"{}\": {}", node, std::strerror(errno));
  if (::sethostname(name.c_str(), name.size()) != 0)
    return fmt::format("cannot set the hostname \"{}\": {}", name, std::strerror(errno));
  return std::nullopt;
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
  auto path_of = [](const KeptLab::Namespace& ns) { return std::string(kNetnsDir) + "/" + ns.name; };
  // Which entries are there before anything is done, so that one that was
  // already gone is never reported as removed.
  std::vector<bool> there;
  auto look = [&] {
    for (const auto& ns : k.netns) {
      struct stat st {};
      there.push_back(::lstat(path_of(ns).c_str(), &st) == 0);
    }
  };
  const bool keeper_running = kp.status.state == KeeperStatus::running;
  if (keeper_running) {
    try {
      enter_keeper_namespaces(kp, k);
    } catch (const Error& e) {
      r.stayed.push_back(fmt::format("{}; nothing was touched", e.what()));
      return r;
    }
    look();
    if (!signal_keeper(kp, SIGTERM) && errno != ESRCH) {
      r.stayed.push_back(
          fmt::format("cannot signal keeper {}: {}; nothing was touched", k.keeper, std::strerror(errno)));
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
    look();
  }
  // A keeper gone with its mount namespace (a rootless lab, or one made in a
  // private mount namespace) took its /run/netns entries with it — except
  // those that propagated here (a shared /run): they are removed like any.
  const bool elsewhere = !keeper_running && k.keeper_mntns != own_ns("mnt");
  std::size_t not_here = 0;
  for (std::size_t i = 0; i < k.netns.size(); ++i) {
    const auto& ns = k.netns[i];
    if (elsewhere && !there[i]) {
      ++not_here;
      continue;
    }
    auto [what, line] = remove_netns_file(ns);
    if (what == Removal::absent && there[i])
      line = fmt::format("removed {} (its keeper did, as it stopped)", path_of(ns));
    else if (what == Removal::absent)
      line = fmt::format("{} was not there (already removed by someone else)", path_of(ns));
    (what == Removal::stayed ? r.stayed : r.done).push_back(line);
  }
  if (not_here > 0)
    r.done.push_back(
        fmt::format("{}its /run/netns entries were in the keeper's mount namespace (mnt:[{}]), which "
                    "ended with it",
                    not_here < k.netns.size() ? "the rest of " : "", k.keeper_mntns));
  if (!r.ok()) {
    r.done.push_back(fmt::format("kept the record, so that `nslab down {}` can try again", k.id));
    return r;
  }
  if (auto why = remove_record(root.get(), k.id); !why.empty())
    r.stayed.push_back(why);
  else
    r.done.push_back(fmt::format("removed the record of {}", k.id));
  return r;
}

}  // namespace nslab
