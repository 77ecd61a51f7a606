// Labs kept up for debugging (`nslab up`): each node's namespace is also
// bind-mounted at /run/netns/LAB-NODE so `ip netns exec` works, and a state
// file under /run/nslab/LAB lists exactly what was made. `nslab down LAB`
// removes exactly that and nothing else; no name is ever pattern-matched.
#pragma once

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

namespace nslab {

class Lab;

struct KeptLab {
  std::string id;         // "port-forward-3fa2c1"
  std::string scenario;   // the file it was built from
  pid_t keeper = 0;       // the process that holds its services and programs
  unsigned long long keeper_start = 0;  // its start time, to recognise it
  std::vector<std::pair<std::string, std::string>> netns;  // node -> /run/netns name
  bool keeper_alive() const;
};

// $NSLAB_STATE_DIR, or /run/nslab.
std::string kept_lab_root();
// A new lab id: the scenario's name and a random suffix.
std::string new_kept_lab_id(const std::string& name);

// Records the lab, then bind-mounts each node's namespace (the record comes
// first, so that a crash midway still leaves a record `down` can follow).
KeptLab publish_lab(const Lab& lab, const std::string& id, const std::string& scenario);
std::vector<KeptLab> list_kept_labs();
KeptLab find_kept_lab(const std::string& id);  // throws Error when unknown
// Stops the keeper (SIGTERM, then SIGKILL), unmounts and removes the listed
// namespace files, removes the record. Returns what it did, one line each.
std::vector<std::string> remove_kept_lab(const std::string& id);
// The keeper's own teardown: unmount and remove its namespaces and record.
void unpublish_lab(const KeptLab& lab);

}  // namespace nslab
