#include "nslab/lab.h"

#include <cctype>
#include <chrono>
#include <fmt/format.h>
#include <set>
#include <thread>
#include <utility>

#include "firewall.h"
#include "link_impairment.h"
#include "netlink.h"
#include "node_internals.h"
#include "probe_engine.h"
#include "nslab/error.h"
#include "service_host.h"
#include "sys.h"
#include "sysctl.h"

namespace nslab {

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

bool lab_has_ipv6(const Topology& t) {
  for (const auto& n : t.nodes())
    for (const auto& i : t.interfaces_of(n.name))
      for (const auto& p : i.addresses)
        if (!p.address().is_v4()) return true;
  return false;
}

}  // namespace

Lab::Lab(Topology topology, LabOptions options)
    : topology_(std::move(topology)), options_(options) {
  topology_.validate();
  sys::raise_fd_limit();
  build();
}

Lab::~Lab() {
  lasting_.clear();
  processes_.clear();
  services_.reset();
  nodes_.clear();
}

void Lab::build() {
  auto t0 = Clock::now();
  auto phase = [](double& slot, auto&& fn) {
    auto p0 = Clock::now();
    fn();
    slot = ms_since(p0);
  };
  phase(times_.namespaces_ms, [&] { create_namespaces(); });
  phase(times_.links_ms, [&] { create_links(); });
  phase(times_.addresses_ms, [&] { add_addresses_and_routes(); });
  phase(times_.neighbours_ms, [&] { add_static_neighbours(); });
  phase(times_.sysctls_ms, [&] { apply_sysctls(); });
  phase(times_.firewall_ms, [&] { apply_firewalls(); });
  // After the firewalls: a ruleset's `flush ruleset` would remove nslab's
  // loss tables.
  phase(times_.impairments_ms, [&] { apply_impairments(); });
  phase(times_.wait_up_ms, [&] { wait_links_up(); });
  phase(times_.services_ms, [&] { start_services(); });
  phase(times_.processes_ms, [&] { start_processes(); });
  times_.total_ms = ms_since(t0);
}

// Helper threads create the namespaces: unshare moves a thread into each new
// namespace in turn, where it opens the node's netlink socket and applies
// nslab's per-node defaults. The caller's thread never changes namespace.
// Creating a namespace is mostly per-namespace kernel work, so two threads
// (each with its own share of the nodes) finish sooner on several cores.
void Lab::create_namespaces() {
  const bool ipv6 = lab_has_ipv6(topology_);
  const auto& specs = topology_.nodes();
  auto make = [&](const NodeSpec& spec) {
    Netns ns = Netns::unshare_this_thread();
    Netlink nl = Netlink::open_here(spec.name);
    nl.set_up(1, true, spec.name + ":lo");
    // ICMP errors are not rate-limited in a lab: a REJECT must read as
    // `refused` however many probes it answers (README, Verdicts). The mask
    // exempts every type from both the per-peer and the machine-wide limiter.
    // Not icmp_ratelimit = 0: the ICMP limiter shares its per-peer token
    // bucket with the route-error limiter (ip_error), and a zero interval
    // empties it, so the next "net unreachable" to that peer is never sent.
    write_sysctl_here("net.ipv4.icmp_ratemask", "0");
    if (!ipv6) {
      // An IPv4-only lab: no link-local addresses, router solicitations or
      // MLD reports on its wires (they would show in captures), and less
      // work per interface.
      write_sysctl_here("net.ipv6.conf.default.disable_ipv6", "1");
    } else {
      // ICMPv6 has no separate route-error bucket; the mask (kernels >= 5.15)
      // exempts every type from the machine-wide limiter as well.
      if (sysctl_exists_here("net.ipv6.icmp.ratemask")) write_sysctl_here("net.ipv6.icmp.ratemask", "");
      else write_sysctl_here("net.ipv6.icmp.ratelimit", "0");
      // Lab addresses are unique by validation; DAD would only delay them.
      write_sysctl_here("net.ipv6.conf.all.accept_dad", "0");
      write_sysctl_here("net.ipv6.conf.default.accept_dad", "0");
    }
    // A lab bridge is a plain switch unless the scenario says otherwise:
    // bridged frames do not cross the node's iptables FORWARD chain.
    if (!spec.bridges.empty() && sysctl_exists_here("net.bridge.bridge-nf-call-iptables")) {
      write_sysctl_here("net.bridge.bridge-nf-call-iptables", "0");
      write_sysctl_here("net.bridge.bridge-nf-call-ip6tables", "0");
      write_sysctl_here("net.bridge.bridge-nf-call-arptables", "0");
    }
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
        for (std::size_t i = w; i < specs.size(); i += threads) made[w].push_back(make(specs[i]));
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
  return MacAddress{0x02, 0x6e, 0x73, static_cast<std::uint8_t>(n >> 16),
                    static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n)};
}

