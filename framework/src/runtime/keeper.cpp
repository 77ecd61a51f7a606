// The keeper of `nslab up` (keeper.h), and how it publishes its lab.
#include "keeper.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fmt/format.h>
#include <fstream>
#include <iterator>
#include <memory>

#include "kept_lab_control.h"
#include "cgroup.h"
#include "kept_lab_detail.h"
#include "node_internals.h"
#include "nslab/error.h"
#include "nslab/lab.h"
#include "nslab/scenario.h"
#include "sys.h"

namespace nslab {

using namespace kept_detail;

namespace {

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

// What publish() made: the record, the keeper's lock on it (held for the
// keeper's life), and the control socket that answers inspect and logs.
struct Published {
  KeptLab lab;
  Fd lock;
  std::unique_ptr<KeeperControl> control;
};

// Records the lab, then bind-mounts each node's namespace (the record comes
// first, so that a crash midway still leaves a record `down` can follow).
Published publish(Lab& lab, const std::string& id, const std::string& scenario) {
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
  for (const auto& n : lab.nodes()) {
    k.netns.push_back({n->name(), id + "-" + n->name(), n->netns().inode(), {}, {}});
    if (const auto& cgroup = NodeInternals::cgroup(*n)) k.netns.back().cgroups = cgroup->dirs();
  }
  for (const auto& spec : lab.topology().nodes())
    for (auto& ns : k.netns)
      if (ns.node == spec.name) ns.hostname = spec.hostname;

  Fd root = open_root(true);
  const std::string dir_path = kept_lab_root() + "/" + id;
  if (::mkdirat(root.get(), id.c_str(), 0700) != 0) {
    if (errno == EEXIST) throw Error(fmt::format("a lab named \"{}\" is up already (nslab down {})", id, id));
    throw SystemError(fmt::format("cannot create {}", dir_path), errno);
  }
  Fd dir = [&] {
    Fd d(::openat(root.get(), id.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!d) throw SystemError(fmt::format("cannot open {}", dir_path), errno);
    ::fchmod(d.get(), 0700);
    return d;
  }();
  // The lock before the record: no record is ever seen without its lock held.
  Fd lock(::openat(dir.get(), kLockFile, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!lock) throw SystemError(fmt::format("cannot create {}/{}/{}", kept_lab_root(), id, kLockFile), errno);
  ::fchmod(lock.get(), 0600);
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  if (sys::retry([&] { return ::fcntl(lock.get(), F_SETLK, &fl); }) != 0)
    throw SystemError(fmt::format("cannot lock {}/{}/{}", kept_lab_root(), id, kLockFile), errno);
  {
    Fd file(::openat(dir.get(), "state.new", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!file) throw SystemError(fmt::format("cannot create {}.new", state_path(id)), errno);
    ::fchmod(file.get(), 0600);
    sys::write_all(file.get(), record_text(k), state_path(id));
    if (::fsync(file.get()) != 0) throw SystemError(fmt::format("cannot write {}", state_path(id)), errno);
  }
  if (::renameat(dir.get(), "state.new", dir.get(), "state") != 0)
    throw SystemError(fmt::format("cannot write {}", state_path(id)), errno);

  std::string built_from;
  if (std::ifstream in(scenario, std::ios::binary); in) built_from.assign(std::istreambuf_iterator<char>(in), {});
  auto control = std::make_unique<KeeperControl>(lab, dir.get(), std::move(built_from));

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
  return {std::move(k), std::move(lock), std::move(control)};
}

// The keeper's own teardown: stops answering, unmounts and removes its
// namespace files and its record.
void unpublish(Published& p) {
  p.control.reset();
  const KeptLab& k = p.lab;
  bool stayed = false;
  for (const auto& ns : k.netns) stayed = remove_netns_file(ns).first == Removal::stayed || stayed;
  // What stayed keeps its record, for `nslab down` to report and retry.
  if (stayed) return;
  try {
    if (Fd root = open_root(false)) remove_record(root.get(), k.id);
  } catch (const Error&) {}
}

// The signals that stop a kept lab. Blocked from the start, so that one that
// comes while the lab is being built or published waits for the teardown.
sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  return set;
}

void wait_for_stop_signal() {
  sigset_t set = stop_signals();
  int sig = 0;
  sigwait(&set, &sig);
}

// True while the reader of the status pipe (the `nslab up` that waits for
// the keeper) is there.
bool reader_alive(int fd) {
  pollfd p{fd, 0, 0};
  return ::poll(&p, 1, 0) == 0 || !(p.revents & (POLLERR | POLLHUP));
}

// The keeper: its own session, holding the lab until it is told to stop. It
// reports to its parent through the pipe: "OK", or "ERR " and the reason.
[[noreturn]] void keep(const Scenario& scenario, const std::string& id, const std::string& file, int report) {
  ::setsid();
  ::signal(SIGPIPE, SIG_IGN);
  std::string status;
  std::unique_ptr<Lab> lab;
  Published p;
  bool published = false;
  try {
    lab = std::make_unique<Lab>(scenario.topology, scenario.lab_options);
    if (reader_alive(report)) {
      p = publish(*lab, id, file);
      published = true;
      status = "OK";
    }
  } catch (const std::exception& e) {
    status = std::string("ERR ") + e.what();
  }
  bool told = !status.empty() && sys::retry([&] { return ::write(report, status.data(), status.size()); }) ==
                                     static_cast<ssize_t>(status.size());
  ::close(report);
  if (status != "OK" || !told) {
    if (published) unpublish(p);
    lab.reset();
    ::_exit(1);
  }
  int null = ::open("/dev/null", O_RDWR);
  ::dup2(null, 0);
  ::dup2(null, 1);
  ::dup2(null, 2);
  wait_for_stop_signal();
  unpublish(p);
  lab.reset();
  ::_exit(0);
}

}  // namespace

KeptLab start_keeper(const Scenario& scenario, const std::string& id, const std::string& file) {
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) throw SystemError("cannot make the keeper's status pipe", errno);
  Fd status_in(pipefd[0]);
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(pipefd[1]);
    throw SystemError("cannot start the keeper (fork)", errno);
  }
  if (pid == 0) {
    status_in.reset();
    sigset_t stops = stop_signals();
    pthread_sigmask(SIG_BLOCK, &stops, nullptr);
    keep(scenario, id, file, pipefd[1]);
  }
  ::close(pipefd[1]);
  std::string status;
  char buf[4096];
  for (ssize_t n; (n = sys::retry([&] { return ::read(status_in.get(), buf, sizeof buf); })) > 0;)
    status.append(buf, static_cast<std::size_t>(n));
  if (status == "OK") return find_kept_lab(id);
  if (status.empty()) throw Error("the keeper died");
  // "ERR why"; anything else is shown whole rather than cut.
  throw Error(status.rfind("ERR ", 0) == 0 ? status.substr(4) : status);
}

void keep_in_foreground(const Scenario& scenario, const std::string& id, const std::string& file,
                        const std::function<void(const KeptLab&)>& up) {
  sigset_t stops = stop_signals();
  pthread_sigmask(SIG_BLOCK, &stops, nullptr);
  auto lab = std::make_unique<Lab>(scenario.topology, scenario.lab_options);
  Published p = publish(*lab, id, file);
  try {
    up(p.lab);
  } catch (...) {
    unpublish(p);
    throw;
  }
  wait_for_stop_signal();
  unpublish(p);
}

}  // namespace nslab
