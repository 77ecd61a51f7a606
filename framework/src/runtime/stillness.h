// Evidence that a lab has gone still: no packet moves on any of its links,
// none waits in the machine's per-CPU backlogs or in a neighbour resolution,
// and no built-in service holds an unread request. A probe still unanswered
// then has no answer to come: the probe engine reads it as `blocked` at once
// instead of waiting out its timeout.
//
// The evidence holds only where nothing but the kernel and nslab's own
// services can answer, and where no timer can change a packet's fate. So a
// lab is never called still (blocker() says why) while
//  - a link is rate-limited (a tbf bucket refills with time: a burst beyond
//    it is queued or dropped depending on when it comes), or loses half its
//    packets or more;
//  - any process or thread is inside one of its nodes (a `run:` program, a
//    daemon a program or command left behind, user code in Node::run), or a
//    node holds an IP socket that is not nslab's own (Node::socket, a socket
//    made in Node::run). nslab's own Open vSwitch daemons are the exception
//    where their bridges have no flows and forward in userspace: each look
//    then asks whether ovs-vswitchd holds a frame (stillness_ovs.h);
//  - the ruleset a node's kernel holds (read back through libnftables, so
//    iptables-nft rules count too) has anything not known to be a pure
//    function of the packet: limit, numgen, quota, meta time/hour/day/cpu,
//    ct expiration/count, queue, dynamic sets and timeouts, xt matches such
//    as statistic or recent (see time_dependent_rule in firewall.h); or a
//    node has legacy iptables tables, which libnftables cannot read;
//  - an IPv6 address of a node is not yet in use (the kernel installs its
//    local route from a work queue, later on a loaded machine).
// A delay holds packets in a qdisc, whose queue is part of every look;
// random loss is met with attempts (see attempts_needed).
#pragma once

#include <chrono>
#include <functional>
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

  // Looks at the lab's description and its nodes' kernel state; notes the
  // neighbour resolutions already under way (their timers may fire at any
  // moment).
  explicit Stillness(Lab& lab);

  // Why stillness can never be evidence in this lab; empty when it can.
  const std::optional<std::string>& blocker() const noexcept { return blocker_; }

  // How many attempts (requests sent, connections tried) a probe must have
  // made before stillness decides it: one, or with random loss on the lab's
  // links, enough that all of them being lost has a chance under 1e-6, each
  // attempt sending `packets` packets (fragments) and its answer as many
  // again. Empty when that is more than kMaxAttempts.
  std::optional<int> attempts_needed(int packets = 1, int answer_packets = 1) const;
  static constexpr int kMaxAttempts = 64;
  // The smallest MTU of the lab's links (1500 where none is set).
  int min_mtu() const noexcept { return min_mtu_; }

  // Looks at the lab; true when nothing moved since the previous look.
  // False from then on, with blocker() saying why, once a rate limit
  // dropped packets during the batch.
  // A neighbour resolution that can only fail (no node can answer for the
  // address) does not count as movement if it began after the baseline and
  // cannot fail before `deadline`.
  bool look(Clock::time_point deadline);
  // The next look starts afresh (after new packets were sent on purpose).
  void forget() { last_.reset(); }

  // True when a process or thread runs inside one of the lab's nodes (a
  // process found since the batch began); `why` says which.
  bool someone_inside(std::string& why) const;

  // One look as a prober takes it. `poll` reads its sockets without waiting
  // and returns how many events it handled; reading them before the look
  // (while a full batch of `batch` comes back) and after it (until none is
  // left) counts every answer the lab delivered before the look. `still`:
  // the probes waiting since may be decided; `moved`: look again later;
  // `gave_up`: stillness can no longer decide in this batch, for the reason
  // in `why` (a rate limit dropped packets, someone runs inside a node).
  enum class Settled { still, moved, gave_up };
  Settled settle(Clock::time_point deadline, const std::function<int()>& poll, int batch, std::string& why);

 private:
  struct Look {
    std::vector<TrafficSnapshot> nodes;
    bool quiet = false;  // no machine backlog, services idle, no live resolution
    bool operator==(const Look& o) const { return nodes == o.nodes; }
  };
  std::optional<std::string> look_at_nodes(Lab& lab);
  bool dead_end(std::size_t node, const std::pair<int, IpAddress>& entry, Clock::time_point deadline) const;
  bool special(const IpAddress& a) const;

  Lab& lab_;
  Clock::time_point baseline_time_;
  std::optional<std::string> blocker_;
  std::vector<std::set<std::pair<int, IpAddress>>> baseline_;  // per node: resolving at the start
  std::vector<std::uint64_t> shaper_drops_;                    // per node: rate-limit drops at the start
  std::set<IpAddress> owned_;     // addresses some node answers for (its own, anycast, local routes)
  std::vector<Prefix> prefixes_;  // every prefix on every interface: network, broadcast, anycast
  bool dead_ends_ = true;         // no proxy ARP/NDP, AnyIP route or user-space resolver anywhere
  std::chrono::milliseconds neighbour_failure_{3000};  // the soonest an unanswered resolution fails
  std::vector<bool> qdiscs_;                           // per node: it shapes a link (rate, delay, loss)
  double delivered_ = 1;                               // the chance a packet crosses every lossy link
  int min_mtu_ = 1500;
  std::optional<Look> last_;
  std::set<int> daemons_;           // pids of nslab's Open vSwitch daemons, not "someone inside"
  std::vector<int> switches_;       // their ovs-vswitchd pids, idle or not at each look
  bool pending_addresses_ = false;  // the last look_at_nodes gave up on an IPv6 address not yet in use
  // How long the constructor waits for such an address to come into use.
  static constexpr std::chrono::milliseconds kAddressPatience{100};
};

// The packets waiting in every CPU's backlog (the machine's, not one
// namespace's): /proc/net/softnet_stat; kUnknownBacklog where the kernel
// does not say, and then the lab is never called still.
inline constexpr std::uint64_t kUnknownBacklog = ~0ull;
std::uint64_t machine_backlog();

}  // namespace nslab::detail
