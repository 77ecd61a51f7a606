// What the running environment lets nslab do, asked without side effects on
// the caller's namespace.
#pragma once

#include <optional>
#include <string>

namespace nslab {

// Empty when labs can be built here; otherwise the reason, naming what is
// missing (CAP_SYS_ADMIN/CAP_NET_ADMIN, user namespaces, veth or bridge support).
// Asked once per process (again only after the user namespace or the
// capabilities change, as when a rootless run enters its sandbox). It reads
// the capabilities and what the kernel says of veth and bridge support;
// only where those cannot tell (a seccomp filter, a module that may be
// missing) does it build and discard a one-namespace probe lab, so later
// labs do not wait behind the kernel's destruction of probe namespaces.
std::optional<std::string> lab_environment_problem();

}  // namespace nslab
