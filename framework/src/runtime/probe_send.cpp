// The probe engine's sending side: sockets made inside the source nodes,
// connects, and each protocol's requests and resends (see probe_engine.cpp).
#include <arpa/inet.h>
#include <linux/icmp.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fmt/format.h>

#include "icmp_codec.h"
#include "node_internals.h"
#include "nslab/error.h"
#include "nslab/lab.h"
#include "probe_engine_impl.h"
#include "sys.h"
#include "verdict_rules.h"

namespace nslab::probe_engine {

namespace {

// Echo keys are unique in this process: a node's raw socket sees only
// replies addressed to that node, and each key (id, seq) names one probe.
std::atomic<std::uint32_t> g_echo_counter{0x1000};

}  // namespace

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

Fd Engine::stream_socket(Task& t, const Node& n) {
  int type = t.result.probe.protocol == Protocol::tcp ? SOCK_STREAM : SOCK_DGRAM;
  Fd fd = sys::socket(to_af(t.family), type | SOCK_NONBLOCK, 0, fmt::format("probe socket in \"{}\"", n.name()));
  // ICMP errors for the socket come with their type, code and sender.
  int one = 1;
  if (t.family == Family::ipv4)
    sys::set_option(fd.get(), SOL_IP, IP_RECVERR, one, "IP_RECVERR on a probe socket");
  else
    sys::set_option(fd.get(), SOL_IPV6, IPV6_RECVERR, one, "IPV6_RECVERR on a probe socket");
  if (int ttl = t.result.probe.ttl) {
    if (t.family == Family::ipv4)
      sys::set_option(fd.get(), SOL_IP, IP_TTL, ttl, "IP_TTL on a probe socket");
    else
      sys::set_option(fd.get(), SOL_IPV6, IPV6_UNICAST_HOPS, ttl, "IPV6_UNICAST_HOPS on a probe socket");
  }
  if (auto tos = t.result.probe.tos) {
    int v = *tos;
    if (t.family == Family::ipv4)
      sys::set_option(fd.get(), SOL_IP, IP_TOS, v, "IP_TOS on a probe socket");
    else
      sys::set_option(fd.get(), SOL_IPV6, IPV6_TCLASS, v, "IPV6_TCLASS on a probe socket");
  }
  if (type == SOCK_DGRAM && t.result.probe.df) {
    set_dont_fragment(fd.get(), t.family, "a probe socket");
  } else if (type == SOCK_DGRAM) {
    // As a UDP client does by default: a datagram larger than the path
    // MTU is fragmented once the kernel has learned that MTU.
    static_assert(IP_PMTUDISC_WANT == IPV6_PMTUDISC_WANT);  // one value for both families
    int want = IP_PMTUDISC_WANT;
    int zero = 0;
    if (t.family == Family::ipv4) {
      sys::set_option(fd.get(), SOL_IP, IP_MTU_DISCOVER, want, "IP_MTU_DISCOVER on a probe socket");
    } else {
      sys::set_option(fd.get(), SOL_IPV6, IPV6_MTU_DISCOVER, want, "IPV6_MTU_DISCOVER on a probe socket");
      sys::set_option(fd.get(), SOL_IPV6, IPV6_DONTFRAG, zero, "IPV6_DONTFRAG on a probe socket");
    }
  }
  bind_source(fd.get(), t.bind, t.result.probe.sport, t.family, t.result.probe.str());
  if (type == SOCK_STREAM) register_own(t, fd.get());
  return fd;
}

// A TCP probe's socket is bound before it connects, so that its source port
// is known, and registered, before the service can accept the connection
// (own_connections.h). Binding is only for that: when the kernel has no
// port to give at bind time, the socket stays unbound and connect() reports
// what it would for any client (EADDRNOTAVAIL: no local port is left).
void Engine::register_own(Task& t, int fd) {
  sockaddr_storage local{};
  socklen_t len = sizeof local;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) != 0)
    throw SystemError(fmt::format("probe {}: getsockname", t.result.probe.str()), errno);
  auto port_of = [&] {
    return ntohs(local.ss_family == AF_INET ? reinterpret_cast<const sockaddr_in&>(local).sin_port
                                            : reinterpret_cast<const sockaddr_in6&>(local).sin6_port);
  };
  if (port_of() == 0) {
    if (::bind(fd, reinterpret_cast<sockaddr*>(&local), len) != 0) return;
    len = sizeof local;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) != 0) return;
  }
  std::uint16_t sport = port_of();
  t.own.emplace_back(detail::OwnConnection{t.result.target, t.result.probe.port, sport});
  // The source address connect() will pick, from the same route lookup
  // made for a UDP socket (it sends nothing). Only a key: if the kernel picks
  // another address for the TCP socket, the service greets after its delay.
  std::optional<IpAddress> source = t.bind;
  if (!source) {
    sockaddr_storage to;
    socklen_t to_len = make_sockaddr(t.result.target, t.result.probe.port, to);
    Fd udp(::socket(local.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_storage from{};
    socklen_t from_len = sizeof from;
    if (udp && ::connect(udp.get(), reinterpret_cast<sockaddr*>(&to), to_len) == 0 &&
        ::getsockname(udp.get(), reinterpret_cast<sockaddr*>(&from), &from_len) == 0)
      source = from_sockaddr(from);
  }
  if (source) t.own.emplace_back(detail::OwnConnection{*source, 0, sport});
}

// The source address and port a probe asks for, bound as `nc -s ADDR -p
// PORT` binds them. With a fixed port, SO_REUSEADDR lets several probes (or
// a scan's sockets, each to another port) share it: the kernel still
// refuses two connections with one 4-tuple.
void bind_source(int fd, const std::optional<IpAddress>& address, std::uint16_t port, Family family,
                 const std::string& what) {
  if (!address && port == 0) return;
  if (port) {
    int one = 1;
    sys::set_option(fd, SOL_SOCKET, SO_REUSEADDR, one, "SO_REUSEADDR on a probe socket");
  }
  sockaddr_storage ss;
  IpAddress any = family == Family::ipv4 ? *IpAddress::parse("0.0.0.0") : *IpAddress::parse("::");
  socklen_t len = make_sockaddr(address ? *address : any, port, ss);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0)
    throw SystemError(
        fmt::format("probe {}: cannot bind its source {}", what,
                    port ? fmt::format("{} port {}", address ? address->str() : any.str(), port) : address->str()),
        errno);
}

