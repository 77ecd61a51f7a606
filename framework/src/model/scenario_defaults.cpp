// The scenario loader's reuse: `defaults` (node settings every node starts
// from) and `groups` (many alike nodes and their links from one template).
// Merge keys and anchors are yaml_reader.cpp's.
#include <yaml-cpp/yaml.h>

#include <cctype>
#include <charconv>
#include <fmt/format.h>

#include "scenario_loader.h"

namespace nslab::detail {

const Keys& Loader::node_keys() {
  static const Keys keys{"bridges",       "sysctl",  "routes",   "services",      "iptables",      "ip6tables",
                         "nftables",      "run",     "hostname", "pid_namespace", "ip_rules",      "tables",
                         "neighbours",    "arp",     "limits",   "interfaces",    "iptables_file", "ip6tables_file",
                         "nftables_file", "nexthops"};
  return keys;
}

void Loader::defaults(const YAML::Node& d) {
  if (d.IsNull()) return;
  if (!r_.keys(d, node_keys(), "defaults")) return;
  defaults_ = d;
}

// The node's own keys, then the defaults' it does not give; a sysctl map
// is merged key by key (the node's value wins). The key and value nodes
// are the file's own, so problems keep their positions.
YAML::Node Loader::with_defaults(const YAML::Node& body) {
  if (!defaults_ || (!body.IsNull() && !body.IsMap())) return body;
  YAML::Node out(YAML::NodeType::Map);
  if (body.IsMap())
    for (auto it = body.begin(); it != body.end(); ++it) out.force_insert(it->first, it->second);
  const YAML::Node& mine = out;
  for (auto it = defaults_->begin(); it != defaults_->end(); ++it) {
    if (!it->first.IsScalar()) continue;
    const std::string& key = it->first.Scalar();
    YAML::Node own = mine[key];
    if (!own) {
      out.force_insert(it->first, it->second);
    } else if (key == "sysctl" && own.IsMap() && it->second.IsMap()) {
      YAML::Node both(YAML::NodeType::Map);
      for (auto s = own.begin(); s != own.end(); ++s) both.force_insert(s->first, s->second);
      const YAML::Node& seen = both;
      for (auto s = it->second.begin(); s != it->second.end(); ++s)
        if (s->first.IsScalar() && !seen[s->first.Scalar()]) both.force_insert(s->first, s->second);
      out.remove(key);
      out.force_insert(YAML::Node(key), both);
    }
  }
  return out;
}

namespace {

// "pc{i}", "10.0.1.{i+9}/24": {i} is the member's number, {i+N} and {i-N}
// add to it (N: digits only, at most kMaxOffset, so the sum cannot
// overflow). Throws ConfigError for anything else in braces.
constexpr long kMaxOffset = 1000000;

std::string substitute(std::string_view text, long i) {
  std::string out;
  for (std::size_t k = 0; k < text.size(); ++k) {
    if (text[k] != '{') {
      out += text[k];
      continue;
    }
    auto end = text.find('}', k);
    if (end == std::string_view::npos) throw ConfigError(fmt::format("\"{}\": an unclosed '{{'", text));
    std::string_view inner = text.substr(k + 1, end - k - 1);
    auto bad = [&] {
      return ConfigError(fmt::format("\"{}\": \"{{{}}}\" is not {{i}}, {{i+N}} or {{i-N}}", text, inner));
    };
    long add = 0;
    if (inner.size() > 1 && inner[0] == 'i' && (inner[1] == '+' || inner[1] == '-')) {
      auto digits = inner.substr(2);
      if (digits.empty() || digits.find_first_not_of("0123456789") != std::string_view::npos) throw bad();
      auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), add);
      if (ec != std::errc{} || add > kMaxOffset)
        throw ConfigError(fmt::format("\"{}\": the offset in \"{{{}}}\" is larger than {}", text, inner, kMaxOffset));
      if (inner[1] == '-') add = -add;
    } else if (inner != "i") {
      throw bad();
    }
    out += std::to_string(i + add);
    k = end;
  }
  return out;
}

}  // namespace

// groups: { NAME: { count: N, node: {...}, links: [ [ "NAME{i}:eth0 ...", "sw:p{i}@br0" ] ] } }
// makes nodes NAME1..NAMEN, each with the node settings (and the defaults),
// and each template link once per member.
void Loader::groups(const YAML::Node& g) {
  if (!g.IsMap()) {
    r_.error(g, "\"groups\" must be a mapping of group names to { count, node, links }");
    return;
  }
  for (auto it = g.begin(); it != g.end(); ++it) {
    auto name = r_.scalar(it->first, "a group name");
    const YAML::Node& body = it->second;
    if (!name || !r_.keys(body, {"count", "node", "links"}, fmt::format("group \"{}\"", *name))) continue;
    if (!body["count"]) {
      r_.error(it->first, fmt::format("group \"{}\" needs a \"count\"", *name));
      continue;
    }
    auto count = r_.integer(body["count"], "count", 1, 4096);
    if (!count) continue;
    std::vector<std::pair<YAML::Node, std::vector<YAML::Node>>> templates;
    if (auto ls = body["links"])
      for (const auto& l : r_.list(ls, "group links")) {
        if (!l.IsSequence() || l.size() != 2) {
          r_.error(l,
                   "a group link is a list of two endpoints, e.g. [ \"pc{i}:eth0 10.0.1.{i+9}/24\", "
                   "\"office:p{i}@br0\" ]");
          continue;
        }
        templates.push_back({l, {l[0], l[1]}});
      }
    for (long i = 1; i <= *count; ++i) {
      NodeSpec* spec = nullptr;
      try {
        spec = &s_.topology.add_node(fmt::format("{}{}", *name, i), r_.at(it->first));
      } catch (const ConfigError& e) {
        r_.error(it->first, e.message());
        break;
      }
      node(*spec, body["node"] ? body["node"] : YAML::Node());
      for (const auto& [link, ends] : templates) {
        std::vector<Endpoint> made;
        for (const auto& e : ends) {
          auto text = r_.scalar(e, "a group link endpoint");
          if (!text) break;
          try {
            made.push_back(Endpoint::parse(substitute(*text, i), r_.at(e)));
          } catch (const ConfigError& err) {
            r_.error(e, err.message());
          }
        }
        if (made.size() == 2) s_.topology.add_link(made[0], made[1], r_.at(link));
      }
      if (!r_.errors().empty()) break;  // one member's problems stand for all
    }
  }
}

}  // namespace nslab::detail
