// What kept_lab_record.cpp, kept_lab.cpp and keeper.cpp share: the record's
// files and their checks, and /proc facts about a process. Not an API.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "kept_lab.h"
#include "nslab/fd.h"
#include "sys.h"

namespace nslab::kept_detail {

inline constexpr const char* kNetnsDir = "/run/netns";

// The inode of this process's namespace of the given kind ("pid", "mnt"...).
std::uint64_t own_ns(const char* which);
// Our pid as /proc counts it: not getpid() when /proc belongs to an
// ancestor PID namespace.
long pid_in_proc();

// /proc/PID/stat's state and start time (sys.h).
using sys::ProcStat;
using sys::read_stat;

// The state directory (kept_lab_root()), checked; an empty Fd when it does
// not exist and create is false.
Fd open_root(bool create);
std::string state_path(const std::string& id);
// The record's directory root/id, checked as read_record checks it.
Fd open_record_dir(int root, const std::string& id);
std::string record_text(const KeptLab& k);
// The record's directory (root/id) and its `state` file, checked.
KeptLab read_record(int root, const std::string& id);
// Removes the record's files (only the names up writes) and its directory;
// empty, or why it stays.
std::string remove_record(int root, const std::string& id);

// The keeper's lock: a write lock (fcntl, so tied to the keeper process and
// never inherited by its children) on the record's `lock` file, held for
// the keeper's whole life. The kernel drops it when the keeper dies however
// it dies — SIGKILL, or the end of its PID namespace — so it tells from any
// PID namespace whether the keeper lives.
inline constexpr const char* kLockFile = "lock";
enum class LockState { held, free, none };  // none: a record without a lock file
LockState keeper_lock(int root, const std::string& id);

// True when the namespace file is the network namespace up made.
bool is_recorded_netns(int fd, const KeptLab::Namespace& ns);

enum class Removal { removed, absent, stayed };
// Unmounts and removes one recorded namespace file in this mount namespace;
// says what happened.
std::pair<Removal, std::string> remove_netns_file(const KeptLab::Namespace& ns);

}  // namespace nslab::kept_detail
