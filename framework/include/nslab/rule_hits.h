// How often each firewall rule of a lab's node matched: the kernel's own
// counters, read in-process (libnftables' JSON for rules, nf_tables netlink
// for the chains' policy counters), never by parsing iptables-save.
//
// iptables rules (inline or from a rule file) are iptables-nft rules, so
// nftables rules: each -A/-I line is matched to the kernel rule at its place
// in its chain (nslab loads the lines into chains it alone fills, in the
// order written, -I positions applied). When a chain no longer holds as many
// rules as nslab loaded (a `run:` program added or removed some), the lines
// cannot be told apart and reading fails rather than guess. A built-in
// chain's policy line (":INPUT DROP [0:0]", "-P INPUT DROP") counts the
// packets the policy decided. nftables rulesets are counted by their named
// counters (`counter NAME { }`).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "nslab/error.h"
#include "nslab/options.h"
#include "nslab/probe.h"

namespace nslab {

class Lab;

struct RuleHit {
  std::string node;
  SourceLocation where;  // the rule's line: rules.v4:12:1, or the scenario's line for inline rules
  std::string table;     // "filter"
  std::string chain;     // "INPUT"
  std::string rule;      // "-A INPUT -p tcp --dport 22 -j ACCEPT", or "policy DROP"
  bool ipv6 = false;
  bool policy = false;
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
  std::string str() const;  // "rules.v4:12 -A INPUT ... -j ACCEPT: 3 packets"
};

// Every rule and policy line nslab loaded into the node, in the order
// written, with the counters now. Throws Error when they cannot be read.
std::vector<RuleHit> rule_hits(Lab& lab, std::string_view node);
// The node's named nftables counters, "TABLE NAME" -> packets (also by NAME
// alone when only one table has it).
std::map<std::string, std::uint64_t> nft_counters(Lab& lab, std::string_view node);

// What decided a probe, as `nslab check` explains a failed expectation: the
// probe runs again alone between two reads of every node's counters, the
// rules' (iptables lines, policies) and the kernel's own drop counters (a
// missing route, forwarding off, rp_filter). "blocked by fw: FORWARD policy
// DROP (rules.v4:15) (re-run alone: blocked)", "no route on r2 for
// 10.9.0.5 (re-run alone: unreachable)", or "cause not known: ..." rather
// than a guess. Empty for a probe that got through a lab without rules.
std::string explain(Lab& lab, const Probe& probe, const ProbeOptions& options = {});
// The same for a probe already run: `explain(lab, lab.probe(p))`.
std::string explain(Lab& lab, const ProbeResult& result, const ProbeOptions& options = {});

}  // namespace nslab