Fd Engine::raw_socket(Family f, const Node& n) {
  std::string what = fmt::format("raw ICMP socket in \"{}\"", n.name());
  int buf = 4 << 20;
  if (f == Family::ipv4) {
    Fd fd = sys::socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK, IPPROTO_ICMP, what);
    icmp_filter filt{};
    filt.data = ~((1u << ICMP_ECHOREPLY) | (1u << ICMP_DEST_UNREACH) | (1u << ICMP_TIME_EXCEEDED) |
                  (1u << ICMP_PARAMETERPROB) | (1u << ICMP_TIMESTAMPREPLY));
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

// `ping -M do`: never fragmented, here or on the way; too big for the
// path is an error (EMSGSIZE at the source, an ICMP error from a router).
void Engine::set_dont_fragment(int fd, Family f, const std::string& what) {
  static_assert(IP_PMTUDISC_DO == IPV6_PMTUDISC_DO);
  int dont = IP_PMTUDISC_DO;
  int one = 1;
  if (f == Family::ipv4) {
    sys::set_option(fd, SOL_IP, IP_MTU_DISCOVER, dont, "IP_MTU_DISCOVER on " + what);
  } else {
    sys::set_option(fd, SOL_IPV6, IPV6_MTU_DISCOVER, dont, "IPV6_MTU_DISCOVER on " + what);
    sys::set_option(fd, SOL_IPV6, IPV6_DONTFRAG, one, "IPV6_DONTFRAG on " + what);
  }
}

// The source's own OUTPUT chain refused to send (EPERM). A DROP there is
// silence, a REJECT answers with an ICMP error that the kernel delivers
// back to the source at once: wait a moment for it, so that a REJECT reads
// `refused` at the source as it does on the way (ping reports it so).
void Engine::own_rules_refused(Task& t) {
  if (t.refused_by_own_rules) return;
  t.refused_by_own_rules = true;
  t.grace_until = std::min(t.deadline, Clock::now() + kOwnRejectGrace);
  wake_at(t.grace_until);
}

// A local errno from connect or send: a verdict, or an error of the run.
void Engine::local_error(Task& t, int err, std::string_view op) {
  auto v = verdict_of_local_errno(err);
  if (!v) throw SystemError(fmt::format("probe {}: {} failed", t.result.probe.str(), op), err);
  std::string what = err == ECONNREFUSED && t.result.probe.protocol == Protocol::tcp
                         ? std::string("connection refused (TCP RST)")
                         : fmt::format("{}: {}", op, std::strerror(err));
  if (auto cause = detail::local_cause(err); !cause.empty()) what += fmt::format(" ({})", cause);
  finish(t, *v, what);
}

void Engine::start(std::size_t i) {
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
      if (!unconnected(t) && ::connect(t.fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) {
        local_error(t, errno, "connect");
        return;
      }
      add(t.fd.get(), EPOLLIN | EPOLLERR, i);
      send_udp(t);
      break;
    }
  }
}

