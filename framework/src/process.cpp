#include "nslab/process.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/process.hpp>
#include <boost/process/extend.hpp>
#include <fmt/format.h>
#include <fstream>
#include <sstream>
#include <thread>

#include "nslab/fd.h"
#include "nslab/node.h"
#include "nslab/subprocess.h"

namespace bp = boost::process;

namespace nslab {

namespace {

using Clock = std::chrono::steady_clock;

// Runs in the forked child, before exec: only system calls from here on.
struct EnterNode : bp::extend::handler {
  int netns_fd;
  int log_fd;
  const char* hostname;
  bool pid_namespace;

  template <typename Exec>
  void on_exec_setup(Exec& exec) const {
    auto fail = [&](const char* what) {
      exec.set_error(std::error_code(errno, std::system_category()), what);
    };
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::setpgid(0, 0);
    if (::setns(netns_fd, CLONE_NEWNET) != 0) return fail("cannot enter the node's network namespace");
    if (hostname && *hostname) {
      if (::unshare(CLONE_NEWUTS) != 0) return fail("cannot create a UTS namespace");
      if (::sethostname(hostname, std::strlen(hostname)) != 0) return fail("cannot set the hostname");
    }
    if (pid_namespace) {
      if (::unshare(CLONE_NEWPID | CLONE_NEWNS) != 0) return fail("cannot create a PID namespace");
      pid_t child = ::fork();
      if (child < 0) return fail("cannot fork into the PID namespace");
      if (child > 0) {
        // The first process only waits for the second, which is PID 1 of the
        // new namespace, and passes its exit status on.
        ::close_range(3, ~0U, 0);
        int st = 0;
        while (::waitpid(child, &st, 0) < 0 && errno == EINTR) {
        }
        ::_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
      }
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
          ::mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0)
        return fail("cannot mount /proc for the PID namespace");
    }
    int null = ::open("/dev/null", O_RDONLY);
    if (null >= 0) ::dup2(null, 0);
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
  }
};

std::string join(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) s += (s.empty() ? "" : " ") + a;
  return s;
}

}  // namespace

struct Process::Impl {
  std::string label;
  Fd log;
  bp::child child;
  std::optional<int> code;

  void reap() {
    if (code || !child.valid()) return;
    std::error_code ec;
    if (!child.running(ec)) code = child.exit_code();
  }
};

Process::Process(const Node& node, ProcessSpec spec) : impl_(std::make_unique<Impl>()) {
  if (spec.argv.empty()) throw ConfigError(fmt::format("node \"{}\": a process needs a command", node.name()));
  impl_->label = fmt::format("{}: {}", node.name(), join(spec.argv));
  std::string exe = find_program(spec.argv[0]);
  if (exe.empty())
    throw EnvironmentError(fmt::format("{}: \"{}\" is not installed (not found in PATH)", impl_->label, spec.argv[0]));
  impl_->log = Fd(::memfd_create("nslab-process-log", MFD_CLOEXEC));
  if (!impl_->log) throw SystemError(fmt::format("cannot create a log for {}", impl_->label), errno);
  bp::environment env = boost::this_process::environment();
  for (const auto& [k, v] : spec.env) env[k] = v;
  EnterNode enter;
  enter.netns_fd = node.netns().fd();
  enter.log_fd = impl_->log.get();
  enter.hostname = spec.hostname.c_str();
  enter.pid_namespace = spec.pid_namespace;
  std::vector<std::string> args(spec.argv.begin() + 1, spec.argv.end());
  std::error_code ec;
  if (spec.working_dir.empty())
    impl_->child = bp::child(bp::exe = exe, bp::args = args, env, enter, ec);
  else
    impl_->child = bp::child(bp::exe = exe, bp::args = args, env, bp::start_dir = spec.working_dir, enter, ec);
  if (ec) throw SystemError(fmt::format("cannot start {}", impl_->label), ec.value());
}

