// The supervisor of subprocess.h, the side that runs in the child: its
// status messages, the plan it is given before the fork, and the loop that
// starts the program, reaps its tree and kills it. Everything here after the
// fork is async-signal-safe. Not an API: for subprocess.cpp only.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>

namespace nslab::supervisor {

// What the supervisor reports on its status pipe: fixed-size messages, each
// written at once (atomic: smaller than PIPE_BUF).

enum Kind : std::int32_t { kStarted = 1, kFailed = 2, kExited = 3 };

struct Message {
  std::int32_t kind = 0;
  std::int32_t value = 0;  // kStarted: the program's pid; kFailed: the step; kExited: its status
  std::int32_t err = 0;    // kFailed: errno
};

enum Step : std::int32_t {
  kSetup = 1,
  kEnterNetns,
  kNewUts,
  kSetHostname,
  kNewPidns,
  kFork,
  kMountProc,
  kChdir,
  kExec,
  kJoinCgroup,
};

// What failed, for the error message.
const char* step_text(std::int32_t step);

// Descriptors at fixed numbers in the supervisor; everything else is closed.
constexpr int kLifelineFd = 3, kStatusFd = 4, kOutputFd = 5, kInputFd = 6, kNetnsFd = 7;
// The cgroup.procs files the program joins (one per cgroup v1 hierarchy).
constexpr int kMaxCgroups = 4, kFirstCgroupFd = 8, kFirstFree = kFirstCgroupFd + kMaxCgroups;

// Everything the children need, made before the fork: after it, only
// async-signal-safe calls (this process may have many threads).
struct Plan {
  const char* exe = nullptr;
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  const char* cwd = nullptr;       // nullptr: inherit
  const char* hostname = nullptr;  // nullptr: no UTS namespace
  bool pid_namespace = false;
  int fds[5] = {-1, -1, -1, -1, -1};               // lifeline, status, output, input, netns
  int cgroup_fds[kMaxCgroups] = {-1, -1, -1, -1};  // cgroup.procs files the program joins
  // A guardian: no program (exe is nullptr); when nslab goes or asks, it
  // removes these directories (cgroups, deepest first) once they are empty.
  const char* const* remove_dirs = nullptr;
  // ... and these with everything in them (files, sockets, subdirectories).
  const char* const* remove_trees = nullptr;
};

// Reads up to size bytes (less only at end of file).
ssize_t read_some(int fd, char* buf, std::size_t size);
// Our pid as /proc counts it (it may differ from getpid() when /proc belongs
// to an ancestor PID namespace).
long pid_in_proc();

// The supervisor: a child of nslab that never execs. See subprocess.h.
[[noreturn]] void supervise(const Plan& plan);

}  // namespace nslab::supervisor