void Lab::create_links() {
  std::map<std::string, int, std::less<>> bridge_index;  // "node:bridge"
  for (const auto& spec : topology_.nodes()) {
    Node& n = node(spec.name);
    for (const auto& b : spec.bridges) {
      MacAddress mac = next_mac();
      int idx = NodeInternals::netlink(n).create_bridge(b.name, b.mtu, spec.name + ":" + b.name, mac);
      bridge_index[spec.name + ":" + b.name] = idx;
      NodeInternals::record_interface(n, {b.name, b.addresses, mac});
    }
  }
  for (const auto& l : topology_.links()) {
    // The end that is a bridge port is created by its own node, so that it is
    // enslaved in the same message; the other end is born in its namespace.
    bool swap = l.a.bridge.empty() && !l.b.bridge.empty();
    const Endpoint& le = swap ? l.b : l.a;
    const Endpoint& pe = swap ? l.a : l.b;
    Node& ln = node(le.node);
    Node& pn = node(pe.node);
    VethEnd local{le.interface, le.label(), -1, 0, le.up, le.mtu, next_mac()};
    VethEnd peer{pe.interface, pe.label(), pn.netns().fd(), 0, pe.up, pe.mtu, next_mac()};
    if (!le.bridge.empty()) local.master = bridge_index.at(le.node + ":" + le.bridge);
    NodeInternals::netlink(ln).create_veth(local, peer);
    int master = pe.bridge.empty() ? 0 : bridge_index.at(pe.node + ":" + pe.bridge);
    if (master || pe.up) NodeInternals::netlink(pn).configure(pe.interface, master, pe.up, pe.label());
    NodeInternals::record_interface(ln, {le.interface, le.addresses, *local.mac});
    NodeInternals::record_interface(pn, {pe.interface, pe.addresses, *peer.mac});
  }
  // Bridges come up last, with their ports already up (see create_bridge).
  for (const auto& [label, index] : bridge_index) {
    auto colon = label.find(':');
    NodeInternals::netlink(node(label.substr(0, colon))).set_up(index, true, label);
  }
}

void Lab::add_addresses_and_routes() {
  auto t0 = Clock::now();
  for (const auto& spec : topology_.nodes()) {
    Node& n = node(spec.name);
    if (n.interfaces().empty()) continue;
    auto links = NodeInternals::netlink(n).links();
    auto index_of = [&](const std::string& name) {
      for (const auto& l : links)
        if (l.name == name) return l.index;
      throw NetlinkError(fmt::format("no link \"{}:{}\"", spec.name, name), ENODEV);
    };
    const auto described = topology_.interfaces_of(spec.name);
    for (const auto& i : n.interfaces()) {
      if (i.addresses.empty()) continue;
      int idx = index_of(i.name);
      for (const auto& p : i.addresses) {
        try {
          NodeInternals::netlink(n).add_address(idx, p, spec.name + ":" + i.name);
        } catch (const NetlinkError& e) {
          // An address the kernel refuses is the scenario's: name where it was written.
          for (const auto& d : described)
            if (d.name == i.name && d.where.known()) throw ConfigError(e.what(), d.where);
          throw;
        }
      }
    }
    for (const auto& r : spec.routes) {
      RouteRequest req;
      req.family = r.family;
      req.destination = r.to;
      req.gateway = r.via;
      req.oif = r.dev.empty() ? 0 : (r.dev == "lo" ? 1 : index_of(r.dev));
      req.metric = r.metric;
      req.type = r.type;
      req.label = spec.name + ": " + r.str();
      try {
        NodeInternals::netlink(n).add_route(req);
      } catch (const NetlinkError& e) {
        if (r.where.known()) throw ConfigError(e.what(), r.where);
        throw;
      }
    }
  }
  times_.routes_ms = ms_since(t0);
}

