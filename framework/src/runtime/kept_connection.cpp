// Kept connections (nslab/connection.h): opened by the probe engine, which
// hands over the socket of a reachable probe instead of closing it, then
// exchanges over it judged as a real client would see them.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <fmt/format.h>

#include "nslab/connection.h"
#include "nslab/error.h"
#include "nslab/lab.h"
#include "probe_engine.h"
#include "probe_engine_impl.h"
#include "sys.h"
#include "verdict_rules.h"

namespace nslab {

namespace {

using Clock = std::chrono::steady_clock;

// The most a TCP exchange reads before it decides that what came back is
// not the payload: the payload, and a greeting line the service may still
// have had on its way when the connection was opened.
constexpr std::size_t kSlack = probe_engine::kMaxGreeting;

int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

// Waits for `events` on fd until the deadline; the revents (0 at the deadline).
short wait_for(int fd, short events, Clock::time_point deadline) {
  pollfd p{fd, events, 0};
  int n = sys::retry([&] { return ::poll(&p, 1, remaining_ms(deadline)); });
  if (n < 0) throw SystemError("cannot poll a kept connection", errno);
  return n == 0 ? short{0} : p.revents;
}

// The verdict for an error the socket reports (SO_ERROR or a failed call),
// with the ICMP message behind it when one is queued (IP_RECVERR is set on
// every probe socket).
void judge_error(ProbeResult& r, int fd, int err, std::string_view when) {
  if (auto q = probe_engine::read_queued_error(fd); q && q->icmp) {
    auto v = detail::verdict_of_network_errno(q->err);
    if (!v)
      if (auto mapped = detail::icmp_errno(q->family, q->type, q->code)) v = detail::verdict_of_network_errno(*mapped);
    if (v) {
      r.verdict = *v;
      r.detail = fmt::format("{}{} {}", detail::icmp_name(q->family, q->type, q->code), q->from, when);
      if (q->sender) r.icmp = ProbeResult::Icmp{*q->sender, q->type, q->code};
      return;
    }
  }
  if (err == ECONNRESET || err == EPIPE) {
    r.verdict = Verdict::refused;
    r.detail = fmt::format("connection reset (TCP RST) {}", when);
    return;
  }
  if (err == ETIMEDOUT) {
    r.verdict = Verdict::blocked;
    r.detail = fmt::format("the kernel gave up retransmitting (ETIMEDOUT) {}", when);
    return;
  }
  auto v = detail::verdict_of_network_errno(err);
  if (!v) v = detail::verdict_of_local_errno(err);
  if (!v) throw SystemError(fmt::format("kept connection {}", r.probe.str()), err);
  r.verdict = *v;
  // An established TCP socket learns an ICMP error as its errno only (the
  // kernel queues no message with the sender), and a reset there is
  // ECONNRESET: these errnos name the ICMP error's kind.
  std::string_view kind = err == ECONNREFUSED   ? "ICMP port unreachable "
                          : err == EHOSTUNREACH ? "ICMP host unreachable or prohibited "
                          : err == ENETUNREACH  ? "ICMP net unreachable or prohibited "
                                                : "";
  r.detail = fmt::format("{}({}) {}", kind, std::strerror(err), when);
}

int socket_error(int fd) {
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return errno;
  return err;
}

// What the payload came back as: it whole (reachable, echoed), or else the
// bytes that came instead (reachable, altered: payload_problem says so).
void judge_echo(ProbeResult& r, const std::string& got, std::string_view how) {
  const std::string& payload = r.probe.payload;
  r.verdict = Verdict::reachable;
  if (got.find(payload) != std::string::npos) {
    r.echo = payload;
    r.detail = fmt::format("payload echoed over the kept connection{}", how);
  } else {
    r.echo = got.substr(0, payload.size() + 1);
    r.detail = fmt::format("an answer over the kept connection{}, but not the payload", how);
  }
}

}  // namespace

std::uint16_t Connection::local_port() const {
  if (!fd_) return 0;
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&ss), &len) != 0) return 0;
  return ntohs(ss.ss_family == AF_INET ? reinterpret_cast<const sockaddr_in&>(ss).sin_port
                                       : reinterpret_cast<const sockaddr_in6&>(ss).sin6_port);
}

ProbeResult Connection::exchange(std::string_view payload, std::chrono::milliseconds timeout) {
  if (!fd_)
    throw Error(fmt::format("connection {} is not open ({})", opened_.probe.str(),
                            opened_.verdict == Verdict::reachable
                                ? std::string("closed")
                                : fmt::format("opening it was {}: {}", to_string(opened_.verdict), opened_.detail)));
  ++exchanges_;
  ProbeResult r;
  r.probe = opened_.probe;
  r.probe.payload =
      payload.empty() ? fmt::format("nslab kept connection, exchange {}\n", exchanges_) : std::string(payload);
  r.probe.size.reset();
  r.target = opened_.target;
  r.served_by = opened_.served_by;
  r.seen_from = opened_.seen_from;
  auto start = Clock::now();
  auto deadline = start + timeout;
  r = r.probe.protocol == Protocol::udp ? exchange_udp(std::move(r), deadline) : exchange_tcp(std::move(r), deadline);
  r.rtt = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);
  return r;
}

