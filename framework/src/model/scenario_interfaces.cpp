// The scenario loader's per-node "interfaces": link kinds besides veth ends
// and bridges (vlan, bond, vxlan...; link_kinds.h) and addresses on lo.
//   interfaces:
//     lo: { addresses: [10.255.0.1/32] }
//     eth0.10: { kind: vlan, parent: eth0, id: 10, addresses: [10.0.10.1/24] }
//     bond0: { kind: bond, mode: active-backup, members: [eth1, eth2] }
// Each key is checked here at its position; what needs the whole node (a
// parent that exists, one master per member) is Topology::problems()'.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <climits>
#include <fmt/format.h>

#include "scenario_loader.h"

namespace nslab::detail {

namespace {

// The keys each kind takes, besides kind, addresses, mtu and up.
Keys kind_keys(InterfaceKind k) {
  switch (k) {
    case InterfaceKind::loopback: return {};
    case InterfaceKind::dummy: return {"bridge"};
    case InterfaceKind::macvlan: return {"parent", "mode", "bridge"};
    case InterfaceKind::ipvlan: return {"parent", "mode"};
    case InterfaceKind::vlan: return {"parent", "id", "bridge"};
    case InterfaceKind::bond: return {"mode", "members", "bridge"};
    case InterfaceKind::vrf: return {"table", "members"};
    case InterfaceKind::gre: return {"local", "remote", "ttl", "key", "parent"};
    case InterfaceKind::ipip: return {"local", "remote", "ttl", "parent"};
    case InterfaceKind::vxlan: return {"vni", "local", "remote", "group", "dstport", "ttl", "parent", "bridge"};
  }
  return {};
}

const Keys kAllKeys{"kind",  "addresses", "mtu",    "up",  "parent", "bridge", "mode",  "id",     "members",
                    "table", "local",     "remote", "ttl", "key",    "vni",    "group", "dstport"};

}  // namespace

void Loader::interfaces(NodeSpec& n, const YAML::Node& map) {
  if (!map.IsMap()) {
    r_.error(map,
             "\"interfaces\" must be a mapping of interface names to their settings, e.g. "
             "{ eth0.10: { kind: vlan, parent: eth0, id: 10 } }");
    return;
  }
  for (auto it = map.begin(); it != map.end(); ++it) {
    auto name = r_.scalar(it->first, "an interface name");
    if (!name) continue;
    NodeInterface i;
    i.name = *name;
    i.where = r_.at(it->first);
    if (interface(n, i, it->second)) n.interfaces.push_back(std::move(i));
  }
}

bool Loader::interface(NodeSpec& n, NodeInterface& i, const YAML::Node& body) {
  std::string ctx = fmt::format("interface \"{}:{}\"", n.name, i.name);
  // lo: [ADDR/LEN, ...] as a shorthand for lo: { addresses: [...] }.
  if (i.name == "lo" && (body.IsSequence() || body.IsScalar())) {
    i.kind = InterfaceKind::loopback;
    addresses(i, body);
    return true;
  }
  if (!r_.keys(body, kAllKeys, ctx)) return false;
  if (auto k = body["kind"]) {
    auto word = r_.scalar(k, "kind").value_or("");
    auto kind = parse_interface_kind(word);
    if (!kind) {
      auto names = interface_kind_names();
      auto hint = closest(word, names);
      r_.error(k, fmt::format("unknown interface kind \"{}\"{}", word,
                              hint.empty() ? fmt::format(" ({})", Reader::join(names))
                                           : fmt::format("; did you mean \"{}\"?", hint)));
      return false;
    }
    i.kind = *kind;
  } else if (i.name == "lo") {
    i.kind = InterfaceKind::loopback;
  } else {
    r_.error(body, fmt::format("{} needs a \"kind\" ({})", ctx, Reader::join(interface_kind_names())));
    return false;
  }
  Keys mine{"kind", "addresses"};
  const Keys own = kind_keys(i.kind);
  mine.insert(mine.end(), own.begin(), own.end());
  if (i.kind != InterfaceKind::loopback) {
    mine.push_back("mtu");
    mine.push_back("up");
  }
  bool stray = false;
  for (auto it = body.begin(); it != body.end(); ++it) {
    const std::string k = it->first.IsScalar() ? it->first.Scalar() : std::string();
    if (std::find(kAllKeys.begin(), kAllKeys.end(), k) == kAllKeys.end()) continue;  // reported above
    if (std::find(mine.begin(), mine.end(), k) == mine.end()) {
      r_.error(it->first, fmt::format("key \"{}\" does not apply to kind {} (its keys: {})", k, to_string(i.kind),
                                      Reader::join(mine)));
      stray = true;
    }
  }
  if (stray) return false;
  if (auto a = body["addresses"]) addresses(i, a);
  if (auto m = body["mtu"])
    if (auto v = r_.integer(m, "mtu", 68, 65535)) i.mtu = static_cast<int>(*v);
  if (auto u = body["up"])
    if (auto v = r_.boolean(u, "up")) i.up = *v;
  if (auto p = body["parent"]) i.parent = r_.scalar(p, "parent").value_or("");
  if (auto b = body["bridge"]) i.bridge = r_.scalar(b, "bridge").value_or("");
  if (auto m = body["mode"]) mode(i, m);
  if (auto v = body["id"])
    if (auto id = r_.integer(v, "vlan id", 1, 4094)) i.vlan_id = static_cast<int>(*id);
  if (auto ms = body["members"])
    for (const auto& item : r_.list(ms, "members"))
      if (auto m = r_.scalar(item, "a member")) i.members.push_back(*m);
  if (auto t = body["table"])
    if (auto v = r_.integer(t, "vrf table", 1, 4294967295L)) i.table = static_cast<std::uint32_t>(*v);
  for (const auto& [key, slot] :
       {std::pair{"local", &i.local}, std::pair{"remote", &i.remote}, std::pair{"group", &i.group}})
    if (auto a = body[key])
      if (auto text = r_.scalar(a, key)) {
        *slot = IpAddress::parse(*text);
        if (!*slot) r_.error(a, fmt::format("{} \"{}\" is not an IP address", key, *text));
      }
  if (auto t = body["ttl"])
    if (auto v = r_.integer(t, "ttl", 1, 255)) i.ttl = static_cast<int>(*v);
  if (auto k = body["key"])
    if (auto v = r_.integer(k, "GRE key", 0, 4294967295L)) i.key = static_cast<std::uint32_t>(*v);
  if (auto v = body["vni"])
    if (auto vni = r_.integer(v, "vni", 0, kMaxVni)) i.vni = static_cast<std::uint32_t>(*vni);
  if (i.kind == InterfaceKind::vxlan && !body["vni"]) r_.error(body, fmt::format("{} needs a \"vni\"", ctx));
  if (auto p = body["dstport"])
    if (auto v = r_.integer(p, "dstport", 1, 65535)) i.dstport = static_cast<std::uint16_t>(*v);
  return true;
}

void Loader::addresses(NodeInterface& i, const YAML::Node& list) {
  for (const auto& item : r_.list(list, "addresses"))
    if (auto p = r_.prefix(item, "address")) i.addresses.push_back(*p);
}

void Loader::mode(NodeInterface& i, const YAML::Node& m) {
  auto word = r_.scalar(m, "mode").value_or("");
  auto bad = [&](const std::vector<std::string>& names) {
    auto hint = closest(word, names);
    r_.error(m, fmt::format("unknown {} mode \"{}\"{}", to_string(i.kind), word,
                            hint.empty() ? fmt::format(" ({})", Reader::join(names))
                                         : fmt::format("; did you mean \"{}\"?", hint)));
  };
  if (i.kind == InterfaceKind::macvlan) {
    if (auto v = parse_macvlan_mode(word))
      i.macvlan_mode = *v;
    else
      bad(macvlan_mode_names());
  } else if (i.kind == InterfaceKind::ipvlan) {
    if (auto v = parse_ipvlan_mode(word))
      i.ipvlan_mode = *v;
    else
      bad(ipvlan_mode_names());
  } else if (i.kind == InterfaceKind::bond) {
    if (auto v = parse_bond_mode(word))
      i.bond_mode = *v;
    else
      bad(bond_mode_names());
  }
}

}  // namespace nslab::detail
