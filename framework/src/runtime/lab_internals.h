// What the framework itself reaches in a Lab beyond its API: whether the
// built-in services are idle (the probe engine's evidence of stillness).
#pragma once

#include "nslab/lab.h"
#include "service_host.h"

namespace nslab {

struct LabInternals {
  // True when no built-in service holds a request it has not answered.
  static bool services_idle(const Lab& lab) { return !lab.services_ || lab.services_->idle(); }
  // The inodes of the built-in services' sockets.
  static std::vector<unsigned long> service_sockets(const Lab& lab) {
    return lab.services_ ? lab.services_->socket_inodes() : std::vector<unsigned long>{};
  }
};

}  // namespace nslab
