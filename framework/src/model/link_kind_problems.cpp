// The checks a node's link kinds must pass: names, the keys each kind uses,
// parents and members that exist in the node (one master each, no cycle),
// vlan ids, VRF tables and tunnel ends. Built in C++ or loaded from a
// scenario, a description passes the same checks.
#include "link_kind_problems.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <unordered_map>

namespace nslab::detail {

namespace {

// What a node has besides its link kinds.
enum class Plain { loopback, bridge, veth, bridge_port };

struct NodeView {
  std::map<std::string, Plain, std::less<>> plain;
  std::vector<Prefix> addresses;                 // of its bridges and veth ends
  std::set<std::string, std::less<>> addressed;  // its veth ends with addresses
};

SourceLocation or_else(const SourceLocation& a, const SourceLocation& b) {
  return a.known() ? a : b;
}

// The keys a kind has no use for, set anyway (a C++ description; the loader
// reports them at their own position first).
std::vector<std::string_view> stray_keys(const NodeInterface& i) {
  using K = InterfaceKind;
  const K k = i.kind;
  auto one_of = [k](std::initializer_list<K> kinds) { return std::find(kinds.begin(), kinds.end(), k) != kinds.end(); };
  std::vector<std::string_view> out;
  if (k == K::loopback) {
    if (i.mtu) out.push_back("mtu");
    if (!i.up) out.push_back("up");
  }
  if (!i.parent.empty() && !one_of({K::macvlan, K::ipvlan, K::vlan, K::gre, K::ipip, K::vxlan}))
    out.push_back("parent");
  if (!i.bridge.empty() && !one_of({K::dummy, K::macvlan, K::vlan, K::bond, K::vxlan})) out.push_back("bridge");
  if (i.macvlan_mode != MacvlanMode::vepa && k != K::macvlan) out.push_back("mode (macvlan)");
  if (i.ipvlan_mode != IpvlanMode::l3 && k != K::ipvlan) out.push_back("mode (ipvlan)");
  if (i.bond_mode != BondMode::balance_rr && k != K::bond) out.push_back("mode (bond)");
  if (i.vlan_id && k != K::vlan) out.push_back("id");
  if (!i.members.empty() && !one_of({K::bond, K::vrf})) out.push_back("members");
  if (i.table && k != K::vrf) out.push_back("table");
  if (i.local && !is_tunnel(k)) out.push_back("local");
  if (i.remote && !is_tunnel(k)) out.push_back("remote");
  if (i.group && k != K::vxlan) out.push_back("group");
  if (i.ttl != -1 && !is_tunnel(k)) out.push_back("ttl");
  if (i.key && k != K::gre) out.push_back("key");
  if (i.vni && k != K::vxlan) out.push_back("vni");
  if (i.dstport != kVxlanPort && k != K::vxlan) out.push_back("dstport");
  return out;
}

class NodeChecker {
 public:
  NodeChecker(const NodeSpec& n, const NodeView& view, std::vector<ConfigError>& out) : n_(n), view_(view), out_(out) {}

  void run() {
    for (const auto& i : n_.interfaces) names(i);
    for (const auto& i : n_.interfaces) {
      if (!valid_.count(&i)) continue;
      keys(i);
      parent(i);
      bridge(i);
      members(i);
      kind_values(i);
    }
    cycles();
  }

 private:
  void problem(const NodeInterface& i, std::string msg) {
    out_.emplace_back(fmt::format("interface \"{}\": {}", printable(i.label(n_.name)), msg),
                      or_else(i.where, n_.where));
  }

  const NodeInterface* mine(std::string_view name) const {
    auto it = mine_.find(name);
    return it == mine_.end() ? nullptr : it->second;
  }
  bool exists(std::string_view name) const { return mine(name) || view_.plain.count(name); }

  void names(const NodeInterface& i) {
    if (i.kind == InterfaceKind::loopback) {
      if (i.name != "lo") return problem(i, "kind loopback is lo's own; only \"lo\" has it");
    } else if (i.name == "lo") {
      return problem(i, fmt::format("lo is the node's loopback; it takes addresses, not kind {}", to_string(i.kind)));
    } else if (auto why = link_kind_name_problem(i.name, i.kind)) {
      return problem(i, *why);
    }
    if (i.kind != InterfaceKind::loopback && view_.plain.count(i.name))
      return problem(i, "duplicate interface: a bridge or a link end of the node has this name");
    if (!mine_.emplace(i.name, &i).second) return problem(i, "duplicate interface");
    valid_.insert(&i);
  }

