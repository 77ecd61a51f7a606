// The nodes and addresses a scenario's probes name (scenario_loader.h):
// each target and source checked against the topology at validation, so
// that `nslab check` never meets a probe it cannot aim.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fmt/format.h>

#include "scenario_loader.h"

namespace nslab::detail {

void Loader::check_target(const YAML::Node& n, const std::string& target) {
  if (IpAddress::parse(target)) return;
  std::string node = target.substr(0, target.find(':'));
  const NodeSpec* spec = s_.topology.find_node(node);
  if (!spec) {
    std::vector<std::string> names;
    for (const auto& x : s_.topology.nodes()) names.push_back(x.name);
    std::string hint = closest(node, names);
    r_.error(n, fmt::format("no node \"{}\"{}", node, hint.empty() ? "" : fmt::format("; did you mean \"{}\"?", hint)));
    return;
  }
  if (auto colon = target.find(':'); colon != std::string::npos) {
    std::string iface = target.substr(colon + 1);
    auto ifaces = s_.topology.interfaces_of(node);
    if (std::none_of(ifaces.begin(), ifaces.end(), [&](auto& i) { return i.name == iface; }))
      r_.error(n, fmt::format("node \"{}\" has no interface \"{}\"", node, iface));
  }
}

// Where a probe starts, who served it, where a command runs: a node's name.
// (node:interface and addresses as sources may come later.)
bool Loader::check_node(const YAML::Node& n, const std::string& name, std::string_view what) {
  if (IpAddress::parse(name)) {
    r_.error(n, fmt::format("{} \"{}\" is an address; {} must be a node name (only \"to\" takes an address)", what,
                            name, what));
    return false;
  }
  if (name.find(':') != std::string::npos) {
    r_.error(n, fmt::format("{} \"{}\" names an interface; {} must be a node name (only \"to\" and a capture's "
                            "\"on\" take node:interface)",
                            what, name, what));
    return false;
  }
  auto before = r_.errors().size();
  check_target(n, name);
  return r_.errors().size() == before;
}

// The addresses a node or node:interface has, of one family (or all).
std::vector<IpAddress> Loader::addresses_of(const std::string& target, std::optional<Family> f) const {
  std::vector<IpAddress> out;
  auto colon = target.find(':');
  std::string node = target.substr(0, colon);
  std::string iface = colon == std::string::npos ? std::string() : target.substr(colon + 1);
  for (const auto& i : s_.topology.interfaces_of(node))
    if (iface.empty() || i.name == iface)
      for (const auto& p : i.addresses)
        if (!f || p.family() == *f) out.push_back(p.address());
  return out;
}

bool Loader::lab_has(Family f) const {
  for (const auto& n : s_.topology.nodes())
    if (!addresses_of(n.name, f).empty()) return true;
  return false;
}

// A probe aims at an address of its target, and an explicit family needs an
// address of that family at both ends; a source address (`from: ADDRESS`,
// `source:`) fixes the family. Reported at `at` (the family key, else the
// target).
void Loader::check_probe_addresses(const YAML::Node& at, const Probe& p) {
  if (!s_.topology.find_node(source_node(p.from))) return;  // reported already
  std::optional<Family> fixed;
  if (p.source)
    fixed = p.source->family();
  else if (auto a = IpAddress::parse(p.from))
    fixed = a->family();
  if (p.family && fixed && *p.family != *fixed) {
    r_.error(at, fmt::format("family {} does not fit the source address {}", to_string(*p.family),
                             p.source ? p.source->str() : p.from));
    return;
  }
  const std::optional<Family> fam = p.family ? p.family : fixed;
  auto source_lacks = [&](Family f) { return fixed ? *fixed != f : addresses_of(p.from, f).empty(); };
  if (auto a = IpAddress::parse(p.to)) {
    if (fam && *fam != a->family()) {
      r_.error(at, fmt::format("family {} does not fit target {}, an {} address", to_string(*fam), p.to,
                               family_name(a->family())));
      return;
    }
    if (!lab_has(a->family()))
      r_.error(at, fmt::format("target {} is an {} address, but the lab has no {} addresses ({} is off in its "
                               "nodes)",
                               p.to, family_name(a->family()), family_name(a->family()), family_name(a->family())));
    else if (fam && source_lacks(a->family()))
      r_.error(at, fmt::format("family {}: the source \"{}\" has no {} address", to_string(*fam), p.from,
                               family_name(*fam)));
    return;
  }
  std::string node = p.to.substr(0, p.to.find(':'));
  if (!s_.topology.find_node(node)) return;  // reported already
  if (fam) {
    if (addresses_of(p.to, fam).empty())
      r_.error(at,
               fmt::format("family {}: the target \"{}\" has no {} address", to_string(*fam), p.to, family_name(*fam)));
    else if (source_lacks(*fam))
      r_.error(at, fmt::format("family {}: the source \"{}\" has no {} address", to_string(*fam), p.from,
                               family_name(*fam)));
  } else if (addresses_of(p.to, std::nullopt).empty()) {
    r_.error(at, fmt::format("the target \"{}\" has no address to probe", p.to));
  } else if (p.from.find(':') != std::string::npos && !IpAddress::parse(p.from)) {
    // node:interface as a source: its address of the family the target is probed in.
    Family f = addresses_of(p.to, Family::ipv4).empty() ? Family::ipv6 : Family::ipv4;
    if (addresses_of(p.from, f).empty())
      r_.error(at, fmt::format("the source \"{}\" has no {} address for target \"{}\"", p.from, family_name(f), p.to));
  }
}

}  // namespace nslab::detail
