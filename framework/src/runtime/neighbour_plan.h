// Which permanent neighbour (ARP/NDP) and bridge forwarding entries a lab
// enters, worked out from its description alone: a pure function, so that
// its rules are unit-tested without a kernel (tests/unit/test_neighbour_plan).
//
// On every layer-2 segment (a veth pair, or a bridge with its ports) of at
// most `limit` addresses, each interface gets an entry for every address of
// the others on the segment that is inside one of its own subnets. Entries
// grow with the square of a segment's addresses, so a larger segment gets
// none and uses ordinary ARP (README, Defaults). Every bridge port gets a
// static forwarding entry for the MAC at its other end, whatever the limit:
// one per port.
#pragma once

#include <cstddef>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "netlink.h"
#include "nslab/topology.h"

namespace nslab {

// One node's entries: (interface name, entry); the entry's ifindex is left 0
// for the caller to fill in from the node's own links.
struct NodeNeighbours {
  std::string node;
  std::vector<std::pair<std::string, Neighbour>> entries;
};

// macs: "node:interface" -> the MAC the lab gave it. Nodes without entries
// are left out; the others come in the topology's order.
std::vector<NodeNeighbours> plan_static_neighbours(const Topology& topology,
                                                   const std::unordered_map<std::string, MacAddress>& macs,
                                                   std::size_t limit);

}  // namespace nslab
