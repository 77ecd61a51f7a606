// The probe engine. Sockets are made inside each source node by one helper
// thread that hops between namespaces; everything else (connect, send, the
// event loop) runs on the caller's thread, since a socket keeps the namespace
// it was made in. What a probe's evidence means is decided in
// verdict_rules.cpp; the ICMP bytes are read and written by icmp_codec.cpp.
#include "probe_engine.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <linux/errqueue.h>
#include <linux/icmp.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <fmt/format.h>
#include <unordered_map>

#include "icmp_codec.h"
#include "link_impairment.h"
#include "node_internals.h"
#include "nslab/error.h"
#include "nslab/lab.h"
#include "stillness.h"
#include "sys.h"
#include "verdict_rules.h"

namespace nslab {

namespace {

using Clock = std::chrono::steady_clock;
using detail::icmp_errno;
using detail::verdict_of_local_errno;
using detail::verdict_of_network_errno;

// Echo keys are unique in this process: a node's raw socket sees only
// replies addressed to that node, and each key (id, seq) names one probe.
std::atomic<std::uint32_t> g_echo_counter{0x1000};

// The kernel resends a SYN only after a second; within a probe's timeout a
// lost SYN would read as "blocked". So a TCP probe opens a new connection
// at each retry tick (a few at most), and the first to answer decides.
constexpr std::size_t kMaxSpareConnects = 3;
// Descriptors a TCP probe may hold at once: its attempts, and as many
// connections accepted by a built-in service of the same process.
constexpr std::size_t kTcpDescriptors = 2 * (1 + kMaxSpareConnects);
// The longest greeting line a built-in service sends: "NODE ADDRESS\n".
constexpr std::size_t kMaxGreeting = 32 + 1 + 45 + 1;
// Descriptors left for everything else the process does meanwhile.
constexpr long kReservedDescriptors = 128;

socklen_t make_sockaddr(const IpAddress& a, std::uint16_t port, sockaddr_storage& ss) {
  std::memset(&ss, 0, sizeof ss);
  if (a.is_v4()) {
    auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
    s4->sin_family = AF_INET;
    s4->sin_port = htons(port);
    std::memcpy(&s4->sin_addr, a.data(), 4);
    return sizeof(sockaddr_in);
  }
  auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
  s6->sin6_family = AF_INET6;
  s6->sin6_port = htons(port);
  std::memcpy(&s6->sin6_addr, a.data(), 16);
  return sizeof(sockaddr_in6);
}

IpAddress from_sockaddr(const sockaddr_storage& ss) {
  if (ss.ss_family == AF_INET)
    return IpAddress::from_bytes(Family::ipv4, &reinterpret_cast<const sockaddr_in&>(ss).sin_addr);
  return IpAddress::from_bytes(Family::ipv6, &reinterpret_cast<const sockaddr_in6&>(ss).sin6_addr);
}

// How many descriptors the probes of one batch may hold: what the limit
// leaves after those already open.
long descriptor_budget() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return 1024;
  long open = 0;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (::readdir(d)) ++open;
    ::closedir(d);
  }
  long soft = lim.rlim_cur == RLIM_INFINITY ? (1L << 20) : static_cast<long>(lim.rlim_cur);
  return std::max(soft - open - kReservedDescriptors, 1L);
}

struct Task {
  ProbeResult result;
  Node* src = nullptr;
  Family family = Family::ipv4;
  Fd fd;                  // tcp/udp: the probe's own socket (tcp: the connected attempt)
  std::vector<Fd> spare;  // tcp: further connection attempts in flight
  int icmp_fd = -1;       // icmp: the source node's shared raw socket
  std::uint32_t echo = 0;
  int attempts = 0;  // requests sent and connections tried
  std::optional<int> needed;  // attempts before stillness decides it; empty: only the timeout does
  std::string wait_reason;    // why stillness cannot decide it, when that is the probe's own
  int too_big = 0;            // udp: "packet too big" / "fragmentation needed" answers, each resent
  std::string too_big_from;   // the last of them
  bool started = false;
  bool done = false;
  bool refused_by_own_rules = false;  // icmp/udp: send failed with EPERM
  bool connected = false;         // tcp
  bool greeting_decided = false;  // tcp/udp: a greeting was read, or there is none
  std::size_t sent = 0;           // tcp: payload bytes sent so far
  std::string inbox;              // tcp: what came back, after the greeting
  Clock::time_point start, deadline, next_retry;
  Clock::time_point grace_until = Clock::time_point::max();  // tcp: how long to wait once connected
};

class Engine {
 public:
  Engine(Lab& lab, const std::vector<Probe>& probes, const ProbeOptions& options)
      : lab_(lab), options_(options) {
    tasks_.resize(probes.size());
    for (std::size_t i = 0; i < probes.size(); ++i) {
      Task& t = tasks_[i];
      t.result.probe = probes[i];
      t.src = &lab.node(probes[i].from);
      t.result.target = lab.resolve(probes[i].to, probes[i].family);
      t.family = t.result.target.family();
      if (probes[i].protocol != Protocol::icmp && probes[i].port == 0)
        throw ConfigError(fmt::format("probe \"{}\" needs a port", probes[i].str()));
      // A built-in service answers a UDP request with its greeting and the
      // echo in one datagram.
      if (probes[i].protocol == Protocol::icmp && !probes[i].payload.empty())
        throw ConfigError(fmt::format("probe \"{}\": a payload needs a tcp or udp probe", probes[i].str()));
      if (probes[i].protocol == Protocol::udp && probes[i].payload.size() > kMaxUdpPayload)
        throw ConfigError(fmt::format("probe \"{}\": a UDP payload has at most {} bytes, not {}", probes[i].str(),
                                      kMaxUdpPayload, probes[i].payload.size()));
    }
  }

