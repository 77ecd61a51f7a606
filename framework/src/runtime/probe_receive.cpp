// The probe engine's receiving side: answers and ICMP errors read and
// classified, greetings and echoes read, probes finished at their timeout
// (see probe_engine.cpp).
#include <arpa/inet.h>
#include <linux/errqueue.h>
#include <linux/icmp.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fmt/format.h>

#include "icmp_codec.h"
#include "nslab/error.h"
#include "nslab/lab.h"
#include "probe_engine_impl.h"
#include "service_host.h"
#include "sys.h"
#include "verdict_rules.h"

namespace nslab::probe_engine {

IpAddress from_sockaddr(const sockaddr_storage& ss) {
  if (ss.ss_family == AF_INET)
    return IpAddress::from_bytes(Family::ipv4, &reinterpret_cast<const sockaddr_in&>(ss).sin_addr);
  return IpAddress::from_bytes(Family::ipv6, &reinterpret_cast<const sockaddr_in6&>(ss).sin6_addr);
}

// Decides a tcp/udp socket that failed, from the ICMP error queued for it
// (with IP_RECVERR the kernel keeps the message's type, code and sender).
void Engine::on_error_queue(Task& t, int fd, int fallback_errno) {
  if (!read_error_queue(t, fd)) local_error(t, fallback_errno, "connect");
}

// True when an error was queued and decided the probe. A connecting TCP
// socket can have one queued before the kernel fails the connection: an
// ICMP error that arrives while connect() still holds the socket (the
// whole path runs in one softirq) only fails it at the next SYN, a second
// later; a real client then reports it, nslab reads it at once.
std::optional<QueuedError> read_queued_error(int fd) {
  char ctrl[512];
  char data[64];
  iovec iov{data, sizeof data};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = ctrl;
  msg.msg_controllen = sizeof ctrl;
  if (sys::retry([&] { return ::recvmsg(fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT); }) < 0) return std::nullopt;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    bool v4 = c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR;
    bool v6 = c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR;
    if (!v4 && !v6) continue;
    if (c->cmsg_len < CMSG_LEN(sizeof(sock_extended_err))) continue;
    sock_extended_err ee;
    std::memcpy(&ee, CMSG_DATA(c), sizeof ee);
    QueuedError q;
    q.err = static_cast<int>(ee.ee_errno);
    if (ee.ee_origin == SO_EE_ORIGIN_ICMP || ee.ee_origin == SO_EE_ORIGIN_ICMP6) {
      q.icmp = true;
      q.family = ee.ee_origin == SO_EE_ORIGIN_ICMP ? Family::ipv4 : Family::ipv6;
      q.type = ee.ee_type;
      q.code = ee.ee_code;
      q.info = ee.ee_info;
      sockaddr_storage off{};
      std::size_t off_len = c->cmsg_len - CMSG_LEN(sizeof ee);
      std::memcpy(&off, CMSG_DATA(c) + sizeof ee, std::min(sizeof off, off_len));
      if (off.ss_family == AF_INET || off.ss_family == AF_INET6) {
        q.sender = from_sockaddr(off);
        q.from = " from " + q.sender->str();
      }
      return q;
    }
    if (ee.ee_origin == SO_EE_ORIGIN_LOCAL) {
      q.info = ee.ee_info;  // EMSGSIZE: the MTU the source knows for the path
      return q;
    }
  }
  return std::nullopt;
}

bool Engine::read_error_queue(Task& t, int fd) {
  auto q = read_queued_error(fd);
  if (!q) return false;
  if (!q->icmp) {
    if (q->err == EMSGSIZE)
      too_big_here(t, static_cast<int>(q->info));
    else
      local_error(t, q->err, "local error");
    return true;
  }
  Family f = q->family;
  // Too big for the path: the kernel has learned the path's MTU and
  // fragments the next datagram, as it does for any UDP client that sends
  // again. Only its fate is the verdict.
  bool too_big =
      f == Family::ipv4 ? q->type == ICMP_DEST_UNREACH && q->code == ICMP_FRAG_NEEDED : q->type == ICMP6_PACKET_TOO_BIG;
  std::string mtu = too_big && q->info ? fmt::format(" (mtu {})", q->info) : std::string();
  if (too_big && t.result.probe.protocol == Protocol::udp && !t.result.probe.df && t.too_big < kMaxTooBig) {
    ++t.too_big;
    t.too_big_from = detail::icmp_name(f, q->type, q->code) + mtu + q->from;
    send_udp(t);
    return true;
  }
  // The errno the kernel derived is what any client of this socket sees.
  auto v = verdict_of_network_errno(q->err);
  if (!v)
    if (auto mapped = icmp_errno(f, q->type, q->code)) v = verdict_of_network_errno(*mapped);
  if (!v) throw SystemError(fmt::format("probe {}: unexpected ICMP error", t.result.probe.str()), q->err);
  if (q->sender) t.result.icmp = ProbeResult::Icmp{*q->sender, q->type, q->code};
  finish(t, *v, detail::icmp_name(f, q->type, q->code) + mtu + q->from);
  return true;
}

// A built-in service's greeting, "NODE ADDRESS": a node of the lab and an address.
bool Engine::looks_like_greeting(std::string_view line) const {
  auto space = line.find(' ');
  return space != std::string_view::npos && lab_.find_node(line.substr(0, space)) &&
         IpAddress::parse(line.substr(space + 1));
}

