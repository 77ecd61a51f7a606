// What the running environment lets nslab do, asked without side effects on
// the caller's namespace.
#pragma once

#include <optional>
#include <string>

namespace nslab {

// Empty when labs can be built here; otherwise the reason, naming what is
// missing (CAP_SYS_ADMIN/CAP_NET_ADMIN, user namespaces, veth or bridge support).
// The check builds and discards a two-namespace probe lab.
std::optional<std::string> lab_environment_problem();

}  // namespace nslab
