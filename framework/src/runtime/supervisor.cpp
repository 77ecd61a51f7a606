// The supervisor of subprocess.h (supervisor.h).
#include "supervisor.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "sys.h"

namespace nslab::supervisor {

const char* step_text(std::int32_t step) {
  switch (step) {
    case kEnterNetns: return "cannot enter the node's network namespace";
    case kNewUts: return "cannot create a UTS namespace";
    case kSetHostname: return "cannot set the hostname";
    case kNewPidns: return "cannot create a PID namespace";
    case kFork: return "cannot fork";
    case kMountProc: return "cannot mount /proc for the PID namespace";
    case kChdir: return "cannot change to the working directory";
    case kExec: return "cannot execute the program";
    case kJoinCgroup: return "cannot join the node's cgroup";
    default: return "cannot set up its supervisor";
  }
}

ssize_t read_some(int fd, char* buf, std::size_t size) {
  std::size_t got = 0;
  while (got < size) {
    ssize_t n = sys::retry([&] { return ::read(fd, buf + got, size - got); });
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  return static_cast<ssize_t>(got);
}

namespace {

// sys::retry is a template over a system call: safe between fork and exec.
void put(int fd, Message m) {
  (void)sys::retry([&] { return ::write(fd, &m, sizeof m); });
}

int status_of(const siginfo_t& si) {
  return si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
}

// Reaps what has exited. Reports the program's exit first, while it is still
// a zombie (WNOWAIT): whoever sees the program gone can count on the report.
// Returns true while children remain.
bool reap(pid_t program, bool& program_alive) {
  if (program_alive) {
    siginfo_t si{};
    if (::waitid(P_PID, static_cast<id_t>(program), &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == program) {
      put(kStatusFd, {kExited, status_of(si), 0});
      program_alive = false;
      ::waitpid(program, nullptr, 0);
    }
  }
  for (;;) {
    siginfo_t si{};
    if (::waitid(P_ALL, 0, &si, WEXITED | WNOHANG) != 0 || si.si_pid == 0) break;
    if (si.si_pid == program && program_alive) {
      put(kStatusFd, {kExited, status_of(si), 0});
      program_alive = false;
    }
  }
  siginfo_t si{};
  return !(::waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) != 0 && errno == ECHILD);
}

// Parses a decimal number at p; advances p.
long parse_number(const char*& p, const char* end) {
  long v = 0;
  while (p < end && *p >= '0' && *p <= '9') v = v * 10 + (*p++ - '0');
  return v;
}

}  // namespace

long pid_in_proc() {
  char buf[32];
  ssize_t n = ::readlink("/proc/self", buf, sizeof buf);
  const char* p = buf;
  return n > 0 ? parse_number(p, buf + n) : -1;
}

namespace {

struct linux_dirent64 {
  ino64_t d_ino;
  off64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[1];  // NUL-terminated, d_reclen long at most
};

// SIGKILL through /proc/PID, not kill(PID): /proc counts pids in its own PID
// namespace, which may be an ancestor of ours (`unshare -pf` without a /proc
// of its own), and a /proc/PID handle names the very process it lists.
void kill_listed(const char* pid, const char* end) {
  char path[32] = "/proc/";
  std::size_t len = 6;
  for (const char* c = pid; c < end && len < sizeof path - 1; ++c) path[len++] = *c;
  path[len] = 0;
  int fd = ::open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::syscall(SYS_pidfd_send_signal, fd, SIGKILL, nullptr, 0);
  ::close(fd);
}

// SIGKILLs every child of this (single-threaded) process.
void kill_children() {
  static char buf[1 << 16];
  int fd = ::open("/proc/thread-self/children", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ssize_t n = read_some(fd, buf, sizeof buf);
    ::close(fd);
    for (const char *p = buf, *end = buf + (n > 0 ? n : 0); p < end;) {
      if (*p < '0' || *p > '9') {
        ++p;
        continue;
      }
      const char* start = p;
      parse_number(p, end);
      kill_listed(start, p);
    }
    return;
  }
  // A kernel without CONFIG_PROC_CHILDREN: every process whose parent is us.
  long self = pid_in_proc();
  int dir = ::open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0 || self <= 0) return;
  static char dents[1 << 15];
  for (;;) {
    long n = ::syscall(SYS_getdents64, dir, dents, sizeof dents);
    if (n <= 0) break;
    for (long off = 0; off < n;) {
      auto* d = reinterpret_cast<linux_dirent64*>(dents + off);
      off += d->d_reclen;
      const char* name = reinterpret_cast<const char*>(d) + offsetof(linux_dirent64, d_name);
      if (*name < '1' || *name > '9') continue;
      char path[64] = "/proc/";
      std::size_t len = 6;
      for (const char* c = name; *c && len < sizeof path - 6; ++c) path[len++] = *c;
      std::memcpy(path + len, "/stat", 6);
      int sfd = ::open(path, O_RDONLY | O_CLOEXEC);
      if (sfd < 0) continue;
      char stat[512];
      ssize_t got = read_some(sfd, stat, sizeof stat);
      ::close(sfd);
      const char* close = nullptr;
      for (const char* c = stat; c < stat + got; ++c)
        if (*c == ')') close = c;
      if (!close || close + 4 >= stat + got) continue;
      const char* p = close + 4;  // ") S PPID"
      if (parse_number(p, stat + got) != self) continue;
      kill_listed(name, name + std::strlen(name));
    }
  }
  ::close(dir);
}

// SIGKILLs the whole tree: the program's group at once, then every child,
// again and again (a killed process's children are reparented to us) until
// there is none. Then exits.
[[noreturn]] void kill_tree_and_exit(pid_t program, bool& program_alive, int sfd) {
  if (program_alive) {
    ::kill(-program, SIGKILL);
    ::kill(program, SIGKILL);
  }
  for (;;) {
    kill_children();
    if (!reap(program, program_alive)) ::_exit(0);
    pollfd p{sfd, POLLIN, 0};
    ::poll(&p, sfd >= 0 ? 1 : 0, 20);
    if (p.revents & POLLIN) {
      signalfd_siginfo si[8];
      (void)!::read(sfd, si, sizeof si);
    }
  }
}

// Removes the guardian's directories, deepest first, each once it is empty:
// after nslab's death the programs in them are being killed by their own
// supervisors at the same time, so wait for them (a bounded while).
void remove_dirs(const char* const* dirs) {
  for (const char* const* d = dirs; d && *d; ++d)
    for (int tries = 0; tries < 1000; ++tries) {
      if (::rmdir(*d) == 0 || errno == ENOENT) break;
      if (errno != EBUSY) break;
      ::poll(nullptr, 0, 10);
    }
}

// Removes everything inside the directory `fd` (depth-first, not
// following symbolic links) with system calls alone (async-signal-safe).
void remove_contents(int fd, int depth) {
  if (depth > 16) return;
  char dents[4096];
  for (;;) {
    ::lseek(fd, 0, SEEK_SET);
    long n = ::syscall(SYS_getdents64, fd, dents, sizeof dents);
    if (n <= 0) return;
    bool removed = false;
    for (long off = 0; off < n;) {
      auto* d = reinterpret_cast<linux_dirent64*>(dents + off);
      off += d->d_reclen;
      const char* name = reinterpret_cast<const char*>(d) + offsetof(linux_dirent64, d_name);
      if (name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0))) continue;
      if (d->d_type == DT_DIR) {
        int sub = ::openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub >= 0) {
          remove_contents(sub, depth + 1);
          ::close(sub);
        }
        removed |= ::unlinkat(fd, name, AT_REMOVEDIR) == 0;
      } else {
        removed |= ::unlinkat(fd, name, 0) == 0;
      }
    }
    if (!removed) return;  // what is left cannot be removed
  }
}

