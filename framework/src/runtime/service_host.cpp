#include "service_host.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <linux/sockios.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <fmt/format.h>

#include "nslab/error.h"
#include "nslab/node.h"
#include "own_connections.h"
#include "service_http.h"
#include "sys.h"

namespace nslab {

namespace {

// "NODE CLIENT-ADDRESS\n": who answered, and whom it saw asking (which shows
// a NAT rewrite). IPv4 clients of the dual-stack socket appear v4-mapped.
std::string greeting(const std::string& node, const sockaddr_storage& peer) {
  char text[INET6_ADDRSTRLEN] = "?";
  if (peer.ss_family == AF_INET6) {
    const auto& a = reinterpret_cast<const sockaddr_in6&>(peer).sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(&a))
      inet_ntop(AF_INET, &a.s6_addr[12], text, sizeof text);
    else
      inet_ntop(AF_INET6, &a, text, sizeof text);
  } else if (peer.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(peer).sin_addr, text, sizeof text);
  }
  return node + " " + text + "\n";
}

}  // namespace

ServiceHost::ServiceHost() {
  epoll_ = Fd(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_) throw SystemError("cannot create epoll for services", errno);
  wake_ = Fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake_) throw SystemError("cannot create eventfd for services", errno);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = wake_.get();
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, wake_.get(), &ev);
  thread_ = std::thread([this] { loop(); });
}

ServiceHost::~ServiceHost() {
  std::uint64_t one = 1;
  (void)::write(wake_.get(), &one, sizeof one);
  if (thread_.joinable()) thread_.join();
}

bool ServiceHost::idle() const {
  if (handling_ || pending_ > 0) return false;
  std::lock_guard lock(mutex_);
  for (const auto& [fd, c] : conns_) {
    if (c.listening && c.protocol == Protocol::tcp) {
      // A listener's accept queue: connections the reactor has not taken.
      tcp_info info{};
      socklen_t len = sizeof info;
      if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0 || info.tcpi_unacked > 0) return false;
      continue;
    }
    int unread = 0;
    if (::ioctl(fd, SIOCINQ, &unread) != 0 || unread > 0) return false;
  }
  return !handling_;
}

std::vector<unsigned long> ServiceHost::socket_inodes() const {
  std::vector<unsigned long> out;
  std::lock_guard lock(mutex_);
  for (const auto& [fd, c] : conns_) {
    struct stat st {};
    if (::fstat(fd, &st) == 0) out.push_back(static_cast<unsigned long>(st.st_ino));
  }
  return out;
}

void ServiceHost::add(const Node& node, Protocol protocol, std::uint16_t port) {
  if (protocol == Protocol::icmp)
    throw ConfigError(fmt::format("node \"{}\": icmp is answered by the kernel, not a service", node.name()));
  std::string what = fmt::format("{}/{} service on \"{}\"", to_string(protocol), port, node.name());
  int type = protocol == Protocol::tcp ? SOCK_STREAM : SOCK_DGRAM;
  Fd fd = node.socket(AF_INET6, type | SOCK_NONBLOCK, 0);
  int zero = 0, one = 1;
  ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (protocol == Protocol::udp) sys::set_option(fd.get(), IPPROTO_IPV6, IPV6_RECVPKTINFO, one, what);
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  addr.sin6_port = htons(port);
  addr.sin6_addr = in6addr_any;
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    throw SystemError(fmt::format("cannot bind {}", what), errno);
  if (protocol == Protocol::tcp && ::listen(fd.get(), 4096) != 0)
    throw SystemError(fmt::format("cannot listen on {}", what), errno);
  watch(Conn{std::move(fd), node.name(), true, protocol}, EPOLLIN);
}

void ServiceHost::watch(Conn conn, std::uint32_t events) {
  int fd = conn.fd.get();
  {
    std::lock_guard lock(mutex_);
    conns_.emplace(fd, std::move(conn));
  }
  epoll_event ev{};
  ev.events = events;
  ev.data.fd = fd;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) {
    std::lock_guard lock(mutex_);
    conns_.erase(fd);
    throw SystemError("cannot watch service socket", errno);
  }
}

