#include "nslab/topology.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <set>
#include <tuple>
#include <unordered_map>
#include <utility>

#include "iptables_text.h"

namespace nslab {


namespace {
std::vector<std::string_view> split_ws(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    std::size_t j = i;
    while (j < s.size() && s[j] != ' ' && s[j] != '\t') ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}
}  // namespace

Endpoint Endpoint::parse(std::string_view text, SourceLocation where) {
  auto words = split_ws(text);
  if (words.empty())
    throw ConfigError("an endpoint cannot be empty (expected \"node:interface [ADDRESS/LEN]\")",
                      where);
  Endpoint e;
  e.where = where;
  std::string_view head = words[0];
  auto colon = head.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == head.size())
    throw ConfigError(fmt::format("endpoint \"{}\" must be written node:interface, e.g. red:eth0",
                                  head),
                      where);
  e.node = std::string(head.substr(0, colon));
  std::string_view iface = head.substr(colon + 1);
  if (auto at = iface.find('@'); at != std::string_view::npos) {
    e.bridge = std::string(iface.substr(at + 1));
    iface = iface.substr(0, at);
  }
  e.interface = std::string(iface);
  for (std::size_t i = 1; i < words.size(); ++i) {
    auto p = Prefix::parse(words[i]);
    if (!p) {
      throw ConfigError(
          fmt::format("endpoint \"{}\": \"{}\" is not an address with a prefix length "
                      "(e.g. 192.168.1.1/24)",
                      head, words[i]),
          where);
    }
    e.addresses.push_back(*p);
  }
  return e;
}

std::string RouteSpec::str() const {
  std::string s;
  if (type == RouteType::blackhole) s += "blackhole ";
  if (type == RouteType::unreachable) s += "unreachable ";
  if (type == RouteType::prohibit) s += "prohibit ";
  s += to ? to->network().str() : std::string(family == Family::ipv4 ? "default" : "default (ipv6)");
  if (via) s += " via " + via->str();
  if (!dev.empty()) s += " dev " + dev;
  if (metric) s += fmt::format(" metric {}", metric);
  return s;
}

RouteSpec RouteSpec::make(std::string_view to, std::string_view via, std::string_view dev) {
  RouteSpec r;
  if (!via.empty()) {
    r.via = IpAddress::from_string(via);
    r.family = r.via->family();
  }
  if (to == "default" || to == "default4") {
    if (r.via && !r.via->is_v4()) r.family = Family::ipv6;
  } else if (to == "default6") {
    r.family = Family::ipv6;
  } else {
    auto p = Prefix::parse(to);
    if (!p) {
      auto a = IpAddress::parse(to);
      if (!a)
        throw ConfigError(fmt::format(
            "route destination \"{}\" is not \"default\", an address or a prefix", to));
      p = Prefix(*a, a->is_v4() ? 32 : 128);
    }
    r.to = p->network();
    r.family = p->family();
  }
  r.dev = std::string(dev);
  return r;
}

NodeSpec& NodeSpec::bridge(std::string bridge_name, std::vector<std::string> addresses) {
  BridgeSpec b;
  b.name = std::move(bridge_name);
  for (auto& a : addresses) b.addresses.push_back(Prefix::from_string(a));
  bridges.push_back(std::move(b));
  return *this;
}

NodeSpec& NodeSpec::route(std::string_view to, std::string_view via, std::string_view dev) {
  routes.push_back(RouteSpec::make(to, via, dev));
  return *this;
}

NodeSpec& NodeSpec::sysctl(std::string key, std::string value) {
  sysctls.push_back(SysctlSpec{std::move(key), std::move(value), {}});
  return *this;
}

NodeSpec& NodeSpec::service(Protocol protocol, std::uint16_t port) {
  services.push_back(ServiceSpec{protocol, port, {}});
  return *this;
}

