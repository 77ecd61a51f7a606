// Evidence that a lab has gone still: no packet moves on any of its links,
// none waits in the machine's per-CPU backlogs or in a neighbour resolution,
// and no built-in service holds an unread request. A probe still unanswered
// then has no answer to come: the probe engine reads it as `blocked` at once
// instead of waiting out its timeout.
//
// The evidence holds only where nothing outside the kernel and nslab's own
// services can answer, and where no timer can change a packet's fate: a lab
// with running programs, or with rules that depend on time or chance (limit,
// numgen, quota, NFQUEUE...), is never called still. Shaped links are: a
// rate limit or a delay holds packets in a qdisc, whose queue is part of
// every look; random loss is met with attempts (see attempts_needed).
#pragma once

#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "nslab/ip_address.h"
#include "netlink.h"

namespace nslab {
class Lab;
}

namespace nslab::detail {

class Stillness {
 public:
  using Clock = std::chrono::steady_clock;

  // Why stillness can never be evidence in this lab; empty when it can.
  static std::optional<std::string> blocker(const Lab& lab);

  // Notes the neighbour resolutions already under way (their timers may
  // fire at any moment).
  explicit Stillness(Lab& lab);

  // How many attempts (requests sent, connections tried) a probe must have
  // made before stillness decides it: one, or with random loss on the lab's
  // links, enough that all of them being lost has a chance under 1e-6.
  int attempts_needed() const noexcept { return attempts_needed_; }

  // Looks at the lab; true when nothing moved since the previous look.
  // A neighbour resolution that can only fail (no lab node has the address)
  // does not count as movement if it began after the baseline and cannot
  // fail before `deadline`.
  bool look(Clock::time_point deadline);
  // The next look starts afresh (after new packets were sent on purpose).
  void forget() { last_.reset(); }

 private:
  struct Look {
    std::vector<TrafficSnapshot> nodes;
    bool quiet = false;  // no machine backlog, services idle, no live resolution
    bool operator==(const Look& o) const { return nodes == o.nodes; }
  };
  bool dead_end(std::size_t node, const std::pair<int, IpAddress>& entry, Clock::time_point deadline) const;

  Lab& lab_;
  Clock::time_point baseline_time_;
  std::vector<std::set<std::pair<int, IpAddress>>> baseline_;  // per node: resolving at the start
  std::set<IpAddress> owned_;    // every address of every lab node
  bool neighbours_default_ = true;  // no neigh/proxy sysctl: failures take the kernel's 3 s
  std::vector<bool> qdiscs_;         // per node: it shapes a link (rate, delay, loss)
  int attempts_needed_ = 1;
  std::optional<Look> last_;
};

// The packets waiting in every CPU's backlog (the machine's, not one
// namespace's): /proc/net/softnet_stat; kUnknownBacklog where the kernel
// does not say, and then the lab is never called still.
inline constexpr std::uint64_t kUnknownBacklog = ~0ull;
std::uint64_t machine_backlog();

}  // namespace nslab::detail
