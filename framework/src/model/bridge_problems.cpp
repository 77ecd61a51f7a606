// The checks a bridge's switch settings must pass: ports that are ports of
// that bridge, VLAN ids in range and only on a VLAN-filtering bridge, STP
// timers within the kernel's limits. Built in C++ or loaded from a
// scenario, a description passes the same checks.
#include "bridge_problems.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>

namespace nslab::detail {

namespace {

SourceLocation first_known(std::initializer_list<const SourceLocation*> ws) {
  for (const auto* w : ws)
    if (w->known()) return *w;
  return {};
}

// node -> bridge -> the interfaces that are its ports.
using PortsOf = std::map<std::string, std::map<std::string, std::vector<std::string>>, std::less<>>;

PortsOf ports_of(const Topology& t) {
  PortsOf out;
  for (const auto& l : t.links())
    for (const auto* e : {&l.a, &l.b})
      if (!e->bridge.empty()) out[e->node][e->bridge].push_back(e->interface);
  for (const auto& n : t.nodes())
    for (const auto& i : n.interfaces)
      if (!i.bridge.empty()) out[n.name][i.bridge].push_back(i.name);
  return out;
}

void check_bridge(const NodeSpec& n, const BridgeSpec& b, const std::vector<std::string>& ports,
                  std::vector<ConfigError>& out) {
  const BridgeOptions& o = b.switching;
  const SourceLocation at = first_known({&o.where, &b.where, &n.where});
  const std::string what = fmt::format("bridge \"{}:{}\"", n.name, b.name);
  auto problem = [&](const std::string& msg, const SourceLocation& w) { out.emplace_back(msg, w); };
  if (o.forward_delay) {
    if (!o.stp.value_or(false)) problem(fmt::format("{}: forward_delay is an STP timer; it needs stp: true", what), at);
    if (*o.forward_delay < 2 || *o.forward_delay > 30)
      problem(fmt::format("{}: forward_delay must be 2 to 30 seconds (the kernel's limits), not {}", what,
                          *o.forward_delay),
              at);
  }
  if (o.ageing && (*o.ageing < 0 || *o.ageing > 1000000))
    problem(fmt::format("{}: ageing must be 0 to 1000000 seconds, not {}", what, *o.ageing), at);
  std::set<std::string> seen;
  for (const auto& p : o.ports) {
    const SourceLocation pat = first_known({&p.where, &at});
    const std::string port = fmt::format("{} port \"{}\"", what, p.name);
    if (!seen.insert(p.name).second) {
      problem(fmt::format("{} is given twice", port), pat);
      continue;
    }
    if (std::find(ports.begin(), ports.end(), p.name) == ports.end()) {
      std::string hint = closest(p.name, ports);
      problem(fmt::format("{}: \"{}\" is no port of this bridge{}", what, p.name,
                          !hint.empty()   ? fmt::format("; did you mean \"{}\"?", hint)
                          : ports.empty() ? std::string(" (it has none)")
                                          : fmt::format(" (its ports: {})", fmt::join(ports, ", "))),
              pat);
      continue;
    }
    if (!p.has_vlans()) continue;
    if (!o.vlan_filtering.value_or(false))
      problem(fmt::format("{}: a pvid or vlans need vlan_filtering: true on the bridge", port), pat);
    auto in_range = [](int v) { return v >= 1 && v <= kMaxVlanId; };
    if (p.pvid && !in_range(*p.pvid))
      problem(fmt::format("{}: pvid must be a VLAN id from 1 to {}, not {}", port, kMaxVlanId, *p.pvid), pat);
    std::set<int> ids;
    for (int v : p.vlans) {
      if (!in_range(v))
        problem(fmt::format("{}: a VLAN id is from 1 to {}, not {}", port, kMaxVlanId, v), pat);
      else if (!ids.insert(v).second)
        problem(fmt::format("{}: VLAN {} is listed twice", port, v), pat);
      else if (p.pvid == v)
        problem(fmt::format("{}: VLAN {} is the pvid (untagged) and in vlans (tagged); give it once", port, v), pat);
    }
  }
}

}  // namespace

std::vector<ConfigError> bridge_option_problems(const Topology& t) {
  std::vector<ConfigError> out;
  bool any_ports = false;
  for (const auto& n : t.nodes())
    for (const auto& b : n.bridges) any_ports = any_ports || !b.switching.ports.empty();
  const PortsOf ports = any_ports ? ports_of(t) : PortsOf{};
  static const std::vector<std::string> none;
  for (const auto& n : t.nodes())
    for (const auto& b : n.bridges) {
      if (b.switching.empty()) continue;
      const std::vector<std::string>* mine = &none;
      if (auto it = ports.find(n.name); it != ports.end())
        if (auto jt = it->second.find(b.name); jt != it->second.end()) mine = &jt->second;
      check_bridge(n, b, *mine, out);
    }
  return out;
}

}  // namespace nslab::detail
