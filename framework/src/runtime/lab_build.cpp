// Lab::build and its phases: from a validated Topology to namespaces, links,
// addresses, routes and neighbour entries, returning once every link passes
// packets. The scenario's own settings (impairments, sysctls, firewalls) are
// in lab_settings.cpp; what a lab does once built is in lab.cpp.
#include "nslab/lab.h"

#include <poll.h>
#include <sys/resource.h>

#include <chrono>
#include <deque>
#include <fmt/format.h>
#include <map>
#include <set>
#include <thread>
#include <unordered_map>
#include <utility>

#include "bridge_setup.h"
#include "fd_limit.h"
#include "link_kinds.h"
#include "link_watch.h"
#include "lab_build.h"
#include "neighbour_plan.h"
#include "ovs_lab.h"
#include "netlink.h"
#include "node_internals.h"
#include "nslab/error.h"
#include "policy_routing.h"
#include "sysctl.h"

namespace nslab {

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// One pass over the description (Topology::interfaces_of per node would be
// O(nodes x links)).
bool lab_has_ipv6(const Topology& t) {
  auto any_v6 = [](const std::vector<Prefix>& addresses) {
    for (const auto& p : addresses)
      if (!p.address().is_v4()) return true;
    return false;
  };
  for (const auto& n : t.nodes())
    for (const auto& b : n.bridges)
      if (any_v6(b.addresses)) return true;
  for (const auto& l : t.links())
    if (any_v6(l.a.addresses) || any_v6(l.b.addresses)) return true;
  return link_kinds_have_ipv6(t);
}

// Nodes by name, for the phases that look one up per link.
std::unordered_map<std::string_view, Node*> by_name(const std::vector<std::unique_ptr<Node>>& nodes) {
  std::unordered_map<std::string_view, Node*> out;
  out.reserve(nodes.size());
  for (const auto& n : nodes) out.emplace(n->name(), n.get());
  return out;
}

// While it builds, a lab holds a namespace descriptor and a netlink socket
// per node. Where the descriptor limit leaves no room for both (10,000 nodes
// under a limit of 20,000), the nodes beyond the first pinned() give their
// socket back as soon as their namespace is set up, and the build phases
// reopen theirs through a ring of kRing sockets: opening one more closes the
// oldest. The phases go through the nodes in order, so each such node is
// reopened about once per phase.
class SocketBudget {
 public:
  static constexpr std::size_t kRing = 64;
  explicit SocketBudget(std::size_t nodes) {
    rlimit lim{};
    ::getrlimit(RLIMIT_NOFILE, &lim);
    const rlim_t held = nodes + 256 + kRing;  // namespaces, the process's own, the ring
    pinned_ = lim.rlim_cur > held ? std::min<std::size_t>(nodes, lim.rlim_cur - held) : 0;
  }
  std::size_t pinned() const noexcept { return pinned_; }
  Netlink& use(Node& n) {
    Netlink& nl = NodeInternals::netlink(n);
    if (nl.is_open()) return nl;
    if (ring_.size() >= kRing) {
      ring_.front()->close();
      ring_.pop_front();
    }
    ring_.push_back(&nl);
    return nl;  // reopened by its first request
  }

 private:
  std::size_t pinned_ = 0;
  std::deque<Netlink*> ring_;
};

// The budget of the build running on this thread (build() sets it; the
// phases run on the caller's thread).
thread_local SocketBudget* t_budget = nullptr;

// A node waiting for at least this many links is watched (RTNLGRP_LINK)
// rather than dumped again on every round: a hub with N ports would cost
// O(N) per round.
constexpr std::size_t kWatchFrom = 8;

}  // namespace

Netlink& netlink_of(Node& n) {
  return t_budget ? t_budget->use(n) : NodeInternals::netlink(n);
}