Process::~Process() {
  if (!impl_ || !impl_->child.valid()) return;
  impl_->reap();
  if (!impl_->code) ::killpg(impl_->child.id(), SIGKILL);
  std::error_code ec;
  impl_->child.wait(ec);
}

int Process::pid() const noexcept { return impl_->child.id(); }
const std::string& Process::label() const noexcept { return impl_->label; }

bool Process::running() {
  impl_->reap();
  return !impl_->code;
}

std::optional<int> Process::exit_code() {
  impl_->reap();
  return impl_->code;
}

int Process::wait(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (running()) {
    if (Clock::now() >= deadline)
      throw TimeoutError(fmt::format("{} still runs after {} ms", impl_->label, timeout.count()));
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return *impl_->code;
}

int Process::stop(std::chrono::milliseconds grace) {
  if (!running()) return *impl_->code;
  ::killpg(impl_->child.id(), SIGTERM);
  try {
    return wait(grace);
  } catch (const TimeoutError&) {
    ::killpg(impl_->child.id(), SIGKILL);
    std::error_code ec;
    impl_->child.wait(ec);
    impl_->code = impl_->child.exit_code();
    return *impl_->code;
  }
}

std::string Process::log() const {
  std::string out;
  char buf[4096];
  off_t off = 0;
  for (;;) {
    ssize_t n = ::pread(impl_->log.get(), buf, sizeof buf, off);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    off += n;
  }
  return out;
}

std::string Process::log_tail(std::size_t lines) const {
  std::string all = log();
  std::size_t pos = all.size();
  if (pos && all[pos - 1] == '\n') --pos;
  for (std::size_t n = 0; n < lines && pos != std::string::npos && pos > 0; ++n) pos = all.rfind('\n', pos - 1);
  return pos == std::string::npos ? all : all.substr(pos + 1);
}

void Process::require_running() {
  if (running()) return;
  std::string tail = log_tail();
  throw ProcessError(fmt::format("{} exited with code {}{}", impl_->label, *impl_->code,
                                 tail.empty() ? std::string(" and printed nothing")
                                              : "; the end of its output:\n" + tail));
}

namespace {

// True when /proc/thread-self/net/<table> (read inside the node) has a socket
// on the port: LISTEN for TCP, any bound socket for UDP.
bool listening_here(Protocol protocol, std::uint16_t port) {
  const char* tables[2][2] = {{"tcp", "tcp6"}, {"udp", "udp6"}};
  for (const char* table : tables[protocol == Protocol::tcp ? 0 : 1]) {
    std::ifstream in(std::string("/proc/thread-self/net/") + table);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::istringstream f(line);
      std::string slot, local, remote, state;
      f >> slot >> local >> remote >> state;
      auto colon = local.rfind(':');
      if (colon == std::string::npos) continue;
      unsigned long p = std::stoul(local.substr(colon + 1), nullptr, 16);
      if (p == port && (protocol == Protocol::udp || state == "0A")) return true;
    }
  }
  return false;
}

}  // namespace

void wait_listening(const Node& node, Protocol protocol, std::uint16_t port, std::chrono::milliseconds timeout,
                    Process* watch) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    if (node.run([&] { return listening_here(protocol, port); })) return;
    if (watch) watch->require_running();
    if (Clock::now() >= deadline)
      throw TimeoutError(fmt::format("nothing listens on {}/{} in node \"{}\" after {} ms{}", to_string(protocol),
                                     port, node.name(), timeout.count(),
                                     watch ? fmt::format(" ({} is still running)", watch->label()) : ""));
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void wait_command(const Node& node, const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                  Process* watch) {
  auto deadline = Clock::now() + timeout;
  ProcessResult last;
  for (;;) {
    last = run_in_netns(node.netns(), argv);
    if (last.status == 0) return;
    if (watch) watch->require_running();
    if (Clock::now() >= deadline)
      throw TimeoutError(fmt::format("\"{}\" in node \"{}\" did not succeed within {} ms (last exit {}: {})",
                                     join(argv), node.name(), timeout.count(), last.status, last.output));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace nslab
