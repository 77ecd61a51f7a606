#include "subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <fmt/format.h>
#include <fstream>
#include <mutex>

#include "nslab/error.h"
#include "nslab/netns.h"
#include "sys.h"

extern char** environ;

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

using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------------------
// The lifeline: one pipe per nslab process. Supervisors hold the read end;
// the write end stays in this process only (O_CLOEXEC, and closed in every
// child forked with fork(2), by the atfork handler below — so a test that
// forks a long-lived child does not keep its parent's programs alive). When
// this process dies the write end closes with it, whatever thread started
// what.

struct Lifeline {
  std::mutex m;
  int r = -1, w = -1;
  pid_t owner = 0;
};

Lifeline& lifeline() {
  static Lifeline l;
  return l;
}

void lifeline_prepare() { lifeline().m.lock(); }
void lifeline_parent() { lifeline().m.unlock(); }
void lifeline_child() {
  Lifeline& l = lifeline();
  if (l.r >= 0) ::close(l.r);
  if (l.w >= 0) ::close(l.w);
  l.r = l.w = -1;
  l.owner = 0;
  l.m.unlock();
}

int lifeline_read_end() {
  static std::once_flag once;
  std::call_once(once, [] { ::pthread_atfork(lifeline_prepare, lifeline_parent, lifeline_child); });
  Lifeline& l = lifeline();
  std::lock_guard lock(l.m);
  if (l.owner != ::getpid()) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) throw SystemError("cannot create the lifeline pipe for programs", errno);
    l.r = p[0];
    l.w = p[1];
    l.owner = ::getpid();
  }
  return l.r;
}

// ---------------------------------------------------------------------------
// What the supervisor reports on its status pipe: fixed-size messages, each
// written at once (atomic: smaller than PIPE_BUF).

enum Kind : std::int32_t { kStarted = 1, kFailed = 2, kExited = 3 };

struct Message {
  std::int32_t kind = 0;
  std::int32_t value = 0;  // kStarted: the program's pid; kFailed: the step; kExited: its status
  std::int32_t err = 0;    // kFailed: errno
};

enum Step : std::int32_t {
  kSetup = 1,
  kEnterNetns,
  kNewUts,
  kSetHostname,
  kNewPidns,
  kFork,
  kMountProc,
  kChdir,
  kExec,
};

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
    default: return "cannot set up its supervisor";
  }
}

// Descriptors at fixed numbers in the supervisor; everything else is closed.
constexpr int kLifelineFd = 3, kStatusFd = 4, kOutputFd = 5, kInputFd = 6, kNetnsFd = 7, kFirstFree = 8;

// Everything the children need, made before the fork: after it, only
// async-signal-safe calls (this process may have many threads).
struct Plan {
  const char* exe = nullptr;
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  const char* cwd = nullptr;       // nullptr: inherit
  const char* hostname = nullptr;  // nullptr: no UTS namespace
  bool pid_namespace = false;
  int fds[5] = {-1, -1, -1, -1, -1};  // lifeline, status, output, input, netns
};

// sys::retry is a template over a system call: safe between fork and exec.
void put(int fd, Message m) {
  (void)sys::retry([&] { return ::write(fd, &m, sizeof m); });
}

int status_of(const siginfo_t& si) { return si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status; }

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

ssize_t read_some(int fd, char* buf, std::size_t size) {
  std::size_t got = 0;
  while (got < size) {
    ssize_t n = sys::retry([&] { return ::read(fd, buf + got, size - got); });
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  return static_cast<ssize_t>(got);
}

// Parses a decimal number at p; advances p.
long parse_number(const char*& p, const char* end) {
  long v = 0;
  while (p < end && *p >= '0' && *p <= '9') v = v * 10 + (*p++ - '0');
  return v;
}

// Our pid as /proc counts it (it may differ from getpid() when /proc belongs
// to an ancestor PID namespace).
long pid_in_proc() {
  char buf[32];
  ssize_t n = ::readlink("/proc/self", buf, sizeof buf);
  const char* p = buf;
  return n > 0 ? parse_number(p, buf + n) : -1;
}

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

// The supervisor: a child of nslab that never execs. See subprocess.h.
[[noreturn]] void supervise(const Plan& plan) {
  // Its descriptors at fixed numbers, every other one closed: it holds no
  // other program's lifeline, pipe or namespace.
  int tmp[5];
  for (int i = 0; i < 5; ++i) tmp[i] = plan.fds[i] >= 0 ? ::fcntl(plan.fds[i], F_DUPFD_CLOEXEC, kFirstFree) : -1;
  for (int i = 0; i < 5; ++i) {
    if (tmp[i] >= 0) ::dup3(tmp[i], 3 + i, O_CLOEXEC);
    else ::close(3 + i);
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

std::string join(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) s += (s.empty() ? "" : " ") + a;
  return s;
}

// True when the pid is gone or a zombie; false when /proc cannot tell (it
// counts pids in another PID namespace than ours).
bool dead(pid_t pid) {
  static const bool proc_is_ours = pid_in_proc() == ::getpid();
  if (!proc_is_ours) return false;
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  std::string line;
  if (!std::getline(in, line)) return true;
  auto close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] == 'Z';
}

}  // namespace

