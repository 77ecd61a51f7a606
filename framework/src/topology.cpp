#include "nslab/topology.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <set>
#include <unordered_map>
#include <utility>

namespace nslab {

std::string_view to_string(Protocol p) noexcept {
  switch (p) {
    case Protocol::icmp: return "icmp";
    case Protocol::tcp: return "tcp";
    case Protocol::udp: return "udp";
  }
  return "?";
}

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
  sysctls.emplace_back(std::move(key), std::move(value));
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

std::string sysctl_key_problem(std::string_view key) {
  if (key.substr(0, 4) != "net.")
    return fmt::format(
        "sysctl \"{}\" is not per network namespace; a lab may only set net.* keys", key);
  if (key.find("..") != std::string_view::npos || key.find('/') != std::string_view::npos ||
      key.back() == '.')
    return fmt::format("sysctl \"{}\" is not a valid key", key);
  return {};
}

std::string node_name_problem(std::string_view name) {
  if (name.empty()) return "a node name cannot be empty";
  if (name.size() > 32) return fmt::format("node name \"{}\" is longer than 32 characters", name);
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_';
    if (!ok)
      return fmt::format("node name \"{}\" may hold only letters, digits, '-' and '_'", name);
  }
  return {};
}

NodeSpec& Topology::add_node(std::string node_name, SourceLocation where) {
  if (auto why = node_name_problem(node_name); !why.empty()) throw ConfigError(why, where);
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

std::vector<Topology::Interface> Topology::interfaces_of(std::string_view node_name) const {
  std::vector<Interface> out;
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
      if (auto why = interface_name_problem(b.name); !why.empty())
        problem(fmt::format("bridge \"{}:{}\": {}", n.name, b.name, why), where);
      else if (!mine.emplace(b.name, where).second)
        problem(fmt::format("duplicate interface \"{}:{}\"", n.name, b.name), where);
    }
    for (const auto& [key, value] : n.sysctls)
      if (auto why = sysctl_key_problem(key); !why.empty())
        problem(fmt::format("node \"{}\": {}", n.name, why), n.where);
  }
  for (const auto& l : links_) {
    for (const auto* e : {&l.a, &l.b}) {
      auto where = or_else(e->where, l.where);
      const NodeSpec* n = find_node(e->node);
      if (!n) {
        problem(fmt::format("link endpoint \"{}\" names unknown node \"{}\"", e->label(), e->node),
                where);
        continue;
      }
      if (auto why = interface_name_problem(e->interface); !why.empty()) {
        problem(fmt::format("link endpoint \"{}\": {}", e->label(), why), where);
        continue;
      }
      if (!names[e->node].emplace(e->interface, where).second)
        problem(fmt::format("duplicate interface \"{}\"", e->label()), where);
      if (!e->bridge.empty() && !n->find_bridge(e->bridge))
        problem(fmt::format("link endpoint \"{}\" names bridge \"{}\", which node \"{}\" does "
                            "not have",
                            e->label(), e->bridge, e->node),
                where);
      if (e->mtu != 0 && (e->mtu < 68 || e->mtu > 65535))
        problem(fmt::format("link endpoint \"{}\": MTU {} is outside 68..65535", e->label(), e->mtu),
                where);
    }
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
        if (p.address().is_v4() && p.length() <= 30 && p.network().address() == p.address()) {
          problem(fmt::format("address {} on \"{}\" is the network address of its subnet",
                              p.str(), label),
                  where);
        }
        auto [it, fresh] = on_node.emplace(std::pair{n.name, p.address()}, label);
        if (!fresh) {
          problem(fmt::format("address {} on \"{}\" is already in use on \"{}\"", p.address().str(),
                              label, it->second),
                  where);
          continue;
        }
        auto [it2, fresh2] = on_segment.emplace(std::pair{find(label), p.address()}, label);
        if (!fresh2)
          problem(fmt::format("address {} on \"{}\" is already in use on \"{}\", on the same "
                              "network segment",
                              p.address().str(), label, it2->second),
                  where);
      }
    }
  }

  // Routes: the device exists, the gateway is on a connected subnet.
  for (const auto& n : nodes_) {
    auto ifaces = interfaces_of(n.name);
    for (const auto& r : n.routes) {
      auto where = or_else(r.where, n.where);
      if (!r.dev.empty() && r.dev != "lo" &&
          std::none_of(ifaces.begin(), ifaces.end(), [&](auto& i) { return i.name == r.dev; }))
        problem(fmt::format("route \"{}\" on node \"{}\": no interface \"{}\"", r.str(), n.name,
                            r.dev),
                where);
      if (r.via) {
        if (r.to && r.to->family() != r.via->family()) {
          problem(fmt::format("route \"{}\" on node \"{}\" mixes IPv4 and IPv6", r.str(), n.name),
                  where);
          continue;
        }
        bool connected = false;
        for (const auto& i : ifaces)
          for (const auto& p : i.addresses)
            if (p.contains(*r.via) && (r.dev.empty() || r.dev == i.name)) connected = true;
        if (!connected)
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
