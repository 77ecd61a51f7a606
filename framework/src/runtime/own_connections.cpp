#include "own_connections.h"

#include <netinet/in.h>

#include <mutex>
#include <set>

namespace nslab::detail {

namespace {

std::mutex g_mutex;
std::multiset<OwnConnection> g_connections;  // two labs may use one address

// An address and port as a socket shows them; an IPv4 peer of a dual-stack
// socket appears v4-mapped and is read as IPv4.
bool read(const sockaddr_storage& ss, IpAddress& address, std::uint16_t& port) {
  if (ss.ss_family == AF_INET) {
    const auto& in = reinterpret_cast<const sockaddr_in&>(ss);
    address = IpAddress::from_bytes(Family::ipv4, &in.sin_addr);
    port = ntohs(in.sin_port);
    return true;
  }
  if (ss.ss_family == AF_INET6) {
    const auto& in6 = reinterpret_cast<const sockaddr_in6&>(ss);
    address = IN6_IS_ADDR_V4MAPPED(&in6.sin6_addr) ? IpAddress::from_bytes(Family::ipv4, &in6.sin6_addr.s6_addr[12])
                                                   : IpAddress::from_bytes(Family::ipv6, &in6.sin6_addr);
    port = ntohs(in6.sin6_port);
    return true;
  }
  return false;
}

}  // namespace

OwnConnectionMark::OwnConnectionMark(const OwnConnection& c) : c_(c) {
  std::lock_guard lock(g_mutex);
  g_connections.insert(c_);
}

OwnConnectionMark::OwnConnectionMark(OwnConnectionMark&& other) noexcept : c_(other.c_) {
  other.live_ = false;
}

OwnConnectionMark::~OwnConnectionMark() {
  if (!live_) return;
  std::lock_guard lock(g_mutex);
  if (auto it = g_connections.find(c_); it != g_connections.end()) g_connections.erase(it);
}

bool is_own_connection(int fd, const sockaddr_storage& peer) {
  sockaddr_storage local{};
  socklen_t len = sizeof local;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) != 0) return false;
  OwnConnection by_destination, by_source;
  if (!read(local, by_destination.address, by_destination.port) || !read(peer, by_source.address, by_destination.sport))
    return false;
  by_source.sport = by_destination.sport;
  std::lock_guard lock(g_mutex);
  return g_connections.count(by_destination) > 0 || g_connections.count(by_source) > 0;
}

}  // namespace nslab::detail
