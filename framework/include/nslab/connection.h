// Connection: a TCP connection (or a UDP flow) opened by a probe and kept
// open, so that what a firewall does to an established flow can be tested
// later, after the lab has changed (a rule reload, a conntrack flush).
// Lab::open_connection makes one; a scenario writes `keep: NAME` on a probe
// and `{ kept: NAME, verdict: ... }` later (README, Kept connections).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "nslab/fd.h"
#include "nslab/probe.h"

namespace nslab {

// Move-only. It owns the client's socket, which was made inside the source
// node and holds that node's namespace: close it, or let it go, before the
// lab it came from (a LabFixture closes its own first).
class Connection {
 public:
  Connection() = default;
  Connection(Connection&&) noexcept = default;
  Connection& operator=(Connection&&) noexcept = default;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() = default;  // closes the socket (Fd), never throws

  // How opening went: the probe's own result (verdict, evidence, served_by).
  const ProbeResult& opened() const noexcept { return opened_; }
  // True while the connection is held: it was reachable when opened, and
  // close() has not been called. An exchange that failed leaves it held.
  bool is_open() const noexcept { return fd_.valid(); }
  // The client's source port (what `conntrack -L` shows as sport), 0 when
  // not open.
  std::uint16_t local_port() const;

  // Sends `payload` (empty: a line of its own, "nslab kept connection,
  // exchange N") over the connection and waits up to `timeout` for it to come
  // back, as a client that types into an open `nc` would see it: the echo
  // back is `reachable`; silence `blocked`; a TCP RST (now, or one that came
  // while the connection was idle) `refused`; an ICMP error the verdict
  // Lab::probe gives it (port unreachable `refused`, host unreachable or
  // prohibited `unreachable`). The peer closing without answering is
  // `refused` ("the peer closed the connection (FIN)"). Throws Error when the
  // connection is not open, SystemError for a local failure that is not
  // about the network.
  ProbeResult exchange(std::string_view payload = {}, std::chrono::milliseconds timeout = std::chrono::seconds(1));

  // Closes now (the kernel sends FIN, or RST if bytes were left unread).
  void close() noexcept { fd_.reset(); }

 private:
  friend class Lab;
  Connection(Fd fd, ProbeResult opened) : fd_(std::move(fd)), opened_(std::move(opened)) {}

  ProbeResult exchange_tcp(ProbeResult r, std::chrono::steady_clock::time_point deadline);
  ProbeResult exchange_udp(ProbeResult r, std::chrono::steady_clock::time_point deadline);

  Fd fd_;
  ProbeResult opened_;
  unsigned exchanges_ = 0;
};

}  // namespace nslab
