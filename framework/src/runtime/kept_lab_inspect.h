// What `nslab inspect` and `nslab logs` show of a kept lab: its programs and
// their output (asked of the keeper, kept_lab_control.h), and each node's
// interfaces, addresses, routes and firewall rules as the kernel holds them
// (read inside the node by iproute2, iptables-save and nft, the tools a user
// would run there with `nslab exec`).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "kept_lab.h"
#include "nslab/scenario_run.h"

namespace nslab {

struct KeptProgramState {
  std::size_t index = 0;  // for kept_program_log
  std::string node;
  long pid = 0;       // in the keeper's PID namespace
  std::string state;  // "running" or "exited CODE"
  std::string label;  // "red: python3 -m http.server 80"
};
struct KeptServiceState {
  std::string node;
  std::string service;  // "tcp/80"
};
struct KeptLabPrograms {
  std::vector<KeptProgramState> programs;
  std::vector<KeptServiceState> services;
};
// Asks the lab's keeper, which must be running; throws Error naming why not.
KeptLabPrograms kept_lab_programs(const KeptLab& lab);
std::string kept_program_log(const KeptLab& lab, std::size_t index);

// `nslab check --lab`: the keeper runs the expectations of the scenario file
// at `path` (absolute) against its lab, and says whether that file describes
// the lab it built (scenario_compare.h). Throws Error when the keeper is not
// running or the file does not load there.
struct KeptCheck {
  bool same_lab = true;
  std::vector<ExpectationOutcome> expectations;
};
KeptCheck kept_lab_check(const KeptLab& lab, const std::string& path, bool explain);

// One node as the kernel holds it. In text form: `ip -br address`, `ip
// route`, `ip -6 route` (without the kernel's fe80::/64 and multicast
// routes), iptables-save and ip6tables-save (without their comment lines),
// and `nft list ruleset` without the tables that iptables-save shows
// (iptables-nft's, in iptables-save's form already). In JSON form the same commands' JSON
// (`ip -j`, `nft -j`), and iptables-save's text. Empty where a command has
// nothing to say (or is not installed).
struct KeptNodeView {
  std::string node, hostname, netns;
  std::string addresses, routes, routes6, iptables, ip6tables, nftables;
};
// Enters the keeper's user and mount namespaces (see open_kept_nodes), so
// call it last, from a single-threaded process.
std::vector<KeptNodeView> inspect_kept_nodes(const KeptLab& lab, bool json);

}  // namespace nslab

namespace nslab {

// `nslab capture`: enters the node (enter_kept_node; single-threaded callers
// only) and writes what crosses the interface to out_fd as a pcap stream
// (the header once capturing has begun, then each packet as it comes), until
// `count` packets (0: no limit), SIGINT, SIGTERM or SIGHUP, or until the
// reader goes away. Returns the number of packets written. Throws Error
// naming the node, interface or filter that is wrong.
std::size_t stream_kept_capture(const KeptLab& lab, const std::string& node, const std::string& interface,
                                const std::string& filter, int out_fd, std::size_t count);

}  // namespace nslab