  std::vector<ProbeResult> run() {
    budget_ = descriptor_budget();
    verify_impairments(lab_);
    if (options_.decide_when_still) {
      still_.emplace(lab_);
      if (const auto& why = still_->blocker()) {
        still_reason_ = *why;
        still_.reset();
      }
    }
    make_raw_sockets();
    epoll_ = Fd(::epoll_create1(EPOLL_CLOEXEC));
    if (!epoll_) throw SystemError("cannot create epoll for probes", errno);
    for (auto& [fd, family] : raw_) {
      drain_raw(fd, family, /*dispatch=*/false);
      add(fd, EPOLLIN, kRawTag | static_cast<std::uint64_t>(fd));
    }
    for (std::size_t i = 0; i < tasks_.size(); ++i) {
      if (tasks_[i].result.probe.protocol == Protocol::icmp) start(i);
      else queue_.push_back(i);
    }
    admit();
    loop();
    std::vector<ProbeResult> out;
    out.reserve(tasks_.size());
    for (auto& t : tasks_) out.push_back(std::move(t.result));
    return out;
  }

 private:
  static constexpr std::uint64_t kRawTag = 1ull << 63;
  static constexpr std::size_t kMaxUdpPayload = Probe::kMaxUdpPayload;
  static constexpr auto kOwnRejectGrace = std::chrono::milliseconds(20);
  // A UDP probe told "too big" this often has a path that cannot take it.
  static constexpr int kMaxTooBig = 3;

  static std::size_t cost(const Task& t) { return t.result.probe.protocol == Protocol::tcp ? kTcpDescriptors : 1; }

  static Fd stream_socket(const Task& t, const Node& n) {
    int type = t.result.probe.protocol == Protocol::tcp ? SOCK_STREAM : SOCK_DGRAM;
    Fd fd = sys::socket(to_af(t.family), type | SOCK_NONBLOCK, 0, fmt::format("probe socket in \"{}\"", n.name()));
    // ICMP errors for the socket come with their type, code and sender.
    int one = 1;
    if (t.family == Family::ipv4)
      sys::set_option(fd.get(), SOL_IP, IP_RECVERR, one, "IP_RECVERR on a probe socket");
    else
      sys::set_option(fd.get(), SOL_IPV6, IPV6_RECVERR, one, "IPV6_RECVERR on a probe socket");
    if (type == SOCK_DGRAM) {
      // As a UDP client does by default: a datagram larger than the path
      // MTU is fragmented once the kernel has learned that MTU.
      int want = t.family == Family::ipv4 ? IP_PMTUDISC_WANT : IPV6_PMTUDISC_WANT;
      int zero = 0;
      if (t.family == Family::ipv4) {
        sys::set_option(fd.get(), SOL_IP, IP_MTU_DISCOVER, want, "IP_MTU_DISCOVER on a probe socket");
      } else {
        sys::set_option(fd.get(), SOL_IPV6, IPV6_MTU_DISCOVER, want, "IPV6_MTU_DISCOVER on a probe socket");
        sys::set_option(fd.get(), SOL_IPV6, IPV6_DONTFRAG, zero, "IPV6_DONTFRAG on a probe socket");
      }
    }
    return fd;
  }

