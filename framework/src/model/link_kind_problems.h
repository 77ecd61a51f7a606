// The checks of the link kinds (a node's `interfaces:`), for
// Topology::problems(). Internal to src/model.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nslab/topology.h"

namespace nslab::detail {

// Every problem of every node's interfaces, in the order of the description.
std::vector<ConfigError> link_kind_problems(const Topology& t);

// Why a link kind's interface may not be called `name`: the rules of
// interface_name_problem, except that a vlan may have dots ("eth0.10").
std::optional<std::string> link_kind_name_problem(std::string_view name, InterfaceKind kind);

}  // namespace nslab::detail
