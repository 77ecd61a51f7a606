// Firewall rules inside a node: iptables lines as a user types them after
// `iptables`, loaded atomically with iptables-restore run inside the node; and
// nftables rulesets, loaded through libnftables by a thread inside the node.
// A rule that fails to load stops the build with the tool's own message and,
// for scenarios, the file:line of the rule.
#pragma once

#include <string>
#include <string_view>

#include "nslab/error.h"
#include "nslab/ip_address.h"

namespace nslab {

class Node;

// Text for iptables-restore from rule lines ("-t nat -A POSTROUTING ... -j
// MASQUERADE", "-P FORWARD DROP", "-N LOG_DROP"; a leading "iptables" is
// allowed). Lines are split into words as sh splits them: '...' and "..."
// quote (--comment "ticket #42"), a backslash escapes, a backslash at the end
// of a line continues the rule, '#' at the start of a word starts a comment;
// nothing is expanded. Throws ConfigError naming the line (and the column of
// an unterminated quote or a control character).
std::string iptables_restore_input(std::string_view lines, SourceLocation where = {});

// `where` is the location of the first line of `lines`; errors name the line.
void apply_iptables(const Node& node, std::string_view lines, Family family,
                    SourceLocation where = {});
void apply_nftables(const Node& node, std::string_view ruleset, SourceLocation where = {});

}  // namespace nslab