void Lab::build() {
  auto t0 = Clock::now();
  SocketBudget budget(topology_.nodes().size());
  t_budget = &budget;
  struct Unset {
    ~Unset() { t_budget = nullptr; }
  } unset;
  auto phase = [](double& slot, auto&& fn) {
    auto p0 = Clock::now();
    fn();
    slot = ms_since(p0);
  };
  phase(times_.namespaces_ms, [&] { create_namespaces(); });
  // Open vSwitch daemons start now, on a helper thread (ovs_lab.h).
  ovs_ = std::make_unique<detail::OvsLab>(topology_, node_list_);
  phase(times_.links_ms, [&] { create_links(); });
  phase(times_.addresses_ms, [&] { add_addresses_and_routes(); });
  times_.addresses_ms -= times_.routes_ms;  // the phase timed both
  phase(times_.neighbours_ms, [&] { add_static_neighbours(); });
  phase(times_.sysctls_ms, [&] { apply_sysctls(); });
  phase(times_.firewall_ms, [&] { apply_firewalls(); });
  // After the firewalls: a ruleset's `flush ruleset` would remove nslab's
  // loss tables.
  phase(times_.impairments_ms, [&] { apply_impairments(); });
  phase(times_.wait_up_ms, [&] { wait_links_up(); });
  phase(times_.services_ms, [&] { start_services(); });
  phase(times_.processes_ms, [&] { start_processes(); });
  // A large lab gives its nodes' netlink sockets back once built: each is
  // reopened inside its node when next needed (a link lookup, a stillness
  // snapshot). A small lab keeps them, as reopening costs a thread.
  if (2 * nodes_.size() > reserve_lab_descriptors(nodes_.size()) / 4)
    for (auto& n : nodes_) NodeInternals::netlink(*n).close();
  times_.total_ms = ms_since(t0);
}

namespace {

// Where the nodes' namespaces are made from: a namespace of the lab's own
// whose net.ipv4.tcp_child_ehash_entries (kernels >= 6.1) gives each one a
// TCP established hash of its own. Sharing the machine's (262,144 buckets
// here) costs every walk of it the whole table: a read of a node's
// /proc/net/tcp (the stillness census, `ss`, netstat) took 4.7 ms with one
// socket in the node, and 0.1 ms with a hash of its own. The hash's size
// also sets a namespace's TIME_WAIT and SYN backlog limits; each node is
// given back the limits it would have had with the machine's hash (read
// here, in a namespace that still shares it), so that only the walks
// change. Where the kernel lacks the key there is no nursery.
//
// The nursery is one namespace more to make and destroy (2-3 ms of a 3-node
// lab's churn), so a lab has one only where the census will read TCP
// tables: where a node serves TCP or runs a program.
constexpr int kNodeTcpHash = 1024;  // buckets: 8 KiB of kernel memory per node

struct Nursery {
  std::optional<Netns> ns;
  std::string tw_buckets, syn_backlog;
};

bool serves_tcp(const Topology& t) {
  for (const auto& n : t.nodes()) {
    if (!n.run.empty()) return true;
    for (const auto& svc : n.services)
      if (svc.protocol == Protocol::tcp) return true;
  }
  return false;
}

Nursery make_nursery() {
  return on_new_thread([] {
    Nursery n;
    Netns ns = Netns::unshare_this_thread();
    SysctlWriter sysctl;
    if (!sysctl.exists("net.ipv4.tcp_child_ehash_entries")) return n;
    n.tw_buckets = read_sysctl_here("net.ipv4.tcp_max_tw_buckets");
    n.syn_backlog = read_sysctl_here("net.ipv4.tcp_max_syn_backlog");
    sysctl.write("net.ipv4.tcp_child_ehash_entries", std::to_string(kNodeTcpHash));
    n.ns = std::move(ns);
    return n;
  });
}

}  // namespace