  static Fd raw_socket(Family f, const Node& n) {
    std::string what = fmt::format("raw ICMP socket in \"{}\"", n.name());
    int buf = 4 << 20;
    if (f == Family::ipv4) {
      Fd fd = sys::socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK, IPPROTO_ICMP, what);
      icmp_filter filt{};
      filt.data = ~((1u << ICMP_ECHOREPLY) | (1u << ICMP_DEST_UNREACH) | (1u << ICMP_TIME_EXCEEDED) |
                    (1u << ICMP_PARAMETERPROB));
      sys::set_option(fd.get(), SOL_RAW, ICMP_FILTER, filt, what);
      sys::set_option(fd.get(), SOL_SOCKET, SO_RCVBUF, buf, what);
      return fd;
    }
    Fd fd = sys::socket(AF_INET6, SOCK_RAW | SOCK_NONBLOCK, IPPROTO_ICMPV6, what);
    icmp6_filter filt;
    ICMP6_FILTER_SETBLOCKALL(&filt);
    for (int type : {ICMP6_ECHO_REPLY, ICMP6_DST_UNREACH, ICMP6_PACKET_TOO_BIG, ICMP6_TIME_EXCEEDED, ICMP6_PARAM_PROB})
      ICMP6_FILTER_SETPASS(type, &filt);
    sys::set_option(fd.get(), IPPROTO_ICMPV6, ICMP6_FILTER, filt, what);
    sys::set_option(fd.get(), SOL_SOCKET, SO_RCVBUF, buf, what);
    return fd;
  }

  // Each source node's raw ICMP socket is made once, by a thread inside it.
  void make_raw_sockets() {
    std::vector<Node*> sources;
    for (auto& t : tasks_)
      if (t.result.probe.protocol == Protocol::icmp && NodeInternals::icmp_socket(*t.src, t.family) < 0 &&
          std::find(sources.begin(), sources.end(), t.src) == sources.end())
        sources.push_back(t.src);
    if (!sources.empty())
      lab_.run_in_each(sources, [&](Node& n) {
        for (Family f : {Family::ipv4, Family::ipv6})
          if (NodeInternals::icmp_socket(n, f) < 0 && std::any_of(tasks_.begin(), tasks_.end(), [&](const Task& t) {
                return t.src == &n && t.family == f && t.result.probe.protocol == Protocol::icmp;
              }))
            NodeInternals::set_icmp_socket(n, f, raw_socket(f, n));
      });
    for (auto& t : tasks_)
      if (t.result.probe.protocol == Protocol::icmp) {
        t.icmp_fd = NodeInternals::icmp_socket(*t.src, t.family);
        raw_.emplace(t.icmp_fd, t.family);
      }
  }

  // Starts queued tcp/udp probes while their descriptors fit in the budget
  // (at least one at a time, whatever the budget). Sockets for a round are
  // made in one pass over the source nodes.
  void admit() {
    while (!queue_.empty()) {
      std::vector<std::size_t> round;
      std::size_t held = held_;
      while (!queue_.empty()) {
        std::size_t c = cost(tasks_[queue_.front()]);
        if (!(held == 0 || held + c <= static_cast<std::size_t>(budget_))) break;
        held += c;
        round.push_back(queue_.front());
        queue_.pop_front();
      }
      if (round.empty()) return;
      std::vector<Node*> nodes;
      for (auto i : round)
        if (std::find(nodes.begin(), nodes.end(), tasks_[i].src) == nodes.end()) nodes.push_back(tasks_[i].src);
      std::vector<int> failed(round.size(), 0);
      lab_.run_in_each(nodes, [&](Node& n) {
        for (std::size_t k = 0; k < round.size(); ++k) {
          Task& t = tasks_[round[k]];
          if (t.src != &n) continue;
          try {
            t.fd = stream_socket(t, n);
          } catch (const SystemError& e) {
            failed[k] = e.code();
          }
        }
      });
      std::vector<std::size_t> later;
      for (std::size_t k = 0; k < round.size(); ++k) {
        std::size_t i = round[k];
        if (failed[k] == EMFILE || failed[k] == ENFILE) {
          // Something else took descriptors: wait for this batch's own.
          tasks_[i].fd.reset();
          later.push_back(i);
          continue;
        }
        if (failed[k]) throw SystemError(fmt::format("cannot open a socket for probe {}", tasks_[i].result.probe.str()), failed[k]);
        held_ += cost(tasks_[i]);
        start(i);
      }
      if (!later.empty()) {
        if (held_ == 0)
          throw SystemError(fmt::format("cannot open a socket for probe {}: no descriptor is left",
                                        tasks_[later.front()].result.probe.str()),
                            EMFILE);
        queue_.insert(queue_.begin(), later.begin(), later.end());
        budget_ = static_cast<long>(held_);
        return;
      }
      if (!queue_.empty() && held_ + cost(tasks_[queue_.front()]) > static_cast<std::size_t>(budget_)) return;
    }
  }

  void add(int fd, std::uint32_t events, std::uint64_t tag) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = tag;
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) throw SystemError("cannot watch probe socket", errno);
  }
  void modify(int fd, std::uint32_t events, std::uint64_t tag) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = tag;
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &ev) != 0) throw SystemError("cannot watch probe socket", errno);
  }
  void forget(Fd& fd) {
    if (!fd) return;
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd.get(), nullptr);
    fd.reset();
  }

  void wake_at(Clock::time_point t) { next_wake_ = std::min(next_wake_, t); }

  // The lab is looked at for stillness from a moment after the last packet
  // a probe sent, and every kLookGap after that.
  static constexpr auto kSettle = std::chrono::microseconds(500);
  static constexpr auto kLookGap = std::chrono::milliseconds(2);
  void sent_something() {
    if (!still_) return;
    next_look_ = Clock::now() + kSettle;
    wake_at(next_look_);
  }

  // A retry interval no shorter than the timeout asks for one request (or
  // one connection attempt) per probe, as a loss measurement does.
  bool single_shot() const { return options_.retry_interval >= options_.timeout; }

  bool awaiting(const Task& t) const { return t.started && !t.done && !t.connected && !t.refused_by_own_rules; }

  // At least two attempts, each followed by stillness, before `blocked`: the
  // machine itself may drop a packet now and then (a full CPU backlog under
  // load), and one such loss must not read as a DROP. With random loss on the
  // lab's links, as many as Stillness::attempts_needed asks for the packets
  // of one attempt (a large UDP payload is several fragments, each lost on
  // its own); a TCP probe makes at most 1 + kMaxSpareConnects attempts, and
  // where that is not enough, only the timeout decides.
  void plan_attempts(Task& t) const {
    if (!still_) return;
    if (single_shot()) {  // one request, as a loss measurement asks
      t.needed = 1;
      return;
    }
    const auto& p = t.result.probe;
    int out = 1, back = 1;
    if (p.protocol == Protocol::udp) {
      std::size_t request = (p.payload.empty() ? 11 : p.payload.size()) + 8;
      out = fragments(request, t.family);
      back = fragments(request + kMaxGreeting, t.family);
    }
    auto n = still_->attempts_needed(out, back);
    if (!n) {
      t.wait_reason = fmt::format("the lab's lossy links lose all of {} attempts too often", detail::Stillness::kMaxAttempts);
      return;
    }
    t.needed = std::max(2, *n);
    if (p.protocol == Protocol::tcp && *t.needed > static_cast<int>(1 + kMaxSpareConnects)) {
      t.wait_reason = fmt::format("the lab's lossy links call for {} connection attempts, a TCP probe makes {}",
                                  *t.needed, 1 + kMaxSpareConnects);
      t.needed.reset();
    }
  }
  int fragments(std::size_t bytes, Family f) const {
    int mtu = still_->min_mtu();
    std::size_t header = f == Family::ipv4 ? 20 : 40;
    if (bytes + header <= static_cast<std::size_t>(mtu)) return 1;
    std::size_t each = (static_cast<std::size_t>(mtu) - header - (f == Family::ipv4 ? 0 : 8)) & ~std::size_t{7};
    return static_cast<int>((bytes + each - 1) / std::max<std::size_t>(each, 8));
  }

  // When every probe has started and the lab is still, a probe waiting for
  // an answer gets none to the attempts it made: it is tried again at once
  // until it has made enough, then it is blocked.
  void look_for_stillness(Clock::time_point now) {
    if (!still_ || now < next_look_ || !queue_.empty()) return;
    next_look_ = now + kLookGap;
    wake_at(next_look_);
    Clock::time_point deadline = Clock::time_point::max();
    bool decidable = false;
    for (const auto& t : tasks_)
      if (awaiting(t)) {
        deadline = std::min(deadline, t.deadline);
        decidable = decidable || t.needed;
      }
    if (!decidable) return;
    while (poll_once(0) == kEventsPerPoll) {
    }
    if (!still_->look(deadline)) {
      if (const auto& why = still_->blocker()) {
        still_reason_ = *why;
        still_.reset();
      }
      return;
    }
    // Everything delivered before the last look is in our sockets now.
    while (poll_once(0) > 0) {
    }
    // A program started meanwhile (by another thread) may still answer.
    if (std::string why; still_->someone_inside(why)) {
      still_reason_ = why;
      still_.reset();
      return;
    }
    std::vector<std::size_t> again;
    for (std::size_t i = 0; i < tasks_.size(); ++i) {
      Task& t = tasks_[i];
      if (!awaiting(t) || !t.needed) continue;
      if (t.attempts < *t.needed) {
        if (t.result.probe.protocol != Protocol::tcp || t.spare.size() < kMaxSpareConnects) again.push_back(i);
        continue;
      }
      finish(t, Verdict::blocked,
             fmt::format("no answer to {} attempts; the lab was still after each (nothing moved on any link or "
                         "queue for {} ms), the last at {:.1f} ms",
                         t.attempts, kLookGap.count(),
                         std::chrono::duration<double, std::milli>(Clock::now() - t.start).count()));
    }
    if (again.empty()) return;
    still_->forget();
    std::vector<std::size_t> reconnect;
    for (auto i : again) {
      Task& t = tasks_[i];
      t.next_retry = Clock::now() + options_.retry_interval;
      if (t.result.probe.protocol == Protocol::icmp) send_echo(t);
      else if (t.result.probe.protocol == Protocol::udp) send_udp(t);
      else reconnect.push_back(i);
    }
    if (!reconnect.empty()) retry_connects(reconnect);
  }

  void finish(Task& t, Verdict v, std::string detail) {
    if (t.done) return;
    t.done = true;
    ++finished_;
    t.result.verdict = v;
    t.result.detail = std::move(detail);
    t.result.rtt = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t.start);
    forget(t.fd);
    drop_spares(t);
    if (t.result.probe.protocol != Protocol::icmp) {
      held_ -= cost(t);
      admit_pending_ = true;
    }
  }

  void drop_spares(Task& t) {
    for (auto& f : t.spare) forget(f);
  }

  // The source's own OUTPUT chain refused to send (EPERM). A DROP there is
  // silence, a REJECT answers with an ICMP error that the kernel delivers
  // back to the source at once: wait a moment for it, so that a REJECT reads
  // `refused` at the source as it does on the way (ping reports it so).
  void own_rules_refused(Task& t) {
    if (t.refused_by_own_rules) return;
    t.refused_by_own_rules = true;
    t.grace_until = std::min(t.deadline, Clock::now() + kOwnRejectGrace);
    wake_at(t.grace_until);
  }

  // A local errno from connect or send: a verdict, or an error of the run.
  void local_error(Task& t, int err, std::string_view op) {
    auto v = verdict_of_local_errno(err);
    if (!v) throw SystemError(fmt::format("probe {}: {} failed", t.result.probe.str(), op), err);
    std::string what = err == ECONNREFUSED && t.result.probe.protocol == Protocol::tcp
                           ? std::string("connection refused (TCP RST)")
                           : fmt::format("{}: {}", op, std::strerror(err));
    if (auto cause = detail::local_cause(err); !cause.empty()) what += fmt::format(" ({})", cause);
    finish(t, *v, what);
  }

  void start(std::size_t i) {
    Task& t = tasks_[i];
    t.started = true;
    t.start = Clock::now();
    sent_something();
    t.deadline = t.start + options_.timeout;
    t.next_retry = t.start + options_.retry_interval;
    wake_at(std::min(t.deadline, t.next_retry));
    plan_attempts(t);
    switch (t.result.probe.protocol) {
      case Protocol::icmp:
        t.echo = g_echo_counter.fetch_add(1);
        echo_index_[t.echo] = i;
        send_echo(t);
        break;
      case Protocol::tcp: {
        sockaddr_storage ss;
        socklen_t len = make_sockaddr(t.result.target, t.result.probe.port, ss);
        if (::connect(t.fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0 && errno != EINPROGRESS) {
          local_error(t, errno, "connect");
          return;
        }
        ++t.attempts;
        add(t.fd.get(), EPOLLOUT | EPOLLIN | EPOLLERR, i);
        break;
      }
      case Protocol::udp: {
        sockaddr_storage ss;
        socklen_t len = make_sockaddr(t.result.target, t.result.probe.port, ss);
        if (::connect(t.fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) {
          local_error(t, errno, "connect");
          return;
        }
        add(t.fd.get(), EPOLLIN | EPOLLERR, i);
        send_udp(t);
        break;
      }
    }
  }

  void send_echo(Task& t) {
    sent_something();
    auto pkt = detail::make_echo_request(t.family, t.echo);
    sockaddr_storage ss;
    socklen_t len = make_sockaddr(t.result.target, 0, ss);
    if (::sendto(t.icmp_fd, pkt.data(), pkt.size(), 0, reinterpret_cast<sockaddr*>(&ss), len) >= 0) {
      ++t.attempts;
    } else {
      int err = errno;
      if (err == EAGAIN || err == ENOBUFS || err == EINTR) return;  // sent again at the next retry tick
      if (err == EPERM) return own_rules_refused(t);
      local_error(t, err, "send");
    }
  }

  void send_udp(Task& t) {
    sent_something();
    static const std::string kDefault = "nslab-probe";
    const std::string& msg = t.result.probe.payload.empty() ? kDefault : t.result.probe.payload;
    if (::send(t.fd.get(), msg.data(), msg.size(), MSG_DONTWAIT) >= 0) {
      ++t.attempts;
    } else {
      int err = errno;
      if (err == EAGAIN || err == ENOBUFS || err == EINTR) return;
      if (err == EPERM) return own_rules_refused(t);
      if (err == ECONNREFUSED || err == EHOSTUNREACH || err == ENETUNREACH) {
        on_error_queue(t, t.fd.get(), err);  // an ICMP error from an earlier send
        return;
      }
      local_error(t, err, "send");
    }
  }

  // tcp: sends what is left of the payload; true when all of it is out.
  bool send_payload(Task& t) {
    const std::string& p = t.result.probe.payload;
    while (t.sent < p.size()) {
      ssize_t n = ::send(t.fd.get(), p.data() + t.sent, p.size() - t.sent, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0) return false;  // full (EAGAIN), or the connection failed: EPOLLERR tells
      t.sent += static_cast<std::size_t>(n);
    }
    return true;
  }

  // Decides a tcp/udp socket that failed, from the ICMP error queued for it
  // (with IP_RECVERR the kernel keeps the message's type, code and sender).
  void on_error_queue(Task& t, int fd, int fallback_errno) {
    if (!read_error_queue(t, fd)) local_error(t, fallback_errno, "connect");
  }

  // True when an error was queued and decided the probe. A connecting TCP
  // socket can have one queued before the kernel fails the connection: an
  // ICMP error that arrives while connect() still holds the socket (the
  // whole path runs in one softirq) only fails it at the next SYN, a second
  // later; a real client then reports it, nslab reads it at once.
  bool read_error_queue(Task& t, int fd) {
    char ctrl[512];
    char data[64];
    iovec iov{data, sizeof data};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = ctrl;
    msg.msg_controllen = sizeof ctrl;
    if (::recvmsg(fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) >= 0) {
      for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        bool v4 = c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR;
        bool v6 = c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR;
        if (!v4 && !v6) continue;
        if (c->cmsg_len < CMSG_LEN(sizeof(sock_extended_err))) continue;
        sock_extended_err ee;
        std::memcpy(&ee, CMSG_DATA(c), sizeof ee);
        int err = static_cast<int>(ee.ee_errno);
        if (ee.ee_origin == SO_EE_ORIGIN_ICMP || ee.ee_origin == SO_EE_ORIGIN_ICMP6) {
          Family f = ee.ee_origin == SO_EE_ORIGIN_ICMP ? Family::ipv4 : Family::ipv6;
          std::string from;
          sockaddr_storage off{};
          std::size_t off_len = c->cmsg_len - CMSG_LEN(sizeof ee);
          std::memcpy(&off, CMSG_DATA(c) + sizeof ee, std::min(sizeof off, off_len));
          if (off.ss_family == AF_INET || off.ss_family == AF_INET6) from = " from " + from_sockaddr(off).str();
          // Too big for the path: the kernel has learned the path's MTU and
          // fragments the next datagram, as it does for any UDP client that
          // sends again. Only its fate is the verdict.
          bool too_big = f == Family::ipv4 ? ee.ee_type == ICMP_DEST_UNREACH && ee.ee_code == ICMP_FRAG_NEEDED
                                           : ee.ee_type == ICMP6_PACKET_TOO_BIG;
          if (too_big && t.result.probe.protocol == Protocol::udp && t.too_big < kMaxTooBig) {
            ++t.too_big;
            t.too_big_from = detail::icmp_name(f, ee.ee_type, ee.ee_code) + from;
            send_udp(t);
            return true;
          }
          // The errno the kernel derived is what any client of this socket sees.
          auto v = verdict_of_network_errno(err);
          if (!v)
            if (auto mapped = icmp_errno(f, ee.ee_type, ee.ee_code)) v = verdict_of_network_errno(*mapped);
          if (!v) throw SystemError(fmt::format("probe {}: unexpected ICMP error", t.result.probe.str()), err);
          finish(t, *v, detail::icmp_name(f, ee.ee_type, ee.ee_code) + from);
          return true;
        }
        if (ee.ee_origin == SO_EE_ORIGIN_LOCAL) {
          local_error(t, err, "local error");
          return true;
        }
      }
    }
    return false;
  }

  // A built-in service's greeting, "NODE ADDRESS": a node of the lab and an address.
  bool looks_like_greeting(std::string_view line) const {
    auto space = line.find(' ');
    return space != std::string_view::npos && lab_.find_node(line.substr(0, space)) &&
           IpAddress::parse(line.substr(space + 1));
  }

  bool is_greeting(std::string_view line, Task& t) const {
    if (!looks_like_greeting(line)) return false;
    auto space = line.find(' ');
    t.result.served_by = std::string(line.substr(0, space));
    t.result.seen_from = std::string(line.substr(space + 1));
    return true;
  }

  // What came back, read against the payload: "greeted" when a greeting
  // line is followed by the whole payload, "bare" when the bytes start with
  // the whole payload (an echo server that does not greet, even if the
  // payload's own first line looks like a greeting), and "maybe greeted"
  // while a greeting line is followed by a part of the payload only.
  struct EchoReading {
    bool line = false;  // the first line looks like a greeting
    bool greeted = false;
    bool bare = false;
    bool maybe_greeted = false;
    bool part_of_payload = false;  // the bytes so far are the payload's first ones
  };
  EchoReading read_echo(std::string_view got, const std::string& payload) const {
    EchoReading e;
    auto nl = got.find('\n');
    e.line = nl != std::string_view::npos && nl <= kMaxGreeting && looks_like_greeting(got.substr(0, nl));
    e.bare = !payload.empty() && got.substr(0, payload.size()) == payload;
    e.part_of_payload = got.size() < payload.size() && payload.compare(0, got.size(), got) == 0;
    if (e.line) {
      std::string_view rest = got.substr(nl + 1);
      e.greeted = !payload.empty() && rest.substr(0, payload.size()) == payload;
      e.maybe_greeted = !e.greeted && rest.size() < payload.size() && payload.compare(0, rest.size(), rest) == 0;
    }
    return e;
  }

  void on_tcp_connected(Task& t, std::size_t i, std::size_t attempt) {
    if (attempt > 0) {
      // A later attempt connected first (an earlier SYN was lost): it
      // becomes the probe's socket.
      forget(t.fd);
      t.fd = std::move(t.spare[attempt - 1]);
    }
    drop_spares(t);
    t.connected = true;
    t.result.verdict = Verdict::reachable;
    const auto& p = t.result.probe;
    // A built-in service greets at once; give it a moment unless asked to wait.
    bool wait = p.want_served_by || !p.payload.empty();
    t.grace_until = wait ? t.deadline : std::min(t.deadline, Clock::now() + std::chrono::milliseconds(50));
    wake_at(t.grace_until);
    // The payload goes out at once: a built-in service greets first and then
    // echoes, any other echo server just echoes.
    bool all_out = send_payload(t);
    modify(t.fd.get(), EPOLLIN | EPOLLRDHUP | (all_out ? 0u : static_cast<std::uint32_t>(EPOLLOUT)), i);
  }

  void on_socket(std::uint64_t tag, std::uint32_t events) {
    auto i = static_cast<std::size_t>(tag & 0xffffffffu);
    auto attempt = static_cast<std::size_t>(tag >> 32);
    Task& t = tasks_[i];
    if (t.done) return;
    bool tcp = t.result.probe.protocol == Protocol::tcp;
    if (tcp && !t.connected) {
      int fd = attempt == 0 ? t.fd.get() : t.spare[attempt - 1].get();
      if (fd < 0) return;
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        on_error_queue(t, fd, err);
        return;
      }
      if ((events & EPOLLERR) && read_error_queue(t, fd)) return;
      if (!(events & EPOLLOUT)) return;
      on_tcp_connected(t, i, attempt);
      events &= ~static_cast<std::uint32_t>(EPOLLOUT);
    }
    if (events & EPOLLERR) {
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(t.fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
      if (t.connected) {
        finish(t, Verdict::reachable, fmt::format("connected, then {}", std::strerror(err ? err : EIO)));
        return;
      }
      on_error_queue(t, t.fd.get(), err ? err : EIO);
      return;
    }
    if (tcp && (events & EPOLLOUT) && send_payload(t)) modify(t.fd.get(), EPOLLIN | EPOLLRDHUP, i);
    if (!tcp) {
      read_datagrams(t);
      return;
    }
    for (;;) {
      ssize_t r = ::recv(t.fd.get(), buf_.data(), buf_.size(), MSG_DONTWAIT);
      if (r > 0) {
        t.inbox.append(buf_.data(), static_cast<std::size_t>(r));
        continue;
      }
      if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        complete_stream(t, /*eof=*/true);
        return;
      }
      break;
    }
    complete_stream(t, false);
  }

  void read_datagrams(Task& t) {
    for (;;) {
      ssize_t r = ::recv(t.fd.get(), buf_.data(), buf_.size(), MSG_DONTWAIT | MSG_TRUNC);
      if (r < 0) {
        int err = errno;
        if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR) return;
        on_error_queue(t, t.fd.get(), err);
        return;
      }
      std::size_t n = std::min(static_cast<std::size_t>(r), buf_.size());
      std::string_view reply(buf_.data(), n);
      auto nl = reply.find('\n');
      // A datagram is whole: a greeting is a greeting line, unless the
      // reply is the bare payload without it.
      auto e = read_echo(reply, t.result.probe.payload);
      bool greeted = e.line && (e.greeted || !e.bare) && is_greeting(reply.substr(0, nl), t);
      if (greeted) reply.remove_prefix(nl + 1);
      std::string d = greeted ? fmt::format("UDP reply from {}, who saw {}", t.result.served_by, t.result.seen_from)
                              : std::string("UDP reply (not from an nslab service)");
      if (t.too_big > 0) d += fmt::format(" (to a resend in fragments after {})", t.too_big_from);
      if (!t.result.probe.payload.empty()) {
        t.result.echo = std::string(reply.substr(0, t.result.probe.payload.size() + 1));
        d += t.result.payload_problem() ? "; payload came back altered" : "; payload echoed";
      }
      finish(t, Verdict::reachable, d);
      return;
    }
  }

  // tcp: decide once the greeting (and the echoed payload) has arrived.
  void complete_stream(Task& t, bool eof) {
    if (!t.greeting_decided && !t.result.probe.payload.empty()) {
      // An echo that starts with the whole payload has no greeting before
      // it, unless a greeting line came first and the whole payload after
      // it; while only part of the payload follows a greeting line, wait
      // (for more bytes, the end of the stream or the timeout).
      auto e = read_echo(t.inbox, t.result.probe.payload);
      auto nl = t.inbox.find('\n');
      if (e.greeted || (e.line && !e.bare && !e.part_of_payload)) {
        is_greeting(std::string_view(t.inbox).substr(0, nl), t);
        t.inbox.erase(0, nl + 1);
        t.greeting_decided = true;
      } else if (e.bare) {
        if (!e.maybe_greeted || eof) t.greeting_decided = true;
      } else if (e.part_of_payload) {
        if (eof) t.greeting_decided = true;
      } else if (nl != std::string::npos || t.inbox.size() > kMaxGreeting || eof) {
        t.greeting_decided = true;  // no greeting: what came back is all echo
      }
    }
    if (!t.greeting_decided && t.result.probe.payload.empty()) {
      auto nl = t.inbox.find('\n');
      if (nl != std::string::npos) {
        if (nl <= kMaxGreeting && is_greeting(std::string_view(t.inbox).substr(0, nl), t)) t.inbox.erase(0, nl + 1);
        t.greeting_decided = true;
      } else if (t.inbox.size() > kMaxGreeting || eof) {
        t.greeting_decided = true;
      }
    }
    const auto& payload = t.result.probe.payload;
    std::string who = t.result.served_by.empty()
                          ? std::string("connected")
                          : fmt::format("connected; served by {}, who saw {}", t.result.served_by, t.result.seen_from);
    if (!payload.empty()) {
      if (t.greeting_decided && (t.inbox.size() >= payload.size() || eof)) {
        t.result.echo = t.inbox.substr(0, payload.size() + (t.inbox.size() > payload.size() ? 1 : 0));
        finish(t, Verdict::reachable,
               who + (t.result.payload_problem() ? "; payload came back altered" : "; payload echoed"));
      }
      return;
    }
    if (t.greeting_decided && !t.result.served_by.empty()) finish(t, Verdict::reachable, who);
    else if (t.greeting_decided) finish(t, Verdict::reachable, "connected; no greeting (not an nslab service)");
    else if (eof) finish(t, Verdict::reachable, "connected; closed by the server without a greeting");
  }

  void drain_raw(int fd, Family family, bool dispatch) {
    for (;;) {
      sockaddr_storage from{};
      socklen_t flen = sizeof from;
      ssize_t r = ::recvfrom(fd, buf_.data(), buf_.size(), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from), &flen);
      if (r < 0) return;
      if (dispatch)
        on_icmp(family, reinterpret_cast<const std::uint8_t*>(buf_.data()), static_cast<std::size_t>(r),
                from_sockaddr(from));
    }
  }

  void on_icmp(Family f, const std::uint8_t* p, std::size_t n, const IpAddress& sender) {
    auto m = detail::parse_icmp(f, p, n);
    if (!m) return;
    auto it = echo_index_.find(m->key);
    if (it == echo_index_.end()) return;
    Task& t = tasks_[it->second];
    if (m->reply) {
      finish(t, Verdict::reachable, fmt::format("echo reply from {}", sender.str()));
      return;
    }
    auto err = icmp_errno(f, m->type, m->code);
    if (!err) return;  // source quench, redirect: the kernel ignores them too
    finish(t, verdict_of_network_errno(*err).value_or(Verdict::unreachable),
           fmt::format("{} from {}", detail::icmp_name(f, m->type, m->code), sender.str()));
  }

  void retry_connects(const std::vector<std::size_t>& which) {
    sent_something();
    std::vector<Node*> nodes;
    for (auto i : which)
      if (std::find(nodes.begin(), nodes.end(), tasks_[i].src) == nodes.end()) nodes.push_back(tasks_[i].src);
    lab_.run_in_each(nodes, [&](Node& n) {
      for (auto i : which) {
        if (tasks_[i].src != &n) continue;
        try {
          tasks_[i].spare.push_back(stream_socket(tasks_[i], n));
        } catch (const SystemError&) {
          // No descriptor for a spare attempt now: the first attempt goes on.
        }
      }
    });
    for (auto i : which) {
      Task& t = tasks_[i];
      if (t.spare.empty() || !t.spare.back()) continue;
      Fd& fd = t.spare.back();
      sockaddr_storage ss;
      socklen_t len = make_sockaddr(t.result.target, t.result.probe.port, ss);
      if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0 && errno != EINPROGRESS) {
        fd.reset();
        continue;
      }
      ++t.attempts;
      add(fd.get(), EPOLLOUT | EPOLLIN | EPOLLERR, (static_cast<std::uint64_t>(t.spare.size()) << 32) | i);
    }
  }

  void expire(Task& t) {
    if (t.connected) {
      const auto& payload = t.result.probe.payload;
      if (!payload.empty()) {
        t.result.echo = t.inbox;
        finish(t, Verdict::reachable,
               fmt::format("connected{}; {} of {} payload bytes came back within {} ms",
                           t.result.served_by.empty() ? "" : "; served by " + t.result.served_by, t.inbox.size(),
                           payload.size(), options_.timeout.count()));
      } else {
        finish(t, Verdict::reachable,
               t.result.served_by.empty() ? std::string("connected; no greeting (not an nslab service)")
                                          : fmt::format("connected; served by {}", t.result.served_by));
      }
      return;
    }
    const std::string& why = !still_reason_.empty() ? still_reason_ : t.wait_reason;
    finish(t, Verdict::blocked,
           why.empty() ? fmt::format("no answer within {} ms", options_.timeout.count())
                       : fmt::format("no answer within {} ms (waited it out: {})", options_.timeout.count(), why));
  }

  // Deadlines, grace periods and retries of the running probes; returns
  // when the next one is due.
  Clock::time_point timers(Clock::time_point now) {
    bool due = false;
    for (const auto& t : tasks_)
      if (t.started && !t.done && t.deadline <= now) due = true;
    // Answers that arrived before the deadline count, even when this thread
    // was not scheduled to read them in time (a loaded machine).
    if (due)
      while (poll_once(0) == kEventsPerPoll) {
      }
    Clock::time_point next = Clock::time_point::max();
    std::vector<std::size_t> reconnect;
    for (std::size_t i = 0; i < tasks_.size(); ++i) {
      Task& t = tasks_[i];
      if (!t.started || t.done) continue;
      if (t.deadline <= now) {
        expire(t);
        continue;
      }
      if (t.refused_by_own_rules && t.grace_until <= now) {
        finish(t, Verdict::blocked,
               fmt::format("send: {} ({})", std::strerror(EPERM), detail::local_cause(EPERM)));
        continue;
      }
      if (t.connected && t.grace_until <= now) {
        finish(t, Verdict::reachable,
               t.result.served_by.empty() ? std::string("connected")
                                          : fmt::format("connected; served by {}", t.result.served_by));
        continue;
      }
      if (!t.connected && !t.refused_by_own_rules && t.next_retry <= now) {
        if (t.result.probe.protocol == Protocol::icmp) send_echo(t);
        else if (t.result.probe.protocol == Protocol::udp) send_udp(t);
        else if (t.spare.size() < kMaxSpareConnects) reconnect.push_back(i);
        t.next_retry = now + options_.retry_interval;
      }
      if (t.done) continue;
      next = std::min({next, t.deadline, t.connected || t.refused_by_own_rules ? t.grace_until : t.next_retry});
    }
    if (!reconnect.empty()) retry_connects(reconnect);
    return next;
  }

  void loop() {
    epoll_event_buffer_.resize(kEventsPerPoll);
    while (finished_ < tasks_.size()) {
      auto now = Clock::now();
      if (now >= next_wake_) next_wake_ = std::min(timers(now), next_look_);
      look_for_stillness(now);
      if (admit_pending_) {
        admit_pending_ = false;
        admit();
      }
      if (finished_ >= tasks_.size()) break;
      auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_wake_ - Clock::now()).count() + 1;
      poll_once(static_cast<int>(std::clamp<long long>(wait, 0, 1000)));
    }
  }

  static constexpr int kEventsPerPoll = 256;

  int poll_once(int timeout_ms) {
    int n = ::epoll_wait(epoll_.get(), epoll_event_buffer_.data(), kEventsPerPoll, timeout_ms);
    if (n < 0) {
      if (errno == EINTR) return 0;
      throw SystemError("epoll_wait in probes", errno);
    }
    for (int k = 0; k < n; ++k) {
      std::uint64_t tag = epoll_event_buffer_[static_cast<std::size_t>(k)].data.u64;
      if (tag & kRawTag) {
        int fd = static_cast<int>(tag & ~kRawTag);
        drain_raw(fd, raw_.at(fd), true);
      } else {
        on_socket(tag, epoll_event_buffer_[static_cast<std::size_t>(k)].events);
      }
    }
    return n;
  }

  Lab& lab_;
  ProbeOptions options_;
  std::vector<Task> tasks_;
  std::deque<std::size_t> queue_;  // tcp/udp probes waiting for descriptors
  long budget_ = 0;                // descriptors this batch may hold
  std::size_t held_ = 0;           // descriptors its running probes hold
  bool admit_pending_ = false;
  std::unordered_map<int, Family> raw_;  // shared raw sockets (owned by nodes)
  std::unordered_map<std::uint32_t, std::size_t> echo_index_;
  std::vector<char> buf_ = std::vector<char>(65536);
  std::vector<epoll_event> epoll_event_buffer_;
  Fd epoll_;
  std::size_t finished_ = 0;
  Clock::time_point next_wake_ = Clock::time_point::min();
  std::optional<detail::Stillness> still_;  // empty: wait out every timeout
  std::string still_reason_;                // why, when stillness is no evidence here
  Clock::time_point next_look_ = Clock::time_point::max();
};

}  // namespace

std::vector<ProbeResult> run_probes(Lab& lab, const std::vector<Probe>& probes, const ProbeOptions& options) {
  if (probes.empty()) return {};
  return Engine(lab, probes, options).run();
}

}  // namespace nslab
