// The probe engine. Sockets are made inside each source node by one helper
// thread that hops between namespaces; everything else (connect, send, the
// event loop) runs on the caller's thread, since a socket keeps the namespace
// it was made in.
#include "nslab/probe.h"

#include <arpa/inet.h>
#include <linux/errqueue.h>
#include <linux/icmp.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <unordered_map>

#include "nslab/error.h"
#include "nslab/lab.h"
#include "nslab/sys.h"

namespace nslab {

std::string Probe::str() const {
  std::string s = fmt::format("{} -> {} {}", from, to, nslab::to_string(protocol));
  if (protocol != Protocol::icmp) s += fmt::format("/{}", port);
  if (family) s += fmt::format(" ({})", nslab::to_string(*family));
  return s;
}

namespace {

using Clock = std::chrono::steady_clock;

// Echo identifiers are unique in this process: a node's raw socket sees only
// replies addressed to that node, and each (id, seq) names one probe.
std::atomic<std::uint32_t> g_echo_counter{0x1000};

Verdict classify_icmp(Family f, int type, int code) {
  if (f == Family::ipv4) {
    if (type == ICMP_DEST_UNREACH) {
      switch (code) {
        case ICMP_PROT_UNREACH:
        case ICMP_PORT_UNREACH:
        case ICMP_NET_ANO:
        case ICMP_HOST_ANO:
        case ICMP_PKT_FILTERED:
        case ICMP_PREC_VIOLATION:
        case ICMP_PREC_CUTOFF:
          return Verdict::refused;
        default:
          return Verdict::unreachable;
      }
    }
    return Verdict::unreachable;  // time exceeded, and anything else in the way
  }
  if (type == ICMP6_DST_UNREACH) {
    switch (code) {
      case ICMP6_DST_UNREACH_ADMIN:
      case ICMP6_DST_UNREACH_NOPORT:
      case 5:  // source address failed ingress/egress policy
      case 6:  // reject route to destination
        return Verdict::refused;
      default:
        return Verdict::unreachable;
    }
  }
  return Verdict::unreachable;
}

std::string icmp_name(Family f, int type, int code) {
  if (f == Family::ipv4) {
    if (type == ICMP_DEST_UNREACH) {
      static const char* names[] = {"net unreachable", "host unreachable", "protocol unreachable",
                                    "port unreachable", "fragmentation needed", "source route failed",
                                    "net unknown", "host unknown", "source host isolated",
                                    "net prohibited", "host prohibited", "net unreachable for TOS",
                                    "host unreachable for TOS", "administratively prohibited",
                                    "host precedence violation", "precedence cutoff"};
      if (code >= 0 && code < 16) return fmt::format("ICMP {}", names[code]);
    }
    if (type == ICMP_TIME_EXCEEDED) return "ICMP time exceeded";
    return fmt::format("ICMP type {} code {}", type, code);
  }
  if (type == ICMP6_DST_UNREACH) {
    static const char* names[] = {"no route", "administratively prohibited", "beyond scope",
                                  "address unreachable", "port unreachable", "policy failed",
                                  "reject route"};
    if (code >= 0 && code < 7) return fmt::format("ICMPv6 {}", names[code]);
  }
  if (type == ICMP6_TIME_EXCEEDED) return "ICMPv6 time exceeded";
  return fmt::format("ICMPv6 type {} code {}", type, code);
}

Verdict classify_errno(int err) {
  switch (err) {
    case ECONNREFUSED:
    case ECONNRESET:
      return Verdict::refused;
    case EPERM:   // the source's own firewall dropped it on the way out
    case EACCES:
    case ETIMEDOUT:
      return Verdict::blocked;
    default:
      return Verdict::unreachable;
  }
}

std::uint16_t checksum(const void* data, std::size_t len) {
  const auto* p = static_cast<const std::uint8_t*>(data);
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i + 1 < len; i += 2) sum += static_cast<std::uint32_t>(p[i] << 8 | p[i + 1]);
  if (len & 1) sum += static_cast<std::uint32_t>(p[len - 1] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return htons(static_cast<std::uint16_t>(~sum));
}

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

struct Task {
  ProbeResult result;
  Node* src = nullptr;
  Family family = Family::ipv4;
  Fd fd;             // tcp/udp: the probe's own socket (tcp: the connected attempt)
  std::vector<Fd> spare;  // tcp: further connection attempts in flight
  int icmp_fd = -1;  // icmp: the source node's shared raw socket
  std::uint32_t echo = 0;
  bool done = false;
  bool connected = false;       // tcp
  bool greeting_done = false;   // tcp: name line read
  std::string inbox;            // tcp/udp: what came back
  Clock::time_point started;
  Clock::time_point grace_until;  // tcp: how long to wait for the greeting
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
    }
  }