// Removes each directory with what it holds. The programs writing there are
// being killed at the same time (after nslab's death), and one may still
// create a file: try again for a bounded while until the directory is gone.
void remove_trees(const char* const* dirs) {
  for (const char* const* d = dirs; d && *d; ++d)
    for (int tries = 0; tries < 200; ++tries) {
      int fd = ::open(*d, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0) break;
      remove_contents(fd, 0);
      ::close(fd);
      if (::rmdir(*d) == 0 || errno == ENOENT) break;
      if (errno != ENOTEMPTY && errno != EBUSY) break;
      ::poll(nullptr, 0, 10);
    }
}

// A guardian: no program; it waits for nslab's end (or a request) and then
// removes its directories.
[[noreturn]] void guard(const Plan& plan) {
  put(kStatusFd, {kStarted, 0, 0});
  ::close(kOutputFd);
  ::close(kInputFd);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  const int sfd = ::signalfd(-1, &set, SFD_CLOEXEC);
  for (;;) {
    pollfd p[2] = {{kLifelineFd, POLLIN, 0}, {sfd, POLLIN, 0}};
    (void)sys::retry([&] { return ::poll(p, sfd >= 0 ? 2 : 1, sfd >= 0 ? -1 : 50); });
    if (p[0].revents != 0 || (sfd >= 0 && (p[1].revents & POLLIN))) break;
  }
  remove_dirs(plan.remove_dirs);
  remove_trees(plan.remove_trees);
  ::_exit(0);
}

