// The description's builder: endpoints and routes from their text, nodes and
// links added in order. Topology::problems() (topology_problems.cpp) checks
// the whole.
#include "nslab/topology.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <unordered_map>
#include <utility>

#include "words.h"

namespace nslab {

using detail::split_words;

Endpoint Endpoint::parse(std::string_view text, const SourceLocation& where) {
  auto words = split_words(text, " \t");
  if (words.empty())
    throw ConfigError("an endpoint cannot be empty (expected \"node:interface [ADDRESS/LEN]\")", where);
  Endpoint e;
  e.where = where;
  std::string_view head = words[0];
  auto colon = head.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == head.size())
    throw ConfigError(fmt::format("endpoint \"{}\" must be written node:interface, e.g. red:eth0", head), where);
  e.node = std::string(head.substr(0, colon));
  std::string_view iface = head.substr(colon + 1);
  if (auto at = iface.find('@'); at != std::string_view::npos) {
    e.bridge = std::string(iface.substr(at + 1));
    iface = iface.substr(0, at);
  }
  e.interface = std::string(iface);
  for (std::size_t i = 1; i < words.size(); ++i) {
    if (!e.addresses.empty()) {  // noprefixroute, scope S, shared (routing.cpp)
      std::size_t used = 0;
      try {
        used = read_address_option(words, i, e.addresses.back(), e.address_options);
      } catch (const ConfigError& err) {
        throw ConfigError(fmt::format("endpoint \"{}\": {}", head, err.message()), where);
      }
      if (used > 0) {
        i += used - 1;
        continue;
      }
    }
    auto p = Prefix::parse(words[i]);
    if (!p) {
      throw ConfigError(fmt::format("endpoint \"{}\": \"{}\" is not an address with a prefix length "
                                    "(e.g. 192.168.1.1/24)",
                                    head, words[i]),
                        where);
    }
    e.addresses.push_back(*p);
  }
  return e;
}

// RouteSpec::str, make and parse are in routing.cpp.

NodeSpec& NodeSpec::bridge(std::string bridge_name, const std::vector<std::string>& addresses) {
  BridgeSpec b;
  b.name = std::move(bridge_name);
  for (auto& a : addresses) b.addresses.push_back(Prefix::from_string(a));
  bridges.push_back(std::move(b));
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

NodeSpec& NodeSpec::iptables_rules(std::string_view lines) {
  iptables.text.append(lines).append("\n");
  return *this;
}
NodeSpec& NodeSpec::ip6tables_rules(std::string_view lines) {
  ip6tables.text.append(lines).append("\n");
  return *this;
}
NodeSpec& NodeSpec::nftables_ruleset(std::string_view ruleset) {
  nftables.text.append(ruleset).append("\n");
  return *this;
}

const BridgeSpec* NodeSpec::find_bridge(std::string_view bridge_name) const {
  for (const auto& b : bridges)
    if (b.name == bridge_name) return &b;
  return nullptr;
}

NodeSpec& Topology::add_node(std::string node_name, SourceLocation where) {
  if (auto why = node_name_problem(node_name)) throw ConfigError(*why, where);
  if (find_node(node_name)) {
    const auto& first = *find_node(node_name);
    std::string also = first.where.known() ? fmt::format(" (first defined at {})", first.where.str()) : std::string();
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
  if (const auto* n = find_node(node_name))
    for (const auto& i : n->interfaces) out.push_back({i.name, i.addresses, i.where});
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
  // Link kinds: each interface is a segment of its own, except the ends of
  // one VXLAN network (a VNI on a port), which share theirs, and a bridge's
  // ports, which share the bridge's.
  std::map<std::pair<std::uint32_t, std::uint16_t>, std::string> vxlans;
  for (const auto& n : nodes_)
    for (const auto& i : n.interfaces)
      if (i.kind == InterfaceKind::vxlan)
        if (auto [it, fresh] = vxlans.emplace(std::pair{i.vni, i.dstport}, i.label(n.name)); !fresh)
          unite(i.label(n.name), it->second);
  for (const auto& n : nodes_)
    for (const auto& i : n.interfaces)
      if (!i.bridge.empty()) unite(i.label(n.name), n.name + ":" + i.bridge);
  for (const auto& n : nodes_)
    for (const auto& i : n.interfaces) number(i.label(n.name));
  return out;
}

void Topology::validate() const {
  auto all = problems();
  if (!all.empty()) throw all.front();
}

}  // namespace nslab
