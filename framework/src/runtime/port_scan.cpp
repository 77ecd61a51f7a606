// Port scans (Lab::scan): every port of a set, from one source to one target,
// through non-blocking sockets made inside the source node, a bounded number
// in flight. A reset or an ICMP error decides a port at once; silence is
// decided as the probe engine decides it (the lab gone still after enough
// attempts, else the timeout). The verdicts are the probe engine's: the same
// errno and ICMP rules (verdict_rules.h), the same evidence.
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <fmt/format.h>

#include "link_impairment.h"
#include "nslab/error.h"
#include "nslab/lab.h"
#include "nslab/scenario_run.h"
#include "probe_engine.h"
#include "probe_engine_impl.h"
#include "stillness.h"
#include "sys.h"

namespace nslab {

namespace {

using Clock = std::chrono::steady_clock;
using probe_engine::kMaxSpareConnects;

// Sockets in flight at once, at most: enough to keep a veth busy, few enough
// that a refill (one pass into the source node) stays cheap.
constexpr std::size_t kMaxInFlight = 1024;
constexpr auto kSettle = std::chrono::microseconds(500);
constexpr auto kLookGap = std::chrono::milliseconds(2);
constexpr auto kOwnRejectGrace = std::chrono::milliseconds(20);
constexpr int kEventsPerPoll = 256;

struct PortTask {
  std::vector<Fd> fds;  // attempts in flight (udp: one socket, resent)
  int attempts = 0;
  bool running = false;
  bool done = false;
  bool own_rules = false;  // udp: send failed with EPERM; wait a moment for the REJECT's error
  Clock::time_point start, deadline, next_retry, grace_until;
};

class Scanner {
 public:
  Scanner(Lab& lab, const PortScan& scan, const ProbeOptions& options)
      : lab_(lab), options_(options), ports_(scan.ports.ports()), tasks_(ports_.size()) {
    if (ports_.empty()) throw ConfigError(fmt::format("scan {} has no ports", scan.str()));
    if (scan.protocol == Protocol::icmp) throw ConfigError(fmt::format("scan {}: scans are tcp or udp", scan.str()));
    result_.scan = scan;
    result_.target = resolve_target(lab, scan.to, scan.family, scan.from, scan.source);
    family_ = result_.target.family();
    auto src = resolve_source(lab, scan.from, scan.source, family_);
    src_ = src.node;
    bind_ = src.address;
    tcp_ = scan.protocol == Protocol::tcp;
    result_.verdicts.assign(ports_.size(), Verdict::blocked);
  }

  ScanResult run() {
    auto t0 = Clock::now();
    verify_impairments(lab_);
    if (options_.decide_when_still) {
      still_.emplace(lab_);
      if (const auto& why = still_->blocker()) {
        still_reason_ = *why;
        still_.reset();
      } else if (auto n = still_->attempts_needed(1, 1); n && (!tcp_ || *n <= int(1 + kMaxSpareConnects))) {
        needed_ = std::max(2, *n);
      } else {
        still_reason_ = "the lab's lossy links call for more attempts than a scan makes";
        still_.reset();
      }
    }
    // With stillness a port holds one socket at a time (a new attempt
    // follows the last once the lab is still); without, a TCP port keeps
    // its earlier attempts open. A built-in service of this process holds
    // one more per accepted connection.
    std::size_t per_port = tcp_ ? (still_ ? 2 : 2 * (1 + kMaxSpareConnects)) : 1;
    auto budget = static_cast<std::size_t>(probe_engine::descriptor_budget());
    limit_ = std::clamp<std::size_t>(budget / per_port, 1, kMaxInFlight);
    epoll_ = Fd(::epoll_create1(EPOLL_CLOEXEC));
    if (!epoll_) throw SystemError("cannot create epoll for a scan", errno);
    for (std::size_t i = 0; i < ports_.size(); ++i) pending_.push_back(i);
    events_.resize(kEventsPerPoll);
    loop();
    result_.elapsed_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    return std::move(result_);
  }

 private:
  std::string what(std::size_t i) const {
    return fmt::format("{} -> {} {}/{}", result_.scan.from, result_.scan.to, to_string(result_.scan.protocol),
                       ports_[i]);
  }

