// The checks of a node's nexthop objects and of the routes naming them
// (nhid), for Topology::problems(). Internal to src/model.
#pragma once

#include <vector>

#include "nslab/topology.h"

namespace nslab::detail {

// Appends every problem; costs one loop over the nodes when none has nexthops.
void nexthop_problems(const Topology& t, std::vector<ConfigError>& out);

}  // namespace nslab::detail
