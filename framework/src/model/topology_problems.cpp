// Topology::problems(): the checks a description must pass before a lab is
// built, one function per concern, run in the order of the description's
// parts. Every problem names the object (node, interface, link, route) and
// where it was written. Needs no privilege.
#include "nslab/topology.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <map>
#include <tuple>
#include <utility>

#include "iptables_text.h"
#include "bridge_problems.h"
#include "link_kind_problems.h"
#include "nexthop_problems.h"
#include "nftables_text.h"
#include "ovs_problems.h"
#include "routing_problems.h"
#include "rule_files.h"

namespace nslab {

namespace {

// Collects problems in the order they are found.
class Problems {
 public:
  void operator()(const std::string& msg, const SourceLocation& where) { out_.emplace_back(msg, where); }
  std::vector<ConfigError> take() { return std::move(out_); }

 private:
  std::vector<ConfigError> out_;
};

SourceLocation or_else(const SourceLocation& a, const SourceLocation& b) {
  return a.known() ? a : b;
}

// " (first at line 3, column 17)" for a known location, else nothing.
std::string at_line(const SourceLocation& w, std::string_view before, std::string_view after) {
  if (!w.known()) return {};
  return fmt::format("{}line {}, column {}{}", before, w.line, w.column, after);
}

// An IPv4 address whose host bits are all ones: its subnet's broadcast.
bool is_broadcast(const Prefix& p) {
  if (!p.address().is_v4()) return false;
  bool all_ones = true;
  for (int bit = p.length(); bit < 32; ++bit)
    all_ones = all_ones && (p.address().data()[bit / 8] & (0x80 >> (bit % 8))) != 0;
  return all_ones;
}

// Every node's interfaces (as Topology::interfaces_of gives them), made in
// one pass over the links: asking per node costs O(nodes x links).
using InterfacesByNode = std::map<std::string, std::vector<Topology::InterfaceSpec>, std::less<>>;
InterfacesByNode interfaces_by_node(const Topology& t) {
  InterfacesByNode out;
  for (const auto& n : t.nodes()) {
    auto& mine = out[n.name];
    for (const auto& b : n.bridges) mine.push_back({b.name, b.addresses, b.where});
  }
  for (const auto& l : t.links())
    for (const auto* e : {&l.a, &l.b})
      if (auto it = out.find(e->node); it != out.end()) it->second.push_back({e->interface, e->addresses, e->where});
  for (const auto& n : t.nodes())
    for (const auto& i : n.interfaces) out[n.name].push_back({i.name, i.addresses, i.where});
  return out;
}

const std::vector<Topology::InterfaceSpec>& interfaces(const InterfacesByNode& all, const std::string& node) {
  static const std::vector<Topology::InterfaceSpec> none;
  auto it = all.find(node);
  return it == all.end() ? none : it->second;
}

// The kernel numbers a bridge's ports 1..1023 (BR_MAX_PORTS is 1024): the
// 1,024th port is refused with EXFULL ("Exchange full").
constexpr std::size_t kMaxBridgePorts = 1023;

// Interface names per node: unique, valid, and the bridges endpoints name exist.
void interface_problems(const Topology& t, Problems& problem) {
  std::map<std::string, std::map<std::string, SourceLocation>, std::less<>> names;
  for (const auto& n : t.nodes()) {
    auto& mine = names[n.name];
    mine["lo"] = n.where;
    for (const auto& b : n.bridges) {
      auto where = or_else(b.where, n.where);
      if (auto why = interface_name_problem(b.name))
        problem(fmt::format("bridge \"{}:{}\": {}", n.name, printable(b.name), *why), where);
      else if (!mine.emplace(b.name, where).second)
        problem(fmt::format("duplicate interface \"{}:{}\"", n.name, b.name), where);
      if (b.mtu != 0 && (b.mtu < 68 || b.mtu > 65535))
        problem(fmt::format("bridge \"{}:{}\": MTU {} is outside 68..65535", n.name, printable(b.name), b.mtu), where);
    }
    for (const auto& s : n.sysctls)
      if (auto why = sysctl_key_problem(s.key))
        problem(fmt::format("node \"{}\": {}", n.name, *why), or_else(s.where, n.where));
  }
  std::map<std::string_view, const NodeSpec*, std::less<>> by_name;
  for (const auto& n : t.nodes()) by_name.emplace(n.name, &n);
  std::map<std::pair<std::string_view, std::string_view>, std::size_t> ports;  // node, bridge
  for (const auto& l : t.links()) {
    for (const auto* e : {&l.a, &l.b}) {
      auto where = or_else(e->where, l.where);
      auto found = by_name.find(e->node);
      const NodeSpec* n = found == by_name.end() ? nullptr : found->second;
      if (!n) {
        problem(
            fmt::format("link endpoint \"{}\" names unknown node \"{}\"", printable(e->label()), printable(e->node)),
            where);
        continue;
      }
      if (auto why = interface_name_problem(e->interface)) {
        problem(fmt::format("link endpoint \"{}\": {}", printable(e->label()), *why), where);
        continue;
      }
      if (!names[e->node].emplace(e->interface, where).second)
        problem(fmt::format("duplicate interface \"{}\"", e->label()), where);
      if (!e->bridge.empty() && !n->find_bridge(e->bridge))
        problem(fmt::format("link endpoint \"{}\" names bridge \"{}\", which node \"{}\" does "
                            "not have",
                            e->label(), printable(e->bridge), e->node),
                where);
      else if (!e->bridge.empty() && ++ports[{e->node, e->bridge}] == kMaxBridgePorts + 1)
        problem(fmt::format("link endpoint \"{}\": bridge \"{}:{}\" already has {} ports, the most a Linux "
                            "bridge holds; spread the nodes over several bridges",
                            e->label(), e->node, e->bridge, kMaxBridgePorts),
                where);
      if (e->mtu != 0 && (e->mtu < 68 || e->mtu > 65535))
        problem(fmt::format("link endpoint \"{}\": MTU {} is outside 68..65535", e->label(), e->mtu), where);
      for (const auto& p : e->addresses)
        if (!p.address().is_v4() && e->mtu != 0 && e->mtu < 1280) {
          problem(fmt::format("link endpoint \"{}\": IPv6 address {} needs an MTU of at least 1280, not {}", e->label(),
                              p.str(), e->mtu),
                  where);
          break;
        }
    }
  }
}

// Impairments built in C++ skip the parsers' checks.
void impairment_problems(const Topology& t, Problems& problem) {
  for (const auto& l : t.links()) {
    const Impairment& im = l.impair;
    std::string link = fmt::format("link \"{}\" <-> \"{}\"", printable(l.a.label()), printable(l.b.label()));
    auto where = or_else(l.where, l.a.where);
    if (im.rate &&
        (im.rate->bits_per_second < Rate::kMinBitsPerSecond || im.rate->bits_per_second > Rate::kMaxBitsPerSecond))
      problem(fmt::format("{}: rate {} bit/s is outside 8bit..10tbit", link, im.rate->bits_per_second), where);
    if (im.loss_percent && !(*im.loss_percent >= 0 && *im.loss_percent <= 100))
      problem(fmt::format("{}: loss {}% is outside 0%..100%", link, *im.loss_percent), where);
    for (const auto& [what, d] : {std::pair{"delay", im.delay}, std::pair{"jitter", im.jitter}})
      if (d && (d->count() < 0 || *d > std::chrono::seconds(60)))
        problem(fmt::format("{}: {} {} us is outside 0..60s", link, what, d->count()), where);
  }
}

// A bridge with an IPv6 address needs the IPv6 minimum MTU.
void bridge_mtu_problems(const Topology& t, Problems& problem) {
  for (const auto& n : t.nodes())
    for (const auto& b : n.bridges)
      for (const auto& p : b.addresses)
        if (!p.address().is_v4() && b.mtu != 0 && b.mtu < 1280) {
          problem(fmt::format("bridge \"{}:{}\": IPv6 address {} needs an MTU of at least 1280, not {}", n.name, b.name,
                              p.str(), b.mtu),
                  or_else(b.where, n.where));
          break;
        }
}

// Address collisions: within one node, and within one layer-2 segment
// (a veth pair, or a bridge with its ports). A macvlan or ipvlan sends on
// its parent's wire, so its addresses meet the parent segment's (a
// segment of its own in Topology::segments, which plans neighbours per
// interface).
void address_problems(const Topology& t, Problems& problem) {
  auto segment = t.segments();
  for (int pass = 0; pass < 2; ++pass)  // a macvlan on a macvlan's parent chain (validated elsewhere)
    for (const auto& n : t.nodes())
      for (const auto& i : n.interfaces)
        if ((i.kind == InterfaceKind::macvlan || i.kind == InterfaceKind::ipvlan) && !i.parent.empty())
          if (auto p = segment.find(n.name + ":" + i.parent); p != segment.end()) segment[i.label(n.name)] = p->second;
  auto find = [&](const std::string& label) {
    auto it = segment.find(label);
    return it == segment.end() ? -1 : it->second;
  };
  std::map<std::pair<int, IpAddress>, std::string> on_segment;
  std::map<std::pair<std::string, IpAddress>, std::string> on_node;
  const auto all = interfaces_by_node(t);
  const auto shared = shared_addresses(t);  // routing_problems.cpp
  for (const auto& n : t.nodes()) {
    for (const auto& i : interfaces(all, n.name)) {
      std::string label = n.name + ":" + i.name;
      for (const auto& p : i.addresses) {
        auto where = or_else(i.where, n.where);
        if (auto why = interface_address_problem(p)) {
          problem(fmt::format("address {} on \"{}\" {}; a lab interface needs a unicast address", p.str(),
                              printable(label), *why),
                  where);
          continue;
        }
        if (p.address().is_v4() && p.length() <= 30) {
          if (p.network().address() == p.address()) {
            problem(fmt::format("address {} on \"{}\" is the network address of its subnet", p.str(), printable(label)),
                    where);
            continue;
          }
          if (is_broadcast(p)) {
            problem(
                fmt::format("address {} on \"{}\" is the broadcast address of its subnet", p.str(), printable(label)),
                where);
            continue;
          }
        }
        auto [it, fresh] = on_node.emplace(std::pair{n.name, p.address()}, label);
        if (!fresh && !shared.count({n.name, p.address()})) {
          problem(fmt::format("address {} on \"{}\" is already in use on \"{}\"", p.address().str(), printable(label),
                              printable(it->second)),
                  where);
          continue;
        }
        auto [it2, fresh2] = on_segment.emplace(std::pair{find(label), p.address()}, label);
        if (!fresh2)
          problem(fmt::format("address {} on \"{}\" is already in use on \"{}\", on the same "
                              "network segment",
                              p.address().str(), printable(label), printable(it2->second)),
                  where);
      }
    }
  }
}

// Services and programs: one listener per protocol and port in a node.
void listener_problems(const Topology& t, Problems& problem) {
  for (const auto& n : t.nodes()) {
    std::map<std::pair<Protocol, std::uint16_t>, SourceLocation> ports;
    for (const auto& sv : n.services) {
      auto where = or_else(sv.where, n.where);
      auto [it, fresh] = ports.emplace(std::pair{sv.protocol, sv.port}, where);
      if (!fresh)
        problem(fmt::format("node \"{}\": duplicate service {}/{}{}", n.name, to_string(sv.protocol), sv.port,
                            at_line(it->second, " (first at ", ")")),
                where);
    }
    std::map<std::pair<Protocol, std::uint16_t>, SourceLocation> programs;
    for (const auto& r : n.run) {
      if (!r.ready_port) continue;
      auto where = or_else(r.where, n.where);
      if (auto it = ports.find(*r.ready_port); it != ports.end())
        problem(fmt::format("node \"{}\": a run program is ready on {}/{}, the port of a built-in service{}; one "
                            "of them could not listen",
                            n.name, to_string(r.ready_port->first), r.ready_port->second,
                            at_line(it->second, " (at ", ")")),
                where);
      else if (auto [it2, fresh] = programs.emplace(*r.ready_port, where); !fresh)
        problem(fmt::format("node \"{}\": two run programs are ready on {}/{}{}; one of them could not listen, "
                            "and the port could not tell which one is ready",
                            n.name, to_string(r.ready_port->first), r.ready_port->second,
                            at_line(it2->second, " (the first at ", ")")),
                where);
    }
  }
}

// Firewall rule lines: tokenised (quotes, comments) as they will be loaded.
void firewall_problems(const Topology& t, Problems& problem) {
  for (const auto& n : t.nodes()) {
    for (const auto* rules : {&n.iptables, &n.ip6tables}) {
      if (rules->empty()) continue;
      try {
        (void)iptables_restore_input(rules->text, rules->where);
      } catch (const ConfigError& e) {
        problem(fmt::format("node \"{}\": {}", n.name, e.message()), or_else(e.where(), n.where));
      }
    }
    IncludeCheck includes;  // a ruleset kept in a file may include files beside it
    if (!n.nftables.file.empty())
      includes = [&](std::string_view path, const SourceLocation& at) { return include_problem(n.nftables, path, at); };
    if (!n.nftables.empty())
      if (auto e = nftables_problem(n.nftables.text, n.nftables.where, includes))
        problem(fmt::format("node \"{}\": {}", n.name, e->message()), or_else(e->where(), n.where));
  }
}

// Routes: the device exists, the gateway is on a connected subnet.
void route_problems(const Topology& t, Problems& problem) {
  const auto all = interfaces_by_node(t);
  for (const auto& n : t.nodes()) {
    const auto& ifaces = interfaces(all, n.name);
    std::map<std::tuple<Family, std::optional<Prefix>, int, std::optional<std::uint32_t>>, std::string> seen;
    for (const auto& r : n.routes) {
      auto where = or_else(r.where, n.where);
      if (r.metric < 0)
        problem(fmt::format("route \"{}\" on node \"{}\": metric {} is negative (0 to 2147483647)", r.str(), n.name,
                            r.metric),
                where);
      if (!r.dev.empty() && r.dev != "lo" &&
          std::none_of(ifaces.begin(), ifaces.end(), [&](auto& i) { return i.name == r.dev; }))
        problem(fmt::format("route \"{}\" on node \"{}\": no interface \"{}\"", printable(r.str()), n.name,
                            printable(r.dev)),
                where);
      if (auto [it, fresh] = seen.emplace(std::tuple{r.family, r.to, r.metric, n.table_id(r.table)}, r.str()); !fresh)
        problem(fmt::format("route \"{}\" on node \"{}\" has the same destination and metric as \"{}\"",
                            printable(r.str()), n.name, printable(it->second)),
                where);
      if (r.via) {
        if (r.to && r.to->family() != r.via->family()) {
          problem(fmt::format("route \"{}\" on node \"{}\" mixes IPv4 and IPv6", r.str(), n.name), where);
          continue;
        }
        Prefix host(*r.via, r.via->is_v4() ? 32 : 128);
        if (auto why = interface_address_problem(host)) {
          problem(fmt::format("route \"{}\" on node \"{}\": gateway {} {}", r.str(), n.name, r.via->str(), *why),
                  where);
          continue;
        }
        bool connected = false, own = false, edge = false;
        for (const auto& i : ifaces)
          for (const auto& p : i.addresses) {
            if (p.contains(*r.via) && (r.dev.empty() || r.dev == i.name)) connected = true;
            if (p.address() == *r.via) own = true;
            if (p.contains(*r.via) && p.address().is_v4() && p.length() <= 30)
              edge = edge || *r.via == p.network().address() || is_broadcast(Prefix(*r.via, p.length()));
          }
        if (edge)
          problem(fmt::format("route \"{}\" on node \"{}\": gateway {} is the network or broadcast address of "
                              "its subnet",
                              r.str(), n.name, r.via->str()),
                  where);
        else if (own)
          problem(fmt::format("route \"{}\" on node \"{}\": gateway {} is an address of \"{}\" itself", r.str(), n.name,
                              r.via->str(), n.name),
                  where);
        else if (!connected && !r.onlink)
          problem(fmt::format("route \"{}\" on node \"{}\": gateway {} is not on any subnet "
                              "connected to \"{}\"",
                              r.str(), n.name, r.via->str(), n.name),
                  where);
      } else if (r.type == RouteType::unicast && r.dev.empty() && r.nexthops.empty() && !r.nhid) {
        problem(fmt::format("route \"{}\" on node \"{}\" needs a gateway (via) or a device (dev)", r.str(), n.name),
                where);
      }
    }
  }
}

}  // namespace

std::vector<ConfigError> Topology::problems() const {
  Problems problem;
  interface_problems(*this, problem);
  for (auto& e : detail::link_kind_problems(*this)) problem(e.message(), e.where());
  impairment_problems(*this, problem);
  bridge_mtu_problems(*this, problem);
  for (auto& e : detail::bridge_option_problems(*this)) problem(e.message(), e.where());
  detail::ovs_problems(*this, [&](const std::string& m, const SourceLocation& w) { problem(m, w); });
  address_problems(*this, problem);
  listener_problems(*this, problem);
  firewall_problems(*this, problem);
  route_problems(*this, problem);
  auto out = problem.take();
  routing_problems(*this, out);  // rules, tables, next hops, neighbours
  detail::nexthop_problems(*this, out);
  return out;
}

}  // namespace nslab