// Owns the supervisor (a child of this process, so its pid cannot be reused
// until reaped here), the read end of its status pipe and the output memfd.
struct Subprocess::State {
  std::string label;
  pid_t supervisor = -1;  // -1 once reaped
  pid_t pid = -1;
  Fd status;
  Fd output;
  std::optional<int> code;
  bool supervisor_done = false;  // its status pipe reached end of file
  std::mutex m;

  // Reads the reports that are there (under the lock).
  void drain() {
    while (!supervisor_done) {
      Message msgs[8];
      ssize_t n = sys::retry([&] { return ::read(status.get(), msgs, sizeof msgs); });
      if (n < 0) return;  // EAGAIN: nothing more for now
      if (n == 0) {
        supervisor_done = true;
        reap_supervisor();
        return;
      }
      for (ssize_t i = 0; i < n / static_cast<ssize_t>(sizeof(Message)); ++i)
        if (msgs[i].kind == kExited && !code) code = msgs[i].value;
    }
  }

  void reap_supervisor() {
    if (supervisor < 0) return;
    int st = 0;
    pid_t r = sys::retry([&] { return ::waitpid(supervisor, &st, 0); });
    supervisor = -1;
    // The supervisor itself was killed before the program's exit was reported.
    if (!code) code = r > 0 && WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 128 + SIGKILL;
  }

  // Waits for a report, up to `ms` (-1: no limit), without the lock.
  void await(int ms) {
    pollfd p{status.get(), POLLIN, 0};
    ::poll(&p, 1, ms);
  }
};

Subprocess::Subprocess(SubprocessSpec spec) : state_(std::make_unique<State>()) {
  if (spec.argv.empty()) throw ConfigError("a program needs a command");
  State& s = *state_;
  s.label = spec.label.empty() ? join(spec.argv) : spec.label;
  std::string exe = find_program(spec.argv[0]);
  if (exe.empty())
    throw EnvironmentError(fmt::format("{}: \"{}\" is not installed (not found in PATH)", s.label, spec.argv[0]));

  s.output = Fd(::memfd_create("nslab-output", MFD_CLOEXEC));
  if (!s.output) throw SystemError(fmt::format("cannot create the output log of {}", s.label), errno);
  Fd input;
  if (!spec.input.empty()) {
    input = Fd(::memfd_create("nslab-input", MFD_CLOEXEC));
    if (!input) throw SystemError(fmt::format("cannot create the input of {}", s.label), errno);
    sys::write_all(input.get(), spec.input, "the input of " + s.label);
    ::lseek(input.get(), 0, SEEK_SET);
  }
  std::vector<char*> argv;
  for (auto& a : spec.argv) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_strings;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    if (!spec.env.count(std::string(kv.substr(0, kv.find('='))))) env_strings.emplace_back(kv);
  }
  for (const auto& [k, v] : spec.env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);

  int status[2];
  if (::pipe2(status, O_CLOEXEC) != 0) throw SystemError(fmt::format("cannot create a pipe for {}", s.label), errno);
  s.status = Fd(status[0]);
  Fd status_w(status[1]);

  Plan plan;
  plan.exe = exe.c_str();
  plan.argv = argv.data();
  plan.envp = envp.data();
  plan.cwd = spec.working_dir.empty() ? nullptr : spec.working_dir.c_str();
  plan.hostname = spec.hostname.empty() ? nullptr : spec.hostname.c_str();
  plan.pid_namespace = spec.pid_namespace;
  plan.fds[0] = lifeline_read_end();
  plan.fds[1] = status_w.get();
  plan.fds[2] = s.output.get();
  plan.fds[3] = input.get();
  plan.fds[4] = spec.netns_fd;

  pid_t pid = ::_Fork();
  if (pid < 0) throw SystemError(fmt::format("cannot fork for {}", s.label), errno);
  if (pid == 0) supervise(plan);
  s.supervisor = pid;
  status_w.reset();

  Message first;
  ssize_t n = read_some(s.status.get(), reinterpret_cast<char*>(&first), sizeof first);
  if (n == static_cast<ssize_t>(sizeof first) && first.kind == kStarted) {
    s.pid = first.value;
    sys::set_nonblocking(s.status.get());
    return;
  }
  s.supervisor_done = true;
  s.reap_supervisor();
  if (n != static_cast<ssize_t>(sizeof first) || first.kind != kFailed)
    throw SystemError(fmt::format("cannot start {}: its supervisor died", s.label), ECHILD);
  std::string what = step_text(first.value);
  if (first.value == kChdir) what += " " + spec.working_dir;
  if (first.value == kExec) what += " " + exe;
  throw SystemError(fmt::format("cannot start {}: {}", s.label, what), first.err);
}

