// The keeper's control socket (kept_lab_control.h).
#include "kept_lab_control.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <fmt/format.h>

#include "nslab/error.h"
#include "nslab/lab.h"
#include "nslab/scenario.h"
#include "nslab/scenario_run.h"
#include "scenario_compare.h"
#include "sys.h"

namespace nslab {

namespace {

// A path to dir/ctl short enough for sun_path whatever dir's own path is.
sockaddr_un control_address(int dir) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  auto path = fmt::format("/proc/self/fd/{}/{}", dir, kKeeperControlFile);
  std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
  return a;
}

void send_all(int fd, const std::string& text) {
  std::size_t off = 0;
  while (off < text.size()) {
    ssize_t n = sys::retry([&] { return ::send(fd, text.data() + off, text.size() - off, MSG_NOSIGNAL); });
    if (n <= 0) return;  // the client went away
    off += static_cast<std::size_t>(n);
  }
}

// The node's name from a program's label ("red: python3 ...").
std::string node_of(const Process& p) {
  const std::string& label = p.label();
  return label.substr(0, label.find(": "));
}

}  // namespace

std::string control_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\t')
      out += "\\t";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string control_unescape(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\' || i + 1 == s.size()) {
      out += s[i];
      continue;
    }
    char c = s[++i];
    out += c == 't' ? '\t' : c == 'n' ? '\n' : c;
  }
  return out;
}

KeeperControl::KeeperControl(Lab& lab, int record_dir, std::string built_from)
    : lab_(lab), built_from_(std::move(built_from)) {
  listen_ = Fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!listen_) throw SystemError("cannot make the keeper's control socket", errno);
  ::unlinkat(record_dir, kKeeperControlFile, 0);
  sockaddr_un a = control_address(record_dir);
  if (::bind(listen_.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(listen_.get(), 8) != 0)
    throw SystemError("cannot listen on the keeper's control socket", errno);
  wake_ = Fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake_) throw SystemError("cannot make the keeper's control eventfd", errno);
  thread_ = std::thread([this] { serve(); });
}

KeeperControl::~KeeperControl() {
  std::uint64_t one = 1;
  (void)!::write(wake_.get(), &one, sizeof one);
  if (thread_.joinable()) thread_.join();
}

void KeeperControl::serve() {
  for (;;) {
    pollfd p[2] = {{listen_.get(), POLLIN, 0}, {wake_.get(), POLLIN, 0}};
    if (::poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (p[1].revents) return;
    if (!(p[0].revents & POLLIN)) continue;
    Fd conn(::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn) continue;
    // A client that sends nothing does not hold the keeper.
    timeval tv{2, 0};
    ::setsockopt(conn.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(conn.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    try {
      answer(conn.get());
    } catch (const std::exception& e) {
      send_all(conn.get(), fmt::format("error\t{}\n", control_escape(e.what())));
    }
  }
}

void KeeperControl::answer(int conn) {
  std::string request;
  char c = 0;
  while (request.size() < 8192 && sys::retry([&] { return ::recv(conn, &c, 1, 0); }) == 1 && c != '\n') request += c;
  const auto& programs = lab_.processes();
  if (request == "programs") {
    std::string out;
    for (std::size_t i = 0; i < programs.size(); ++i) {
      Process& p = *programs[i];
      auto code = p.running() ? std::nullopt : p.exit_code();
      out += fmt::format("program\t{}\t{}\t{}\t{}\t{}\n", i, control_escape(node_of(p)), p.pid(),
                         code ? fmt::format("exited {}", *code) : "running", control_escape(p.label()));
    }
    for (const auto& n : lab_.topology().nodes())
      for (const auto& s : n.services)
        out += fmt::format("service\t{}\t{}/{}\n", control_escape(n.name), to_string(s.protocol), s.port);
    send_all(conn, out);
  } else if (request.rfind("log ", 0) == 0) {
    std::size_t i = 0;
    try {
      i = std::stoul(request.substr(4));
    } catch (const std::exception&) {
      i = programs.size();
    }
    if (i >= programs.size())
      throw Error(fmt::format("no program {} (the lab has {})", request.substr(4), programs.size()));
    send_all(conn, programs[i]->log());
  } else if (request.rfind("check\t", 0) == 0) {
    auto rest = request.substr(6);
    auto tab = rest.rfind('\t');
    if (tab == std::string::npos) throw Error("a check request needs a path and EXPLAIN");
    // Expectations may take as long as their probes and captures do.
    timeval tv{600, 0};
    ::setsockopt(conn, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    send_all(conn, check(control_unescape(rest.substr(0, tab)), rest.substr(tab + 1) == "1"));
  } else {
    throw Error(fmt::format("unknown request \"{}\"", control_escape(request)));
  }
}

std::string KeeperControl::check(const std::string& path, bool explain) {
  Scenario scenario = load_scenario(path);
  std::string text;
  if (std::ifstream in(path, std::ios::binary); in) text.assign(std::istreambuf_iterator<char>(in), {});
  InsightOptions insight;
  insight.explain = explain;
  auto outcome = run_expectations(lab_, scenario, {}, insight);
  std::string out = fmt::format("lab\t{}\n", detail::same_lab_description(text, built_from_) ? "same" : "differs");
  for (const auto& x : outcome.expectations)
    out += fmt::format("expectation\t{}\t{}\t{}\t{}\t{:.3f}\t{}\t{}\t{}\n", x.passed ? 1 : 0,
                       control_escape(x.where.file), x.where.line, x.where.column, x.ms, control_escape(x.title),
                       control_escape(x.summary), control_escape(x.details));
  return out;
}

std::string ask_keeper(int record_dir, const std::string& id, const std::string& request,
                       std::chrono::seconds timeout) {
  Fd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s) throw SystemError("cannot make a socket to ask the keeper", errno);
  sockaddr_un a = control_address(record_dir);
  if (sys::retry([&] { return ::connect(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a); }) != 0)
    throw SystemError(fmt::format("the keeper of lab {} does not answer on its control socket", id), errno);
  timeval tv{static_cast<time_t>(timeout.count()), 0};
  ::setsockopt(s.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  send_all(s.get(), request + "\n");
  std::string out;
  char buf[65536];
  for (ssize_t n; (n = sys::retry([&] { return ::recv(s.get(), buf, sizeof buf, 0); })) > 0;)
    out.append(buf, static_cast<std::size_t>(n));
  if (out.rfind("error\t", 0) == 0) {
    auto text = out.substr(6);
    if (!text.empty() && text.back() == '\n') text.pop_back();
    throw Error(fmt::format("the keeper of lab {}: {}", id, control_unescape(text)));
  }
  return out;
}

}  // namespace nslab
