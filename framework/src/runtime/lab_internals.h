// What the framework itself reaches in a Lab beyond its API: whether the
// built-in services are idle and which Open vSwitch daemons it started (the
// probe engine's evidence of stillness).
#pragma once

#include "nslab/lab.h"
#include "ovs_daemons.h"
#include "ovs_lab.h"
#include "service_host.h"

namespace nslab {

struct LabInternals {
  // True when no built-in service holds a request it has not answered.
  static bool services_idle(const Lab& lab) { return !lab.services_ || lab.services_->idle(); }
  // The inodes of the built-in services' sockets.
  static std::vector<unsigned long> service_sockets(const Lab& lab) {
    return lab.services_ ? lab.services_->socket_inodes() : std::vector<unsigned long>{};
  }
  // The node's Open vSwitch daemons, or null where it has none.
  static const detail::OvsDaemons* ovs_daemons(const Lab& lab, std::string_view node) {
    return lab.ovs_ ? lab.ovs_->daemons(node) : nullptr;
  }
};

}  // namespace nslab
