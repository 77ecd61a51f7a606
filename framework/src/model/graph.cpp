#include "nslab/graph.h"

#include <fmt/format.h>

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
      out += fmt::format("    {} [shape=box, style=filled, fillcolor=\"#dde8f7\", label=\"{} (bridge){}\"];\n",
                         id(n.name, b.name), escape(b.name), addresses(b.addresses));
    for (const auto& l : t.links())
      for (const auto* e : {&l.a, &l.b})
        if (e->node == n.name)
          out += fmt::format("    {} [shape=ellipse, label=\"{}{}{}\"];\n", id(n.name, e->interface),
                             escape(e->interface), addresses(e->addresses), e->up ? "" : "\\n(down)");
    if (n.bridges.empty() && t.interfaces_of(n.name).empty())
      out += fmt::format("    {} [shape=point, label=\"\"];\n", id(n.name, "lo"));
    out += "  }\n";
  }
  for (const auto& l : t.links()) {
    out += fmt::format("  {} -- {} [label=\"veth\"];\n", id(l.a.node, l.a.interface), id(l.b.node, l.b.interface));
    for (const auto* e : {&l.a, &l.b})
      if (!e->bridge.empty())
        out += fmt::format("  {} -- {} [style=dashed, label=\"port\"];\n", id(e->node, e->interface),
                           id(e->node, e->bridge));
  }
  out += "}\n";
  return out;
}

}  // namespace nslab
