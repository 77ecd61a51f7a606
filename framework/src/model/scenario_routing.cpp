// The scenario loader's policy routing keys of a node: `ip_rules`, `tables`,
// `neighbours` and `arp`, and the policy keys of a route written as a
// mapping (table, src, onlink, proto, scope, nexthops). Words are parsed as
// RouteSpec::parse and RuleSpec::parse read them, so both forms agree.
#include <yaml-cpp/yaml.h>

#include <fmt/format.h>

#include "scenario_loader.h"

namespace nslab::detail {

void Loader::ip_rules(NodeSpec& n, const YAML::Node& list) {
  for (const auto& item : r_.list(list, "ip_rules")) {
    auto text = r_.scalar(item, "an ip rule");
    if (!text) continue;
    try {
      n.rules.push_back(RuleSpec::parse(*text, r_.at(item)));
    } catch (const ConfigError& e) {
      r_.error(item, e.message());
    }
  }
}

void Loader::tables(NodeSpec& n, const YAML::Node& map) {
  if (!map.IsMap()) {
    r_.error(map, "\"tables\" must be a mapping of table names to numbers, e.g. { wan2: 200 }");
    return;
  }
  for (auto it = map.begin(); it != map.end(); ++it) {
    auto name = r_.scalar(it->first, "a table name");
    auto id = r_.integer(it->second, "a table number", 1, 4294967295L);
    if (name && id) n.tables.push_back(TableSpec{*name, static_cast<std::uint32_t>(*id), r_.at(it->first)});
  }
}

void Loader::neighbours(NodeSpec& n, const YAML::Node& list) {
  for (const auto& item : r_.list(list, "neighbours")) {
    auto text = r_.scalar(item, "a neighbour");
    if (!text) continue;
    try {
      n.neighbours.push_back(NeighbourSpec::parse(*text, r_.at(item)));
    } catch (const ConfigError& e) {
      r_.error(item, e.message());
    }
  }
}

// Nexthop objects, each in `ip nexthop` words (NexthopSpec::parse).
void Loader::nexthops(NodeSpec& n, const YAML::Node& list) {
  for (const auto& item : r_.list(list, "nexthops")) {
    auto text = r_.scalar(item, "a nexthop (\"id 1 via 10.0.0.1 dev eth0\")");
    if (!text) continue;
    try {
      n.nexthops.push_back(NexthopSpec::parse(*text, r_.at(item)));
    } catch (const ConfigError& e) {
      r_.error(item, e.message());
    }
  }
}

void Loader::arp(NodeSpec& n, const YAML::Node& a) {
  auto v = r_.scalar(a, "arp");
  if (!v) return;
  if (*v == "dynamic")
    n.arp = ArpMode::dynamic;
  else if (*v == "static" || *v == "planned")
    n.arp = ArpMode::planned;
  else {
    std::string hint = closest(*v, {"dynamic", "static"});
    r_.error(a, fmt::format("arp \"{}\" is not dynamic or static{}", *v,
                            hint.empty() ? "" : fmt::format("; did you mean \"{}\"?", hint)));
  }
}

// Each key is read through RouteSpec::parse ("default table T"), so that a
// mapping accepts exactly what the words do.
void Loader::route_policy(RouteSpec& r, const YAML::Node& item) {
  auto words = [&](const YAML::Node& v, std::string_view key) -> std::optional<RouteSpec> {
    auto s = r_.scalar(v, key);
    if (!s) return std::nullopt;
    try {
      return RouteSpec::parse(fmt::format("default {} {}", key, *s), r_.at(v));
    } catch (const ConfigError& e) {
      r_.error(v, e.message());
      return std::nullopt;
    }
  };
  if (auto t = item["table"])
    if (auto p = words(t, "table")) r.table = p->table;
  if (auto s = item["src"])
    if (auto p = words(s, "src")) r.src = p->src;
  if (auto p = item["proto"])
    if (auto q = words(p, "proto")) r.protocol = q->protocol;
  if (auto s = item["scope"])
    if (auto p = words(s, "scope")) r.scope = p->scope;
  if (auto o = item["onlink"])
    if (auto b = r_.boolean(o, "onlink")) r.onlink = *b;
  if (auto hops = item["nexthops"]) {
    if (r.via || !r.dev.empty()) r_.error(hops, "a multipath route gives via and dev in each nexthop, not beside them");
    for (const auto& h : r_.list(hops, "nexthops"))
      if (auto p = words(h, "nexthop")) {
        r.nexthops.push_back(p->nexthops.front());
        if (!r.to && r.nexthops.size() == 1 && r.nexthops[0].via) r.family = r.nexthops[0].via->family();
      }
  }
}

}  // namespace nslab::detail
