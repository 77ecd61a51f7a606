// The build phase of the link kinds (a node's `interfaces:`; nslab/link_kinds.h),
// called by lab_build.cpp. A lab without them pays one loop over its nodes.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "nslab/node.h"
#include "nslab/topology.h"

namespace nslab {

// Creates every node's link kinds once its veths and bridges exist, each
// after its parent and members; enslaves the members, brings up what is
// meant to be up, and records the interfaces (addresses come in the next
// phase). Kernel refusals of an interface name where it was written.
void create_link_kinds(const Topology& t, const std::vector<std::unique_ptr<Node>>& nodes);

// Adds to `want` (node -> interface -> must be operationally up) the link
// kinds Lab::wait_links_up waits for: those up with all they stand on up.
void want_link_kinds_up(const Topology& t, std::map<std::string, std::map<std::string, bool>, std::less<>>& want);

// True when an interface of a link kind has an IPv6 address.
bool link_kinds_have_ipv6(const Topology& t);

}  // namespace nslab
