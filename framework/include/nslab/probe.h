// Probes: ICMP echo, TCP connect and UDP request/response between lab nodes,
// and what came of them. Lab::probe runs them (through sockets made inside
// the source node, never a forked `ping`), all of a batch at once.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "nslab/ip_address.h"
#include "nslab/values.h"
#include "nslab/verdict.h"

namespace nslab {

struct Probe {
  // The longest UDP payload: a built-in service answers with its greeting
  // ("NODE ADDRESS\n") and the echo in one datagram, which IPv4 caps at
  // 65507 bytes of payload (IPv6 at 65527).
  static constexpr std::size_t kMaxUdpPayload = 65000;

  std::string from;  // node name
  std::string to;    // "node", "node:interface" or an address
  Protocol protocol = Protocol::icmp;
  std::uint16_t port = 0;        // tcp/udp
  std::optional<Family> family;  // default: IPv4 where the target has it
  std::string payload;           // tcp/udp only: sent, and expected echoed back
  bool want_served_by = false;   // tcp: wait for the service's greeting

  std::string str() const;  // "red -> blue icmp", "external -> host:eth0 tcp/8080"
};

struct ProbeResult {
  Probe probe;
  IpAddress target;
  Verdict verdict = Verdict::blocked;
  std::string served_by;  // the node a built-in service answered from
  std::string seen_from;  // the client address that service saw
  // tcp/udp with a payload: the bytes that came back after the greeting (up
  // to the payload's length), or empty when nothing came back.
  std::optional<std::string> echo;
  std::chrono::microseconds rtt{0};
  std::string detail;  // the evidence: "echo reply from 192.168.1.2", ...

  // Empty when the probe sent no payload or got it back unchanged; else what
  // came back instead. A payload that is not echoed intact fails its
  // expectation even when the verdict is `reachable`.
  std::optional<std::string> payload_problem() const;
};

}  // namespace nslab
