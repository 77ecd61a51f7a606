// The scenario loader's bridges of a node: a list of names, or a mapping of
// names to settings. A Linux bridge takes its switch settings
// (bridge_options.h: VLAN filtering, STP, ageing, and a `ports:` map keyed by
// the port's interface name); `kind: ovs` makes an Open vSwitch bridge with
// its own keys (datapath, fail_mode, openflow, ports, mirrors; nslab/ovs.h).
#include <yaml-cpp/yaml.h>

#include <charconv>
#include <fmt/format.h>

#include "nslab/values.h"
#include "scenario_loader.h"

namespace nslab::detail {

namespace {

const Keys kOvsKeys{"kind", "addresses", "mtu", "datapath", "fail_mode", "openflow", "ports", "mirrors"};

}  // namespace

void Loader::bridges(NodeSpec& n, const YAML::Node& b) {
  auto add = [&](const YAML::Node& key, const YAML::Node& value) {
    auto name = r_.scalar(key, "a bridge name");
    if (!name) return;
    BridgeSpec spec;
    spec.name = *name;
    spec.where = r_.at(key);
    if (value && value.IsMap() && value["kind"]) {
      auto k = r_.scalar(value["kind"], "kind").value_or("");
      if (auto kind = parse_bridge_kind(k))
        spec.kind = *kind;
      else
        r_.error(value["kind"], fmt::format("bridge kind \"{}\" is not linux or ovs{}", k,
                                            closest(k, {"linux", "ovs"}).empty()
                                                ? ""
                                                : fmt::format("; did you mean \"{}\"?", closest(k, {"linux", "ovs"}))));
    }
    if (spec.kind == BridgeKind::ovs) {
      ovs_bridge(spec, value);
    } else if (value && value.IsMap()) {
      Keys allowed{"kind", "addresses", "mtu"};
      allowed.insert(allowed.end(), bridge_switch_keys().begin(), bridge_switch_keys().end());
      if (r_.keys(value, allowed, fmt::format("bridge \"{}\"", *name))) {
        bridge_common(spec, value);
        bridge_switching(spec, value);  // its switch settings, below
      }
    } else if (value && !value.IsNull()) {
      for (const auto& item : r_.list(value, "bridge addresses"))
        if (auto p = r_.prefix(item, "bridge address")) spec.addresses.push_back(*p);
    }
    n.bridges.push_back(std::move(spec));
  };
  if (b.IsMap()) {
    for (auto it = b.begin(); it != b.end(); ++it) add(it->first, it->second);
  } else {
    for (const auto& item : r_.list(b, "bridges")) add(item, YAML::Node());
  }
}

// The keys every kind of bridge has.
void Loader::bridge_common(BridgeSpec& spec, const YAML::Node& value) {
  if (auto a = value["addresses"])
    for (const auto& item : r_.list(a, "addresses"))
      if (auto p = r_.prefix(item, "bridge address")) spec.addresses.push_back(*p);
  if (auto m = value["mtu"])
    if (auto v = r_.integer(m, "mtu", 68, 65535)) spec.mtu = static_cast<int>(*v);
}

// One of a few words, or an error with the closest one.
std::optional<std::string> Loader::word_of(const YAML::Node& n, std::string_view what, const Keys& words) {
  auto v = r_.scalar(n, what);
  if (!v) return std::nullopt;
  if (std::find(words.begin(), words.end(), *v) != words.end()) return v;
  std::string hint = closest(*v, words);
  r_.error(n, fmt::format("{} \"{}\" is not one of {}{}", what, *v, Reader::join(words),
                          hint.empty() ? "" : fmt::format("; did you mean \"{}\"?", hint)));
  return std::nullopt;
}

void Loader::ovs_bridge(BridgeSpec& spec, const YAML::Node& value) {
  if (!r_.keys(value, kOvsKeys, fmt::format("OVS bridge \"{}\"", spec.name))) return;
  bridge_common(spec, value);
  OvsOptions& o = spec.ovs;
  if (auto d = value["datapath"])
    if (auto w = word_of(d, "datapath", {"netdev", "system"})) o.datapath = *parse_ovs_datapath(*w);
  if (auto f = value["fail_mode"])
    if (auto w = word_of(f, "fail_mode", {"standalone", "secure"})) o.fail_mode = *parse_ovs_fail_mode(*w);
  if (auto f = value["openflow"]) {
    if (auto text = r_.scalar(f, "openflow")) {
      o.openflow = *text;
      o.openflow_where = r_.text_start(f);
    }
  }
  if (auto ps = value["ports"]) {
    if (!ps.IsMap()) {
      r_.error(ps, "\"ports\" of an OVS bridge is a mapping of port names to settings, e.g. { veth-red: { tag: 10 } }");
    } else {
      for (auto it = ps.begin(); it != ps.end(); ++it) ovs_port(o, it->first, it->second);
    }
  }
  if (auto ms = value["mirrors"]) {
    if (!ms.IsMap()) {
      r_.error(ms, "\"mirrors\" is a mapping of mirror names to { select: [PORT...], output: PORT }");
    } else {
      for (auto it = ms.begin(); it != ms.end(); ++it) {
        auto name = r_.scalar(it->first, "a mirror name");
        if (!name) continue;
        OvsMirror m{.name = *name, .where = r_.at(it->first)};
        const YAML::Node& body = it->second;
        if (!r_.keys(body, {"select", "output"}, fmt::format("mirror \"{}\"", *name))) continue;
        if (auto s = body["select"])
          for (const auto& item : r_.list(s, "select"))
            if (auto p = r_.scalar(item, "a port name")) m.select.push_back(*p);
        if (auto out = body["output"]) m.output = r_.scalar(out, "output").value_or("");
        o.mirrors.push_back(std::move(m));
      }
    }
  }
}

void Loader::ovs_port(OvsOptions& o, const YAML::Node& key, const YAML::Node& body) {
  auto name = r_.scalar(key, "a port name");
  if (!name) return;
  OvsPort p{.name = *name, .where = r_.at(key)};
  if (body.IsNull()) {
    o.ports.push_back(std::move(p));
    return;
  }
  if (!r_.keys(body, {"tag", "trunks", "vlan_mode"}, fmt::format("port \"{}\"", *name))) return;
  if (auto t = body["tag"])
    if (auto v = r_.integer(t, "tag", 0, 4095)) p.tag = static_cast<std::uint16_t>(*v);
  if (auto ts = body["trunks"])
    for (const auto& item : r_.list(ts, "trunks"))
      if (auto v = r_.integer(item, "a trunk VLAN", 0, 4095)) p.trunks.push_back(static_cast<std::uint16_t>(*v));
  if (auto m = body["vlan_mode"])
    if (auto w = word_of(m, "vlan_mode", {"access", "trunk", "native-tagged", "native-untagged"}))
      p.vlan_mode = parse_ovs_vlan_mode(*w);
  o.ports.push_back(std::move(p));
}

// A Linux bridge's switch settings and ports.
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