void ServiceHost::loop() {
  epoll_event events[64];
  for (;;) {
    handling_ = true;
    int wait_ms = greet_due();
    handling_ = false;
    int n = ::epoll_wait(epoll_.get(), events, 64, wait_ms);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    handling_ = true;
    for (int i = 0; i < n; ++i) {
      if (events[i].data.fd == wake_.get()) {
        handling_ = false;
        return;
      }
      handle(events[i].data.fd, events[i].events);
    }
    handling_ = false;
  }
}

void ServiceHost::handle(int fd, std::uint32_t events) {
  std::string node;
  bool listening = false;
  Protocol protocol = Protocol::tcp;
  {
    std::lock_guard lock(mutex_);
    auto it = conns_.find(fd);
    if (it == conns_.end()) return;
    node = it->second.node;
    listening = it->second.listening;
    protocol = it->second.protocol;
  }
  char buf[65536];
  if (protocol == Protocol::udp) {
    for (;;) {
      // The reply leaves from the address the request was sent to: a client's
      // connected socket takes answers only from there, and a node with several
      // addresses on one subnet would otherwise answer from any of them.
      sockaddr_storage peer{};
      iovec iov{buf, sizeof buf};
      alignas(cmsghdr) char ctrl[CMSG_SPACE(sizeof(in6_pktinfo))];
      msghdr msg{};
      msg.msg_name = &peer;
      msg.msg_namelen = sizeof peer;
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = ctrl;
      msg.msg_controllen = sizeof ctrl;
      ssize_t r = ::recvmsg(fd, &msg, MSG_DONTWAIT);
      if (r < 0) return;
      std::optional<in6_addr> to;
      for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
        if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
          in6_pktinfo info;
          std::memcpy(&info, CMSG_DATA(c), sizeof info);
          to = info.ipi6_addr;
        }
      std::string reply = greeting(node, peer) + std::string(buf, static_cast<std::size_t>(r));
      iovec out{reply.data(), reply.size()};
      msghdr answer{};
      answer.msg_name = &peer;
      answer.msg_namelen = msg.msg_namelen;
      answer.msg_iov = &out;
      answer.msg_iovlen = 1;
      alignas(cmsghdr) char src[CMSG_SPACE(sizeof(in6_pktinfo))] = {};
      if (to) {
        answer.msg_control = src;
        answer.msg_controllen = sizeof src;
        cmsghdr* c = CMSG_FIRSTHDR(&answer);
        c->cmsg_level = IPPROTO_IPV6;
        c->cmsg_type = IPV6_PKTINFO;
        c->cmsg_len = CMSG_LEN(sizeof(in6_pktinfo));
        in6_pktinfo info{};
        info.ipi6_addr = *to;
        std::memcpy(CMSG_DATA(c), &info, sizeof info);
      }
      (void)::sendmsg(fd, &answer, MSG_DONTWAIT);
    }
  }
  if (listening) {
    for (;;) {
      sockaddr_storage peer{};
      socklen_t len = sizeof peer;
      int c = ::accept4(fd, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (c < 0) return;
      // The greeting waits for the client's first bytes (an HTTP request
      // gets an HTTP answer instead), or for kGreetingDelay; one of nslab's
      // own probes, which sends nothing first, is greeted at once.
      Conn conn{Fd(c), node, false, Protocol::tcp};
      conn.greeted = false;
      conn.greeting = greeting(node, peer);
      conn.greet_now = detail::is_own_connection(c, peer);
      conn.greet_at = Clock::now() + (conn.greet_now ? std::chrono::milliseconds(0) : kGreetingDelay);
      conn.events = EPOLLIN | EPOLLRDHUP;
      auto at = conn.greet_at;
      try {
        watch(std::move(conn), EPOLLIN | EPOLLRDHUP);
      } catch (const Error&) {
        continue;
      }
      ++pending_;  // held until greeted
      greetings_.emplace_back(at, c);
      Conn* added = nullptr;
      {
        std::lock_guard lock(mutex_);
        added = &conns_.at(c);
      }
      echo(c, *added, 0);  // what the client has sent already
    }
  }
  Conn* conn = nullptr;
  {
    std::lock_guard lock(mutex_);
    auto it = conns_.find(fd);
    if (it == conns_.end()) return;
    conn = &it->second;  // entries are erased only by this thread
  }
  echo(fd, *conn, events);
}