  void keys(const NodeInterface& i) {
    for (auto k : stray_keys(i)) problem(i, fmt::format("key \"{}\" does not apply to kind {}", k, to_string(i.kind)));
    if (i.mtu != 0 && (i.mtu < 68 || i.mtu > 65535)) problem(i, fmt::format("MTU {} is outside 68..65535", i.mtu));
  }

  // What another interface's master would be: a bridge port's bridge, a
  // bond's or VRF's member.
  std::string master_of(std::string_view name) const {
    if (auto it = view_.plain.find(name); it != view_.plain.end() && it->second == Plain::bridge_port)
      return "a bridge";
    if (const auto* o = mine(name); o && !o->bridge.empty()) return fmt::format("bridge \"{}\"", o->bridge);
    for (const auto& o : n_.interfaces)
      if (std::find(o.members.begin(), o.members.end(), name) != o.members.end())
        return fmt::format("{} \"{}\"", to_string(o.kind), o.name);
    return {};
  }

  void parent(const NodeInterface& i) {
    using K = InterfaceKind;
    const bool needs = i.kind == K::macvlan || i.kind == K::ipvlan || i.kind == K::vlan;
    if (i.parent.empty()) {
      if (needs)
        problem(i, fmt::format("a {} needs a \"parent\": the interface of the node it stands on", to_string(i.kind)));
      return;
    }
    if (i.parent == i.name) return problem(i, "an interface cannot be its own parent");
    if (i.parent == "lo") return problem(i, fmt::format("a {} cannot stand on lo", to_string(i.kind)));
    if (!exists(i.parent))
      return problem(i, fmt::format("parent \"{}\" is no interface of node \"{}\"", printable(i.parent), n_.name));
    if (const auto* p = mine(i.parent); p && (p->kind == K::vrf || p->kind == K::loopback))
      return problem(
          i, fmt::format("parent \"{}\" is a {}, which carries no frames of its own", i.parent, to_string(p->kind)));
    if (i.kind == K::macvlan || i.kind == K::ipvlan) {
      auto m = master_of(i.parent);
      if (!m.empty())
        problem(i, fmt::format("parent \"{}\" is a port of {}, which takes every frame it receives; a {} needs "
                               "a parent of its own",
                               i.parent, m, to_string(i.kind)));
      for (const auto& o : n_.interfaces) {
        if (&o == &i || o.parent != i.parent || !valid_.count(&o)) continue;
        if ((o.kind == K::macvlan || o.kind == K::ipvlan) && o.kind != i.kind && &o < &i)
          problem(i, fmt::format("parent \"{}\" already has {} \"{}\"; a parent takes macvlans or ipvlans, not both",
                                 i.parent, to_string(o.kind), o.name));
        if (o.kind == K::macvlan && i.kind == K::macvlan && &o < &i &&
            (o.macvlan_mode == MacvlanMode::passthru || i.macvlan_mode == MacvlanMode::passthru))
          problem(i, fmt::format("parent \"{}\" already has macvlan \"{}\"; a passthru macvlan must be its "
                                 "parent's only one",
                                 i.parent, o.name));
      }
    }
  }

  void bridge(const NodeInterface& i) {
    if (i.bridge.empty()) return;
    auto it = view_.plain.find(i.bridge);
    if (it == view_.plain.end() || it->second != Plain::bridge)
      return problem(i, fmt::format("bridge \"{}\" is no bridge of node \"{}\"", printable(i.bridge), n_.name));
    for (const auto& o : n_.interfaces)
      if (std::find(o.members.begin(), o.members.end(), i.name) != o.members.end())
        problem(i, fmt::format("it is a port of bridge \"{}\" and a member of {} \"{}\"; an interface has one master",
                               i.bridge, to_string(o.kind), o.name));
  }

