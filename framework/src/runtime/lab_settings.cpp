// Lab build phases for the scenario's own settings: link impairments,
// sysctls and firewall rules (see lab_build.cpp for the rest of the build).
#include "nslab/lab.h"

#include <fmt/format.h>

#include "firewall.h"
#include "lab_build.h"
#include "link_impairment.h"
#include "nslab/error.h"
#include "sysctl.h"

namespace nslab {

void Lab::apply_impairments() {
  for (const auto& l : topology_.links()) impair_link(*this, l);
}

void Lab::apply_firewalls() {
  for (const auto& spec : topology_.nodes()) {
    const Node& n = node(spec.name);
    if (!spec.nftables.empty()) apply_nftables(n, spec.nftables.text, spec.nftables.where, include_dir(spec.nftables));
    if (!spec.iptables.empty()) apply_iptables(n, spec.iptables.text, Family::ipv4, spec.iptables.where);
    if (!spec.ip6tables.empty()) apply_iptables(n, spec.ip6tables.text, Family::ipv6, spec.ip6tables.where);
  }
}

void Lab::apply_sysctls() {
  std::vector<Node*> with;
  std::vector<const NodeSpec*> specs;
  for (std::size_t k = 0; k < nodes_.size(); ++k)
    if (!topology_.nodes()[k].sysctls.empty()) {
      with.push_back(nodes_[k].get());
      specs.push_back(&topology_.nodes()[k]);
    }
  if (with.empty()) return;
  // Validation refuses the keys nslab knows to be machine-wide; whatever a
  // namespace still refuses (a missing key, a read-only one, a bad value) is
  // the scenario's error, at the key's own file:line:column.
  SysctlWriter writer;
  std::size_t k = 0;
  run_in_each(with, [&](Node& n) {
    const NodeSpec& spec = *specs[k++];
    for (const auto& s : spec.sysctls) {
      const SourceLocation& where = s.where.known() ? s.where : spec.where;
      try {
        writer.write(s.key, s.value);
      } catch (const ConfigError& e) {
        throw ConfigError(fmt::format("node \"{}\": {}", n.name(), e.message()), where);
      } catch (const SystemError& e) {
        throw ConfigError(fmt::format("node \"{}\": {}", n.name(), e.what()), where);
      }
    }
  });
}

}  // namespace nslab
