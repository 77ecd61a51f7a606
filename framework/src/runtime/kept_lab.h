// Labs kept up for debugging (`nslab up`). A keeper process holds the lab;
// each node's namespace is also bind-mounted at /run/netns/LAB-NODE in the
// keeper's mount namespace (so `ip netns exec` works where that is the
// caller's), and a record lists exactly what was made. `nslab down LAB`
// removes exactly that and nothing else; no name is ever pattern-matched.
//
// Records are trusted only as far as they can be checked:
//  - they live in kept_lab_root(), a directory of the caller's own (0700),
//    one subdirectory per lab (0700) holding `state` (0600); a record that
//    is not the caller's, that someone else may write, or a symlink, is
//    refused;
//  - every name in a record is a plain name (no '/', no "..") and each
//    namespace file is named LAB-NODE, as `up` names them;
//  - the keeper is recognised by its pid, its start time, its PID namespace
//    and its executable, through a /proc/PID handle held while it is
//    signalled, so no other process is ever signalled in its place;
//  - whether the keeper lives is also told by a lock it holds on the
//    record's `lock` file for its whole life, which the kernel drops however
//    it dies: a keeper whose PID namespace ended (its pid means nothing
//    here) is known gone, and `down` removes what it left;
//  - a namespace file is touched only if it is the very namespace up made
//    (its inode), and `down` checks afterwards that it is gone.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nslab/fd.h"
#include "nslab/netns.h"

namespace nslab {

struct KeptLab {
  struct Namespace {
    std::string node;
    std::string name;         // id + "-" + node, a file in /run/netns
    std::uint64_t inode = 0;  // of the namespace up made
    std::string hostname;     // the node's `hostname:`, or empty
    // The node's cgroup directories (`limits:`; one per hierarchy on v1),
    // which `nslab exec` joins; empty for a node without limits.
    std::vector<std::string> cgroups;
  };
  std::string id;        // "port-forward-3fa2c1"
  std::string scenario;  // the file it was built from
  // The keeper, as `up` recorded it.
  pid_t keeper = 0;                                      // in keeper_pidns
  unsigned long long keeper_start = 0;                   // start time, clock ticks since boot
  std::uint64_t keeper_pidns = 0;                        // inode of its PID namespace
  std::uint64_t keeper_userns = 0;                       // inode of its user namespace
  std::uint64_t keeper_mntns = 0;                        // inode of its mount namespace (where /run/netns is)
  std::uint64_t keeper_exe_dev = 0, keeper_exe_ino = 0;  // its executable
  std::vector<Namespace> netns;
};

// $NSLAB_STATE_DIR if set; /run/nslab for the machine's root; otherwise
// $XDG_RUNTIME_DIR/nslab (when that is a private directory of the caller's)
// or /tmp/nslab-UID, UID being the caller's uid outside any user namespace.
std::string kept_lab_root();
// A new lab id: the scenario's name and a random suffix.
std::string new_kept_lab_id(const std::string& name);
// Empty when id is a plain lab name (letters, digits, '-', '_'; at most 64,
// first a letter or digit); otherwise why it is not.
std::optional<std::string> kept_lab_id_problem(std::string_view id);

// Why `up` cannot record a keeper that `down` would recognise (a /proc that
// shows another PID namespace's processes), or empty.
std::optional<std::string> keeper_recording_problem();
// Creates kept_lab_root() if needed and checks it is the caller's (0700).
void prepare_kept_lab_root();

// Every record in kept_lab_root(): the lab, or why its record is refused.
struct KeptLabEntry {
  std::string id;  // the directory's name
  std::optional<KeptLab> lab;
  std::string problem;
};
std::vector<KeptLabEntry> list_kept_labs();
// True when kept_lab_root() has an entry for this (valid) id.
bool kept_lab_recorded(const std::string& id);
// The verified record; throws Error naming the reason when there is no such
// lab or its record is refused.
KeptLab find_kept_lab(const std::string& id);

// The keeper as this process sees it: running (the recorded process, in
// this PID namespace), gone (its pid is free or names another process, or —
// from any PID namespace — its lock is free: it died, maybe with its whole
// PID namespace), or unknown (it lives, or may, where this process cannot
// check or signal it).
struct KeeperStatus {
  enum State { running, gone, unknown } state = unknown;
  std::string detail;  // for unknown: why it cannot be checked from here
};
KeeperStatus keeper_status(const KeptLab& lab);

// For `nslab exec`: enters the keeper's user and mount namespaces (where
// they are not this process's: a rootless lab, or an `up` in a private mount
// namespace), then the node's network namespace, checked to be the one up
// made; returns it. The keeper must be running. Single-threaded callers only
// (setns into a user namespace requires it), about to exec a program. Throws
// Error naming what is wrong.
Netns enter_kept_node(const KeptLab& lab, const std::string& node);
// For `nslab inspect`: enters the keeper's user and mount namespaces as
// enter_kept_node does, and opens every node's network namespace, each
// checked to be the one up made (in the record's order).
std::vector<Netns> open_kept_nodes(const KeptLab& lab);
// For `nslab exec`, after enter_kept_node: a UTS namespace of this process's
// own whose hostname is the node's `hostname:`, or else the node's name (as
// containerlab names a node's container). Empty, or why the hostname stays
// the machine's.
std::optional<std::string> take_kept_node_hostname(const KeptLab& lab, const std::string& node);

// `nslab down`: stops the keeper (SIGTERM, then SIGKILL) or finds it gone,
// unmounts and removes the recorded namespace files that are here (an
// entry gone before it started is reported as not there) and the record,
// then checks that they are gone. A keeper whose status is unknown is left
// alone, and nothing is touched. Single-threaded callers only (it may enter the keeper's
// user namespace). Throws Error when the record is unknown or refused.
struct DownReport {
  std::vector<std::string> done;    // what it did, one line each
  std::vector<std::string> stayed;  // what is still there, and why
  bool ok() const noexcept { return stayed.empty(); }
};
DownReport remove_kept_lab(const std::string& id);

}  // namespace nslab