// The program, between the supervisor's fork and exec.
[[noreturn]] void start_program(const Plan& plan, int errfd, pid_t supervisor) {
  auto fail = [&](std::int32_t step) {
    put(errfd, {kFailed, step, errno});
    ::_exit(127);
  };
  // Dies with its supervisor (a single thread, so this is the process).
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (!plan.pid_namespace && ::getppid() != supervisor) ::_exit(127);
  // Signals as a freshly started program expects them.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int s = 1; s < NSIG; ++s)
    if (s != SIGKILL && s != SIGSTOP) ::sigaction(s, &dfl, nullptr);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  if (plan.pid_namespace) {
    // Slave, not private: a namespace file unmounted outside (nslab down,
    // ip netns del) is unmounted here too, and this /proc stays in here.
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) != 0) fail(kMountProc);
    if (::mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) fail(kMountProc);
  }
  // Into the node's cgroups before anything runs: what the program starts
  // is born there.
  for (int i = 0; i < kMaxCgroups; ++i)
    if (plan.cgroup_fds[i] >= 0 && ::write(kFirstCgroupFd + i, "0", 1) != 1) fail(kJoinCgroup);
  ::setpgid(0, 0);
  if (plan.cwd && ::chdir(plan.cwd) != 0) fail(kChdir);
  if (plan.fds[3] >= 0) ::dup2(kInputFd, 0);
  ::dup2(kOutputFd, 1);
  ::dup2(kOutputFd, 2);
  if (::dup3(errfd, 3, O_CLOEXEC) < 0) fail(kSetup);
  errfd = 3;
  ::close_range(4, ~0U, 0);
  ::execve(plan.exe, plan.argv, plan.envp);
  fail(kExec);
  ::_exit(127);
}

}  // namespace

