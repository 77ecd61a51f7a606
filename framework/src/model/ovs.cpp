// Open vSwitch bridges in a description (ovs.h): names of the settings, the
// builder, the checks an `openflow` text passes without ovs-ofctl, and the
// OVS problems of a topology (ovs_problems.h).
#include "nslab/ovs.h"

#include <fmt/format.h>

#include <map>
#include <set>

#include "nslab/topology.h"
#include "ovs_problems.h"

namespace nslab {

std::string_view to_string(BridgeKind k) noexcept {
  return k == BridgeKind::ovs ? "ovs" : "linux";
}
std::string_view to_string(OvsDatapath d) noexcept {
  return d == OvsDatapath::system ? "system" : "netdev";
}
std::string_view to_string(OvsFailMode m) noexcept {
  return m == OvsFailMode::secure ? "secure" : "standalone";
}
std::string_view to_string(OvsVlanMode m) noexcept {
  switch (m) {
    case OvsVlanMode::access: return "access";
    case OvsVlanMode::trunk: return "trunk";
    case OvsVlanMode::native_tagged: return "native-tagged";
    case OvsVlanMode::native_untagged: return "native-untagged";
  }
  return "trunk";
}

std::optional<BridgeKind> parse_bridge_kind(std::string_view s) noexcept {
  if (s == "linux") return BridgeKind::linux_bridge;
  if (s == "ovs") return BridgeKind::ovs;
  return std::nullopt;
}
std::optional<OvsDatapath> parse_ovs_datapath(std::string_view s) noexcept {
  if (s == "netdev") return OvsDatapath::netdev;
  if (s == "system") return OvsDatapath::system;
  return std::nullopt;
}
std::optional<OvsFailMode> parse_ovs_fail_mode(std::string_view s) noexcept {
  if (s == "standalone") return OvsFailMode::standalone;
  if (s == "secure") return OvsFailMode::secure;
  return std::nullopt;
}
std::optional<OvsVlanMode> parse_ovs_vlan_mode(std::string_view s) noexcept {
  for (auto m : {OvsVlanMode::access, OvsVlanMode::trunk, OvsVlanMode::native_tagged, OvsVlanMode::native_untagged})
    if (s == to_string(m)) return m;
  return std::nullopt;
}

OvsOptions& OvsOptions::port(std::string name, OvsPort settings) {
  settings.name = std::move(name);
  ports.push_back(std::move(settings));
  return *this;
}

OvsOptions& OvsOptions::flows(std::string text) {
  openflow = std::move(text);
  return *this;
}

const OvsPort* OvsOptions::find_port(std::string_view name) const {
  for (const auto& p : ports)
    if (p.name == name) return &p;
  return nullptr;
}

NodeSpec& NodeSpec::ovs_bridge(std::string bridge_name, OvsOptions options, const std::vector<std::string>& addresses) {
  bridge(std::move(bridge_name), addresses);
  bridges.back().kind = BridgeKind::ovs;
  bridges.back().ovs = std::move(options);
  return *this;
}

std::vector<OpenflowLine> openflow_lines(std::string_view text) {
  std::vector<OpenflowLine> out;
  int index = 0;
  for (std::size_t start = 0; start <= text.size(); ++index) {
    auto end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    auto first = line.find_first_not_of(" \t\r");
    if (first != std::string_view::npos && line[first] != '#') {
      auto last = line.find_last_not_of(" \t\r");
      out.push_back({std::string(line.substr(first, last - first + 1)), index, static_cast<int>(first)});
    }
    if (end == text.size()) break;
    start = end + 1;
  }
  return out;
}

namespace {

SourceLocation at_line(const SourceLocation& first, int index, int column) {
  SourceLocation w = first;
  if (!w.known()) return w;
  w.line += index;
  // The text's first line starts at `first.column`; a block scalar's other
  // lines start at the same indentation.
  w.column += column;
  return w;
}

}  // namespace

std::vector<ConfigError> openflow_problems(std::string_view text, const SourceLocation& where) {
  std::vector<ConfigError> out;
  for (const auto& l : openflow_lines(text)) {
    for (std::size_t i = 0; i < l.text.size(); ++i) {
      auto c = static_cast<unsigned char>(l.text[i]);
      if ((c < 0x20 && c != '\t') || c == 0x7f) {
        out.emplace_back(fmt::format("openflow: a flow is one line of printable text; this one has the control "
                                     "character 0x{:02x}",
                                     c),
                         at_line(where, l.line, l.column + static_cast<int>(i)));
        break;
      }
    }
    // ovs-ofctl's own rule (ofp-flow.c): every flow to add names its actions.
    auto a = l.text.find("action");
    if (a == std::string::npos || l.text.find('=', a) == std::string::npos)
      out.emplace_back(
          fmt::format("openflow: flow \"{}\" has no actions (e.g. \"actions=normal\" or \"actions=drop\")", l.text),
          at_line(where, l.line, l.column));
  }
  return out;
}

namespace detail {

// Every problem of the topology's OVS bridges: their ports' settings name
// ports of the bridge, VLAN numbers and modes agree, mirrors name ports.
void ovs_problems(const Topology& t, const std::function<void(const std::string&, const SourceLocation&)>& problem) {
  // node:bridge -> its ports, from the links
  std::map<std::string, std::set<std::string>> ports;
  for (const auto& l : t.links())
    for (const auto* e : {&l.a, &l.b})
      if (!e->bridge.empty()) ports[e->node + ":" + e->bridge].insert(e->interface);
  for (const auto& n : t.nodes())
    for (const auto& b : n.bridges) {
      if (b.kind != BridgeKind::ovs) {
        if (!b.ovs.openflow.empty() || !b.ovs.ports.empty() || !b.ovs.mirrors.empty())
          problem(fmt::format("bridge \"{}:{}\": openflow, OVS ports and mirrors need kind: ovs", n.name, b.name),
                  b.where);
        continue;
      }
      const auto& mine = ports[n.name + ":" + b.name];
      auto port_of = [&](const std::string& name) { return mine.count(name) > 0; };
      auto hint = [&](const std::string& name) {
        std::string list;
        for (const auto& p : mine) list += (list.empty() ? "" : ", ") + p;
        return list.empty() ? fmt::format("bridge \"{}:{}\" has no ports (a link end \"{}:{}@{}\" makes one)", n.name,
                                          b.name, n.name, name, b.name)
                            : fmt::format("its ports are {}", list);
      };
      std::set<std::string> seen;
      for (const auto& p : b.ovs.ports) {
        if (!seen.insert(p.name).second)
          problem(fmt::format("bridge \"{}:{}\": port \"{}\" is given twice", n.name, b.name, p.name), p.where);
        if (!port_of(p.name))
          problem(
              fmt::format("bridge \"{}:{}\": \"{}\" is not one of its ports; {}", n.name, b.name, p.name, hint(p.name)),
              p.where);
        auto bad = [&](const std::string& why) {
          problem(fmt::format("bridge \"{}:{}\" port \"{}\": {}", n.name, b.name, p.name, why), p.where);
        };
        if (p.tag && *p.tag > 4095) bad(fmt::format("tag {} is not a VLAN (0 to 4095)", *p.tag));
        for (auto v : p.trunks)
          if (v > 4095) bad(fmt::format("trunk VLAN {} is not a VLAN (0 to 4095)", v));
        auto mode = p.vlan_mode.value_or(p.tag ? OvsVlanMode::access : OvsVlanMode::trunk);
        if (mode == OvsVlanMode::access && !p.trunks.empty())
          bad("an access port carries its one VLAN (tag), not trunks; give vlan_mode: trunk or native-untagged");
        if (mode == OvsVlanMode::access && !p.tag) bad("vlan_mode access needs a tag (the port's VLAN)");
        if (mode == OvsVlanMode::trunk && p.tag)
          bad("a trunk port has no tag; give trunks, or vlan_mode native-untagged for a native VLAN");
        if ((mode == OvsVlanMode::native_tagged || mode == OvsVlanMode::native_untagged) && !p.tag)
          bad(fmt::format("vlan_mode {} needs a tag (the native VLAN)", to_string(mode)));
      }
      std::set<std::string> mirror_names;
      for (const auto& m : b.ovs.mirrors) {
        if (!mirror_names.insert(m.name).second)
          problem(fmt::format("bridge \"{}:{}\": mirror \"{}\" is given twice", n.name, b.name, m.name), m.where);
        if (m.output.empty())
          problem(fmt::format("bridge \"{}:{}\" mirror \"{}\" needs an output port", n.name, b.name, m.name), m.where);
        else if (!port_of(m.output))
          problem(fmt::format("bridge \"{}:{}\" mirror \"{}\": output \"{}\" is not one of its ports; {}", n.name,
                              b.name, m.name, m.output, hint(m.output)),
                  m.where);
        for (const auto& s : m.select) {
          if (!port_of(s))
            problem(fmt::format("bridge \"{}:{}\" mirror \"{}\": \"{}\" is not one of its ports; {}", n.name, b.name,
                                m.name, s, hint(s)),
                    m.where);
          if (s == m.output)
            problem(fmt::format("bridge \"{}:{}\" mirror \"{}\": its output \"{}\" cannot be mirrored too", n.name,
                                b.name, m.name, s),
                    m.where);
        }
      }
      for (auto& e : openflow_problems(b.ovs.openflow, b.ovs.openflow_where)) problem(e.message(), e.where());
    }
}

}  // namespace detail

}  // namespace nslab
