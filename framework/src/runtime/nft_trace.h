// What the kernel's nftables tracing says decided a probe: while it runs
// again alone, each node with an nftables ruleset holds a table of nslab's
// own that marks every packet it receives or sends for tracing (`meta
// nftrace set 1` at priority -500 in prerouting and output: before any rule
// of the user's, deciding nothing), and a netlink socket in that node
// subscribed to the trace group, as `nft monitor trace` is. The trace names
// each rule that gave a verdict by table, chain and handle; the node's
// ruleset listed with handles gives its text, and the scenario's ruleset the
// line it was written on. The table is removed when the trace ends.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "nslab/lab.h"

namespace nslab::detail {

class NftTrace {
 public:
  // Starts tracing in the lab's nodes that have an nftables ruleset (none:
  // nothing is touched, and causes() is empty).
  explicit NftTrace(Lab& lab);
  ~NftTrace();
  NftTrace(const NftTrace&) = delete;
  NftTrace& operator=(const NftTrace&) = delete;

  // The verdicts the traced packets met since the start, one line each and
  // each once: "dropped by fw: inet filter forward rule `tcp dport 22 drop`
  // (fw.yaml:12)", "blocked by fw: inet filter input policy drop".
  std::vector<std::string> causes();

  // The name of nslab's own table (family inet), left out of every cause.
  static constexpr const char* kTable = "nslab_trace";

 private:
  struct Node;
  Lab& lab_;
  std::vector<std::unique_ptr<Node>> nodes_;
};

// One rule line of `nft -a list ruleset` text: "tcp dport 22 drop # handle 4"
// -> its handle and text; false for lines that are no rule. Pure; unit-tested.
bool rule_line_with_handle(const std::string& line, std::uint64_t& handle, std::string& text);

}  // namespace nslab::detail
