// Policy routing in a lab's build (lab_build.cpp calls these): a route's
// request from its description, a node's rules, and its own neighbour
// entries. Costs nothing for a node that has none.
#pragma once

#include <functional>
#include <map>
#include <vector>
#include <string>

#include "netlink.h"
#include "nslab/topology.h"

namespace nslab {

// `index_of` gives an interface's ifindex in the node (lo is 1).
using IndexOf = std::function<int(const std::string&)>;

RouteRequest route_request(const NodeSpec& node, const RouteSpec& route, const IndexOf& index_of);
// Options of addresses ("node:interface" -> options), from the endpoints
// that give any: empty for most labs.
using AddressOptionsMap = std::map<std::string, std::vector<AddressOptions>, std::less<>>;
AddressOptionsMap address_options(const Topology& t);
const AddressOptions* find_options(const AddressOptionsMap& all, const std::string& label, const Prefix& p);

// The node's nexthop objects (`nexthops`), singles before groups; a
// nexthop the kernel refuses is reported at its own position.
void add_nexthops(Netlink& nl, const NodeSpec& node, const IndexOf& index_of);
// The node's `ip_rules`, in order; a rule the kernel refuses is reported at
// the rule's own position (ConfigError).
void add_rules(Netlink& nl, const NodeSpec& node);
// One rule of the node as netlink takes it (its table name resolved).
RuleRequest rule_request(const NodeSpec& node, const RuleSpec& rule);
// The node's `neighbours`, after the lab's planned entries (they replace one
// for the same address).
void add_node_neighbours(Netlink& nl, const NodeSpec& node);

}  // namespace nslab