void Lab::add_static_neighbours() {
  if (!options_.static_neighbours) return;
  struct Member {
    Node* node;
    const Node::Interface* iface;
  };
  std::map<int, std::vector<Member>> by_segment;
  auto segments = topology_.segments();
  for (auto& n : nodes_)
    for (const auto& i : n->interfaces())
      if (!i.addresses.empty()) by_segment[segments.at(n->name() + ":" + i.name)].push_back({n.get(), &i});
  // Per node: (interface name, entry), the ifindex filled in below.
  std::map<Node*, std::vector<std::pair<std::string, Neighbour>>> todo;
  for (const auto& [seg, members] : by_segment) {
    (void)seg;
    std::size_t addresses = 0;
    for (const auto& m : members) addresses += m.iface->addresses.size();
    if (members.size() < 2 || addresses > options_.static_neighbour_limit) continue;
    for (const auto& me : members)
      for (const auto& other : members) {
        if (&me == &other) continue;
        for (const auto& theirs : other.iface->addresses) {
          bool on_link = false;
          for (const auto& mine : me.iface->addresses) on_link = on_link || mine.contains(theirs.address());
          if (on_link)
            todo[me.node].push_back({me.iface->name, Neighbour{0, theirs.address(), other.iface->mac}});
        }
      }
  }
  // Bridges learn the MAC behind each port from the first frame it sends; with
  // no ARP on the wire, the first frames to a node would be flooded to every
  // port. Static forwarding entries make a bridge a switch that already knows.
  std::map<Node*, std::vector<std::pair<std::string, MacAddress>>> fdb;
  for (const auto& l : topology_.links()) {
    for (const auto& [port, other] : {std::pair{&l.a, &l.b}, std::pair{&l.b, &l.a}}) {
      if (port->bridge.empty()) continue;
      for (const auto& i : node(other->node).interfaces())
        if (i.name == other->interface) fdb[&node(port->node)].push_back({port->interface, i.mac});
    }
  }
  for (auto& [n, entries] : fdb)
    for (auto& [port, mac] : entries) todo[n].push_back({port, Neighbour{0, {}, mac, true}});

  for (auto& [n, named] : todo) {
    std::map<std::string, int> index;
    for (const auto& l : NodeInternals::netlink(*n).links()) index[l.name] = l.index;
    std::vector<Neighbour> entries;
    entries.reserve(named.size());
    for (auto& [ifname, e] : named) {
      e.ifindex = index.at(ifname);
      entries.push_back(e);
    }
    NodeInternals::netlink(*n).add_neighbours(entries);
  }
}

void Lab::apply_impairments() {
  for (const auto& l : topology_.links()) {
    const Impairment& im = l.impair;
    if (im.empty()) continue;
    std::string link = fmt::format("link \"{}\" <-> \"{}\"", l.a.label(), l.b.label());
    bool netem = (im.loss_percent || im.needs_netem()) && kernel_has_netem();
    if (im.needs_netem() && !netem) {
      std::string what = im.delay ? "delay" : "jitter";
      std::string msg = fmt::format("{}: {} needs the kernel's netem qdisc (CONFIG_NET_SCH_NETEM), which this "
                                    "kernel lacks; rate and loss work without it",
                                    link, what);
      if (l.where.known()) msg = l.where.str() + ": " + msg;
      throw EnvironmentError(msg);
    }
    std::vector<std::pair<const Endpoint*, const Endpoint*>> directions;  // sender, receiver
    if (im.direction != Impairment::Direction::b_to_a) directions.push_back({&l.a, &l.b});
    if (im.direction != Impairment::Direction::a_to_b) directions.push_back({&l.b, &l.a});
    for (const auto& [from, to] : directions) {
      Node& sender = node(from->node);
      int index = NodeInternals::netlink(sender).link(from->interface).index;
      if (netem) {
        NodeInternals::netlink(sender).add_netem(index, im.delay.value_or(std::chrono::microseconds(0)),
                                   im.jitter.value_or(std::chrono::microseconds(0)), im.loss_percent.value_or(0),
                                   from->label());
        if (im.rate) NodeInternals::netlink(sender).add_rate_limit(index, im.rate->bits_per_second, kNetemChildHandle,
                                                     from->label());
        continue;
      }
      if (im.rate) NodeInternals::netlink(sender).add_rate_limit(index, im.rate->bits_per_second, 0, from->label());
      if (im.loss_percent && *im.loss_percent > 0)
        apply_loss_without_netem(node(to->node), to->interface, *im.loss_percent, l);
    }
  }
}

void Lab::apply_firewalls() {
  for (const auto& spec : topology_.nodes()) {
    const Node& n = node(spec.name);
    if (!spec.nftables.empty()) apply_nftables(n, spec.nftables.text, spec.nftables.where);
    if (!spec.iptables.empty()) apply_iptables(n, spec.iptables.text, Family::ipv4, spec.iptables.where);
    if (!spec.ip6tables.empty())
      apply_iptables(n, spec.ip6tables.text, Family::ipv6, spec.ip6tables.where);
  }
}