NodeSpec& NodeSpec::iptables_rules(std::string lines) {
  iptables.text += lines + "\n";
  return *this;
}
NodeSpec& NodeSpec::ip6tables_rules(std::string lines) {
  ip6tables.text += lines + "\n";
  return *this;
}
NodeSpec& NodeSpec::nftables_ruleset(std::string ruleset) {
  nftables.text += ruleset + "\n";
  return *this;
}

const BridgeSpec* NodeSpec::find_bridge(std::string_view bridge_name) const {
  for (const auto& b : bridges)
    if (b.name == bridge_name) return &b;
  return nullptr;
}

namespace {

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

}  // namespace

NodeSpec& Topology::add_node(std::string node_name, SourceLocation where) {
  if (auto why = node_name_problem(node_name)) throw ConfigError(*why, where);
  if (find_node(node_name)) {
    const auto& first = *find_node(node_name);
    std::string also = first.where.known() ? fmt::format(" (first defined at {})", first.where.str())
                                           : std::string();
    throw ConfigError(fmt::format("duplicate node \"{}\"{}", node_name, also), where);
  }
  NodeSpec n;
  n.name = std::move(node_name);
  n.where = std::move(where);
  nodes_.push_back(std::move(n));
  return nodes_.back();
}

const NodeSpec* Topology::find_node(std::string_view node_name) const {
  for (const auto& n : nodes_)
    if (n.name == node_name) return &n;
  return nullptr;
}

const NodeSpec& Topology::node(std::string_view node_name) const {
  if (const auto* n = find_node(node_name)) return *n;
  throw ConfigError(fmt::format("no node \"{}\" in lab \"{}\"", node_name, name_));
}

NodeSpec& Topology::node(std::string_view node_name) {
  return const_cast<NodeSpec&>(std::as_const(*this).node(node_name));
}

LinkSpec& Topology::add_link(Endpoint a, Endpoint b, SourceLocation where) {
  links_.push_back(LinkSpec{std::move(a), std::move(b), {}, std::move(where)});
  return links_.back();
}

LinkSpec& Topology::link(std::string_view a, std::string_view b) {
  return add_link(Endpoint::parse(a), Endpoint::parse(b));
}

std::vector<Topology::InterfaceSpec> Topology::interfaces_of(std::string_view node_name) const {
  std::vector<InterfaceSpec> out;
  if (const auto* n = find_node(node_name))
    for (const auto& b : n->bridges) out.push_back({b.name, b.addresses, b.where});
  for (const auto& l : links_)
    for (const auto* e : {&l.a, &l.b})
      if (e->node == node_name) out.push_back({e->interface, e->addresses, e->where});
  return out;
}

namespace {
SourceLocation or_else(const SourceLocation& a, const SourceLocation& b) {
  return a.known() ? a : b;
}
}  // namespace

