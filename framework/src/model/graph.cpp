#include "nslab/graph.h"

#include <fmt/format.h>

#include <set>
#include <unordered_map>

namespace nslab {

namespace {
// A DOT quoted string's content: '"' and '\' escaped, control characters
// (which Graphviz refuses or turns into line breaks) shown as \xNN. Names
// are validated (letters, digits, '-' and '_'), but a lab's name is free text.
std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\')
      out += std::string("\\") + c;
    else if (u < 0x20 || u == 0x7f)
      out += fmt::format("\\\\x{:02x}", u);
    else
      out += c;
  }
  return out;
}
std::string id(const std::string& node, const std::string& iface) {
  return "\"" + escape(node + ":" + iface) + "\"";
}
std::string addresses(const std::vector<Prefix>& list) {
  std::string s;
  for (const auto& p : list) s += "\\n" + p.str();
  return s;
}

// A link kind's look: a shape and colour per kind.
struct Look {
  std::string_view shape, style, fill;
};
Look look(InterfaceKind k) {
  switch (k) {
    case InterfaceKind::loopback: return {"note", "filled", "#eeeeee"};
    case InterfaceKind::dummy: return {"box", "filled,dotted", "#f4f4f4"};
    case InterfaceKind::macvlan: return {"component", "filled", "#e3f4e1"};
    case InterfaceKind::ipvlan: return {"component", "filled", "#e1f4ef"};
    case InterfaceKind::vlan: return {"tab", "filled", "#fff4c2"};
    case InterfaceKind::bond: return {"hexagon", "filled", "#f7e1f4"};
    case InterfaceKind::vrf: return {"octagon", "filled", "#fde2d0"};
    case InterfaceKind::gre:
    case InterfaceKind::ipip:
    case InterfaceKind::vxlan: return {"cds", "filled", "#dff1fb"};
  }
  return {"box", "filled", "#ffffff"};
}
// "vlan 10", "bond active-backup", "vxlan 42:4789".
std::string settings(const NodeInterface& i) {
  switch (i.kind) {
    case InterfaceKind::macvlan: return fmt::format("macvlan {}", to_string(i.macvlan_mode));
    case InterfaceKind::ipvlan: return fmt::format("ipvlan {}", to_string(i.ipvlan_mode));
    case InterfaceKind::vlan: return fmt::format("vlan {}", i.vlan_id);
    case InterfaceKind::bond: return fmt::format("bond {}", to_string(i.bond_mode));
    case InterfaceKind::vrf: return fmt::format("vrf table {}", i.table);
    case InterfaceKind::vxlan: return fmt::format("vxlan {}:{}", i.vni, i.dstport);
    default: return std::string(to_string(i.kind));
  }
}
std::string kind_node(const std::string& node, const NodeInterface& i) {
  Look l = look(i.kind);
  return fmt::format("    {} [shape={}, style=\"{}\", fillcolor=\"{}\", label=\"{} ({}){}{}\"];\n", id(node, i.name),
                     l.shape, l.style, l.fill, escape(i.name), settings(i), addresses(i.addresses),
                     i.up ? "" : "\\n(down)");
}

// A bridge port's edge label: "port", with its VLANs ("port\npvid 10",
// "port\nvlans 10,20") and isolation when the bridge's options give them.
std::string port_label(const NodeSpec* n, const std::string& bridge, const std::string& port) {
  std::string s = "port";
  const BridgeSpec* b = n ? n->find_bridge(bridge) : nullptr;
  const BridgePort* p = b ? b->switching.find_port(port) : nullptr;
  if (!p) return s;
  if (auto v = p->vlan_label(); !v.empty()) s += "\\n" + v;
  if (p->isolated.value_or(false)) s += "\\nisolated";
  return s;
}

// A bridge's box label after its name: "(bridge)", or "(bridge, vlan_filtering, stp)".
std::string bridge_kind(const BridgeSpec& b) {
  std::string s = "(bridge";
  if (b.switching.vlan_filtering.value_or(false)) s += ", vlan_filtering";
  if (b.switching.stp.value_or(false)) s += ", stp";
  return s + ")";
}

// Inside a node: what a link kind stands on, and its members.
std::string kind_edges(const NodeSpec& n, const NodeInterface& i) {
  const std::string& node = n.name;
  std::string out;
  if (!i.parent.empty())
    out += fmt::format("  {} -- {} [style=dotted, label=\"{}\"];\n", id(node, i.parent), id(node, i.name),
                       is_tunnel(i.kind) ? "underlay" : "parent");
  if (!i.bridge.empty())
    out += fmt::format("  {} -- {} [style=dashed, label=\"{}\"];\n", id(node, i.name), id(node, i.bridge),
                       port_label(&n, i.bridge, i.name));
  for (const auto& m : i.members)
    out += fmt::format("  {} -- {} [style=dashed, label=\"member\"];\n", id(node, m), id(node, i.name));
  return out;
}

