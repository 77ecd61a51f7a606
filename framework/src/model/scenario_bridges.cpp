// The scenario loader's switch settings of a bridge (bridge_options.h): the
// keys of `bridges: { br0: { ... } }` besides addresses and mtu, and its
// `ports:` map, keyed by the port's interface name.
#include <yaml-cpp/yaml.h>

#include <charconv>
#include <fmt/format.h>

#include "scenario_loader.h"

namespace nslab::detail {

const Keys& Loader::bridge_switch_keys() {
  static const Keys k{"vlan_filtering", "stp",  "forward_delay", "ageing", "nf_call_iptables",
                      "mcast_snooping", "ports"};
  return k;
}

void Loader::bridge_switching(BridgeSpec& b, const YAML::Node& body) {
  BridgeOptions& o = b.switching;
  o.where = r_.at(body);
  auto flag = [&](const char* key, std::optional<bool>& out) {
    if (auto v = body[key]) out = r_.boolean(v, key);
  };
  flag("vlan_filtering", o.vlan_filtering);
  flag("stp", o.stp);
  flag("nf_call_iptables", o.nf_call_iptables);
  flag("mcast_snooping", o.mcast_snooping);
  // That forward_delay needs stp is Topology::problems', at the bridge.
  if (auto f = body["forward_delay"])
    if (auto v = r_.integer(f, "forward_delay (seconds)", 2, 30)) o.forward_delay = static_cast<int>(*v);
  if (auto a = body["ageing"])
    if (auto v = r_.integer(a, "ageing (seconds)", 0, 1000000)) o.ageing = static_cast<int>(*v);
  if (auto p = body["ports"]) bridge_ports(b, p);
}

void Loader::bridge_ports(BridgeSpec& b, const YAML::Node& map) {
  if (!map.IsMap()) {
    r_.error(map, fmt::format("\"ports\" of bridge \"{}\" must be a mapping of port names to their settings, e.g. "
                              "{{ veth-a: {{ pvid: 10 }} }}",
                              b.name));
    return;
  }
  for (auto it = map.begin(); it != map.end(); ++it) {
    auto name = r_.scalar(it->first, "a port name");
    if (!name) continue;
    BridgePort p;
    p.name = *name;
    p.where = r_.at(it->first);
    const YAML::Node body = it->second;
    const std::string ctx = fmt::format("port \"{}\" of bridge \"{}\"", *name, b.name);
    if (!body.IsNull()) {
      if (!r_.keys(body, {"pvid", "vlans", "isolated", "hairpin", "learning"}, ctx)) continue;
      if (auto v = body["pvid"])
        if (auto id = r_.integer(v, "pvid (a VLAN id)", 1, kMaxVlanId)) p.pvid = static_cast<int>(*id);
      if (auto v = body["vlans"]) vlan_list(p, v);
      for (auto [key, out] :
           {std::pair{"isolated", &p.isolated}, std::pair{"hairpin", &p.hairpin}, std::pair{"learning", &p.learning}})
        if (auto v = body[key]) *out = r_.boolean(v, key);
    }
    // Problems against the lab (a port of this bridge, vlan_filtering on)
    // are Topology::problems', at the port's own position.
    b.switching.ports.push_back(std::move(p));
  }
}

// VLAN ids: a number, "LO-HI", or a list of those.
void Loader::vlan_list(BridgePort& p, const YAML::Node& n) {
  for (const auto& item : r_.list(n, "vlans")) {
    auto s = r_.scalar(item, "a VLAN id");
    if (!s) continue;
    auto id = [](std::string_view t) -> std::optional<int> {
      int v = 0;
      auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
      if (ec != std::errc{} || end != t.data() + t.size() || v < 1 || v > kMaxVlanId) return std::nullopt;
      return v;
    };
    std::string_view text = *s;
    auto dash = text.find('-');
    auto lo = id(text.substr(0, dash));
    auto hi = dash == std::string_view::npos ? lo : id(text.substr(dash + 1));
    if (!lo || !hi || *lo > *hi) {
      r_.error(item, fmt::format("\"{}\" is not a VLAN id from 1 to {} or a range LO-HI of them", text, kMaxVlanId));
      continue;
    }
    for (int v = *lo; v <= *hi; ++v) p.vlans.push_back(v);
  }
}

}  // namespace nslab::detail