bool Engine::is_greeting(std::string_view line, Task& t) const {
  if (!looks_like_greeting(line)) return false;
  auto space = line.find(' ');
  t.result.served_by = std::string(line.substr(0, space));
  t.result.seen_from = std::string(line.substr(space + 1));
  return true;
}

Engine::EchoReading Engine::read_echo(std::string_view got, const std::string& payload) const {
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

void Engine::on_tcp_connected(Task& t, std::size_t i, std::size_t attempt) {
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
  // A built-in service greets a client that sends nothing first after
  // ServiceHost::kGreetingDelay (sooner, it might be an HTTP client); give it
  // that and a moment more unless asked to wait.
  bool wait = p.want_served_by || !p.payload.empty();
  t.grace_until =
      wait ? t.deadline
           : std::min(t.deadline, Clock::now() + ServiceHost::kGreetingDelay + std::chrono::milliseconds(50));
  wake_at(t.grace_until);
  // The payload goes out at once: a built-in service greets first and then
  // echoes, any other echo server just echoes.
  bool all_out = send_payload(t);
  modify(t.fd.get(), EPOLLIN | EPOLLRDHUP | (all_out ? 0u : static_cast<std::uint32_t>(EPOLLOUT)), i);
}

void Engine::on_socket(std::uint64_t tag, std::uint32_t events) {
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
    ssize_t r = sys::retry([&] { return ::recv(t.fd.get(), buf_.data(), buf_.size(), MSG_DONTWAIT); });
    if (r > 0) {
      t.inbox.append(buf_.data(), static_cast<std::size_t>(r));
      continue;
    }
    if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
      complete_stream(t, /*eof=*/true);
      return;
    }
    break;
  }
  complete_stream(t, false);
}

void Engine::read_datagrams(Task& t) {
  for (;;) {
    ssize_t r = sys::retry([&] { return ::recv(t.fd.get(), buf_.data(), buf_.size(), MSG_DONTWAIT | MSG_TRUNC); });
    if (r < 0) {
      int err = errno;
      if (err == EAGAIN || err == EWOULDBLOCK) return;
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
void Engine::complete_stream(Task& t, bool eof) {
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
  if (t.greeting_decided && !t.result.served_by.empty())
    finish(t, Verdict::reachable, who);
  else if (t.greeting_decided)
    finish(t, Verdict::reachable, "connected; no greeting (not an nslab service)");
  else if (eof)
    finish(t, Verdict::reachable, "connected; closed by the server without a greeting");
}

void Engine::drain_raw(int fd, Family family, bool dispatch) {
  for (;;) {
    sockaddr_storage from{};
    socklen_t flen = sizeof from;
    ssize_t r = sys::retry([&] {
      return ::recvfrom(fd, buf_.data(), buf_.size(), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from), &flen);
    });
    if (r < 0) return;
    if (dispatch)
      on_icmp(family, reinterpret_cast<const std::uint8_t*>(buf_.data()), static_cast<std::size_t>(r),
              from_sockaddr(from));
  }
}

void Engine::on_icmp(Family f, const std::uint8_t* p, std::size_t n, const IpAddress& sender) {
  auto m = detail::parse_icmp(f, p, n);
  if (!m) return;
  auto it = echo_index_.find(m->key);
  if (it == echo_index_.end()) return;
  Task& t = tasks_[it->second];
  const bool decides = !t.done;  // an answer counts once (finish)
  if (m->reply && t.result.probe.broadcast) return on_broadcast_reply(t, sender);
  if (m->reply) {
    if (decides) t.result.icmp = ProbeResult::Icmp{sender, m->type, m->code};
    const auto& kind = t.result.probe.icmp_type;
    std::string d =
        kind && !kind->echo()
            ? fmt::format("ICMP {} from {}", IcmpType{f, static_cast<std::uint8_t>(m->type), 0}.str(), sender.str())
            : fmt::format("echo reply from {}", sender.str());
    if (t.too_big > 0) d += fmt::format(" (to a resend in fragments after {})", t.too_big_from);
    finish(t, Verdict::reachable, d);
    return;
  }
  auto err = icmp_errno(f, m->type, m->code);
  if (!err) return;  // source quench, redirect: the kernel ignores them too
  std::string name = detail::icmp_name(f, m->type, m->code);
  if (m->mtu) name += fmt::format(" (mtu {})", m->mtu);
  // Too big for the path, without df: the kernel has learned the path's
  // MTU and fragments the next request, as `ping -s` without `-M do` goes
  // on after its first "Frag needed". With df, it is the verdict.
  if (*err == EMSGSIZE && !t.result.probe.df && t.too_big < kMaxTooBig) {
    ++t.too_big;
    t.too_big_from = fmt::format("{} from {}", name, sender.str());
    send_echo(t);
    return;
  }
  if (decides) t.result.icmp = ProbeResult::Icmp{sender, m->type, m->code};
  finish(t, verdict_of_network_errno(*err).value_or(Verdict::unreachable),
         fmt::format("{} from {}", name, sender.str()));
}

void Engine::expire(Task& t) {
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

}  // namespace nslab::probe_engine
