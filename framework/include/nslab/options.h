// How a lab is built and how its probes run: settings a scenario file sets
// and a C++ test passes, kept apart from the runtime that uses them.
#pragma once

#include <chrono>
#include <cstddef>

namespace nslab {

struct LabOptions {
  // How long build() waits for every link to be operationally up.
  std::chrono::milliseconds link_up_timeout{3000};
  // Every interface gets a fixed MAC, and every address on a segment of at
  // most static_neighbour_limit addresses is entered as a permanent ARP/NDP
  // entry in its neighbours. The kernel's dynamic neighbour table is shared by
  // all namespaces on the machine and overflows at about 1,024 entries
  // (gc_thresh3, settable only in the initial namespace): without this, a
  // 50-node matrix, or a neighbouring test under `ctest -j`, loses packets.
  // Set false to see real ARP/NDP on the wire.
  bool static_neighbours = true;
  std::size_t static_neighbour_limit = 256;
};

struct ProbeOptions {
  std::chrono::milliseconds timeout{1000};
  // ICMP and UDP requests are sent again at this interval until answered
  // (a TCP probe tries a new connection). An interval no shorter than the
  // timeout makes every probe single-shot.
  std::chrono::milliseconds retry_interval{200};
  // Decide `blocked` as soon as the lab has gone still (nothing moves on any
  // link, nothing waits in a queue, no service holds a request) instead of
  // waiting out the timeout. Labs where that is not evidence (rate limits,
  // heavy loss, processes or user sockets in nodes, rules that depend on
  // time) always wait; README, "blocked before the timeout".
  bool decide_when_still = true;
};

}  // namespace nslab
