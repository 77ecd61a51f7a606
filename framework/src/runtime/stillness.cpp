#include "stillness.h"

#include <fmt/format.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "lab_internals.h"
#include "node_internals.h"
#include "nslab/lab.h"

namespace nslab::detail {

namespace {

// A neighbour entry in INCOMPLETE state fails after mcast_solicit (3) probes
// retrans_time (1 s) apart, the kernel's defaults.
constexpr auto kNeighbourFailure = std::chrono::milliseconds(3000);

// Words of rules whose verdict can change from one packet to the next with
// no other traffic: rates, randomness, quotas, time, user space.
constexpr const char* kTimeDependent[] = {
    "limit",   "numgen", "quota",   "hour",    "meta day", "meta time", "queue",   "QUEUE",
    "statistic", "recent", "hashlimit", "connlimit", "ct count", "update @", "add @", "rateest",
    "cluster", "timeout", "-m time", "synproxy", "SYNPROXY",
};

}  // namespace

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

std::optional<std::string> Stillness::blocker(const Lab& lab) {
  const Topology& t = lab.topology();
  for (const auto& l : t.links())
    if (l.impair.loss_percent && *l.impair.loss_percent >= 50)
      return fmt::format("link {} <-> {} loses {}% of packets", l.a.label(), l.b.label(), *l.impair.loss_percent);
  for (const auto& p : lab.processes())
    if (p->running()) return fmt::format("{} is running", p->label());
  for (const auto& n : t.nodes())
    for (const auto* rules : {&n.iptables, &n.ip6tables, &n.nftables})
      for (const char* word : kTimeDependent)
        if (rules->text.find(word) != std::string::npos)
          return fmt::format("node \"{}\" has rules with \"{}\", whose verdict may change with time", n.name, word);
  return std::nullopt;
}

Stillness::Stillness(Lab& lab) : lab_(lab), baseline_time_(Clock::now()) {
  // A probe's request and its answer each cross a lossy link once; assume a
  // path crosses every lossy link of the lab.
  double delivered = 1;
  std::set<std::string> shaping;
  for (const auto& l : lab.topology().links()) {
    if (l.impair.empty()) continue;
    shaping.insert(l.a.node);
    shaping.insert(l.b.node);
    if (l.impair.loss_percent) delivered *= std::pow(1 - *l.impair.loss_percent / 100, 2);
  }
  if (delivered < 1)
    attempts_needed_ = std::max(1, static_cast<int>(std::ceil(std::log(1e-6) / std::log(1 - delivered))));
  for (const auto& n : lab.nodes()) {
    for (const auto& i : n->interfaces())
      for (const auto& p : i.addresses) owned_.insert(p.address());
    qdiscs_.push_back(shaping.count(n->name()) > 0);
    auto t = NodeInternals::netlink(*n).traffic(qdiscs_.back());
    baseline_.emplace_back(t.resolving.begin(), t.resolving.end());
  }
  for (const auto& n : lab.topology().nodes())
    for (const auto& sysctl : n.sysctls)
      if (sysctl.key.find(".neigh.") != std::string::npos || sysctl.key.find("proxy_") != std::string::npos)
        neighbours_default_ = false;
}

bool Stillness::dead_end(std::size_t node, const std::pair<int, IpAddress>& entry,
                         Clock::time_point deadline) const {
  // Nobody can answer for an address no node has (without proxy ARP/NDP),
  // so the resolution can only fail: after kNeighbourFailure from its start,
  // which is after the baseline when it was not under way then.
  return neighbours_default_ && !owned_.count(entry.second) && !baseline_[node].count(entry) &&
         deadline < baseline_time_ + kNeighbourFailure;
}

bool Stillness::look(Clock::time_point deadline) {
  Look now;
  bool quiet = machine_backlog() == 0 && LabInternals::services_idle(lab_);
  const auto& nodes = lab_.nodes();
  now.nodes.reserve(nodes.size());
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    now.nodes.push_back(NodeInternals::netlink(*nodes[i]).traffic(qdiscs_[i]));
    if (now.nodes.back().queued > 0) quiet = false;
    for (const auto& e : now.nodes.back().resolving)
      if (!dead_end(i, e, deadline)) quiet = false;
  }
  quiet = quiet && machine_backlog() == 0;
  now.quiet = quiet;
  bool still = last_ && last_->quiet && now.quiet && *last_ == now;
  last_ = std::move(now);
  return still;
}

}  // namespace nslab::detail