void Engine::send_echo(Task& t) {
  sent_something();
  // `ping -s` counts the data; the 8-byte ICMP header comes on top.
  const auto& kind = t.result.probe.icmp_type;
  auto pkt = kind && !(kind->echo() && kind->code == 0)
                 ? detail::make_icmp_message(*kind, t.echo, t.result.target)
                 : detail::make_echo_request(t.family, t.echo, t.result.probe.size ? *t.result.probe.size + 8 : 64);
  sockaddr_storage ss;
  socklen_t len = make_sockaddr(t.result.target, 0, ss);
  // The node's raw socket is shared: a source address goes with each
  // request (IP_PKTINFO, as `ping -I ADDRESS` binds it).
  iovec iov{pkt.data(), pkt.size()};
  msghdr msg{};
  msg.msg_name = &ss;
  msg.msg_namelen = len;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char ctrl[CMSG_SPACE(sizeof(in6_pktinfo)) + 2 * CMSG_SPACE(sizeof(int))] = {};
  msg.msg_control = ctrl;
  msg.msg_controllen = sizeof ctrl;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  std::size_t used = 0;
  // An int option of this request only (the raw socket is shared).
  const bool v4 = t.family == Family::ipv4;
  auto put_int = [&](int level, int type, int value) {
    c->cmsg_level = level;
    c->cmsg_type = type;
    c->cmsg_len = CMSG_LEN(sizeof value);
    std::memcpy(CMSG_DATA(c), &value, sizeof value);
    used += CMSG_SPACE(sizeof value);
    c = CMSG_NXTHDR(&msg, c);
  };
  if (int ttl = t.result.probe.ttl) put_int(v4 ? SOL_IP : SOL_IPV6, v4 ? IP_TTL : IPV6_HOPLIMIT, ttl);  // hop limit
  if (auto tos = t.result.probe.tos) put_int(v4 ? SOL_IP : SOL_IPV6, v4 ? IP_TOS : IPV6_TCLASS, *tos);  // traffic class
  if (t.bind) {
    if (t.family == Family::ipv4) {
      in_pktinfo pi{};
      std::memcpy(&pi.ipi_spec_dst, t.bind->data(), 4);
      c->cmsg_level = SOL_IP;
      c->cmsg_type = IP_PKTINFO;
      c->cmsg_len = CMSG_LEN(sizeof pi);
      std::memcpy(CMSG_DATA(c), &pi, sizeof pi);
      used += CMSG_SPACE(sizeof pi);
    } else {
      in6_pktinfo pi{};
      std::memcpy(&pi.ipi6_addr, t.bind->data(), 16);
      c->cmsg_level = SOL_IPV6;
      c->cmsg_type = IPV6_PKTINFO;
      c->cmsg_len = CMSG_LEN(sizeof pi);
      std::memcpy(CMSG_DATA(c), &pi, sizeof pi);
      used += CMSG_SPACE(sizeof pi);
    }
  }
  msg.msg_controllen = used;
  if (used == 0) msg.msg_control = nullptr;
  if (sys::retry([&] { return ::sendmsg(t.icmp_fd, &msg, 0); }) >= 0) {
    ++t.attempts;
  } else {
    int err = errno;
    if (err == EAGAIN || err == ENOBUFS) return;  // sent again at the next retry tick
    if (err == EPERM) return own_rules_refused(t);
    if (err == EMSGSIZE) {
      // The raw socket is not connected (it would then see nothing from a
      // router): a connected UDP socket in the node asks the same route.
      int mtu = 0;
      lab_.run_in_each({t.src}, [&](Node&) {
        Fd udp(::socket(to_af(t.family), SOCK_DGRAM | SOCK_CLOEXEC, 0));
        sockaddr_storage to;
        socklen_t to_len = make_sockaddr(t.result.target, 9, to);
        if (udp && ::connect(udp.get(), reinterpret_cast<sockaddr*>(&to), to_len) == 0)
          mtu = path_mtu(udp.get(), t.family);
      });
      return too_big_here(t, mtu);
    }
    local_error(t, err, "send");
  }
}

