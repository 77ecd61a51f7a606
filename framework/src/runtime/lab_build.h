// What the build phases in lab_build.cpp and lab_settings.cpp share.
#pragma once

#include "netlink.h"
#include "nslab/node.h"

namespace nslab {

// A node's netlink socket during a build: within the build's descriptor
// budget (see SocketBudget in lab_build.cpp); outside a build, the node's own.
Netlink& netlink_of(Node& n);

}  // namespace nslab