std::vector<ConfigError> Topology::problems() const {
  std::vector<ConfigError> out;
  auto problem = [&](std::string msg, const SourceLocation& where) {
    out.emplace_back(std::move(msg), where);
  };

  // Interface names per node: unique, valid, and the bridges endpoints name exist.
  std::map<std::string, std::map<std::string, SourceLocation>, std::less<>> names;
  for (const auto& n : nodes_) {
    auto& mine = names[n.name];
    mine["lo"] = n.where;
    for (const auto& b : n.bridges) {
      auto where = or_else(b.where, n.where);
      if (auto why = interface_name_problem(b.name))
        problem(fmt::format("bridge \"{}:{}\": {}", n.name, printable(b.name), *why), where);
      else if (!mine.emplace(b.name, where).second)
        problem(fmt::format("duplicate interface \"{}:{}\"", n.name, b.name), where);
      if (b.mtu != 0 && (b.mtu < 68 || b.mtu > 65535))
        problem(fmt::format("bridge \"{}:{}\": MTU {} is outside 68..65535", n.name, printable(b.name), b.mtu),
                where);
    }
    for (const auto& s : n.sysctls)
      if (auto why = sysctl_key_problem(s.key))
        problem(fmt::format("node \"{}\": {}", n.name, *why), or_else(s.where, n.where));
  }
  for (const auto& l : links_) {
    for (const auto* e : {&l.a, &l.b}) {
      auto where = or_else(e->where, l.where);
      const NodeSpec* n = find_node(e->node);
      if (!n) {
        problem(fmt::format("link endpoint \"{}\" names unknown node \"{}\"", printable(e->label()),
                            printable(e->node)),
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
      if (e->mtu != 0 && (e->mtu < 68 || e->mtu > 65535))
        problem(fmt::format("link endpoint \"{}\": MTU {} is outside 68..65535", e->label(), e->mtu),
                where);
      for (const auto& p : e->addresses)
        if (!p.address().is_v4() && e->mtu != 0 && e->mtu < 1280) {
          problem(fmt::format("link endpoint \"{}\": IPv6 address {} needs an MTU of at least 1280, not {}",
                              e->label(), p.str(), e->mtu),
                  where);
          break;
        }
    }
  }
  // Impairments built in C++ skip the parsers' checks.
  for (const auto& l : links_) {
    const Impairment& im = l.impair;
    std::string link = fmt::format("link \"{}\" <-> \"{}\"", printable(l.a.label()), printable(l.b.label()));
    auto where = or_else(l.where, l.a.where);
    if (im.rate && (im.rate->bits_per_second < Rate::kMinBitsPerSecond ||
                    im.rate->bits_per_second > Rate::kMaxBitsPerSecond))
      problem(fmt::format("{}: rate {} bit/s is outside 8bit..10tbit", link, im.rate->bits_per_second), where);
    if (im.loss_percent && !(*im.loss_percent >= 0 && *im.loss_percent <= 100))
      problem(fmt::format("{}: loss {}% is outside 0%..100%", link, *im.loss_percent), where);
    for (const auto& [what, d] : {std::pair{"delay", im.delay}, std::pair{"jitter", im.jitter}})
      if (d && (d->count() < 0 || *d > std::chrono::seconds(60)))
        problem(fmt::format("{}: {} {} us is outside 0..60s", link, what, d->count()), where);
  }

  for (const auto& n : nodes_)
    for (const auto& b : n.bridges)
      for (const auto& p : b.addresses)
        if (!p.address().is_v4() && b.mtu != 0 && b.mtu < 1280) {
          problem(fmt::format("bridge \"{}:{}\": IPv6 address {} needs an MTU of at least 1280, not {}", n.name,
                              b.name, p.str(), b.mtu),
                  or_else(b.where, n.where));
          break;
        }

  // Address collisions: within one node, and within one layer-2 segment
  // (a veth pair, or a bridge with its ports).
  const auto segment = segments();
  auto find = [&](const std::string& label) {
    auto it = segment.find(label);
    return it == segment.end() ? -1 : it->second;
  };
  std::map<std::pair<int, IpAddress>, std::string> on_segment;
  std::map<std::pair<std::string, IpAddress>, std::string> on_node;
  for (const auto& n : nodes_) {
    for (const auto& i : interfaces_of(n.name)) {
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
            problem(fmt::format("address {} on \"{}\" is the network address of its subnet", p.str(),
                                printable(label)),
                    where);
            continue;
          }
          if (is_broadcast(p)) {
            problem(fmt::format("address {} on \"{}\" is the broadcast address of its subnet", p.str(),
                                printable(label)),
                    where);
            continue;
          }
        }
        auto [it, fresh] = on_node.emplace(std::pair{n.name, p.address()}, label);
        if (!fresh) {
          problem(fmt::format("address {} on \"{}\" is already in use on \"{}\"", p.address().str(),
                              printable(label), printable(it->second)),
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

  // Services and programs: one listener per protocol and port in a node.
  for (const auto& n : nodes_) {
    std::map<std::pair<Protocol, std::uint16_t>, SourceLocation> ports;
    for (const auto& sv : n.services) {
      auto where = or_else(sv.where, n.where);
      auto [it, fresh] = ports.emplace(std::pair{sv.protocol, sv.port}, where);
      if (!fresh)
        problem(fmt::format("node \"{}\": duplicate service {}/{}{}", n.name, to_string(sv.protocol), sv.port,
                            at_line(it->second, " (first at ", ")")),
                where);
    }
    for (const auto& r : n.run) {
      if (!r.ready_port) continue;
      auto it = ports.find(*r.ready_port);
      if (it != ports.end())
        problem(fmt::format("node \"{}\": a run program is ready on {}/{}, the port of a built-in service{}; one "
                            "of them could not listen",
                            n.name, to_string(r.ready_port->first), r.ready_port->second,
                            at_line(it->second, " (at ", ")")),
                or_else(r.where, n.where));
    }
  }

  // Firewall rule lines: tokenised (quotes, comments) as they will be loaded.
  for (const auto& n : nodes_) {
    for (const auto* rules : {&n.iptables, &n.ip6tables}) {
      if (rules->empty()) continue;
      try {
        (void)iptables_restore_input(rules->text, rules->where);
      } catch (const ConfigError& e) {
        problem(fmt::format("node \"{}\": {}", n.name, e.message()), or_else(e.where(), n.where));
      }
    }
  }

  // Routes: the device exists, the gateway is on a connected subnet.
  for (const auto& n : nodes_) {
    auto ifaces = interfaces_of(n.name);
    std::map<std::tuple<Family, std::optional<Prefix>, int>, std::string> seen;
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
      if (auto [it, fresh] = seen.emplace(std::tuple{r.family, r.to, r.metric}, r.str()); !fresh)
        problem(fmt::format("route \"{}\" on node \"{}\" has the same destination and metric as \"{}\"",
                            printable(r.str()), n.name, printable(it->second)),
                where);
      if (r.via) {
        if (r.to && r.to->family() != r.via->family()) {
          problem(fmt::format("route \"{}\" on node \"{}\" mixes IPv4 and IPv6", r.str(), n.name),
                  where);
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
          problem(fmt::format("route \"{}\" on node \"{}\": gateway {} is an address of \"{}\" itself", r.str(),
                              n.name, r.via->str(), n.name),
                  where);
        else if (!connected)
          problem(fmt::format("route \"{}\" on node \"{}\": gateway {} is not on any subnet "
                              "connected to \"{}\"",
                              r.str(), n.name, r.via->str(), n.name),
                  where);
      } else if (r.type == RouteType::unicast && r.dev.empty()) {
        problem(fmt::format("route \"{}\" on node \"{}\" needs a gateway (via) or a device (dev)",
                            r.str(), n.name),
                where);
      }
    }
  }
  return out;
}

std::map<std::string, int> Topology::segments() const {
  std::unordered_map<std::string, std::string> parent;
  std::function<std::string(const std::string&)> root = [&](const std::string& k) {
    auto it = parent.find(k);
    if (it == parent.end() || it->second == k) return k;
    return it->second = root(it->second);
  };
  auto unite = [&](const std::string& a, const std::string& b) {
    auto ra = root(a), rb = root(b);
    if (ra != rb) parent[ra] = rb;
  };
  for (const auto& l : links_) {
    unite(l.a.label(), l.b.label());
    for (const auto* e : {&l.a, &l.b})
      if (!e->bridge.empty()) unite(e->label(), e->node + ":" + e->bridge);
  }
  std::map<std::string, int> ids, out;
  auto number = [&](const std::string& label) {
    auto r = root(label);
    auto it = ids.emplace(r, static_cast<int>(ids.size())).first;
    out[label] = it->second;
  };
  for (const auto& n : nodes_)
    for (const auto& b : n.bridges) number(n.name + ":" + b.name);
  for (const auto& l : links_) {
    number(l.a.label());
    number(l.b.label());
  }
  return out;
}

void Topology::validate() const {
  auto all = problems();
  if (!all.empty()) throw all.front();
}

}  // namespace nslab
