// The cgroups behind a node's `limits:`. A lab with limits gets one cgroup
// directory per limited node (one per hierarchy on cgroup v1), below a lab
// directory in nslab's own part of the cgroup tree:
//   v2   /sys/fs/cgroup/<nslab's cgroup>/nslab-<pid>-<n>/<node>, or beside
//        nslab's cgroup when that one holds processes (a non-root cgroup
//        with processes cannot hand controllers to children)
//   v1   /sys/fs/cgroup/<controller>/<nslab's cgroup>/nslab-<pid>-<n>/<node>
// A guardian (see subprocess.h) removes them all when the lab goes, and
// also when the nslab process is SIGKILLed: no directory outlives the lab.
// Programs join a node's cgroup between fork and exec (supervisor.cpp).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nslab/fd.h"
#include "nslab/limits.h"

namespace nslab {
class Subprocess;
class Topology;
}  // namespace nslab

namespace nslab::detail {

class NodeCgroup {
 public:
  const std::string& node() const noexcept { return node_; }
  const Limits& limits() const noexcept { return limits_; }
  // The directories of this node's cgroup (one per hierarchy).
  const std::vector<std::string>& dirs() const noexcept { return dirs_; }
  // Open cgroup.procs files: a process joins by writing "0" to each.
  std::vector<int> procs() const;
  // How many processes the kernel's OOM killer killed in this cgroup.
  std::uint64_t oom_kills() const;
  // CPU time used by the cgroup's processes so far, in seconds.
  std::optional<double> cpu_seconds() const;
  // " (killed by the kernel's OOM killer: node "x" has limits.memory 64MiB)"
  // for an exit by SIGKILL after an OOM kill in the cgroup; empty otherwise.
  std::string exit_note(int exit_code) const;

 private:
  friend class LabCgroups;
  std::string node_;
  Limits limits_;
  std::vector<std::string> dirs_;
  std::vector<Fd> procs_;
  std::string oom_file_;  // memory.events (v2) or memory.oom_control (v1)
  std::string cpu_file_;  // cpu.stat (v2, usage_usec) or cpuacct.usage (v1, ns)
  bool v2_ = false;
};

class LabCgroups {
 public:
  // Creates the cgroups of every node of `t` that has limits, and their
  // guardian. Throws EnvironmentError naming what is missing: a controller,
  // permission (rootless without delegation), a cgroup v2 tree that does
  // not delegate.
  explicit LabCgroups(const Topology& t);
  ~LabCgroups();  // removes the directories (the programs in them are gone)
  LabCgroups(const LabCgroups&) = delete;
  LabCgroups& operator=(const LabCgroups&) = delete;

  // The node's cgroup, or nullptr for a node without limits.
  std::shared_ptr<const NodeCgroup> node(const std::string& name) const;

 private:
  std::map<std::string, std::shared_ptr<NodeCgroup>> nodes_;
  std::vector<std::string> remove_;  // every directory made, deepest first
  std::unique_ptr<Subprocess> guardian_;
};

// True when the machine would let this process limit a node (for tests
// that skip otherwise); `why` says what is missing.
bool cgroups_usable(std::string& why);

}  // namespace nslab::detail