  void finish(std::size_t i, Verdict v, const std::string& detail) {
    PortTask& t = tasks_[i];
    if (t.done) return;
    t.done = true;
    ++finished_;
    --in_flight_;
    result_.verdicts[i] = v;
    if (std::none_of(result_.evidence.begin(), result_.evidence.end(), [&](const auto& e) { return e.first == v; }))
      result_.evidence.emplace_back(v, fmt::format("port {}: {}", ports_[i], detail));
    for (auto& f : t.fds) f.reset();  // closing removes it from the epoll set
    t.fds.clear();
  }

  void local_error(std::size_t i, int err, std::string_view op) {
    auto v = detail::verdict_of_local_errno(err);
    if (!v) throw SystemError(fmt::format("scan {}: {} failed", what(i), op), err);
    std::string d = err == ECONNREFUSED && tcp_ ? std::string("connection refused (TCP RST)")
                                                : fmt::format("{}: {}", op, std::strerror(err));
    if (auto cause = detail::local_cause(err); !cause.empty()) d += fmt::format(" ({})", cause);
    finish(i, *v, d);
  }

  // An error on a socket: the ICMP error queued for it, else its errno.
  void failed(std::size_t i, int fd, int err) {
    if (auto q = probe_engine::read_queued_error(fd)) {
      if (!q->icmp) return local_error(i, q->err, "local error");
      auto v = detail::verdict_of_network_errno(q->err);
      if (!v)
        if (auto mapped = detail::icmp_errno(q->family, q->type, q->code))
          v = detail::verdict_of_network_errno(*mapped);
      if (!v) throw SystemError(fmt::format("scan {}: unexpected ICMP error", what(i)), q->err);
      return finish(i, *v, detail::icmp_name(q->family, q->type, q->code) + q->from);
    }
    local_error(i, err ? err : EIO, "connect");
  }

  Fd make_socket() const {
    Fd fd = sys::socket(to_af(family_), (tcp_ ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                        fmt::format("scan socket in \"{}\"", src_->name()));
    int one = 1;
    if (family_ == Family::ipv4)
      sys::set_option(fd.get(), SOL_IP, IP_RECVERR, one, "IP_RECVERR on a scan socket");
    else
      sys::set_option(fd.get(), SOL_IPV6, IPV6_RECVERR, one, "IPV6_RECVERR on a scan socket");
    return fd;
  }

  // Sockets for `which` (one more attempt each), made in one pass inside the source node.
  void open_attempts(const std::vector<std::size_t>& which) {
    if (which.empty()) return;
    std::vector<Fd> made(which.size());
    int err = 0;
    lab_.run_in_each({src_}, [&](Node&) {
      for (auto& f : made) {
        try {
          f = make_socket();
        } catch (const SystemError& e) {
          err = e.code();
          return;
        }
      }
    });
    if (err && std::all_of(made.begin(), made.end(), [](const Fd& f) { return !f; }))
      throw SystemError(fmt::format("cannot open a socket for scan {}", result_.scan.str()), err);
    if (still_) still_->forget();
    next_look_ = Clock::now() + kSettle;
    for (std::size_t k = 0; k < which.size(); ++k) {
      std::size_t i = which[k];
      PortTask& t = tasks_[i];
      if (!made[k]) {  // out of descriptors for now: the port waits for another pass
        if (!t.running) {
          pending_.push_front(i);
          --in_flight_;
        }
        continue;
      }
      if (!t.running) {
        t.running = true;
        t.start = Clock::now();
        t.deadline = t.start + options_.timeout;
        running_.push_back(i);
      }
      t.next_retry = Clock::now() + options_.retry_interval;
      next_timer_ = std::min(next_timer_, still_ ? t.deadline : t.next_retry);
      int fd = made[k].get();
      probe_engine::bind_source(fd, bind_, result_.scan.sport, family_, what(i));
      sockaddr_storage ss;
      socklen_t len = probe_engine::make_sockaddr(result_.target, ports_[i], ss);
      int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&ss), len);
      if (rc != 0 && !(tcp_ && errno == EINPROGRESS)) {
        local_error(i, errno, "connect");
        continue;
      }
      epoll_event ev{};
      ev.events = tcp_ ? EPOLLOUT | EPOLLERR : EPOLLIN | EPOLLERR;
      ev.data.u64 = (static_cast<std::uint64_t>(i) << 8) | t.fds.size();
      if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) throw SystemError("cannot watch scan socket", errno);
      t.fds.push_back(std::move(made[k]));
      if (tcp_)
        ++t.attempts;
      else
        send_udp(i);
    }
  }

