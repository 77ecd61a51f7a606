// One node's Open vSwitch: an ovsdb-server and an ovs-vswitchd running
// inside the node, with a private directory for their database, sockets
// and logs (OVS_RUNDIR, OVS_DBDIR, OVS_LOGDIR, OVS_SYSCONFDIR all point
// there). Nothing goes to the machine's /var/run/openvswitch, and no
// machine-wide daemon is asked anything.
//
// The daemons are Processes (process.h): they die with the lab, and with
// the nslab process even under SIGKILL. The directory is made before them
// and held by a guardian (subprocess.h), which removes it with everything
// in it after they are gone, or when nslab dies.
//
// Teardown (reverse of the members): ovs-vswitchd, ovsdb-server, then the
// guardian removes the directory.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "nslab/process.h"

namespace nslab {
class Node;
class Subprocess;
}  // namespace nslab

namespace nslab::detail {

class OvsDaemons {
 public:
  // Makes the directory and its database and starts ovsdb-server; returns
  // without waiting for it. Throws EnvironmentError when Open vSwitch is
  // not installed (naming the Debian package).
  OvsDaemons(const Node& node, ProcessSpec settings);
  ~OvsDaemons();
  OvsDaemons(const OvsDaemons&) = delete;
  OvsDaemons& operator=(const OvsDaemons&) = delete;

  // Waits for ovsdb-server's socket, starts ovs-vswitchd and waits for its
  // control socket; each wait connects to the socket (waking on the
  // directory's inotify events), bounded by `timeout`.
  void start_switch(std::chrono::milliseconds timeout);

  const std::string& dir() const noexcept { return dir_; }
  // OVS_RUNDIR and the other directories, for the OVS tools.
  std::map<std::string, std::string> environment() const;
  // Runs an OVS tool (ovs-vsctl, ovs-ofctl...) inside the node against
  // these daemons; throws EnvironmentError when it is not installed.
  ProcessResult run(std::vector<std::string> argv, std::chrono::milliseconds timeout) const;
  // The daemons, for reports of their output.
  std::vector<Process*> processes() const;
  // The pids of the daemons and of their supervisors (subprocess.h; each
  // the parent of its daemon, a child of this process, inside the node
  // too): every process of nslab's there.
  std::vector<int> pids() const;
  // ovs-vswitchd, once start_switch() started it (else null).
  const Process* vswitchd() const noexcept { return vswitchd_.get(); }

 private:
  const Node& node_;
  ProcessSpec settings_;  // the node's hostname and PID namespace
  std::string dir_;
  std::unique_ptr<Subprocess> guardian_;  // destroyed last: removes dir_
  std::unique_ptr<Process> ovsdb_;
  std::unique_ptr<Process> vswitchd_;
};

// Why Open vSwitch cannot run here (not installed), or empty.
std::string ovs_missing();

}  // namespace nslab::detail
