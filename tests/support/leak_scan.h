// A census of what could keep a network namespace alive on this machine:
// every process's and thread's namespace link, every open descriptor that is
// a namespace, and every nsfs bind mount. A namespace that appears in none of
// these no longer exists. Used to prove that labs leak nothing, even when the
// process that built them is killed.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <set>
#include <string>

namespace nslab::testing {

struct NetnsCensus {
  std::set<std::uint64_t> namespaces;  // inode numbers
  std::set<std::string> nsfs_mounts;   // mountinfo lines of nsfs mounts
  std::set<pid_t> children_of_parent;  // processes whose parent is `parent`
};

NetnsCensus take_census(pid_t parent = 0);
// Namespaces in `now` and not in `before`.
std::set<std::uint64_t> new_namespaces(const NetnsCensus& before, const NetnsCensus& now);
// Open descriptors of this process.
int count_open_fds();

}  // namespace nslab::testing