// The MTU a connected socket's route has (the path's, once learned); 0
// when the kernel does not say.
int Engine::path_mtu(int fd, Family f) {
  int mtu = 0;
  socklen_t len = sizeof mtu;
  if (::getsockopt(fd, f == Family::ipv4 ? SOL_IP : SOL_IPV6, f == Family::ipv4 ? IP_MTU : IPV6_MTU, &mtu, &len) != 0)
    return 0;
  return mtu;
}

// EMSGSIZE at the source: df, and larger than the MTU the source knows
// for the path (its own link's, or one a router reported before), as
// `ping -M do` says "local error: message too long, mtu=1400".
void Engine::too_big_here(Task& t, int mtu) {
  if (mtu <= 0) return local_error(t, EMSGSIZE, "send");
  finish(t, Verdict::unreachable,
         fmt::format("send: {} (mtu {} toward {}; df forbids fragmenting)", std::strerror(EMSGSIZE), mtu,
                     t.result.target.str()));
}

void Engine::send_udp(Task& t) {
  sent_something();
  static const std::string kDefault = "nslab-probe";
  const std::string& msg = t.result.probe.payload.empty() ? kDefault : t.result.probe.payload;
  sockaddr_storage to;
  socklen_t to_len = make_sockaddr(t.result.target, t.result.probe.port, to);
  const bool by_address = unconnected(t);
  if (sys::retry([&] {
        return by_address ? ::sendto(t.fd.get(), msg.data(), msg.size(), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&to),
                                     to_len)
                          : ::send(t.fd.get(), msg.data(), msg.size(), MSG_DONTWAIT);
      }) >= 0) {
    ++t.attempts;
  } else {
    int err = errno;
    if (err == EAGAIN || err == ENOBUFS) return;
    if (err == EPERM) return own_rules_refused(t);
    if (err == ECONNREFUSED || err == EHOSTUNREACH || err == ENETUNREACH) {
      on_error_queue(t, t.fd.get(), err);  // an ICMP error from an earlier send
      return;
    }
    if (err == EMSGSIZE && read_error_queue(t, t.fd.get())) return;  // a router's "too big", with its MTU
    if (err == EMSGSIZE) return too_big_here(t, path_mtu(t.fd.get(), t.family));
    local_error(t, err, "send");
  }
}

// tcp: sends what is left of the payload; true when all of it is out.
bool Engine::send_payload(Task& t) {
  const std::string& p = t.result.probe.payload;
  while (t.sent < p.size()) {
    ssize_t n = sys::retry(
        [&] { return ::send(t.fd.get(), p.data() + t.sent, p.size() - t.sent, MSG_NOSIGNAL | MSG_DONTWAIT); });
    if (n < 0) return false;  // full (EAGAIN), or the connection failed: EPOLLERR tells
    t.sent += static_cast<std::size_t>(n);
  }
  return true;
}

void Engine::retry_connects(const std::vector<std::size_t>& which) {
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

}  // namespace nslab::probe_engine
