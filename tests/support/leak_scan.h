// A census of what could keep a lab's network namespace alive: the namespace
// links of every thread, and every open descriptor that is a namespace, in
// this process and all its descendants (the only processes that can have been
// handed a lab's namespace), plus every nsfs bind mount. A namespace that
// appears in none of these no longer exists. Used to prove that labs leak
// nothing, even when the process that built them is killed. Other processes
// (parallel tests) are left out so that `ctest -j` does not disturb it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <set>
#include <string>

namespace nslab::testing {

struct NetnsCensus {
  std::set<std::uint64_t> namespaces;  // inode numbers
  std::set<std::string> nsfs_mounts;   // mountinfo lines of nsfs mounts
  std::set<pid_t> descendants;         // live descendants of this process
};

NetnsCensus take_census();
// Namespaces in `now` and not in `before`.
std::set<std::uint64_t> new_namespaces(const NetnsCensus& before, const NetnsCensus& now);
// Open descriptors of this process.
int count_open_fds();

// Why this process cannot run a program as another user (it is not the
// machine's real root, or setpriv is missing); empty when it can.
std::optional<std::string> cannot_drop_privileges();

}  // namespace nslab::testing
