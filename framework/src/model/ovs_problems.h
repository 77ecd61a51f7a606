// The Open vSwitch checks of Topology::problems() (ovs.cpp).
#pragma once

#include <functional>
#include <string>

#include "nslab/error.h"

namespace nslab {
class Topology;
}

namespace nslab::detail {

// Reports each problem of the topology's OVS bridges (ports, VLANs,
// mirrors, flows) through `problem`, in the order of the description.
void ovs_problems(const Topology& t, const std::function<void(const std::string&, const SourceLocation&)>& problem);

}  // namespace nslab::detail