ProbeResult Connection::exchange_tcp(ProbeResult r, Clock::time_point deadline) {
  const int fd = fd_.get();
  // What came while the connection was idle: a reset, an ICMP error, the
  // end of the peer's stream, or a late greeting (dropped).
  if (int err = socket_error(fd)) {
    judge_error(r, fd, err, "while the connection was idle");
    return r;
  }
  bool peer_closed = false;
  char buf[65536];
  for (;;) {
    ssize_t n = sys::retry([&] { return ::recv(fd, buf, sizeof buf, MSG_DONTWAIT); });
    if (n > 0) continue;
    if (n == 0) peer_closed = true;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      judge_error(r, fd, errno, "while the connection was idle");
      return r;
    }
    break;
  }
  const std::string& payload = r.probe.payload;
  std::size_t sent = 0;
  std::string got;
  for (;;) {
    if (sent < payload.size()) {
      ssize_t n = sys::retry(
          [&] { return ::send(fd, payload.data() + sent, payload.size() - sent, MSG_DONTWAIT | MSG_NOSIGNAL); });
      if (n > 0) sent += static_cast<std::size_t>(n);
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
        judge_error(r, fd, errno, "when sending");
        return r;
      }
    }
    short ev = wait_for(fd, static_cast<short>(POLLIN | (sent < payload.size() ? POLLOUT : 0)), deadline);
    if (ev == 0) break;
    if (ev & POLLERR) {
      int err = socket_error(fd);
      judge_error(r, fd, err ? err : EIO, "over the kept connection");
      return r;
    }
    if (!(ev & (POLLIN | POLLHUP))) continue;
    ssize_t n = sys::retry([&] { return ::recv(fd, buf, sizeof buf, MSG_DONTWAIT); });
    if (n > 0) {
      got.append(buf, static_cast<std::size_t>(n));
      if (got.find(payload) != std::string::npos || got.size() >= payload.size() + kSlack) {
        judge_echo(r, got, "");
        return r;
      }
      continue;
    }
    if (n == 0) {
      if (!got.empty()) {
        judge_echo(r, got, ", then the peer closed it");
        return r;
      }
      r.verdict = Verdict::refused;
      r.detail = "the peer closed the connection (FIN) without answering";
      return r;
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      judge_error(r, fd, errno, "over the kept connection");
      return r;
    }
  }
  if (!got.empty()) {
    judge_echo(r, got, "");
    return r;
  }
  // Silence: the evidence is what the kernel still holds unacknowledged.
  tcp_info info{};
  socklen_t len = sizeof info;
  std::string queue;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) == 0)
    queue =
        fmt::format(" ({} segment{} unacknowledged, {} retransmission{})", info.tcpi_unacked,
                    info.tcpi_unacked == 1 ? "" : "s", info.tcpi_retransmits, info.tcpi_retransmits == 1 ? "" : "s");
  r.verdict = Verdict::blocked;
  r.detail = fmt::format("no answer over the kept connection{}{}", queue,
                         peer_closed ? "; the peer had closed its side (FIN)" : "");
  return r;
}

// A UDP flow: the same connected socket (so the same 5-tuple and conntrack
// entry) sends again.
ProbeResult Connection::exchange_udp(ProbeResult r, Clock::time_point deadline) {
  const int fd = fd_.get();
  char buf[65536];
  // Late answers and errors about earlier datagrams are not this exchange's.
  while (sys::retry([&] { return ::recv(fd, buf, sizeof buf, MSG_DONTWAIT); }) >= 0) {}
  while (probe_engine::read_queued_error(fd)) {}
  (void)socket_error(fd);
  if (sys::retry([&] { return ::send(fd, r.probe.payload.data(), r.probe.payload.size(), MSG_NOSIGNAL); }) < 0) {
    judge_error(r, fd, errno, "when sending");
    return r;
  }
  for (;;) {
    short ev = wait_for(fd, POLLIN, deadline);
    if (ev == 0) break;
    ssize_t n = sys::retry([&] { return ::recv(fd, buf, sizeof buf, MSG_DONTWAIT); });
    if (n >= 0) {
      judge_echo(r, std::string(buf, static_cast<std::size_t>(n)), "");
      return r;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) continue;
    judge_error(r, fd, errno, "over the kept flow");
    return r;
  }
  r.verdict = Verdict::blocked;
  r.detail = "no answer over the kept flow";
  return r;
}

Connection Lab::open_connection(const Probe& probe, const ProbeOptions& options) {
  if (probe.protocol == Protocol::icmp)
    throw ConfigError(fmt::format("probe \"{}\": a kept connection needs a tcp or udp probe", probe.str()));
  std::lock_guard lock(probe_mutex_);
  std::vector<Fd> kept(1);
  probe_engine::Engine engine(*this, {probe}, options);
  engine.keep_sockets(&kept);
  auto results = engine.run();
  return Connection(std::move(kept.front()), std::move(results.front()));
}

}  // namespace nslab
