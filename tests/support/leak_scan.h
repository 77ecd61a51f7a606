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
#include <functional>
#include <optional>
#include <set>
#include <string>

#include "nslab/topology.h"

namespace nslab {
class Lab;
}

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

// A forked child that builds a lab of `topology`, writes report(lab) and a
// newline to its pipe once built, and waits to be killed (SIGKILL, to prove
// that a killed nslab leaks nothing). A child whose build fails exits 3
// without writing.
struct LabChild {
  pid_t pid = -1;
  int fd = -1;  // the pipe's read end, the caller's to close
};
LabChild spawn_lab_child(const Topology& topology, const std::function<std::string(Lab&)>& report = {});
// The child's line, without its newline; empty when it wrote none.
std::optional<std::string> read_child_line(int fd);

// Why this process cannot run a program as another user (it is not the
// machine's real root, or setpriv is missing); empty when it can.
std::optional<std::string> cannot_drop_privileges();

}  // namespace nslab::testing
