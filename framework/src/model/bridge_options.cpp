// The switch settings of a bridge (nslab/bridge_options.h) and the node
// builder's call that sets them.
#include "nslab/bridge_options.h"

#include <fmt/format.h>

#include "nslab/topology.h"

namespace nslab {

std::string BridgePort::vlan_label() const {
  std::string s;
  if (pvid) s = fmt::format("pvid {}", *pvid);
  if (!vlans.empty()) s += fmt::format("{}vlans {}", s.empty() ? "" : " ", fmt::join(vlans, ","));
  return s;
}

const BridgePort* BridgeOptions::find_port(std::string_view name) const {
  for (const auto& p : ports)
    if (p.name == name) return &p;
  return nullptr;
}

BridgeOptions& BridgeOptions::port(BridgePort p) {
  for (auto& q : ports)
    if (q.name == p.name) {
      q = std::move(p);
      return *this;
    }
  ports.push_back(std::move(p));
  return *this;
}

NodeSpec& NodeSpec::bridge_options(std::string_view bridge_name, BridgeOptions options) {
  for (auto& b : bridges)
    if (b.name == bridge_name) {
      b.switching = std::move(options);
      return *this;
    }
  throw ConfigError(fmt::format("node \"{}\" has no bridge \"{}\" to set options of", name, bridge_name));
}

}  // namespace nslab
