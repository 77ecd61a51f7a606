// Rootless runs. Called first thing in main() (the nslab command and the lab
// test main do): when this process cannot build labs, it moves itself, like
// `unshare -Urn`, into a new user namespace that maps the caller to root, a
// new network namespace (the sandbox), and a private mount namespace with a
// /run of its own (for `nslab up`'s namespace files and iptables' lock file).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

namespace nslab {

// Empty when labs can be built (now, or after entering the sandbox);
// otherwise the reason and the fix, for an exit with code 4. Does nothing
// when NSLAB_NO_REEXEC is set. Must run while the process has one thread.
std::optional<std::string> enter_rootless_sandbox_if_needed();

// True in the machine's own user namespace (not a rootless one).
bool in_initial_user_namespace();

// A uid of this process's user namespace as the machine numbers it (through
// /proc/self/uid_map); empty when it is not mapped here (a file's owner that
// the namespace cannot name shows as the overflow uid, 65534).
std::optional<uid_t> outer_uid(uid_t inside);
// For messages: "uid N", N as the machine numbers it, or "a uid that this
// user namespace does not map" — never a number that means another user
// outside (inside a rootless sandbox, 0 is the caller).
std::string uid_text(uid_t inside);

// For `nslab up`: only the machine's root may bind-mount in the machine's
// /run/netns. Anyone else (a rootless run, root of a user namespace) moves
// into a mount namespace of its own with a private /run, unless it already
// has one (the sandbox). kept_lab_root() stays visible in it when it lies
// under /run (the usual $XDG_RUNTIME_DIR). Empty on success, else why not.
// Must run while the process has one thread.
std::optional<std::string> enter_private_run_if_needed();

}  // namespace nslab