  void send_udp(std::size_t i) {
    PortTask& t = tasks_[i];
    static const std::string kDefault = "nslab-probe";
    if (t.done || t.fds.empty()) return;
    if (still_) still_->forget();
    next_look_ = Clock::now() + kSettle;
    if (sys::retry([&] { return ::send(t.fds[0].get(), kDefault.data(), kDefault.size(), MSG_DONTWAIT); }) >= 0) {
      ++t.attempts;
      return;
    }
    int err = errno;
    if (err == EAGAIN || err == ENOBUFS) return;
    if (err == EPERM) {
      if (!t.own_rules) t.grace_until = std::min(t.deadline, Clock::now() + kOwnRejectGrace);
      t.own_rules = true;
      next_timer_ = std::min(next_timer_, t.grace_until);
      return;
    }
    if (err == ECONNREFUSED || err == EHOSTUNREACH || err == ENETUNREACH) return failed(i, t.fds[0].get(), err);
    local_error(i, err, "send");
  }

  void refill() {
    if (pending_.empty() || (in_flight_ > limit_ / 2 && in_flight_ > 0)) return;
    std::vector<std::size_t> which;
    while (!pending_.empty() && in_flight_ < limit_) {
      which.push_back(pending_.front());
      pending_.pop_front();
      ++in_flight_;
    }
    open_attempts(which);
  }

