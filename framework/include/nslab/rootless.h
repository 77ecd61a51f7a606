// Rootless runs. Called first thing in main() (the nslab command and the lab
// test main do): when this process cannot build labs, it moves itself, like
// `unshare -Urn`, into a new user namespace that maps the caller to root, a
// new network namespace (the sandbox), and a private mount namespace with a
// /run of its own (for `nslab up`'s records and iptables' lock file).
#pragma once

#include <optional>
#include <string>

namespace nslab {

// Empty when labs can be built (now, or after entering the sandbox);
// otherwise the reason and the fix, for an exit with code 4. Does nothing
// when NSLAB_NO_REEXEC is set. Must run while the process has one thread.
std::optional<std::string> enter_rootless_sandbox_if_needed();

// True when this process entered the sandbox above.
bool in_rootless_sandbox();

}  // namespace nslab