[[noreturn]] void supervise(const Plan& plan) {
  // Its descriptors at fixed numbers, every other one closed: it holds no
  // other program's lifeline, pipe or namespace.
  constexpr int kFixed = 5 + kMaxCgroups;
  int want[kFixed];
  for (int i = 0; i < 5; ++i) want[i] = plan.fds[i];
  for (int i = 0; i < kMaxCgroups; ++i) want[5 + i] = plan.cgroup_fds[i];
  int tmp[kFixed];
  for (int i = 0; i < kFixed; ++i) tmp[i] = want[i] >= 0 ? ::fcntl(want[i], F_DUPFD_CLOEXEC, kFirstFree) : -1;
  for (int i = 0; i < kFixed; ++i) {
    if (tmp[i] >= 0)
      ::dup3(tmp[i], 3 + i, O_CLOEXEC);
    else
      ::close(3 + i);
  }
  ::close_range(kFirstFree, ~0U, 0);
  int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  for (int i = 0; i < 3; ++i) ::dup2(null, i);
  if (null > 2) ::close(null);
  auto fail = [](std::int32_t step) {
    put(kStatusFd, {kFailed, step, errno});
    ::_exit(1);
  };

  // Signals: SIGCHLD, SIGTERM (passed on to the program) and SIGUSR1 (kill
  // the tree) come through a signalfd; terminal signals are not its business.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGUSR1);
  ::sigprocmask(SIG_SETMASK, &set, nullptr);
  struct sigaction act {};
  act.sa_handler = SIG_DFL;
  ::sigaction(SIGCHLD, &act, nullptr);
  act.sa_handler = SIG_IGN;
  for (int s : {SIGINT, SIGHUP, SIGQUIT, SIGPIPE, SIGTSTP, SIGTTIN, SIGTTOU, SIGUSR2, SIGALRM})
    ::sigaction(s, &act, nullptr);
  ::setpgid(0, 0);
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);

  if (plan.fds[4] >= 0) {
    if (::setns(kNetnsFd, CLONE_NEWNET) != 0) fail(kEnterNetns);
    ::close(kNetnsFd);
  }
  if (plan.hostname) {
    if (::unshare(CLONE_NEWUTS) != 0) fail(kNewUts);
    if (::sethostname(plan.hostname, std::strlen(plan.hostname)) != 0) fail(kSetHostname);
  }
  if (plan.pid_namespace && ::unshare(CLONE_NEWPID | CLONE_NEWNS) != 0) fail(kNewPidns);
  if (!plan.exe) guard(plan);

  int err[2];
  if (::pipe2(err, O_CLOEXEC) != 0) fail(kSetup);
  const pid_t self = ::getpid();
  const pid_t program = ::_Fork();
  if (program < 0) fail(kFork);
  if (program == 0) start_program(plan, err[1], self);
  ::close(err[1]);
  Message m;
  if (read_some(err[0], reinterpret_cast<char*>(&m), sizeof m) == static_cast<ssize_t>(sizeof m)) {
    ::waitpid(program, nullptr, 0);
    put(kStatusFd, m);
    ::_exit(1);
  }
  ::close(err[0]);
  put(kStatusFd, {kStarted, program, 0});
  ::close(kOutputFd);
  ::close(kInputFd);

  const int sfd = ::signalfd(-1, &set, SFD_CLOEXEC);
  bool program_alive = true;
  for (;;) {
    pollfd p[2] = {{kLifelineFd, POLLIN, 0}, {sfd, POLLIN, 0}};
    // Without a signalfd (it cannot fail short of ENOMEM), look every 50 ms.
    (void)sys::retry([&] { return ::poll(p, sfd >= 0 ? 2 : 1, sfd >= 0 ? -1 : 50); });
    bool kill = p[0].revents != 0;  // nslab is gone: end of file
    if (sfd >= 0 && (p[1].revents & POLLIN)) {
      signalfd_siginfo si[8];
      ssize_t got = ::read(sfd, si, sizeof si);
      for (ssize_t i = 0; i < got / static_cast<ssize_t>(sizeof si[0]); ++i) {
        if (si[i].ssi_signo == SIGUSR1) kill = true;
        if (si[i].ssi_signo == SIGTERM && program_alive) {
          ::kill(-program, SIGTERM);
          ::kill(program, SIGTERM);
        }
      }
    }
    if (kill) kill_tree_and_exit(program, program_alive, sfd);
    // The program is gone and so is everything it started: nothing to watch.
    if (!reap(program, program_alive) && !program_alive) ::_exit(0);
  }
}

}  // namespace nslab::supervisor
