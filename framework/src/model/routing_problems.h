// Topology::problems()' checks of policy routing (routing.h): named tables,
// the tables and interfaces routes and rules name, the next hops of
// multipath routes, preferred sources and static neighbours. Appends to
// `out` in the order of the description.
#pragma once

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "nslab/topology.h"

namespace nslab {

void routing_problems(const Topology& t, std::vector<ConfigError>& out);

// (node, address) for every address an endpoint marks `shared`: the node may
// have it on several interfaces.
std::set<std::pair<std::string, IpAddress>> shared_addresses(const Topology& t);

}  // namespace nslab
