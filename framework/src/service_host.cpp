#include "nslab/service_host.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <fmt/format.h>

#include "nslab/error.h"
#include "nslab/node.h"
#include "nslab/sys.h"

namespace nslab {

namespace {

// "NODE CLIENT-ADDRESS\n": who answered, and whom it saw asking (which shows
// a NAT rewrite). IPv4 clients of the dual-stack socket appear v4-mapped.
std::string greeting(const std::string& node, const sockaddr_storage& peer) {
  char text[INET6_ADDRSTRLEN] = "?";
  if (peer.ss_family == AF_INET6) {
    const auto& a = reinterpret_cast<const sockaddr_in6&>(peer).sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(&a)) inet_ntop(AF_INET, &a.s6_addr[12], text, sizeof text);
    else inet_ntop(AF_INET6, &a, text, sizeof text);
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

std::size_t ServiceHost::size() const {
  std::lock_guard lock(mutex_);
  return services_;
}

void ServiceHost::add(const Node& node, Protocol protocol, std::uint16_t port) {
  if (protocol == Protocol::icmp)
    throw ConfigError(fmt::format("node \"{}\": icmp is answered by the kernel, not a service",
                                  node.name()));
  std::string what = fmt::format("{}/{} service on \"{}\"", to_string(protocol), port, node.name());
  int type = protocol == Protocol::tcp ? SOCK_STREAM : SOCK_DGRAM;
  Fd fd = node.socket(AF_INET6, type | SOCK_NONBLOCK, 0);
  int zero = 0, one = 1;
  ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  addr.sin6_port = htons(port);
  addr.sin6_addr = in6addr_any;
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    throw SystemError(fmt::format("cannot bind {}", what), errno);
  if (protocol == Protocol::tcp && ::listen(fd.get(), 4096) != 0)
    throw SystemError(fmt::format("cannot listen on {}", what), errno);
  watch(Conn{std::move(fd), node.name(), true, protocol}, EPOLLIN);
  std::lock_guard lock(mutex_);
  ++services_;
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
    int n = ::epoll_wait(epoll_.get(), events, 64, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    for (int i = 0; i < n; ++i) {
      if (events[i].data.fd == wake_.get()) return;
      handle(events[i].data.fd, events[i].events);
    }
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
      sockaddr_storage peer{};
      socklen_t len = sizeof peer;
      ssize_t r = ::recvfrom(fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&peer), &len);
      if (r < 0) return;
      std::string reply = greeting(node, peer) + std::string(buf, static_cast<std::size_t>(r));
      ::sendto(fd, reply.data(), reply.size(), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&peer), len);
    }
  }
  if (listening) {
    for (;;) {
      sockaddr_storage peer{};
      socklen_t len = sizeof peer;
      int c = ::accept4(fd, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (c < 0) return;
      std::string hello = greeting(node, peer);
      (void)::send(c, hello.data(), hello.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      try {
        watch(Conn{Fd(c), node, false, Protocol::tcp}, EPOLLIN | EPOLLRDHUP);
      } catch (const Error&) {
      }
    }
  }
  // An accepted connection: echo what arrives, close on EOF or error.
  bool close_it = (events & (EPOLLERR | EPOLLHUP)) != 0;
  for (;;) {
    ssize_t r = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (r > 0) {
      (void)::send(fd, buf, static_cast<std::size_t>(r), MSG_NOSIGNAL | MSG_DONTWAIT);
      continue;
    }
    if (r == 0 || (errno != EAGAIN && errno != EINTR)) close_it = true;
    break;
  }
  if (close_it) {
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
    std::lock_guard lock(mutex_);
    conns_.erase(fd);
  }
}

}  // namespace nslab