  std::vector<ProbeResult> run() {
    make_sockets();
    epoll_ = Fd(::epoll_create1(EPOLL_CLOEXEC));
    if (!epoll_) throw SystemError("cannot create epoll for probes", errno);
    start_ = Clock::now();
    deadline_ = start_ + options_.timeout;
    for (auto& [fd, family] : raw_) {
      drain_raw(fd, family, /*dispatch=*/false);
      add(fd, EPOLLIN, kRawTag | static_cast<std::uint64_t>(fd));
    }
    for (std::size_t i = 0; i < tasks_.size(); ++i) start(i);
    loop();
    std::vector<ProbeResult> out;
    out.reserve(tasks_.size());
    for (auto& t : tasks_) out.push_back(std::move(t.result));
    return out;
  }

 private:
  static constexpr std::uint64_t kRawTag = 1ull << 63;

  static Fd stream_socket(const Task& t, const Node& n) {
    int type = t.result.probe.protocol == Protocol::tcp ? SOCK_STREAM : SOCK_DGRAM;
    Fd fd = sys::socket(to_af(t.family), type | SOCK_NONBLOCK, 0, fmt::format("probe socket in \"{}\"", n.name()));
    int one = 1;
    if (t.family == Family::ipv4)
      ::setsockopt(fd.get(), SOL_IP, IP_RECVERR, &one, sizeof one);
    else
      ::setsockopt(fd.get(), SOL_IPV6, IPV6_RECVERR, &one, sizeof one);
    return fd;
  }

  void make_sockets() {
    std::vector<Node*> sources;
    for (auto& t : tasks_)
      if (std::find(sources.begin(), sources.end(), t.src) == sources.end()) sources.push_back(t.src);
    lab_.run_in_each(sources, [&](Node& n) {
      for (auto& t : tasks_) {
        if (t.src != &n) continue;
        switch (t.result.probe.protocol) {
          case Protocol::icmp:
            if (n.icmp_socket(t.family) < 0) n.set_icmp_socket(t.family, raw_socket(t.family, n));
            t.icmp_fd = n.icmp_socket(t.family);
            break;
          case Protocol::tcp:
          case Protocol::udp:
            t.fd = stream_socket(t, n);
            break;
        }
      }
    });
    for (auto& t : tasks_)
      if (t.icmp_fd >= 0) raw_.emplace(t.icmp_fd, t.family);
  }

