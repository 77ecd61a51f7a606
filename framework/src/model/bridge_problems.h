// The checks of the bridges' switch settings (bridge_options.h), for
// Topology::problems(). Internal to src/model.
#pragma once

#include <vector>

#include "nslab/topology.h"

namespace nslab::detail {

// Every problem of every bridge's options, in the order of the description.
// A lab without options costs one loop over its nodes' bridges.
std::vector<ConfigError> bridge_option_problems(const Topology& t);

}  // namespace nslab::detail
