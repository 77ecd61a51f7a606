// Probes: ICMP echo, TCP connect and UDP request/response between lab nodes,
// through sockets created inside the source node (never a forked `ping`).
//
// A batch of probes runs concurrently in one event loop with one deadline, so
// a batch with blocked cells costs about one timeout, not one per probe.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "nslab/ip_address.h"
#include "nslab/topology.h"
#include "nslab/verdict.h"

namespace nslab {

class Lab;

struct Probe {
  std::string from;  // node name
  std::string to;    // "node", "node:interface" or an address
  Protocol protocol = Protocol::icmp;
  std::uint16_t port = 0;         // tcp/udp
  std::optional<Family> family;   // default: IPv4 where the target has it
  std::string payload;            // tcp/udp: sent, and expected echoed back
  bool want_served_by = false;    // tcp: wait for the service's greeting

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
  std::string detail;     // the evidence: "echo reply from 192.168.1.2", ...

  // Empty when the probe sent no payload or got it back unchanged; else what
  // came back instead. A payload that is not echoed intact fails its
  // expectation even when the verdict is `reachable`.
  std::optional<std::string> payload_problem() const;
};

struct ProbeOptions {
  std::chrono::milliseconds timeout{1000};
  // ICMP and UDP requests are sent again at this interval until answered
  // (a TCP probe tries a new connection). An interval no shorter than the
  // timeout makes every probe single-shot.
  std::chrono::milliseconds retry_interval{200};
  // Decide `blocked` as soon as the lab has gone still (nothing moves on any
  // link, nothing waits in a queue, no service holds a request) instead of
  // waiting out the timeout. Labs where that is not evidence (impairments,
  // running programs, rules that depend on time) always wait.
  bool decide_when_still = true;
};

// Runs probes concurrently; results are in the order of `probes`. TCP and UDP
// probes hold sockets (a TCP probe up to four, and the built-in service one
// per accepted connection): the number in flight is bounded by the process's
// descriptor limit, and the rest wait their turn, each with its own timeout.
// An error that is not about the network (EADDRNOTAVAIL when local ports run
// out, EMFILE) throws SystemError naming the probe: it is never a verdict.
std::vector<ProbeResult> run_probes(Lab& lab, const std::vector<Probe>& probes,
                                    const ProbeOptions& options = {});

}  // namespace nslab