  void on_event(std::uint64_t tag, std::uint32_t events) {
    auto i = static_cast<std::size_t>(tag >> 8);
    auto a = static_cast<std::size_t>(tag & 0xff);
    PortTask& t = tasks_[i];
    if (t.done || a >= t.fds.size() || !t.fds[a]) return;
    int fd = t.fds[a].get();
    int err = 0;
    socklen_t len = sizeof err;
    if (tcp_) {
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0 || (events & EPOLLERR)) return failed(i, fd, err);
      if (events & EPOLLOUT) finish(i, Verdict::reachable, "connected");
      return;
    }
    char buf[512];
    ssize_t r = sys::retry([&] { return ::recv(fd, buf, sizeof buf, MSG_DONTWAIT); });
    if (r >= 0) return finish(i, Verdict::reachable, "UDP reply");
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;
    failed(i, fd, errno);
  }

  int poll(int timeout_ms) {
    int n = ::epoll_wait(epoll_.get(), events_.data(), kEventsPerPoll, timeout_ms);
    if (n < 0) {
      if (errno == EINTR) return 0;
      throw SystemError("epoll_wait in a scan", errno);
    }
    for (int k = 0; k < n; ++k) {
      const auto& ev = events_[static_cast<std::size_t>(k)];
      on_event(ev.data.u64, ev.events);
    }
    return n;
  }

  // Deadlines, the grace after an own REJECT, and (without stillness) the
  // retry ticks: another connection attempt, another datagram.
  void timers(Clock::time_point now) {
    if (now < next_timer_) return;
    next_timer_ = Clock::time_point::max();
    // What arrived before a deadline or the end of a grace counts, read late
    // or not (a loaded machine).
    while (poll(0) == kEventsPerPoll) {}
    std::vector<std::size_t> again;
    prune();
    for (std::size_t i : running_) {
      PortTask& t = tasks_[i];
      if (t.done) continue;
      if (t.deadline <= now) {
        const std::string& why = still_reason_;
        finish(i, Verdict::blocked,
               why.empty() ? fmt::format("no answer within {} ms", options_.timeout.count())
                           : fmt::format("no answer within {} ms (waited it out: {})", options_.timeout.count(), why));
        continue;
      }
      if (t.own_rules && t.grace_until <= now) {
        finish(i, Verdict::blocked, fmt::format("send: {} ({})", std::strerror(EPERM), detail::local_cause(EPERM)));
        continue;
      }
      if (!still_ && t.next_retry <= now && !t.own_rules) {
        if (!tcp_) {
          send_udp(i);
          t.next_retry = now + options_.retry_interval;
        } else if (t.fds.size() < 1 + kMaxSpareConnects && !result_.scan.sport) {
          again.push_back(i);
        } else {
          t.next_retry = t.deadline;
        }
      }
      next_timer_ = std::min({next_timer_, t.deadline,
                              t.own_rules ? t.grace_until
                              : still_    ? t.deadline
                                          : t.next_retry});
    }
    open_attempts(again);
    if (!again.empty()) next_timer_ = std::min(next_timer_, now + options_.retry_interval);
  }

  // Nothing can be started and the lab is still: every silent port got no
  // answer to its attempts. Another attempt, or `blocked` after enough.
  void look(Clock::time_point now) {
    if (!still_ || now < next_look_ || in_flight_ == 0) return;
    if (!pending_.empty() && in_flight_ <= limit_ / 2) return;  // a refill comes first
    next_look_ = now + kLookGap;
    Clock::time_point deadline = Clock::time_point::max();
    prune();
    for (auto i : running_) deadline = std::min(deadline, tasks_[i].deadline);
    std::string why;
    switch (still_->settle(
        deadline, [this] { return poll(0); }, kEventsPerPoll, why)) {
      case detail::Stillness::Settled::moved: return;
      case detail::Stillness::Settled::gave_up:
        still_reason_ = why;
        still_.reset();
        return;
      case detail::Stillness::Settled::still: break;
    }
    std::vector<std::size_t> again;
    prune();
    for (std::size_t i : std::vector<std::size_t>(running_)) {
      PortTask& t = tasks_[i];
      if (t.done || t.own_rules) continue;
      if (t.attempts >= needed_) {
        finish(i, Verdict::blocked,
               fmt::format("no answer to {} attempts; the lab was still after each (nothing moved on any link or "
                           "queue for {} ms)",
                           t.attempts, kLookGap.count()));
        continue;
      }
      if (tcp_) {
        // Nothing is on its way to the silent socket: it goes, a new attempt follows.
        for (auto& f : t.fds) f.reset();
        t.fds.clear();
        again.push_back(i);
      } else {
        send_udp(i);
      }
    }
    open_attempts(again);
  }

  void loop() {
    while (finished_ < tasks_.size()) {
      refill();
      auto now = Clock::now();
      timers(now);
      look(now);
      if (finished_ >= tasks_.size()) break;
      auto wake = std::min(next_timer_, still_ ? next_look_ : Clock::time_point::max());
      auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(wake - Clock::now()).count() + 1;
      poll(static_cast<int>(std::clamp<long long>(wait, 0, 50)));
    }
  }

  // The running ports, without those finished since.
  void prune() {
    running_.erase(std::remove_if(running_.begin(), running_.end(), [&](auto i) { return tasks_[i].done; }),
                   running_.end());
  }

  Lab& lab_;
  ProbeOptions options_;
  std::vector<std::uint16_t> ports_;
  std::vector<PortTask> tasks_;
  ScanResult result_;
  Family family_ = Family::ipv4;
  Node* src_ = nullptr;
  std::optional<IpAddress> bind_;
  bool tcp_ = true;
  std::deque<std::size_t> pending_;
  std::vector<std::size_t> running_;  // started and (until pruned) not finished
  std::size_t in_flight_ = 0;         // ports taken from pending_ and not finished
  std::size_t limit_ = 1;
  std::size_t finished_ = 0;
  Fd epoll_;
  std::vector<epoll_event> events_;
  std::optional<detail::Stillness> still_;
  std::string still_reason_;
  int needed_ = 2;
  Clock::time_point next_look_ = Clock::time_point::min();
  Clock::time_point next_timer_ = Clock::time_point::max();
};

}  // namespace

ExpectationOutcome run_scan_expectation(Lab& lab, const ProbeExpectation& e, const ProbeOptions& options) {
  ExpectationOutcome o;
  o.title = e.str();
  o.where = e.where;
  auto r = lab.scan(e.scan(), options);
  o.ms = r.elapsed_ms;
  auto problem = e.open ? r.open_problem(*e.open) : r.verdict_problem(e.verdict);
  o.passed = !problem;
  o.summary = problem ? *problem + "; observed " + r.summary() : "observed " + r.summary();
  for (const auto& [v, d] : r.evidence) o.details += fmt::format("    {}: {}\n", to_string(v), d);
  return o;
}

ScanResult run_scan(Lab& lab, const PortScan& scan, const ProbeOptions& options) {
  return Scanner(lab, scan, options).run();
}

}  // namespace nslab
