// Per-namespace sysctls, written through procfs by a thread inside the
// namespace (the net.* tree shows the namespace of the thread that looks it up).
#pragma once

#include <string>
#include <string_view>

#include "nslab/fd.h"

namespace nslab {

// Writes key (dotted, "net.ipv4.ip_forward") in the calling thread's namespace.
// Only for threads made for it (see Netns::run). Throws ConfigError for keys
// that are not net.* or do not exist, SystemError otherwise.
void write_sysctl_here(std::string_view key, std::string_view value);
std::string read_sysctl_here(std::string_view key);
// True when the key exists in the calling thread's namespace.
bool sysctl_exists_here(std::string_view key);

// Writes sysctls for a thread that visits many namespaces in turn (a lab's
// build), through a procfs instance of its own rather than the shared /proc.
//
// Why: every live namespace leaves its own dentry for "net", "ipv4", "conf"…
// under /proc/sys, all on the same dcache hash chain, and each path walk
// compares them one by one under the global sysctl_lock. A write through
// /proc/sys costs O(live namespaces), and building N nodes O(N²) (2.8–5.6 ms
// per write with 3,000 namespaces alive). A detached procfs (fsopen("proc"),
// fsmount, never attached anywhere) has dentries of its own: a walk from it
// meets only the namespaces this writer visited. It is replaced after
// kRemountAfter writes, so that chain stays short however large the lab.
//
// Where procfs cannot be mounted — rootless (a user namespace that does not
// own the PID namespace may not create a procfs; fsopen or FSCONFIG_CMD_CREATE
// fail with EPERM), or a kernel before 5.2 — it writes through /proc/sys,
// with the cost above; the first failure is remembered for the process.
class SysctlWriter {
 public:
  static constexpr int kRemountAfter = 128;

  void write(std::string_view key, std::string_view value);
  bool exists(std::string_view key);
  // True when writes go through a procfs of this writer's own.
  bool private_procfs();
  // For reads that would walk /proc/sys as often: a directory descriptor of
  // this writer's procfs root, counted as `lookups` lookups, or -1 where
  // there is none (then read through /proc).
  int root_for(int lookups);

 private:
  int root();  // the procfs root to walk from, or -1 for /proc
  Fd proc_;
  int writes_ = 0;
};

}  // namespace nslab
