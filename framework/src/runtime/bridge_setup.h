// The build phase of the bridges' switch settings (bridge_options.h), called
// by lab_build.cpp. A lab without them pays one loop over its nodes'
// bridges and sends no message.
#pragma once

#include <chrono>
#include <memory>
#include <vector>

#include "nslab/node.h"
#include "nslab/topology.h"

namespace nslab {

// A node asking for nf_call_iptables on a bridge needs br_netfilter, which
// is machine-wide: without it (`has_bridge_nf`: its sysctls exist), an
// EnvironmentError naming the module.
void check_bridge_netfilter(const NodeSpec& spec, bool has_bridge_nf);

// Sets every listed port's flags and VLANs, once every port (veth ends and
// link kinds) is enslaved. Kernel refusals name where the port was written.
void set_bridge_ports(const Topology& t, const std::vector<std::unique_ptr<Node>>& nodes);

// With STP a port listens and learns for two forward delays before it
// forwards: the extra time Lab::wait_links_up allows (zero without STP),
// and the wait until no port of an STP bridge is still listening or
// learning (blocking is STP's verdict, and stays).
std::chrono::milliseconds stp_settle_time(const Topology& t);
void wait_stp_forwarding(const Topology& t, const std::vector<std::unique_ptr<Node>>& nodes,
                         std::chrono::steady_clock::time_point deadline);

}  // namespace nslab
