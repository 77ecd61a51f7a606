// A topology as Graphviz DOT: each node a cluster with its bridges and
// interfaces (and their addresses), each veth link an edge, each bridge port
// an edge to its bridge.
#pragma once

#include <string>

#include "nslab/topology.h"

namespace nslab {

std::string to_dot(const Topology& topology);

}  // namespace nslab