  static Fd raw_socket(Family f, const Node& n) {
    std::string what = fmt::format("raw ICMP socket in \"{}\"", n.name());
    if (f == Family::ipv4) {
      Fd fd = sys::socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK, IPPROTO_ICMP, what);
      icmp_filter filt{};
      filt.data = ~((1u << ICMP_ECHOREPLY) | (1u << ICMP_DEST_UNREACH) | (1u << ICMP_TIME_EXCEEDED));
      ::setsockopt(fd.get(), SOL_RAW, ICMP_FILTER, &filt, sizeof filt);
      int buf = 4 << 20;
      ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
      return fd;
    }
    Fd fd = sys::socket(AF_INET6, SOCK_RAW | SOCK_NONBLOCK, IPPROTO_ICMPV6, what);
    icmp6_filter filt;
    ICMP6_FILTER_SETBLOCKALL(&filt);
    ICMP6_FILTER_SETPASS(ICMP6_ECHO_REPLY, &filt);
    ICMP6_FILTER_SETPASS(ICMP6_DST_UNREACH, &filt);
    ICMP6_FILTER_SETPASS(ICMP6_TIME_EXCEEDED, &filt);
    ::setsockopt(fd.get(), IPPROTO_ICMPV6, ICMP6_FILTER, &filt, sizeof filt);
    int buf = 4 << 20;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    return fd;
  }

  void add(int fd, std::uint32_t events, std::uint64_t tag) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = tag;
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0)
      throw SystemError("cannot watch probe socket", errno);
  }
  void modify(int fd, std::uint32_t events, std::uint64_t tag) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = tag;
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &ev);
  }

  void finish(Task& t, Verdict v, std::string detail) {
    if (t.done) return;
    t.done = true;
    ++finished_;
    t.result.verdict = v;
    t.result.detail = std::move(detail);
    t.result.rtt = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t.started);
    if (t.fd) {
      ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, t.fd.get(), nullptr);
      t.fd.reset();
    }
    drop_spares(t);
  }

  void drop_spares(Task& t) {
    for (auto& f : t.spare)
      if (f) {
        ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, f.get(), nullptr);
        f.reset();
      }
  }

  void start(std::size_t i) {
    Task& t = tasks_[i];
    t.started = Clock::now();
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
          int err = errno;
          finish(t, classify_errno(err), fmt::format("connect: {}", std::strerror(err)));
          return;
        }
        add(t.fd.get(), EPOLLOUT | EPOLLIN | EPOLLERR, i);
        break;
      }
      case Protocol::udp: {
        sockaddr_storage ss;
        socklen_t len = make_sockaddr(t.result.target, t.result.probe.port, ss);
        if (::connect(t.fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) {
          int err = errno;
          finish(t, classify_errno(err), fmt::format("connect: {}", std::strerror(err)));
          return;
        }
        add(t.fd.get(), EPOLLIN | EPOLLERR, i);
        send_udp(t);
        break;
      }
    }
  }

  void send_echo(Task& t) {
    std::uint8_t pkt[64] = {};
    pkt[0] = t.family == Family::ipv4 ? ICMP_ECHO : ICMP6_ECHO_REQUEST;
    std::uint16_t id = htons(static_cast<std::uint16_t>(t.echo >> 16));
    std::uint16_t seq = htons(static_cast<std::uint16_t>(t.echo & 0xffff));
    std::memcpy(pkt + 4, &id, 2);
    std::memcpy(pkt + 6, &seq, 2);
    std::memcpy(pkt + 8, "nslab-probe", 11);
    if (t.family == Family::ipv4) {
      std::uint16_t sum = checksum(pkt, sizeof pkt);
      std::memcpy(pkt + 2, &sum, 2);
    }  // ICMPv6: the kernel fills in the checksum
    sockaddr_storage ss;
    socklen_t len = make_sockaddr(t.result.target, 0, ss);
    if (::sendto(t.icmp_fd, pkt, sizeof pkt, 0, reinterpret_cast<sockaddr*>(&ss), len) < 0) {
      int err = errno;
      if (err == EAGAIN || err == ENOBUFS) return;  // sent again at the next retry tick
      finish(t, classify_errno(err), fmt::format("send: {}", std::strerror(err)));
    }
  }

  void send_udp(Task& t) {
    std::string msg = t.result.probe.payload.empty() ? std::string("nslab-probe") : t.result.probe.payload;
    if (::send(t.fd.get(), msg.data(), msg.size(), MSG_DONTWAIT) < 0) {
      int err = errno;
      if (err == EAGAIN || err == ENOBUFS) return;
      if (err == ECONNREFUSED || err == EHOSTUNREACH || err == ENETUNREACH) {
        on_error_queue(t, err);
        return;
      }
      finish(t, classify_errno(err), fmt::format("send: {}", std::strerror(err)));
    }
  }

  // Reads the ICMP error that made a tcp/udp socket fail, if one is queued.
  void on_error_queue(Task& t, int fallback_errno) { on_error_queue(t, t.fd.get(), fallback_errno); }

  void on_error_queue(Task& t, int fd, int fallback_errno) {
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
        auto* ee = reinterpret_cast<sock_extended_err*>(CMSG_DATA(c));
        if (ee->ee_origin == SO_EE_ORIGIN_ICMP || ee->ee_origin == SO_EE_ORIGIN_ICMP6) {
          Family f = ee->ee_origin == SO_EE_ORIGIN_ICMP ? Family::ipv4 : Family::ipv6;
          std::string from;
          auto* off = reinterpret_cast<sockaddr_storage*>(SO_EE_OFFENDER(ee));
          if (off->ss_family == AF_INET || off->ss_family == AF_INET6)
            from = " from " + from_sockaddr(*off).str();
          finish(t, classify_icmp(f, ee->ee_type, ee->ee_code),
                 icmp_name(f, ee->ee_type, ee->ee_code) + from);
          return;
        }
        if (ee->ee_origin == SO_EE_ORIGIN_LOCAL) {
          finish(t, classify_errno(static_cast<int>(ee->ee_errno)),
                 fmt::format("local error: {}", std::strerror(static_cast<int>(ee->ee_errno))));
          return;
        }
      }
    }
    std::string what = fallback_errno == ECONNREFUSED && t.result.probe.protocol == Protocol::tcp
                           ? "connection refused (TCP RST)"
                           : std::strerror(fallback_errno);
    finish(t, classify_errno(fallback_errno), what);
  }

  void on_socket(std::uint64_t tag, std::uint32_t events) {
    auto i = static_cast<std::size_t>(tag & 0xffffffffu);
    auto attempt = static_cast<std::size_t>(tag >> 32);
    Task& t = tasks_[i];
    if (t.done) return;
    if (t.result.probe.protocol == Protocol::tcp && !t.connected) {
      int fd = attempt == 0 ? t.fd.get() : t.spare[attempt - 1].get();
      if (fd < 0) return;
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        on_error_queue(t, fd, err);
        return;
      }
      if (!(events & EPOLLOUT)) return;
      if (attempt > 0) {
        // A later attempt connected first (an earlier SYN was lost): it
        // becomes the probe's socket.
        ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, t.fd.get(), nullptr);
        t.fd = std::move(t.spare[attempt - 1]);
      }
      drop_spares(t);
      t.connected = true;
      t.result.verdict = Verdict::reachable;
      // A built-in service greets at once; give it a moment unless asked to wait.
      bool wait = t.result.probe.want_served_by || !t.result.probe.payload.empty();
      t.grace_until = wait ? deadline_ : std::min(deadline_, Clock::now() + std::chrono::milliseconds(50));
      modify(t.fd.get(), EPOLLIN | EPOLLRDHUP, i);
    }
    if (events & EPOLLERR) {
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(t.fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
      if (t.connected) {
        finish(t, Verdict::reachable, fmt::format("connected, then {}", std::strerror(err ? err : EIO)));
        return;
      }
      on_error_queue(t, err ? err : EIO);
      return;
    }
    char buf[4096];
    for (;;) {
      ssize_t r = ::recv(t.fd.get(), buf, sizeof buf, MSG_DONTWAIT);
      if (r > 0) {
        t.inbox.append(buf, static_cast<std::size_t>(r));
        continue;
      }
      if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
        int err = errno;
        if (t.result.probe.protocol == Protocol::udp) {
          on_error_queue(t, err);
          return;
        }
      }
      if (r == 0 && t.result.probe.protocol == Protocol::tcp) {
        complete_stream(t, /*eof=*/true);
        return;
      }
      break;
    }
    complete_stream(t, false);
  }

  static void read_greeting(Task& t, const std::string& line) {
    auto space = line.find(' ');
    t.result.served_by = line.substr(0, space);
    if (space != std::string::npos) t.result.seen_from = line.substr(space + 1);
  }

  // tcp/udp: decide once the greeting (and the echoed payload) has arrived.
  void complete_stream(Task& t, bool eof) {
    auto nl = t.inbox.find('\n');
    if (t.result.probe.protocol == Protocol::udp) {
      if (t.inbox.empty()) return;
      read_greeting(t, t.inbox.substr(0, nl));
      finish(t, Verdict::reachable,
             fmt::format("UDP reply from {}, who saw {}", t.result.served_by, t.result.seen_from));
      return;
    }
    if (nl != std::string::npos && !t.greeting_done) {
      t.greeting_done = true;
      read_greeting(t, t.inbox.substr(0, nl));
      t.inbox.erase(0, nl + 1);
      if (!t.result.probe.payload.empty())
        (void)::send(t.fd.get(), t.result.probe.payload.data(), t.result.probe.payload.size(),
                     MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    const auto& payload = t.result.probe.payload;
    bool echoed = !payload.empty() && t.inbox.size() >= payload.size();
    if (t.greeting_done && (payload.empty() || echoed)) {
      std::string d = fmt::format("connected; served by {}, who saw {}", t.result.served_by, t.result.seen_from);
      if (!payload.empty()) d += t.inbox.compare(0, payload.size(), payload) == 0
                                     ? "; payload echoed" : "; payload came back altered";
      finish(t, Verdict::reachable, d);
    } else if (eof) {
      finish(t, Verdict::reachable, "connected; closed by the server without a greeting");
    }
  }

  void drain_raw(int fd, Family family, bool dispatch) {
    std::uint8_t buf[2048];
    for (;;) {
      sockaddr_storage from{};
      socklen_t flen = sizeof from;
      ssize_t r = ::recvfrom(fd, buf, sizeof buf, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from), &flen);
      if (r < 0) return;
      if (dispatch) on_icmp(family, buf, static_cast<std::size_t>(r), from_sockaddr(from));
    }
  }

  void on_icmp(Family f, const std::uint8_t* p, std::size_t n, const IpAddress& sender) {
    if (f == Family::ipv4) {  // raw IPv4 sockets deliver the IP header too
      if (n < sizeof(iphdr)) return;
      std::size_t ihl = static_cast<std::size_t>(p[0] & 0x0f) * 4;
      if (n < ihl + 8) return;
      p += ihl;
      n -= ihl;
    }
    if (n < 8) return;
    int type = p[0], code = p[1];
    bool reply = f == Family::ipv4 ? type == ICMP_ECHOREPLY : type == ICMP6_ECHO_REPLY;
    const std::uint8_t* echo = p;  // where id and seq are
    if (!reply) {
      // An error quotes the packet that caused it: IP header, then our echo.
      const std::uint8_t* inner = p + 8;
      std::size_t left = n - 8;
      if (f == Family::ipv4) {
        if (left < sizeof(iphdr)) return;
        std::size_t ihl = static_cast<std::size_t>(inner[0] & 0x0f) * 4;
        if (left < ihl + 8 || inner[9] != IPPROTO_ICMP) return;
        echo = inner + ihl;
        if (echo[0] != ICMP_ECHO) return;
      } else {
        if (left < 40 + 8 || inner[6] != IPPROTO_ICMPV6) return;
        echo = inner + 40;
        if (echo[0] != ICMP6_ECHO_REQUEST) return;
      }
    }
    std::uint16_t id, seq;
    std::memcpy(&id, echo + 4, 2);
    std::memcpy(&seq, echo + 6, 2);
    std::uint32_t key = static_cast<std::uint32_t>(ntohs(id)) << 16 | ntohs(seq);
    auto it = echo_index_.find(key);
    if (it == echo_index_.end()) return;
    Task& t = tasks_[it->second];
    if (reply)
      finish(t, Verdict::reachable, fmt::format("echo reply from {}", sender.str()));
    else
      finish(t, classify_icmp(f, type, code), fmt::format("{} from {}", icmp_name(f, type, code), sender.str()));
  }

  void retry_tick() {
    std::vector<std::size_t> tcp;
    for (std::size_t i = 0; i < tasks_.size(); ++i) {
      Task& t = tasks_[i];
      if (t.done) continue;
      if (t.result.probe.protocol == Protocol::icmp) send_echo(t);
      else if (t.result.probe.protocol == Protocol::udp) send_udp(t);
      else if (!t.connected && t.spare.size() < kMaxSpareConnects) tcp.push_back(i);
    }
    if (!tcp.empty()) retry_connects(tcp);
  }

  // The kernel resends a SYN only after a second; within a probe's timeout a
  // lost SYN would read as "blocked". So a TCP probe opens a new connection
  // at each retry tick (a few at most), and the first to answer decides.
  static constexpr std::size_t kMaxSpareConnects = 3;

  void retry_connects(const std::vector<std::size_t>& which) {
    std::vector<Node*> nodes;
    for (auto i : which)
      if (std::find(nodes.begin(), nodes.end(), tasks_[i].src) == nodes.end()) nodes.push_back(tasks_[i].src);
    lab_.run_in_each(nodes, [&](Node& n) {
      for (auto i : which)
        if (tasks_[i].src == &n) tasks_[i].spare.push_back(stream_socket(tasks_[i], n));
    });
    for (auto i : which) {
      Task& t = tasks_[i];
      Fd& fd = t.spare.back();
      sockaddr_storage ss;
      socklen_t len = make_sockaddr(t.result.target, t.result.probe.port, ss);
      if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0 && errno != EINPROGRESS) {
        fd.reset();
        continue;
      }
      add(fd.get(), EPOLLOUT | EPOLLIN | EPOLLERR, (static_cast<std::uint64_t>(t.spare.size()) << 32) | i);
    }
  }

  void expire() {
    for (auto& t : tasks_) {
      if (t.done) continue;
      if (t.connected)
        finish(t, Verdict::reachable,
               t.greeting_done ? fmt::format("connected; served by {}; payload not echoed", t.result.served_by)
                               : std::string("connected; no greeting (not an nslab service)"));
      else
        finish(t, Verdict::blocked,
               fmt::format("no answer within {} ms", options_.timeout.count()));
    }
  }

  void loop() {
    epoll_event events[256];
    auto next_retry = start_ + options_.retry_interval;
    while (finished_ < tasks_.size()) {
      auto now = Clock::now();
      // Connected tcp probes whose grace period ended are done.
      if (now >= next_grace_check_) {
        for (auto& t : tasks_)
          if (!t.done && t.connected && now >= t.grace_until)
            finish(t, Verdict::reachable,
                   t.greeting_done ? fmt::format("connected; served by {}", t.result.served_by)
                                   : std::string("connected"));
        next_grace_check_ = now + std::chrono::milliseconds(10);
      }
      if (finished_ >= tasks_.size()) break;
      if (now >= deadline_) {
        // Answers that arrived before the deadline count, even when this
        // thread was not scheduled to read them in time (a loaded machine).
        poll_once(events, 0);
        expire();
        break;
      }
      if (now >= next_retry) {
        retry_tick();
        next_retry = now + options_.retry_interval;
      }
      auto wake = std::min({deadline_, next_retry, next_grace_check_});
      int ms = static_cast<int>(
          std::chrono::duration_cast<std::chrono::milliseconds>(wake - now).count()) + 1;
      poll_once(events, std::max(ms, 0));
    }
  }

  void poll_once(epoll_event* events, int timeout_ms) {
    int n = ::epoll_wait(epoll_.get(), events, 256, timeout_ms);
    if (n < 0 && errno != EINTR) throw SystemError("epoll_wait in probes", errno);
    for (int k = 0; k < n; ++k) {
      std::uint64_t tag = events[k].data.u64;
      if (tag & kRawTag) {
        int fd = static_cast<int>(tag & ~kRawTag);
        drain_raw(fd, raw_.at(fd), true);
      } else {
        on_socket(static_cast<std::size_t>(tag), events[k].events);
      }
    }
  }

  Lab& lab_;
  ProbeOptions options_;
  std::vector<Task> tasks_;
  std::unordered_map<int, Family> raw_;  // shared raw sockets (owned by nodes)
  std::unordered_map<std::uint32_t, std::size_t> echo_index_;
  Fd epoll_;
  std::size_t finished_ = 0;
  Clock::time_point start_, deadline_, next_grace_check_{};
};

}  // namespace

std::vector<ProbeResult> run_probes(Lab& lab, const std::vector<Probe>& probes,
                                    const ProbeOptions& options) {
  if (probes.empty()) return {};
  return Engine(lab, probes, options).run();
}

}  // namespace nslab
