// The article's labs as C++ topologies, shared by the tests and benchmarks.
#pragma once

#include "nslab/topology.h"

namespace nslab::seed {

// red and blue joined by one veth pair, 192.168.1.1 and .2/24.
Topology veth_pair();
// red, blue, green on bridge v-net-0 inside node host (no address on it).
Topology bridge_three();
// bridge_three, plus 192.168.1.254/24 on v-net-0: the host reaches them all.
Topology host_access();
// host_access, plus an external node on 203.0.113.0/24 behind host:eth0,
// host forwarding, and routes both ways through the host.
Topology routed_via_host();
// n nodes (n1..nN) on v-net-0 with 10.0.0.0/16 addresses; host at .254.
Topology bridge_n(int n);

}  // namespace nslab::seed
