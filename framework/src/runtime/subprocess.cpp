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
#include <mutex>

#include "nslab/error.h"
#include "nslab/netns.h"
#include "cgroup.h"
#include "node_internals.h"
#include "supervisor.h"
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

using namespace supervisor;
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

void lifeline_prepare() {
  lifeline().m.lock();
}
void lifeline_parent() {
  lifeline().m.unlock();
}
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
  auto st = sys::read_stat(AT_FDCWD, fmt::format("/proc/{}/stat", pid).c_str());
  return !st || st->state == 'Z';
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
  const bool guardian = spec.argv.empty() && (!spec.remove_dirs.empty() || !spec.remove_trees.empty());
  if (spec.argv.empty() && !guardian) throw ConfigError("a program needs a command");
  if (spec.cgroups.size() > static_cast<std::size_t>(supervisor::kMaxCgroups))
    throw ConfigError("a program joins at most 4 cgroups");
  State& s = *state_;
  s.label = !spec.label.empty() ? spec.label
            : guardian ? "the guardian of " + (spec.remove_dirs.empty() ? spec.remove_trees : spec.remove_dirs).front()
                       : join(spec.argv);
  std::string exe = guardian ? "" : find_program(spec.argv[0]);
  if (!guardian && exe.empty())
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
  argv.reserve(spec.argv.size() + 1);
  for (auto& a : spec.argv) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_strings;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    if (!spec.env.count(std::string(kv.substr(0, kv.find('='))))) env_strings.emplace_back(kv);
  }
  for (const auto& [k, v] : spec.env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  envp.reserve(env_strings.size() + 1);
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);

  int status[2];
  if (::pipe2(status, O_CLOEXEC) != 0) throw SystemError(fmt::format("cannot create a pipe for {}", s.label), errno);
  s.status = Fd(status[0]);
  Fd status_w(status[1]);

  std::vector<const char*> remove_dirs;
  remove_dirs.reserve(spec.remove_dirs.size() + 1);
  for (const auto& d : spec.remove_dirs) remove_dirs.push_back(d.c_str());
  remove_dirs.push_back(nullptr);
  std::vector<const char*> remove_trees;
  remove_trees.reserve(spec.remove_trees.size() + 1);
  for (const auto& d : spec.remove_trees) remove_trees.push_back(d.c_str());
  remove_trees.push_back(nullptr);

  Plan plan;
  plan.exe = guardian ? nullptr : exe.c_str();
  plan.remove_dirs = remove_dirs.data();
  plan.remove_trees = remove_trees.data();
  for (std::size_t i = 0; i < spec.cgroups.size(); ++i) plan.cgroup_fds[i] = spec.cgroups[i];
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

const std::string& Subprocess::label() const noexcept {
  return state_->label;
}
pid_t Subprocess::pid() const noexcept {
  return state_->pid;
}

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
                  std::optional<std::chrono::milliseconds> timeout, std::vector<int> cgroups = {}) {
  Subprocess p(SubprocessSpec{.argv = argv, .netns_fd = netns_fd, .input = input, .cgroups = std::move(cgroups)});
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

ProcessResult run_in_node(const Node& node, const std::vector<std::string>& argv,
                          std::optional<std::chrono::milliseconds> timeout) {
  const auto& cgroup = NodeInternals::cgroup(node);
  return run(node.netns().fd(), argv, {}, timeout, cgroup ? cgroup->procs() : std::vector<int>{});
}

ProcessResult run_program(const std::vector<std::string>& argv, const std::string& input,
                          std::optional<std::chrono::milliseconds> timeout) {
  return run(-1, argv, input, timeout);
}

}  // namespace nslab
