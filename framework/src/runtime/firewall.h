// Firewall rules inside a node: iptables lines (read by iptables_text.h),
// loaded atomically with iptables-restore run inside the node; and nftables
// rulesets, loaded through libnftables by a thread inside the node.
// A rule that fails to load stops the build with the tool's own message and,
// for scenarios, the file:line of the rule.
#pragma once

#include <string>
#include <string_view>

#include "nslab/error.h"
#include "nslab/ip_address.h"

namespace nslab {

class Node;

// `where` is the location of the first line of `lines`; errors name the line.
void apply_iptables(const Node& node, std::string_view lines, Family family,
                    SourceLocation where = {});
void apply_nftables(const Node& node, std::string_view ruleset, SourceLocation where = {});

}  // namespace nslab
