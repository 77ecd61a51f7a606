// Link impairment made real: a tbf rate limit on the sending interface;
// loss, delay and jitter with netem where the kernel has it, else loss as an
// nftables random drop at the receiving interface's ingress (delay and
// jitter then fail the build with EnvironmentError naming the option).
//
// The build applies impairments after the nodes' firewalls, so that a
// user's `flush ruleset` cannot remove nslab's loss tables; each probe batch
// checks that they are still there (verify_impairments).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace nslab {

class Lab;
class Node;
struct LinkSpec;

// True when this kernel has the netem qdisc (asked once, in a scratch
// namespace, and remembered).
bool kernel_has_netem();

// Without netem: drops `percent` of the packets arriving on `interface` of
// `receiver`, at random, in a netdev table of its own (see loss_table_name).
void apply_loss_without_netem(const Node& receiver, const std::string& interface, double percent, const LinkSpec& link);
std::string loss_table_name(std::string_view interface);
// Applies `link.impair` (nothing when empty) to a link whose ends have no
// impairment yet: at build, and when a step changes it (step_impair.cpp).
// Delay or jitter without netem throws EnvironmentError at the link.
void impair_link(Lab& lab, const LinkSpec& link);
// The loss tables nslab made in a node (none where the kernel has netem).
std::vector<std::string> loss_tables_of(const Lab& lab, std::string_view node);
// Throws Error naming the node and table when a loss table nslab made is
// gone or no longer drops (a `flush ruleset` or `nft delete table` run in
// the node after the build): the link's loss would silently not apply.
void verify_impairments(const Lab& lab);

}  // namespace nslab