int ServiceHost::greet_due() {
  auto now = Clock::now();
  while (!greetings_.empty()) {
    auto [at, fd] = greetings_.front();
    if (at > now) return static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(at - now).count());
    greetings_.pop_front();
    Conn* conn = nullptr;
    {
      std::lock_guard lock(mutex_);
      auto it = conns_.find(fd);
      if (it != conns_.end() && !it->second.greeted && it->second.greet_at == at) conn = &it->second;
    }
    if (!conn) continue;  // greeted already, or closed (its fd maybe reused since)
    conn->greet_now = true;
    echo(fd, *conn, 0);
  }
  return -1;
}

// The greeting, or the HTTP response, once the client's first bytes (or
// its silence, or its end) tell which it wants.
void ServiceHost::decide_greeting(Conn& conn, bool ended) {
  auto kind = service_http::classify(conn.request);
  if (kind == service_http::Request::complete) {
    conn.pending = service_http::response(conn.request, conn.greeting);
    conn.http = true;
  } else if (kind == service_http::Request::raw || ended || (conn.greet_now && kind == service_http::Request::maybe)) {
    conn.pending = conn.greeting + conn.request;
  } else {
    return;  // an HTTP request line whose headers are still coming, or a prefix of one
  }
  conn.greeted = true;
  conn.request.clear();
  conn.request.shrink_to_fit();
}

// An accepted connection: greet (or answer HTTP), then echo what arrives, in
// order and whole. What the peer is slow to take waits in `pending`; closes
// on EOF (once all is echoed) or an error.
void ServiceHost::echo(int fd, Conn& conn, std::uint32_t events) {
  char buf[65536];
  bool had_pending = !conn.pending.empty() || !conn.greeted;
  bool close_it = (events & EPOLLERR) != 0;
  bool eof = false;
  while (!close_it && (conn.http || conn.pending.size() + conn.request.size() < kMaxPending)) {
    ssize_t r = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (r > 0) {
      if (!conn.http) (conn.greeted ? conn.pending : conn.request).append(buf, static_cast<std::size_t>(r));
      continue;
    }
    if (r == 0)
      eof = true;
    else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
      close_it = true;
    break;
  }
  if (!conn.greeted) decide_greeting(conn, eof || close_it);
  while (!close_it && !conn.pending.empty()) {
    ssize_t n = ::send(fd, conn.pending.data(), conn.pending.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      conn.pending.erase(0, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) close_it = true;
    break;
  }
  // After the HTTP response: our end shut, what the client still sends is
  // read and dropped until it closes (a close with unread bytes would send
  // it a reset, which can cut the response short).
  if (conn.http && conn.pending.empty() && !conn.shut && !close_it) {
    ::shutdown(fd, SHUT_WR);
    conn.shut = true;
  }
  if (eof && conn.pending.empty()) close_it = true;
  bool has_pending = !close_it && (!conn.pending.empty() || !conn.greeted);
  if (had_pending != has_pending) {
    if (has_pending)
      ++pending_;
    else
      --pending_;
  }
  if (close_it) {
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
    std::lock_guard lock(mutex_);
    conns_.erase(fd);
    return;
  }
  bool full = !conn.http && conn.pending.size() + conn.request.size() >= kMaxPending;
  std::uint32_t want = (eof || full ? 0u : static_cast<std::uint32_t>(EPOLLIN | EPOLLRDHUP)) |
                       (conn.pending.empty() ? 0u : static_cast<std::uint32_t>(EPOLLOUT));
  if (want != conn.events) {
    epoll_event ev{};
    ev.events = want;
    ev.data.fd = fd;
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &ev);
    conn.events = want;
  }
}

}  // namespace nslab