Subprocess::~Subprocess() {
  if (state_) kill_tree();
}

Subprocess::Subprocess(Subprocess&&) noexcept = default;

Subprocess& Subprocess::operator=(Subprocess&& other) noexcept {
  if (this != &other) {
    if (state_) kill_tree();
    state_ = std::move(other.state_);
  }
  return *this;
}

const std::string& Subprocess::label() const noexcept { return state_->label; }
pid_t Subprocess::pid() const noexcept { return state_->pid; }

std::optional<int> Subprocess::exit_code() {
  State& s = *state_;
  {
    std::lock_guard lock(s.m);
    s.drain();
    if (s.code || s.supervisor_done) return s.code;
  }
  // Gone from the process table, or a zombie: its supervisor reports it at
  // once, so wait for that report rather than call it running.
  if (!dead(s.pid)) return std::nullopt;
  return wait_for(std::chrono::seconds(2));
}

std::optional<int> Subprocess::wait_for(std::chrono::milliseconds timeout) {
  State& s = *state_;
  auto deadline = Clock::now() + timeout;
  for (;;) {
    {
      std::lock_guard lock(s.m);
      s.drain();
      if (s.code || s.supervisor_done) return s.code;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return std::nullopt;
    s.await(static_cast<int>(std::min<long long>(left, 100)));
  }
}

void Subprocess::terminate() {
  State& s = *state_;
  std::lock_guard lock(s.m);
  s.drain();
  if (!s.code && s.supervisor > 0 && !s.supervisor_done) ::kill(s.supervisor, SIGTERM);
}

void Subprocess::kill_tree() noexcept {
  State& s = *state_;
  std::lock_guard lock(s.m);
  if (s.supervisor < 0) return;
  if (!s.supervisor_done) ::kill(s.supervisor, SIGUSR1);
  while (!s.supervisor_done) {
    s.drain();
    if (!s.supervisor_done) s.await(-1);
  }
}

std::string Subprocess::output() const {
  std::string out;
  char buf[4096];
  off_t off = 0;
  for (;;) {
    ssize_t n = ::pread(state_->output.get(), buf, sizeof buf, off);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    off += n;
  }
  return out;
}

namespace {

ProcessResult run(int netns_fd, const std::vector<std::string>& argv, const std::string& input,
                  std::optional<std::chrono::milliseconds> timeout) {
  Subprocess p(SubprocessSpec{.argv = argv, .netns_fd = netns_fd, .input = input});
  std::optional<int> code = p.wait_for(timeout.value_or(std::chrono::hours(24 * 365)));
  p.kill_tree();
  ProcessResult r;
  r.timed_out = !code;
  r.status = code ? *code : p.exit_code().value_or(128 + SIGKILL);
  r.output = p.output();
  return r;
}

}  // namespace

ProcessResult run_in_netns(const Netns& ns, const std::vector<std::string>& argv, const std::string& input,
                           std::optional<std::chrono::milliseconds> timeout) {
  return run(ns.fd(), argv, input, timeout);
}

ProcessResult run_program(const std::vector<std::string>& argv, const std::string& input,
                          std::optional<std::chrono::milliseconds> timeout) {
  return run(-1, argv, input, timeout);
}

}  // namespace nslab