  void members(const NodeInterface& i) {
    using K = InterfaceKind;
    if (i.kind == K::bond && i.members.empty()) problem(i, "a bond needs \"members\": the interfaces it joins");
    std::set<std::string> seen;
    for (const auto& m : i.members) {
      if (!seen.insert(m).second) {
        problem(i, fmt::format("member \"{}\" is listed twice", printable(m)));
        continue;
      }
      if (m == i.name) {
        problem(i, "an interface cannot be its own member");
        continue;
      }
      if (m == "lo" || !exists(m)) {
        problem(i, fmt::format("member \"{}\" is no interface of node \"{}\" that can have a master", printable(m),
                               n_.name));
        continue;
      }
      auto plain = view_.plain.find(m);
      if (plain != view_.plain.end() && plain->second == Plain::bridge_port) {
        problem(i, fmt::format("member \"{}\" is a bridge port already; an interface has one master", m));
        continue;
      }
      if (plain != view_.plain.end() && plain->second == Plain::bridge && i.kind == K::bond) {
        problem(i, fmt::format("member \"{}\" is a bridge; a bond joins links, not bridges", m));
        continue;
      }
      const NodeInterface* o = mine(m);
      if (o && (o->kind == K::vrf || (o->kind == K::bond && i.kind == K::bond))) {
        problem(i, fmt::format("member \"{}\" is a {}, which cannot be a {}'s member", m, to_string(o->kind),
                               to_string(i.kind)));
        continue;
      }
      // A member in two masters: reported at the second.
      for (const auto& other : n_.interfaces) {
        if (&other == &i) break;
        if (std::find(other.members.begin(), other.members.end(), m) != other.members.end()) {
          problem(i, fmt::format("member \"{}\" is already a member of {} \"{}\"; an interface has one master", m,
                                 to_string(other.kind), other.name));
          break;
        }
      }
      if (i.kind == K::bond) {
        if (o ? !o->addresses.empty() : view_.addressed.count(m) > 0)
          problem(i, fmt::format("member \"{}\" has addresses; a bond's addresses belong on the bond", m));
      }
    }
  }

  bool own_address(const IpAddress& a, const NodeInterface& self) const {
    for (const auto& p : view_.addresses)
      if (p.address() == a) return true;
    for (const auto& o : n_.interfaces)
      if (&o != &self)
        for (const auto& p : o.addresses)
          if (p.address() == a) return true;
    return false;
  }

  void kind_values(const NodeInterface& i) {
    using K = InterfaceKind;
    switch (i.kind) {
      case K::vlan: {
        if (i.vlan_id < 1 || i.vlan_id > 4094) problem(i, fmt::format("vlan id {} is outside 1..4094", i.vlan_id));
        for (const auto& o : n_.interfaces) {
          if (&o == &i) break;
          if (o.kind == K::vlan && o.parent == i.parent && o.vlan_id == i.vlan_id && valid_.count(&o))
            problem(i, fmt::format("\"{}\" is vlan {} on \"{}\" already", o.name, i.vlan_id, i.parent));
        }
        break;
      }
      case K::vrf: {
        if (i.table == 0 || i.table == 253 || i.table == 254 || i.table == 255)
          problem(i, fmt::format("a vrf needs a \"table\" of its own: 1 to 4294967295, not 0 or the kernel's "
                                 "253 (default), 254 (main), 255 (local); got {}",
                                 i.table));
        for (const auto& o : n_.interfaces) {
          if (&o == &i) break;
          if (o.kind == K::vrf && o.table == i.table && i.table)
            problem(i, fmt::format("vrf \"{}\" has table {} already", o.name, i.table));
        }
        break;
      }
      case K::gre:
      case K::ipip:
      case K::vxlan: tunnel(i); break;
      default: break;
    }
  }