void Lab::apply_sysctls() {
  std::vector<Node*> with;
  for (const auto& spec : topology_.nodes())
    if (!spec.sysctls.empty()) with.push_back(&node(spec.name));
  if (with.empty()) return;
  // Validation refuses the keys nslab knows to be machine-wide; whatever a
  // namespace still refuses (a missing key, a read-only one, a bad value) is
  // the scenario's error, at the key's own file:line:column.
  run_in_each(with, [&](Node& n) {
    const NodeSpec& spec = topology_.node(n.name());
    for (const auto& s : spec.sysctls) {
      const SourceLocation& where = s.where.known() ? s.where : spec.where;
      try {
        write_sysctl_here(s.key, s.value);
      } catch (const ConfigError& e) {
        throw ConfigError(fmt::format("node \"{}\": {}", n.name(), e.message()), where);
      } catch (const SystemError& e) {
        throw ConfigError(fmt::format("node \"{}\": {}", n.name(), e.what()), where);
      }
    }
  });
}

// A packet sent through a link before the kernel has activated its queue is
// dropped, so build() returns only when every link that should be up has
// carrier and an active queue (operstate may lag behind by up to a second).
void Lab::wait_links_up() {
  // node -> interface -> whether it must also be operationally up: the veth
  // end that create_links made up before its peer gains carrier while up,
  // so its queues wait for the link watcher (see LinkInfo::ready).
  std::map<std::string, std::map<std::string, bool>> want;
  for (const auto& l : topology_.links()) {
    if (!l.a.up || !l.b.up) continue;
    bool swap = l.a.bridge.empty() && !l.b.bridge.empty();  // as in create_links
    const Endpoint& first_up = swap ? l.b : l.a;
    for (const auto* e : {&l.a, &l.b}) {
      want[e->node][e->interface] = e == &first_up;
      if (!e->bridge.empty()) want[e->node].emplace(e->bridge, false);
    }
  }
  auto deadline = Clock::now() + options_.link_up_timeout;
  std::chrono::microseconds pause{100};
  while (!want.empty()) {
    for (auto it = want.begin(); it != want.end();) {
      for (const auto& li : NodeInternals::netlink(node(it->first)).links()) {
        auto w = it->second.find(li.name);
        if (w != it->second.end() && li.ready() && (li.oper_up || !w->second)) it->second.erase(w);
      }
      it = it->second.empty() ? want.erase(it) : std::next(it);
    }
    if (want.empty()) break;
    if (Clock::now() > deadline) {
      std::string late;
      for (const auto& [n, ifs] : want)
        for (const auto& [i, oper] : ifs) late += fmt::format(" {}:{}", n, i);
      throw TimeoutError(fmt::format("links not up after {} ms:{}",
                                     options_.link_up_timeout.count(), late));
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds{5000});
  }
  // The watcher may still be between setting a link's state and activating
  // its queues; it holds the RTNL lock for both, and any request that takes
  // the lock (setting lo up again) waits for it to finish.
  if (!nodes_.empty()) NodeInternals::netlink(*nodes_.front()).set_up(1, true, nodes_.front()->name() + ":lo");
}

void Lab::start_services() {
  for (const auto& spec : topology_.nodes())
    for (const auto& s : spec.services) services().add(node(spec.name), s.protocol, s.port);
}

Process& Lab::start(std::string_view node_name, ProcessSpec spec) {
  const Node& n = node(node_name);
  const NodeSpec& ns = topology_.node(node_name);
  if (spec.hostname.empty()) spec.hostname = ns.hostname;
  spec.pid_namespace = spec.pid_namespace || ns.pid_namespace;
  processes_.push_back(std::make_unique<Process>(n, std::move(spec)));
  process_list_.push_back(processes_.back().get());
  return *processes_.back();
}

