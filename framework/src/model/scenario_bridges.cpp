// The scenario loader's bridges of a node: a list of names, or a mapping of
// names to settings; `kind: ovs` makes an Open vSwitch bridge with its own
// keys (datapath, fail_mode, openflow, ports, mirrors; nslab/ovs.h).
#include <yaml-cpp/yaml.h>

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
      if (r_.keys(value, {"kind", "addresses", "mtu"}, fmt::format("bridge \"{}\"", *name))) bridge_common(spec, value);
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

}  // namespace nslab::detail
