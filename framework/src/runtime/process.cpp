#include "nslab/process.h"

#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <fmt/format.h>
#include <optional>
#include <fstream>
#include <sstream>
#include <thread>

#include "cgroup.h"
#include "nslab/fd.h"
#include "node_internals.h"
#include "netlink_dump.h"
#include "nslab/node.h"
#include "subprocess.h"

namespace nslab {

namespace {

using Clock = std::chrono::steady_clock;

std::string join(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) s += (s.empty() ? "" : " ") + a;
  return s;
}

}  // namespace

struct Process::Impl {
  std::string label;
  Subprocess program;
  std::shared_ptr<const detail::NodeCgroup> cgroup;  // the node's limits, if any
};

Process::Process(const Node& node, ProcessSpec spec) {
  if (spec.argv.empty()) throw ConfigError(fmt::format("node \"{}\": a process needs a command", node.name()));
  std::string label = fmt::format("{}: {}", node.name(), join(spec.argv));
  const auto& cgroup = NodeInternals::cgroup(node);
  Subprocess program(SubprocessSpec{.argv = std::move(spec.argv),
                                    .env = std::move(spec.env),
                                    .working_dir = std::move(spec.working_dir),
                                    .netns_fd = node.netns().fd(),
                                    .hostname = std::move(spec.hostname),
                                    .pid_namespace = spec.pid_namespace,
                                    .label = label,
                                    .cgroups = cgroup ? cgroup->procs() : std::vector<int>{}});
  impl_ = std::make_unique<Impl>(Impl{std::move(label), std::move(program), cgroup});
}

Process::~Process() = default;

int Process::pid() const noexcept {
  return impl_->program.pid();
}
const std::string& Process::label() const noexcept {
  return impl_->label;
}

bool Process::running() {
  return !impl_->program.exit_code();
}

std::optional<int> Process::exit_code() {
  return impl_->program.exit_code();
}

int Process::wait(std::chrono::milliseconds timeout) {
  if (auto code = impl_->program.wait_for(timeout)) return *code;
  throw TimeoutError(fmt::format("{} still runs after {} ms", impl_->label, timeout.count()));
}

int Process::stop(std::chrono::milliseconds grace) {
  impl_->program.terminate();
  impl_->program.wait_for(grace);
  impl_->program.kill_tree();
  return impl_->program.exit_code().value_or(128 + 9);
}

int Process::kill() {
  impl_->program.kill_tree();
  return impl_->program.exit_code().value_or(128 + 9);
}

std::string Process::log() const {
  return impl_->program.output();
}

std::string Process::log_tail(std::size_t lines) const {
  std::string all = log();
  if (lines == 0) return {};
  // Back from the end (a final newline ends the last line, it starts none)
  // to the newline before the first of the last `lines` lines.
  std::size_t start = all.size();
  if (start > 0 && all[start - 1] == '\n') --start;
  for (std::size_t n = 0; n < lines && start > 0; ++n) {
    auto nl = all.rfind('\n', start - 1);
    start = nl == std::string::npos ? 0 : nl;
    if (nl == std::string::npos) break;
  }
  if (start < all.size() && all[start] == '\n') ++start;
  return all.substr(start);
}

std::string Process::exit_note(int code) const {
  return impl_->cgroup ? impl_->cgroup->exit_note(code) : std::string();
}

void Process::require_running() {
  auto code = exit_code();
  if (!code) return;
  std::string tail = log_tail();
  throw ProcessError(
      fmt::format("{} exited with code {}{}{}", impl_->label, *code, exit_note(*code),
                  tail.empty() ? std::string(" and printed nothing") : "; the end of its output:\n" + tail));
}

namespace {

// A TCP socket listening on the port in this thread's namespace, asked of
// sock_diag for the LISTEN state alone: the kernel then walks only its
// listening hash. (/proc/net/tcp walks the established hash too, every
// bucket of which all namespaces share: 262,144 of them here, twice per
// poll.) Empty when sock_diag cannot answer.
std::optional<bool> tcp_listening_here(std::uint16_t port) {
  Fd s(::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
  if (!s) return std::nullopt;
  for (int family : {AF_INET, AF_INET6}) {
    struct {
      nlmsghdr h;
      inet_diag_req_v2 r;
    } req{};
    req.h.nlmsg_len = sizeof req;
    req.h.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    req.r.sdiag_family = static_cast<std::uint8_t>(family);
    req.r.sdiag_protocol = IPPROTO_TCP;
    req.r.idiag_states = 1u << TCP_LISTEN;
    req.r.id.idiag_sport = htons(port);
    bool found = false;
    int error = detail::netlink_dump(s.get(), &req, sizeof req, [&](const nlmsghdr& h) {
      found = ntohs(static_cast<const inet_diag_msg*>(NLMSG_DATA(&h))->id.idiag_sport) == port;
      return !found;
    });
    if (error) return std::nullopt;
    if (found) return true;
  }
  return false;
}

// True when this thread's namespace (a thread inside the node) has a socket
// on the port: LISTEN for TCP, any bound socket for UDP (read from
// /proc/thread-self/net/<table>).
bool listening_here(Protocol protocol, std::uint16_t port) {
  if (protocol == Protocol::tcp)
    if (auto listening = tcp_listening_here(port)) return *listening;
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
      throw TimeoutError(fmt::format("nothing listens on {}/{} in node \"{}\" after {} ms{}", to_string(protocol), port,
                                     node.name(), timeout.count(),
                                     watch ? fmt::format(" ({} is still running)", watch->label()) : ""));
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void wait_command(const Node& node, const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                  Process* watch) {
  auto deadline = Clock::now() + timeout;
  ProcessResult last;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    last = run_in_netns(node.netns(), argv, {}, std::max(left, std::chrono::milliseconds(100)));
    if (last.ok()) return;
    if (watch) watch->require_running();
    if (Clock::now() >= deadline)
      throw TimeoutError(fmt::format(
          "\"{}\" in node \"{}\" did not succeed within {} ms (last {}: {})", join(argv), node.name(), timeout.count(),
          last.timed_out ? std::string("run timed out") : fmt::format("exit {}", last.status), last.output));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace nslab