// Tunnels as dashed edges between the ends they join: a tunnel whose remote
// is an address of another node meets that node's tunnel of the same kind
// (and VNI) aimed back at it, or else the interface holding the address.
// VXLANs of one multicast group meet in a chain. Each pair is drawn once.
std::string tunnel_edges(const Topology& t) {
  struct End {
    const NodeSpec* node;
    const NodeInterface* i;
  };
  std::vector<End> ends;
  for (const auto& n : t.nodes())
    for (const auto& i : n.interfaces)
      if (is_tunnel(i.kind)) ends.push_back({&n, &i});
  if (ends.empty()) return {};
  auto owner = [&](const IpAddress& a) -> std::pair<const NodeSpec*, std::string> {
    for (const auto& n : t.nodes())
      for (const auto& i : t.interfaces_of(n.name))
        for (const auto& p : i.addresses)
          if (p.address() == a) return {&n, i.name};
    return {nullptr, {}};
  };
  auto label = [](const NodeInterface& i) {
    return i.kind == InterfaceKind::vxlan ? fmt::format("vxlan {}", i.vni) : std::string(to_string(i.kind));
  };
  std::string out;
  std::set<std::pair<const NodeInterface*, const NodeInterface*>> drawn;
  auto edge = [&](const End& a, const End& b) {
    if (drawn.count({b.i, a.i}) || !drawn.insert({a.i, b.i}).second) return;
    out += fmt::format("  {} -- {} [style=dashed, penwidth=2, color=\"#1f77b4\", label=\"{}\"];\n",
                       id(a.node->name, a.i->name), id(b.node->name, b.i->name), label(*a.i));
  };
  for (const auto& a : ends) {
    if (a.i->group) {
      for (const auto& b : ends)
        if (&b > &a && b.i->group == a.i->group && b.i->vni == a.i->vni) {
          edge(a, b);
          break;
        }
      continue;
    }
    if (!a.i->remote) continue;
    auto [node, iface] = owner(*a.i->remote);
    if (!node || node == a.node) continue;
    const End* peer = nullptr;
    for (const auto& b : ends)
      if (b.node == node && b.i->kind == a.i->kind && (a.i->kind != InterfaceKind::vxlan || b.i->vni == a.i->vni) &&
          (!peer || (a.i->local && b.i->remote == a.i->local)))
        peer = &b;
    if (peer)
      edge(a, *peer);
    else
      out += fmt::format("  {} -- {} [style=dashed, color=\"#1f77b4\", label=\"{} to {}\"];\n",
                         id(a.node->name, a.i->name), id(node->name, iface), label(*a.i), a.i->remote->str());
  }
  return out;
}
}  // namespace

std::string to_dot(const Topology& t) {
  std::string out = fmt::format(
      "graph \"{}\" {{\n  graph [rankdir=LR, fontname=\"Helvetica\", label=\"{}\"];\n"
      "  node [fontname=\"Helvetica\", fontsize=10];\n  edge [fontname=\"Helvetica\", fontsize=9];\n",
      escape(t.name()), escape(t.name()));
  int cluster = 0;
  for (const auto& n : t.nodes()) {
    out += fmt::format("  subgraph cluster_{} {{\n    label=\"{}\"; style=rounded; color=\"#555555\";\n", cluster++,
                       escape(n.name));
    for (const auto& b : n.bridges)
      out += fmt::format("    {} [shape=box, style=filled, fillcolor=\"#dde8f7\", label=\"{} {}{}\"];\n",
                         id(n.name, b.name), escape(b.name), bridge_kind(b), addresses(b.addresses));
    for (const auto& l : t.links())
      for (const auto* e : {&l.a, &l.b})
        if (e->node == n.name)
          out += fmt::format("    {} [shape=ellipse, label=\"{}{}{}\"];\n", id(n.name, e->interface),
                             escape(e->interface), addresses(e->addresses), e->up ? "" : "\\n(down)");
    for (const auto& i : n.interfaces) out += kind_node(n.name, i);
    if (n.bridges.empty() && t.interfaces_of(n.name).empty())
      out += fmt::format("    {} [shape=point, label=\"\"];\n", id(n.name, "lo"));
    out += "  }\n";
  }
  // Nodes by name, for the port labels (only where some bridge lists ports).
  std::unordered_map<std::string_view, const NodeSpec*> switches;
  for (const auto& n : t.nodes())
    for (const auto& b : n.bridges)
      if (!b.switching.ports.empty()) switches.emplace(n.name, &n);
  auto switch_of = [&](const std::string& node) -> const NodeSpec* {
    auto it = switches.find(node);
    return it == switches.end() ? nullptr : it->second;
  };
  for (const auto& l : t.links()) {
    out += fmt::format("  {} -- {} [label=\"veth\"];\n", id(l.a.node, l.a.interface), id(l.b.node, l.b.interface));
    for (const auto* e : {&l.a, &l.b})
      if (!e->bridge.empty())
        out += fmt::format("  {} -- {} [style=dashed, label=\"{}\"];\n", id(e->node, e->interface),
                           id(e->node, e->bridge), port_label(switch_of(e->node), e->bridge, e->interface));
  }
  for (const auto& n : t.nodes())
    for (const auto& i : n.interfaces) out += kind_edges(n, i);
  out += tunnel_edges(t);
  out += "}\n";
  return out;
}

}  // namespace nslab
