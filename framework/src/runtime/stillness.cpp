#include "stillness.h"

#include <fmt/format.h>
#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>
#include <thread>

#include "lab_internals.h"
#include "node_internals.h"
#include "ovs_daemons.h"
#include "stillness_ovs.h"
#include "nslab/lab.h"

namespace nslab::detail {

std::uint64_t machine_backlog() {
  std::ifstream in("/proc/net/softnet_stat");
  std::uint64_t total = 0;
  bool read = false;
  for (std::string line; std::getline(in, line);) {
    std::istringstream f(line);
    std::vector<std::string> columns;
    for (std::string c; f >> c;) columns.push_back(c);
    // The 12th column is this CPU's backlog, input and process queue
    // together (kernels since 5.10; the 13th is the CPU's number).
    if (columns.size() < 13) return kUnknownBacklog;
    total += std::stoull(columns[11], nullptr, 16);
    read = true;
  }
  return read ? total : kUnknownBacklog;
}

namespace {

// Every look reads each node through its netlink socket. A lab too large for
// its descriptor limit gave those back after its build (lab_build.cpp), and
// reopening all of them would run out of descriptors (and cost a thread
// each): its probes wait out their timeouts instead.
std::optional<std::string> too_many_to_watch(Lab& lab) {
  const auto& nodes = lab.nodes();
  const auto closed = static_cast<unsigned long>(
      std::count_if(nodes.begin(), nodes.end(), [](Node* n) { return !NodeInternals::netlink(*n).is_open(); }));
  if (closed == 0) return std::nullopt;
  rlimit lim{};
  ::getrlimit(RLIMIT_NOFILE, &lim);
  // Held already: a namespace per node, about as many again for the probes'
  // raw sockets, and the process's own; each closed socket would be one more.
  const unsigned long need = 2 * nodes.size() + closed + 256;
  if (lim.rlim_cur == RLIM_INFINITY || need <= lim.rlim_cur) return std::nullopt;
  return fmt::format(
      "the lab's {} nodes are too many to watch: a look at each would reopen {} netlink sockets, beyond the "
      "descriptor limit ({}; `ulimit -n`)",
      nodes.size(), closed, lim.rlim_cur);
}

}  // namespace

Stillness::Stillness(Lab& lab) : lab_(lab), baseline_time_(Clock::now()) {
  const Topology& t = lab.topology();
  std::set<std::string> shaping;
  for (const auto& l : t.links()) {
    for (const auto* e : {&l.a, &l.b})
      if (e->mtu > 0) min_mtu_ = std::min(min_mtu_, e->mtu);
    if (l.impair.empty()) continue;
    shaping.insert(l.a.node);
    shaping.insert(l.b.node);
    // A request and its answer each cross a lossy link once; assume a path
    // crosses every lossy link of the lab.
    if (l.impair.loss_percent) delivered_ *= 1 - *l.impair.loss_percent / 100;
    if (l.impair.loss_percent && *l.impair.loss_percent >= 50 && !blocker_)
      blocker_ = fmt::format("link {} <-> {} loses {}% of packets", l.a.label(), l.b.label(), *l.impair.loss_percent);
    // A rate limit queues (watched: the qdiscs' backlog is movement) and,
    // past its queue, drops; look() gives up when it drops during the batch.
  }
  for (const auto& n : t.nodes())
    for (const auto& b : n.bridges)
      if (b.mtu > 0) min_mtu_ = std::min(min_mtu_, b.mtu);
  // ARP/NDP on the wire has timers of its own (an entry goes stale, is
  // probed, fails and is resolved again), so silence proves nothing there.
  for (const auto& n : t.nodes())
    if (!blocker_ && n.arp == ArpMode::dynamic)
      blocker_ = fmt::format("node \"{}\" resolves its neighbours by ARP/NDP (arp: dynamic)", n.name);
  // nslab's own Open vSwitch daemons are watched at each look instead
  // (stillness_ovs.h), where their bridges do only what nslab knows.
  for (const auto& n : t.nodes()) {
    const OvsDaemons* d = LabInternals::ovs_daemons(lab, n.name);
    if (!d || blocker_) continue;
    blocker_ = ovs_blocker(n);
    if (blocker_) break;
    for (int pid : d->pids()) daemons_.insert(pid);
    if (d->vswitchd()) switches_.push_back(d->vswitchd()->pid());
  }
  for (const auto& p : lab.processes())
    if (!blocker_ && !daemons_.count(p->pid()) && p->running()) blocker_ = fmt::format("{} is running", p->label());
  if (std::string why; !blocker_ && someone_inside(why)) blocker_ = why;
  if (blocker_) return;
  if (!blocker_) blocker_ = too_many_to_watch(lab);
  if (blocker_) return;
  for (const auto& n : lab.nodes())
    for (const auto& i : n->interfaces())
      for (const auto& p : i.addresses) {
        owned_.insert(p.address());
        prefixes_.push_back(p);
      }
  // An IPv6 address not yet in use is in use a moment later: the kernel
  // installs its local route from a work queue, which runs behind a build or
  // a step on a loaded machine. Look again for a little while before giving
  // up on stillness for the whole batch.
  const auto owned = owned_;
  const auto prefixes = prefixes_;
  const auto patience = Clock::now() + kAddressPatience;
  auto why = look_at_nodes(lab);
  while (why && pending_addresses_ && Clock::now() < patience) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    owned_ = owned;
    prefixes_ = prefixes;
    why = look_at_nodes(lab);
  }
  if (why) {
    blocker_ = why;
    return;
  }
  baseline_time_ = Clock::now();  // the baseline below is taken after the wait
  for (const auto& n : t.nodes())
    for (const auto& sysctl : n.sysctls)
      if (sysctl.key.find(".neigh.") != std::string::npos || sysctl.key.find("proxy_") != std::string::npos)
        dead_ends_ = false;
  for (const auto& n : lab.nodes()) {
    qdiscs_.push_back(shaping.count(n->name()) > 0);
    auto tr = NodeInternals::netlink(*n).traffic(qdiscs_.back());
    baseline_.emplace_back(tr.resolving.begin(), tr.resolving.end());
    shaper_drops_.push_back(tr.shaper_drops);
  }
}

