// Firewall rules inside a node: iptables lines (read by iptables_text.h),
// loaded atomically with iptables-restore run inside the node; and nftables
// rulesets, loaded through libnftables by a thread inside the node.
// A rule that fails to load stops the build with the tool's own message and,
// for scenarios, the file:line of the rule.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "nslab/error.h"
#include "nslab/ip_address.h"
#include "nslab/topology.h"

namespace nslab {

class Node;

// `where` is the location of the first line of `lines`; errors name the line.
void apply_iptables(const Node& node, std::string_view lines, Family family, const SourceLocation& where = {});
// `include_dir`: where the ruleset's `include "FILE"` finds FILE (a rule
// file's folder); empty: nowhere.
void apply_nftables(const Node& node, std::string_view ruleset, const SourceLocation& where = {},
                    const std::string& include_dir = {});

// The folder a ruleset read from a rule file includes from (its own, made
// absolute); empty for inline rules.
std::string include_dir(const RulesSpec& rules);

// The nftables ruleset of the calling thread's namespace as the kernel holds
// it, in libnftables' JSON (`nft -j list ruleset`). iptables-nft rules are in
// it too: as native expressions, or as "xt" compat expressions. Throws
// SystemError when libnftables cannot list it.
std::string list_ruleset_json_here();

// Why a ruleset (list_ruleset_json_here's output) can decide a packet's fate
// by time, chance, per-flow or per-source state that ages, or user space;
// empty when every object, statement and expression in it is one nslab
// knows to be a pure function of the packet and of state the packet's own
// flow makes. An allow-list: anything unknown counts as time-dependent, and
// so does text that is not the JSON libnftables writes. Tables named in
// `skip` ("FAMILY NAME") are not looked at (nslab's own loss tables). The
// JSON does not show an xt extension's options: `conntrack` (which may
// match --ctexpire) passes only when the caller has read the rules and
// names it in `xt_allowed`.
std::optional<std::string> time_dependent_rule(std::string_view json, const std::set<std::string>& skip = {},
                                               const std::set<std::string>& xt_allowed = {});

}  // namespace nslab
