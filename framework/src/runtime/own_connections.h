// The TCP connections that nslab's own probes are opening in this process,
// so that a built-in service greets them at once.
//
// A built-in service holds its greeting for ServiceHost::kGreetingDelay in
// case the client speaks HTTP first (curl); a probe sends nothing first, so
// without this it would wait that long on every connection. A connection is
// known by what both ends see alike: its destination address and port with
// its source port (which a source NAT such as MASQUERADE leaves alone), or
// its source address and port (which a DNAT port forward leaves alone).
// Through both kinds of NAT at once the service does not find it and greets
// after the delay, as for any client.
#pragma once

#include <compare>
#include <cstdint>

#include <sys/socket.h>

#include "nslab/ip_address.h"

namespace nslab::detail {

struct OwnConnection {
  IpAddress address;       // the destination's, or (port 0) the source's
  std::uint16_t port = 0;  // the destination port; 0: `address` is the source's
  std::uint16_t sport = 0;
  friend auto operator<=>(const OwnConnection&, const OwnConnection&) = default;
};

// Registered for as long as it lives; the probe's socket is bound (so its
// source port is known) before it connects, so the service cannot accept
// the connection before it is registered.
class OwnConnectionMark {
 public:
  explicit OwnConnectionMark(const OwnConnection& c);
  ~OwnConnectionMark();
  OwnConnectionMark(OwnConnectionMark&& other) noexcept;
  OwnConnectionMark& operator=(OwnConnectionMark&&) = delete;
  OwnConnectionMark(const OwnConnectionMark&) = delete;
  OwnConnectionMark& operator=(const OwnConnectionMark&) = delete;

 private:
  OwnConnection c_;
  bool live_ = true;
};

// The accepted socket `fd` is one of nslab's own probes (its local address
// and port, and the peer's port, match a registered connection).
bool is_own_connection(int fd, const sockaddr_storage& peer);

}  // namespace nslab::detail
