// Topology::problems()' checks of policy routing (routing.h): named tables,
// the tables and interfaces routes and rules name, the next hops of
// multipath routes, preferred sources and static neighbours. Appends to
// `out` in the order of the description.
#pragma once

#include <vector>

#include "nslab/topology.h"

namespace nslab {

void routing_problems(const Topology& t, std::vector<ConfigError>& out);

}  // namespace nslab
