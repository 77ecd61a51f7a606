#include "link_kinds.h"

#include <fmt/format.h>

#include <set>
#include <unordered_map>

#include "lab_build.h"
#include "node_internals.h"
#include "nslab/error.h"

namespace nslab {

namespace {

// Whether a node's interface `name` is meant to be up: a link kind as its
// spec says, a veth end as its endpoint says, a bridge always.
class UpState {
 public:
  UpState(const Topology& t, const NodeSpec& n) : t_(t), n_(n) {}
  bool up(const std::string& name) {
    if (auto it = memo_.find(name); it != memo_.end()) return it->second;
    memo_[name] = false;  // a cycle (refused by validation) reads as down
    bool v = true;
    if (const auto* i = n_.find_interface(name)) {
      v = i->up && (i->parent.empty() || up(i->parent));
      if (i->kind == InterfaceKind::bond) {
        bool any = false;
        for (const auto& m : i->members) any = any || up(m);
        v = v && any;
      }
    } else if (!n_.find_bridge(name)) {
      // A veth end has carrier when both ends are up.
      for (const auto& l : t_.links())
        for (const auto* e : {&l.a, &l.b})
          if (e->node == n_.name && e->interface == name) v = l.a.up && l.b.up;
    }
    return memo_[name] = v;
  }
  // An endpoint's own setting, ignoring what it stands on.
  bool own(const std::string& name) {
    if (const auto* i = n_.find_interface(name)) return i->up;
    for (const auto& l : t_.links())
      for (const auto* e : {&l.a, &l.b})
        if (e->node == n_.name && e->interface == name) return e->up;
    return true;
  }

 private:
  const Topology& t_;
  const NodeSpec& n_;
  std::unordered_map<std::string, bool> memo_;
};

void build_node(const Topology& t, const NodeSpec& spec, Node& node) {
  Netlink& nl = netlink_of(node);
  std::unordered_map<std::string, int> index;
  for (const auto& l : nl.links()) index.emplace(l.name, l.index);
  UpState state(t, spec);
  // Each pass creates what stands only on what exists; validation rules
  // out cycles, so every pass makes progress.
  std::vector<const NodeInterface*> made;
  std::set<const NodeInterface*> done;
  auto ready = [&](const NodeInterface& i) {
    if (!i.parent.empty() && !index.count(i.parent)) return false;
    for (const auto& m : i.members)
      if (!index.count(m)) return false;
    return true;
  };
  auto fail_at = [&](const NodeInterface& i, const NetlinkError& e) -> ConfigError {
    return ConfigError(e.what(), i.where.known() ? i.where : spec.where);
  };
  while (done.size() < spec.interfaces.size()) {
    bool progress = false;
    for (const auto& i : spec.interfaces) {
      if (done.count(&i) || !ready(i)) continue;
      done.insert(&i);
      progress = true;
      const std::string label = i.label(spec.name);
      if (i.kind == InterfaceKind::loopback) {
        NodeInternals::record_interface(node, {i.name, i.addresses, {}});
        continue;
      }
      try {
        int parent = i.parent.empty() ? 0 : index.at(i.parent);
        int idx = nl.create_kind(i, parent, label);
        index[i.name] = idx;
        if (!i.bridge.empty()) nl.configure(i.name, index.at(i.bridge), false, label);
        for (const auto& m : i.members) {
          std::string member = spec.name + ":" + m;
          // A bond takes only members that are down, and the kernel applies
          // a message's flags before its master: down, enslaved, then up.
          // A member of this node's own kinds comes up in the last pass,
          // after what it stands on (a vlan cannot open before its parent).
          const bool bond = i.kind == InterfaceKind::bond;
          const bool up_now = state.own(m) && !spec.find_interface(m);
          if (bond) nl.set_up(index.at(m), false, member);
          nl.configure(m, idx, !bond && up_now, member);
          if (bond && up_now) nl.set_up(index.at(m), true, member);
        }
      } catch (const NetlinkError& e) {
        throw fail_at(i, e);
      }
      made.push_back(&i);
      NodeInternals::record_interface(node, {i.name, i.addresses, {}});
    }
    if (!progress) throw Error(fmt::format("node \"{}\": the interfaces' parents and members form a cycle", spec.name));
  }
  // Up in creation order: what an interface stands on first.
  for (const auto* i : made) {
    if (!i->up) continue;
    try {
      nl.set_up(index.at(i->name), true, i->label(spec.name));
    } catch (const NetlinkError& e) {
      throw fail_at(*i, e);
    }
  }
}

}  // namespace

void create_link_kinds(const Topology& t, const std::vector<std::unique_ptr<Node>>& nodes) {
  const auto& specs = t.nodes();
  for (std::size_t k = 0; k < specs.size() && k < nodes.size(); ++k)
    if (!specs[k].interfaces.empty()) build_node(t, specs[k], *nodes[k]);
}

void want_link_kinds_up(const Topology& t, std::map<std::string, std::map<std::string, bool>, std::less<>>& want) {
  for (const auto& n : t.nodes()) {
    if (n.interfaces.empty()) continue;
    UpState state(t, n);
    for (const auto& i : n.interfaces)
      if (i.kind != InterfaceKind::loopback && state.up(i.name)) want[n.name].emplace(i.name, false);
  }
}

bool link_kinds_have_ipv6(const Topology& t) {
  for (const auto& n : t.nodes())
    for (const auto& i : n.interfaces)
      for (const auto& p : i.addresses)
        if (!p.address().is_v4()) return true;
  return false;
}

}  // namespace nslab
