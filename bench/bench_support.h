// Shared pieces of nslab's benchmarks: the article's bridge lab as a topology
// and as the article's `ip` commands, a sandbox for the shell baseline, timing.
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "nslab/topology.h"

namespace nslab::bench {

using Clock = std::chrono::steady_clock;
inline double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// A Linux bridge holds at most 1,023 ports: larger labs spread their nodes
// over several bridges of host.
inline constexpr int kPortsPerBridge = 1000;
// host with bridge v-net-0 (10.0.255.254/16) and n nodes n1..nN, one veth
// each; beyond kPortsPerBridge nodes, v-net-1 (10.1.255.254/16) and so on.
Topology bridge_lab(int n);
// The same lab as the article builds it: one `ip` process per command.
std::string bridge_lab_script(int n);
std::string bridge_lab_teardown_script(int n);

// Runs the build script, then the teardown script, with sh in a private
// network and mount namespace with its own /run (so `ip netns add` touches
// nothing of the machine's). Returns {build ms, teardown ms}; negative when
// the scripts failed.
struct ShellTimes {
  double build_ms = -1;
  double teardown_ms = -1;
};
ShellTimes run_sandboxed_shell(const std::string& build, const std::string& teardown);

// The kernel's destruction of network namespaces, timed with the
// workqueue tracepoints (a tracefs instance of its own, so nothing else's
// tracing changes): every run of cleanup_net, the work item that destroys
// the namespaces queued since its last run, as {start ms, end ms} on the
// CLOCK_MONOTONIC scale of monotonic_ms(). Empty without tracefs. The
// machine's other namespaces are destroyed by the same work item.
class CleanupNetTrace {
 public:
  CleanupNetTrace();
  ~CleanupNetTrace();
  CleanupNetTrace(const CleanupNetTrace&) = delete;
  CleanupNetTrace& operator=(const CleanupNetTrace&) = delete;
  bool active() const { return !dir_.empty(); }
  // Completed runs; one still running ends at -1.
  std::vector<std::pair<double, double>> runs();
  void clear();

 private:
  std::string dir_;
};
double monotonic_ms();

// Median of the values.
double median(std::vector<double> v);

}  // namespace nslab::bench
