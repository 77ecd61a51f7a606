// The ruleset part of the stillness census, read once per nftables
// generation: a node's ruleset (libnftables' `list ruleset`, JSON) and what
// time_dependent_rule finds in it are kept per namespace and looked at again
// only after the kernel committed a change (NFT_MSG_GETGEN: every commit,
// iptables-nft's too, moves the generation on). Legacy iptables tables are
// not nftables': the census reads them every time.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>

namespace nslab::detail {

// A namespace and its ruleset's generation; `valid` is false where the
// kernel does not say (no nf_tables, no SO_NETNS_COOKIE): nothing is cached.
struct RulesetGeneration {
  std::uint64_t netns = 0;  // SO_NETNS_COOKIE: never reused while the machine runs
  std::uint32_t generation = 0;
  bool valid = false;
};

// Read by a thread inside the node, before its ruleset is listed.
RulesetGeneration ruleset_generation_here();

// The JSON listed at that generation, if it is known.
std::optional<std::string> cached_ruleset(const RulesetGeneration& g);

// What `scan` (time_dependent_rule and whatever it needs) says of `json`
// with `skip` left out, from the cache when it was asked at the same
// generation with the same `skip`; the answer is kept for next time.
std::optional<std::string> ruleset_verdict(const RulesetGeneration& g, const std::string& json,
                                           const std::set<std::string>& skip,
                                           const std::function<std::optional<std::string>()>& scan);

}  // namespace nslab::detail
