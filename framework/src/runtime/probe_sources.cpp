// Where a probe starts and where it goes (probe_engine.h): the source node
// and address a `from` names, the target address a `to` names, and the
// family they must share. Checked before any socket is made.
#include <fmt/format.h>

#include "nslab/error.h"
#include "nslab/lab.h"
#include "probe_engine.h"

namespace nslab {

std::optional<Family> source_family(const std::string& from, const std::optional<IpAddress>& source) {
  if (source) return source->family();
  if (auto a = IpAddress::parse(from)) return a->family();
  return std::nullopt;
}

IpAddress resolve_target(Lab& lab, const std::string& to, std::optional<Family> family, const std::string& from,
                         const std::optional<IpAddress>& source) {
  auto fixed = source_family(from, source);
  IpAddress target = lab.resolve(to, family ? family : fixed);
  if (fixed && *fixed != target.family())
    throw ConfigError(fmt::format("probe from \"{}\"{} to \"{}\": the source is {} and the target {}", from,
                                  source ? " with source " + source->str() : std::string(), to, to_string(*fixed),
                                  to_string(target.family())));
  return target;
}

ProbeSource resolve_source(Lab& lab, const std::string& from, const std::optional<IpAddress>& source, Family family) {
  auto owns = [](const Node& n, const IpAddress& a) {
    for (const auto& i : n.interfaces())
      for (const auto& p : i.addresses)
        if (p.address() == a) return true;
    return false;
  };
  ProbeSource out;
  if (auto a = IpAddress::parse(from)) {
    for (Node* n : lab.nodes())
      if (owns(*n, *a)) out.node = n;
    if (!out.node) throw ConfigError(fmt::format("probe source {} is no address of a node of the lab", from));
    out.address = *a;
  } else if (auto colon = from.find(':'); colon != std::string::npos) {
    out.node = &lab.node(from.substr(0, colon));
    out.address = out.node->interface_address(from.substr(colon + 1), family);
    if (!out.address) throw ConfigError(fmt::format("probe source \"{}\" has no {} address", from, to_string(family)));
  } else {
    out.node = &lab.node(from);
  }
  if (source) {
    if (out.address && *out.address != *source)
      throw ConfigError(
          fmt::format("probe source \"{}\" already sets the source address; source {} differs", from, source->str()));
    if (!owns(*out.node, *source))
      throw ConfigError(
          fmt::format("probe source address {} is not an address of node \"{}\"", source->str(), out.node->name()));
    out.address = *source;
  }
  return out;
}

}  // namespace nslab