// Helper threads create the namespaces: for each node a thread moves into
// the nursery (above), if there is one, and unshares; inside the new
// namespace it opens the node's netlink socket and applies nslab's per-node
// defaults. The caller's thread never changes namespace.
// Creating a namespace is mostly per-namespace kernel work, so two threads
// (each with its own share of the nodes) finish sooner on several cores.
void Lab::create_namespaces() {
  const bool ipv6 = lab_has_ipv6(topology_);
  const auto& specs = topology_.nodes();
  // Per thread: sysctls go through a procfs of its own (see SysctlWriter),
  // and what does not depend on the namespace is asked once.
  struct Worker {
    SysctlWriter sysctl;
    std::optional<bool> has_icmp6_ratemask, has_bridge_nf;
  };
  const std::size_t pinned = t_budget ? t_budget->pinned() : specs.size();
  const Nursery nursery = serves_tcp(topology_) ? make_nursery() : Nursery{};
  auto make = [&](std::size_t index, Worker& w) {
    const NodeSpec& spec = specs[index];
    if (nursery.ns) nursery.ns->enter_this_thread();
    Netns ns = Netns::unshare_this_thread();
    Netlink nl = Netlink::open_here(spec.name, ns.fd());
    nl.set_up(1, true, spec.name + ":lo");
    // ICMP errors are not rate-limited in a lab: a REJECT must read as
    // `refused` however many probes it answers (README, Verdicts). The mask
    // exempts every type from both the per-peer and the machine-wide limiter.
    // Not icmp_ratelimit = 0: the ICMP limiter shares its per-peer token
    // bucket with the route-error limiter (ip_error), and a zero interval
    // empties it, so the next "net unreachable" to that peer is never sent.
    w.sysctl.write("net.ipv4.icmp_ratemask", "0");
    if (nursery.ns) {
      w.sysctl.write("net.ipv4.tcp_max_tw_buckets", nursery.tw_buckets);
      w.sysctl.write("net.ipv4.tcp_max_syn_backlog", nursery.syn_backlog);
    }
    if (!ipv6) {
      // An IPv4-only lab: no link-local addresses, router solicitations or
      // MLD reports on its wires (they would show in captures), and less
      // work per interface.
      w.sysctl.write("net.ipv6.conf.default.disable_ipv6", "1");
    } else {
      // ICMPv6 has no separate route-error bucket; the mask (kernels >= 5.15)
      // exempts every type from the machine-wide limiter as well.
      if (!w.has_icmp6_ratemask) w.has_icmp6_ratemask = w.sysctl.exists("net.ipv6.icmp.ratemask");
      if (*w.has_icmp6_ratemask)
        w.sysctl.write("net.ipv6.icmp.ratemask", "");
      else
        w.sysctl.write("net.ipv6.icmp.ratelimit", "0");
      // Lab addresses are unique by validation; DAD would only delay them.
      w.sysctl.write("net.ipv6.conf.all.accept_dad", "0");
      w.sysctl.write("net.ipv6.conf.default.accept_dad", "0");
    }
    // A lab bridge is a plain switch unless the scenario says otherwise:
    // bridged frames do not cross the node's iptables FORWARD chain. The keys
    // exist in every namespace once br_netfilter is loaded, so asking once
    // per thread is enough.
    if (!spec.bridges.empty()) {
      if (!w.has_bridge_nf) w.has_bridge_nf = w.sysctl.exists("net.bridge.bridge-nf-call-iptables");
      check_bridge_netfilter(spec, *w.has_bridge_nf);  // a bridge's own nf_call_iptables (bridge_setup.h)
      if (*w.has_bridge_nf) {
        w.sysctl.write("net.bridge.bridge-nf-call-iptables", "0");
        w.sysctl.write("net.bridge.bridge-nf-call-ip6tables", "0");
        w.sysctl.write("net.bridge.bridge-nf-call-arptables", "0");
      }
    }
    if (index >= pinned) nl.close();  // see SocketBudget
    return std::unique_ptr<Node>(new Node(spec.name, std::move(ns), std::make_unique<Netlink>(std::move(nl))));
  };
  const std::size_t threads =
      specs.size() >= 4 ? std::min<std::size_t>(2, std::max(1u, std::thread::hardware_concurrency())) : 1;
  std::vector<std::vector<std::unique_ptr<Node>>> made(threads);
  std::vector<std::exception_ptr> errors(threads);
  std::vector<std::thread> workers;
  for (std::size_t w = 0; w < threads; ++w) {
    workers.emplace_back([&, w] {
      try {
        Worker state;
        for (std::size_t i = w; i < specs.size(); i += threads) made[w].push_back(make(i, state));
      } catch (...) {
        errors[w] = std::current_exception();
      }
    });
  }
  for (auto& t : workers) t.join();
  // Nodes in topology order, whatever thread made them (interleaved above).
  nodes_.reserve(specs.size());
  for (std::size_t i = 0; i < specs.size(); ++i)
    if (i / threads < made[i % threads].size()) nodes_.push_back(std::move(made[i % threads][i / threads]));
  for (const auto& n : nodes_) node_list_.push_back(n.get());
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

// Locally administered, unique within the lab: 02:6e:73 ("ns") and a counter.
MacAddress Lab::next_mac() {
  std::uint32_t n = ++mac_counter_;
  return MacAddress{0x02,
                    0x6e,
                    0x73,
                    static_cast<std::uint8_t>(n >> 16),
                    static_cast<std::uint8_t>(n >> 8),
                    static_cast<std::uint8_t>(n)};
}

void Lab::create_links() {
  const auto named = by_name(nodes_);
  std::map<std::string, int, std::less<>> bridge_index;     // "node:bridge"
  std::map<std::string, MacAddress, std::less<>> ovs_macs;  // Open vSwitch makes these (ovs_lab.h)
  // Bringing a bridge up enables its ports one by one, and each enable
  // reruns the port state selection over every port, re-arming each one's
  // multicast-snooping timers (br_port_state_selection ->
  // br_multicast_enable_port): O(ports²). `ip link set br0 up` on 1,000 up
  // ports took 333-375 ms with snooping and 66-118 ms without. So a large
  // bridge whose scenario leaves snooping to the kernel's default is made
  // without it and gets it back once up, in one pass over its ports.
  constexpr int kQuietBringUp = 64;
  std::map<std::string, int, std::less<>> ports;  // "node:bridge" -> its veth ports
  for (const auto& l : topology_.links())
    for (const auto* e : {&l.a, &l.b})
      if (!e->bridge.empty()) ++ports[e->node + ":" + e->bridge];
  std::set<std::string, std::less<>> snooping_after_up;
  for (const auto& spec : topology_.nodes()) {
    Node& n = *named.at(spec.name);
    for (const auto& b : spec.bridges) {
      MacAddress mac = next_mac();
      if (b.kind == BridgeKind::ovs) {
        ovs_macs[spec.name + ":" + b.name] = mac;
        NodeInternals::record_interface(n, {b.name, b.addresses, mac});
        continue;
      }
      const BridgeOptions* options = b.switching.bridge_level() ? &b.switching : nullptr;
      BridgeOptions quiet = b.switching;
      if (!b.switching.mcast_snooping && ports[spec.name + ":" + b.name] >= kQuietBringUp) {
        quiet.mcast_snooping = false;
        options = &quiet;
      }
      int idx = netlink_of(n).create_bridge(b.name, b.mtu, spec.name + ":" + b.name, mac, options);
      bridge_index[spec.name + ":" + b.name] = idx;
      if (options == &quiet) snooping_after_up.insert(spec.name + ":" + b.name);
      NodeInternals::record_interface(n, {b.name, b.addresses, mac});
    }
  }
  for (const auto& l : topology_.links()) {
    // The end that is a bridge port is created by its own node, so that it is
    // enslaved in the same message; the other end is born in its namespace.
    bool swap = l.a.bridge.empty() && !l.b.bridge.empty();
    const Endpoint& le = swap ? l.b : l.a;
    const Endpoint& pe = swap ? l.a : l.b;
    Node& ln = *named.at(le.node);
    Node& pn = *named.at(pe.node);
    VethEnd local{le.interface, le.label(), -1, 0, le.up, le.mtu, next_mac()};
    VethEnd peer{pe.interface, pe.label(), pn.netns().fd(), 0, pe.up, pe.mtu, next_mac()};
    // A port of an Open vSwitch bridge has no master: ovs-vswitchd takes it.
    auto master_of = [&](const Endpoint& e) {
      auto it = e.bridge.empty() ? bridge_index.end() : bridge_index.find(e.node + ":" + e.bridge);
      return it == bridge_index.end() ? 0 : it->second;
    };
    local.master = master_of(le);
    netlink_of(ln).create_veth(local, peer);
    int master = master_of(pe);
    if (master || pe.up) netlink_of(pn).configure(pe.interface, master, pe.up, pe.label());
    NodeInternals::record_interface(ln, {le.interface, le.addresses, *local.mac});
    NodeInternals::record_interface(pn, {pe.interface, pe.addresses, *peer.mac});
  }
  // Bridges come up last, with their ports already up (see create_bridge).
  for (const auto& [label, index] : bridge_index) {
    auto colon = label.find(':');
    Netlink& nl = netlink_of(*named.at(std::string_view(label).substr(0, colon)));
    nl.set_up(index, true, label);
    if (snooping_after_up.count(label)) nl.set_bridge_options(index, BridgeOptions{.mcast_snooping = true}, label);
  }
  create_link_kinds(topology_, nodes_);  // vlan, bond, vxlan...: on what exists now
  set_bridge_ports(topology_, nodes_);   // VLANs and flags, once every port is enslaved
  if (!ovs_macs.empty()) {
    auto t0 = Clock::now();
    ovs_->configure(ovs_macs);  // and sets the bridges' own interfaces up
    for (auto* p : ovs_->processes()) process_list_.push_back(p);
    times_.ovs_ms = ms_since(t0);
  }
}

// Times the routes apart (times_.routes_ms); build() counts the rest as
// addresses.
void Lab::add_addresses_and_routes() {
  Clock::duration routes{};
  const AddressOptionsMap options = address_options(topology_);  // policy_routing.cpp
  for (std::size_t k = 0; k < nodes_.size(); ++k) {
    const NodeSpec& spec = topology_.nodes()[k];
    Node& n = *nodes_[k];
    if (n.interfaces().empty()) {
      if (!spec.nexthops.empty())
        add_nexthops(netlink_of(n), spec, [&](const std::string& name) -> int {
          throw NetlinkError(fmt::format("no link \"{}:{}\"", spec.name, name), ENODEV);
        });
      add_rules(netlink_of(n), spec);
      continue;
    }
    // By name, not a dump: a hub's dump costs the kernel O(ports²).
    std::unordered_map<std::string, int> known;
    auto index_of = [&](const std::string& name) {
      if (auto it = known.find(name); it != known.end()) return it->second;
      if (auto index = netlink_of(n).index_of(name)) return known.emplace(name, *index).first->second;
      throw NetlinkError(fmt::format("no link \"{}:{}\"", spec.name, name), ENODEV);
    };
    for (const auto& i : n.interfaces()) {
      if (i.addresses.empty()) continue;
      int idx = index_of(i.name);
      for (const auto& p : i.addresses) {
        try {
          const std::string label = spec.name + ":" + i.name;
          netlink_of(n).add_address(idx, p, label, find_options(options, label, p));
        } catch (const NetlinkError& e) {
          // An address the kernel refuses is the scenario's: name where it was written.
          for (const auto& d : topology_.interfaces_of(spec.name))
            if (d.name == i.name && d.where.known()) throw ConfigError(e.what(), d.where);
          throw;
        }
      }
    }
    auto r0 = Clock::now();
    if (!spec.nexthops.empty()) add_nexthops(netlink_of(n), spec, index_of);  // before the routes naming them
    for (const auto& r : spec.routes) {
      RouteRequest req = route_request(spec, r, index_of);  // policy_routing.cpp
      try {
        netlink_of(n).add_route(req);
      } catch (const NetlinkError& e) {
        if (r.where.known()) throw ConfigError(e.what(), r.where);
        throw;
      }
    }
    add_rules(netlink_of(n), spec);
    routes += Clock::now() - r0;
  }
  times_.routes_ms = std::chrono::duration<double, std::milli>(routes).count();
}

// The entries are planned from the description (neighbour_plan.h); each node
// then gets its own in one batch of requests.
void Lab::add_static_neighbours() {
  const auto named = by_name(nodes_);
  if (options_.static_neighbours) {
    std::unordered_map<std::string, MacAddress> macs;
    for (const auto& n : nodes_)
      for (const auto& i : n->interfaces()) macs.emplace(n->name() + ":" + i.name, i.mac);
    for (auto& [node_name, named_entries] : plan_static_neighbours(topology_, macs, options_.static_neighbour_limit)) {
      Netlink& nl = netlink_of(*named.at(node_name));
      std::unordered_map<std::string, int> index;
      std::vector<Neighbour> entries;
      entries.reserve(named_entries.size());
      for (auto& [ifname, e] : named_entries) {
        auto it = index.find(ifname);
        if (it == index.end()) {
          auto i = nl.index_of(ifname);
          if (!i) throw NetlinkError(fmt::format("no link \"{}:{}\"", node_name, ifname), ENODEV);
          it = index.emplace(ifname, *i).first;
        }
        e.ifindex = it->second;
        entries.push_back(e);
      }
      nl.add_neighbours(entries);
    }
  }
  // The nodes' own `neighbours` come after the plan and replace its entry
  // for the same address (policy_routing.cpp).
  for (const auto& spec : topology_.nodes())
    if (!spec.neighbours.empty()) add_node_neighbours(netlink_of(*named.at(spec.name)), spec);
}

// A packet sent through a link before the kernel has activated its queue is
// dropped, so build() returns only when every link that should be up has
// carrier and an active queue (operstate may lag behind by up to a second).
// Every node's links are dumped once; a node still waiting for many of them
// (a hub) is then watched through link notifications, the others dumped
// again with a growing pause.
void Lab::wait_links_up() {
  // node -> interface -> whether it must also be operationally up: the veth
  // end that create_links made up before its peer gains carrier while up,
  // so its queues wait for the link watcher (see LinkInfo::ready).
  std::map<std::string, std::map<std::string, bool>, std::less<>> want;
  for (const auto& l : topology_.links()) {
    if (!l.a.up || !l.b.up) continue;
    bool swap = l.a.bridge.empty() && !l.b.bridge.empty();  // as in create_links
    const Endpoint& first_up = swap ? l.b : l.a;
    for (const auto* e : {&l.a, &l.b}) {
      want[e->node][e->interface] = e == &first_up;
      if (!e->bridge.empty()) want[e->node].emplace(e->bridge, false);
    }
  }
  want_link_kinds_up(topology_, want);
  const auto named = by_name(nodes_);
  auto settle = [](std::map<std::string, bool>& ifs, const LinkInfo& li) {
    auto w = ifs.find(li.name);
    if (w != ifs.end() && li.ready() && (li.oper_up || !w->second)) ifs.erase(w);
  };
  auto dump = [&](const std::string& node_name, std::map<std::string, bool>& ifs) {
    for (const auto& li : netlink_of(*named.at(node_name)).links()) settle(ifs, li);
  };
  auto drop_done = [&] {
    for (auto it = want.begin(); it != want.end();) it = it->second.empty() ? want.erase(it) : std::next(it);
  };
  // A node waiting for many links is subscribed to before its dump, so that
  // no change falls between the two and it is dumped once: each dump of a
  // hub's N veth ports costs the kernel O(N²) (a namespace id lookup per
  // port, README, Benchmarks).
  std::map<std::string, LinkWatch, std::less<>> watches;
  for (auto& [n, ifs] : want)
    if (ifs.size() >= kWatchFrom) watches.emplace(n, LinkWatch::open(named.at(n)->netns().fd(), n));
  for (auto& [n, ifs] : want) dump(n, ifs);
  drop_done();

  // STP bridges forward only after listening and learning (bridge_setup.h).
  auto deadline = Clock::now() + options_.link_up_timeout + stp_settle_time(topology_);
  std::chrono::microseconds pause{100};
  while (!want.empty()) {
    if (Clock::now() > deadline) {
      std::string late;
      for (const auto& [n, ifs] : want)
        for (const auto& [i, oper] : ifs) late += fmt::format(" {}:{}", n, i);
      throw TimeoutError(fmt::format("links not up after {} ms:{}", options_.link_up_timeout.count(), late));
    }
    bool dumped_only = true;
    std::vector<pollfd> fds;
    for (const auto& [n, ifs] : want) {
      if (auto w = watches.find(n); w != watches.end())
        fds.push_back({w->second.fd(), POLLIN, 0});
      else
        dumped_only = false;
    }
    // Only watched nodes left: sleep until news (or 100 ms, to check the deadline).
    auto wait = dumped_only ? std::chrono::microseconds{100000} : pause;
    timespec ts{static_cast<time_t>(wait.count() / 1000000), static_cast<long>(wait.count() % 1000000) * 1000};
    ::ppoll(fds.data(), fds.size(), &ts, nullptr);
    for (auto& [n, ifs] : want) {
      auto w = watches.find(n);
      if (w == watches.end()) {
        dump(n, ifs);
        continue;
      }
      bool overflowed = false;
      for (const auto& li : w->second.read(overflowed)) settle(ifs, li);
      if (overflowed) dump(n, ifs);
    }
    drop_done();
    pause = std::min(pause * 2, std::chrono::microseconds{5000});
  }
  wait_stp_forwarding(topology_, nodes_, deadline);
  // The watcher may still be between setting a link's state and activating
  // its queues; it holds the RTNL lock for both, and any request that takes
  // the lock (setting lo up again) waits for it to finish.
  if (!nodes_.empty()) netlink_of(*nodes_.front()).set_up(1, true, nodes_.front()->name() + ":lo");
}

}  // namespace nslab