void Lab::start_processes() {
  for (const auto& spec : topology_.nodes()) {
    for (const auto& r : spec.run) {
      auto located = [&](const std::string& msg) { return r.where.known() ? r.where.str() + ": " + msg : msg; };
      Process* p = nullptr;
      try {
        p = &start(spec.name, ProcessSpec{.argv = r.argv, .env = r.env, .working_dir = r.working_dir});
        const Node& n = node(spec.name);
        if (r.expect_exit) {
          int code = p->wait(r.timeout);
          if (code != *r.expect_exit)
            throw ProcessError(fmt::format("{} exited with code {}, not {}; the end of its output:\n{}", p->label(),
                                           code, *r.expect_exit, p->log_tail()));
          continue;
        }
        if (r.ready_port) wait_listening(n, r.ready_port->first, r.ready_port->second, r.timeout, p);
        if (!r.ready_command.empty()) wait_command(n, r.ready_command, r.timeout, p);
        p->require_running();
        lasting_.emplace_back(p, r.where);
      } catch (const ProcessError& e) {
        throw ProcessError(located(e.what()));
      } catch (const TimeoutError& e) {
        throw TimeoutError(located(e.what()));
      } catch (const EnvironmentError& e) {
        throw EnvironmentError(located(e.what()));
      }
    }
  }
}

std::vector<Lab::ExitedProgram> Lab::exited_programs() {
  std::vector<ExitedProgram> out;
  for (const auto& [p, where] : lasting_)
    if (auto code = p->exit_code()) out.push_back({p, *code, where});
  return out;
}

ServiceHost& Lab::services() {
  if (!services_) services_ = std::make_unique<ServiceHost>();
  return *services_;
}

void Lab::run_in_each(const std::vector<Node*>& nodes, const std::function<void(Node&)>& fn) {
  on_new_thread([&] {
    for (Node* n : nodes) {
      n->netns().enter_this_thread();
      fn(*n);
    }
  });
}

const Node* Lab::find_node(std::string_view name) const {
  for (const auto& n : nodes_)
    if (n->name() == name) return n.get();
  return nullptr;
}

const Node& Lab::node(std::string_view name) const {
  if (const Node* n = find_node(name)) return *n;
  throw ConfigError(fmt::format("no node \"{}\" in lab \"{}\"", name, topology_.name()));
}

Node& Lab::node(std::string_view name) {
  return const_cast<Node&>(std::as_const(*this).node(name));
}

IpAddress Lab::resolve(std::string_view target, std::optional<Family> family) const {
  if (auto a = IpAddress::parse(target)) return *a;
  std::string_view node_name = target, iface;
  if (auto colon = target.find(':'); colon != std::string_view::npos) {
    node_name = target.substr(0, colon);
    iface = target.substr(colon + 1);
  }
  const Node* n = find_node(node_name);
  if (!n)
    throw ConfigError(fmt::format("probe target \"{}\": no node \"{}\" in lab \"{}\"", target,
                                  node_name, topology_.name()));
  std::vector<Family> order = family ? std::vector{*family}
                                     : std::vector{Family::ipv4, Family::ipv6};
  for (Family f : order) {
    auto a = iface.empty() ? n->primary_address(f) : n->interface_address(iface, f);
    if (a) return *a;
  }
  throw ConfigError(fmt::format("probe target \"{}\" has no {}address", target,
                                family ? fmt::format("{} ", to_string(*family)) : ""));
}

std::vector<ProbeResult> Lab::probe(const std::vector<Probe>& probes, const ProbeOptions& options) {
  std::lock_guard lock(probe_mutex_);
  return run_probes(*this, probes, options);
}

ProbeResult Lab::probe(const Probe& p, const ProbeOptions& options) {
  return std::move(probe(std::vector<Probe>{p}, options).front());
}

MatrixReport Lab::run_matrix(const MatrixSpec& spec, const ProbeOptions& options) {
  expected_table(spec);  // names a bad exception before probing
  auto t0 = std::chrono::steady_clock::now();
  auto results = probe(matrix_probes(spec), options);
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return matrix_report(spec, std::move(results), ms);
}

Capture Lab::capture(std::string_view on, const std::string& filter) {
  auto colon = on.find(':');
  if (colon == std::string_view::npos)
    throw ConfigError(fmt::format("capture point \"{}\" must be node:interface", on));
  return Capture(node(on.substr(0, colon)), std::string(on.substr(colon + 1)), filter);
}

Verdict Lab::ping(std::string_view from, std::string_view to, const ProbeOptions& options) {
  return probe(Probe{std::string(from), std::string(to)}, options).verdict;
}

ProbeResult Lab::tcp(std::string_view from, std::string_view to, std::uint16_t port,
                     const ProbeOptions& options) {
  Probe p{std::string(from), std::string(to), Protocol::tcp, port};
  p.want_served_by = true;
  return probe(p, options);
}

ProbeResult Lab::udp(std::string_view from, std::string_view to, std::uint16_t port,
                     const ProbeOptions& options) {
  return probe(Probe{std::string(from), std::string(to), Protocol::udp, port}, options);
}

}  // namespace nslab