std::optional<int> Stillness::attempts_needed(int packets, int answer_packets) const {
  if (delivered_ >= 1) return 1;
  double answered = std::pow(delivered_, packets + answer_packets);
  if (answered <= 0) return std::nullopt;
  double n = std::ceil(std::log(1e-6) / std::log(1 - answered));
  if (n > kMaxAttempts) return std::nullopt;
  return std::max(1, static_cast<int>(n));
}

bool Stillness::special(const IpAddress& a) const {
  // A network's all-zero host part (the IPv6 subnet-router anycast, the
  // IPv4 network address), its all-ones host part (IPv4 broadcast) and the
  // IPv6 reserved subnet anycast addresses (RFC 2526: the last 128 of the
  // subnet, the universal/local bit aside) may be answered by a node that
  // does not list them as its own.
  for (const auto& p : prefixes_) {
    if (p.family() != a.family() || !p.contains(a)) continue;
    int bits = a.is_v4() ? 32 : 128;
    bool zeros = true, ones = true, anycast = true;
    for (int b = p.length(); b < bits; ++b) {
      bool set = a.data()[b / 8] & (0x80 >> (b % 8));
      zeros = zeros && !set;
      ones = ones && set;
      bool low7 = b >= bits - 7;
      bool ul_bit = !a.is_v4() && b == 70;
      if (!low7 && !ul_bit && !set) anycast = false;
    }
    if (zeros || ones || (!a.is_v4() && anycast)) return true;
  }
  return false;
}

bool Stillness::dead_end(std::size_t node, const std::pair<int, IpAddress>& entry, Clock::time_point deadline) const {
  // Nobody can answer for an address no node has (without proxy ARP/NDP,
  // AnyIP routes or anycast), so the resolution can only fail: after
  // neighbour_failure_ from its start, which is after the baseline when it
  // was not under way then.
  return dead_ends_ && !owned_.count(entry.second) && !special(entry.second) && !baseline_[node].count(entry) &&
         deadline < baseline_time_ + neighbour_failure_;
}

bool Stillness::look(Clock::time_point deadline) {
  Look now;
  bool quiet = machine_backlog() == 0 && LabInternals::services_idle(lab_);
  const auto& nodes = lab_.nodes();
  now.nodes.reserve(nodes.size());
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    now.nodes.push_back(NodeInternals::netlink(*nodes[i]).traffic(qdiscs_[i]));
    if (now.nodes.back().shaper_drops != shaper_drops_[i]) {
      // A burst overflowed a rate limit's queue: which probe's packets were
      // dropped is unknown, and a resend after the queue drains may pass.
      blocker_ = fmt::format("a rate limit in node \"{}\" dropped packets during the probes (its queue was full)",
                             nodes[i]->name());
      last_.reset();
      return false;
    }
    if (now.nodes.back().queued > 0) quiet = false;
    for (const auto& e : now.nodes.back().resolving)
      if (!dead_end(i, e, deadline)) quiet = false;
  }
  for (int pid : switches_)
    if (quiet && switch_busy(pid)) quiet = false;
  quiet = quiet && machine_backlog() == 0;
  now.quiet = quiet;
  bool still = last_ && last_->quiet && now.quiet && *last_ == now;
  last_ = std::move(now);
  return still;
}

}  // namespace nslab::detail