  void tunnel(const NodeInterface& i) {
    const bool vxlan = i.kind == InterfaceKind::vxlan;
    if (!i.remote && !(vxlan && i.group)) {
      problem(i,
              vxlan ? "a vxlan needs a \"remote\" (its peer's underlay address) or a \"group\" (a multicast group)"
                    : fmt::format("a {} needs a \"remote\": the underlay address of the other end", to_string(i.kind)));
    }
    if (vxlan && i.remote && i.group) problem(i, "a vxlan has a \"remote\" or a \"group\", not both");
    for (const auto& [what, a] :
         {std::pair{"local", i.local}, std::pair{"remote", i.remote}, std::pair{"group", i.group}}) {
      if (!a) continue;
      if (!a->is_v4()) {
        problem(i, fmt::format("{} {}: the underlay of a {} is IPv4 here", what, a->str(), to_string(i.kind)));
        continue;
      }
      Prefix host(*a, 32);
      bool multicast = (a->data()[0] & 0xf0) == 0xe0;
      if (std::string_view(what) == "group") {
        if (!multicast) problem(i, fmt::format("group {} is not a multicast address (224.0.0.0/4)", a->str()));
      } else if (auto why = interface_address_problem(host)) {
        problem(i, fmt::format("{} {} {}", what, a->str(), *why));
      }
    }
    if (i.local && i.local->is_v4() && !own_address(*i.local, i))
      problem(i, fmt::format("local {} is no address of node \"{}\"", i.local->str(), n_.name));
    if (i.remote && i.local && *i.remote == *i.local) problem(i, "local and remote are the same address");
    if (i.ttl != -1 && (i.ttl < 1 || i.ttl > 255)) problem(i, fmt::format("ttl {} is outside 1..255", i.ttl));
    if (vxlan) {
      if (i.vni > kMaxVni) problem(i, fmt::format("vni {} is outside 0..{}", i.vni, kMaxVni));
      if (i.dstport == 0) problem(i, "dstport 0 is no UDP port (1..65535)");
      for (const auto& o : n_.interfaces) {
        if (&o == &i) break;
        if (o.kind == InterfaceKind::vxlan && o.vni == i.vni && o.dstport == i.dstport)
          problem(i, fmt::format("vxlan \"{}\" has vni {} on port {} already", o.name, i.vni, i.dstport));
      }
    }
  }

  // Parents and members among the node's own link kinds form no cycle.
  void cycles() {
    std::map<const NodeInterface*, int> state;  // 1 open, 2 done
    std::function<bool(const NodeInterface*)> visit = [&](const NodeInterface* i) {
      state[i] = 1;
      std::vector<std::string> deps = i->members;
      if (!i->parent.empty()) deps.push_back(i->parent);
      for (const auto& d : deps) {
        const auto* o = mine(d);
        if (!o || !valid_.count(o)) continue;
        if (state[o] == 1) return false;
        if (state[o] == 0 && !visit(o)) return false;
      }
      state[i] = 2;
      return true;
    };
    for (const auto& i : n_.interfaces)
      if (valid_.count(&i) && state[&i] == 0 && !visit(&i)) {
        problem(i, "its parent or members lead back to it (a cycle)");
        return;
      }
  }

  const NodeSpec& n_;
  const NodeView& view_;
  std::vector<ConfigError>& out_;
  std::map<std::string, const NodeInterface*, std::less<>> mine_;
  std::set<const NodeInterface*> valid_;
};

}  // namespace

std::optional<std::string> link_kind_name_problem(std::string_view name, InterfaceKind kind) {
  if (kind != InterfaceKind::vlan || name.find('.') == std::string_view::npos) return interface_name_problem(name);
  if (name.front() == '.' || name.back() == '.' || name.find("..") != std::string_view::npos)
    return fmt::format("interface name \"{}\" may not start or end with '.' or hold \"..\"", printable(name));
  std::string plain(name);
  std::replace(plain.begin(), plain.end(), '.', '_');
  if (auto why = interface_name_problem(plain)) return interface_name_problem(name);
  return std::nullopt;
}

std::vector<ConfigError> link_kind_problems(const Topology& t) {
  std::vector<ConfigError> out;
  std::unordered_map<std::string_view, NodeView> views;
  for (const auto& n : t.nodes())
    if (!n.interfaces.empty()) {
      auto& v = views[n.name];
      v.plain.emplace("lo", Plain::loopback);
      for (const auto& b : n.bridges) {
        v.plain.emplace(b.name, Plain::bridge);
        v.addresses.insert(v.addresses.end(), b.addresses.begin(), b.addresses.end());
      }
    }
  if (views.empty()) return out;
  for (const auto& l : t.links())
    for (const auto* e : {&l.a, &l.b})
      if (auto it = views.find(e->node); it != views.end()) {
        it->second.plain.emplace(e->interface, e->bridge.empty() ? Plain::veth : Plain::bridge_port);
        it->second.addresses.insert(it->second.addresses.end(), e->addresses.begin(), e->addresses.end());
        if (!e->addresses.empty()) it->second.addressed.insert(e->interface);
      }
  for (const auto& n : t.nodes())
    if (auto it = views.find(n.name); it != views.end()) {
      NodeChecker(n, it->second, out).run();
    }
  return out;
}

}  // namespace nslab::detail
