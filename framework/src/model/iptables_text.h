// iptables rule lines ("-t nat -A POSTROUTING ... -j MASQUERADE", "-P FORWARD
// DROP", "-N LOG_DROP"; a leading "iptables" is allowed), or the exact
// format iptables-save writes ("*filter", ":INPUT DROP [12:345]",
// "[3:180] -A INPUT ... -j ACCEPT", "COMMIT"; counters are read and
// dropped: a lab's counters start at zero), read as sh splits
// words: '...' and "..." quote (--comment "ticket #42"), a backslash escapes,
// a backslash at the end of a line continues the rule, '#' at the start of a
// word starts a comment; nothing is expanded. Every error names the line
// (and the column of an unterminated quote or a control character).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "nslab/error.h"

namespace nslab {

// One -A or -I rule: where it was written and the words iptables-restore reads.
struct IptablesRule {
  int line = 0;       // index of its line in the rules
  std::string text;   // "-A INPUT -p tcp --dport 22 -j ACCEPT"
  std::string chain;  // "INPUT"
  int insert_at = 0;  // 0: appended (-A); n: inserted as rule n of the chain (-I)
};

// A chain's line (":INPUT DROP [0:0]") and the line it came from.
struct IptablesChain {
  int line = 0;
  std::string name;
  std::string policy;  // ACCEPT, DROP, or "-" for a chain of the user's
};

struct IptablesRules {
  std::map<std::string, std::vector<IptablesRule>> rules;    // table -> rules in order
  std::map<std::string, std::vector<IptablesChain>> chains;  // table -> chains and policies set
  std::vector<std::string> tables;                           // in order of first use
  std::string restore_input() const;                         // iptables-restore's input, every table committed
};

// `where` is where the first line starts; throws ConfigError.
IptablesRules parse_iptables(std::string_view lines, const SourceLocation& where = {});
std::string iptables_restore_input(std::string_view lines, const SourceLocation& where = {});
// The location `index` lines after `first`.
SourceLocation line_of(const SourceLocation& first, int index);

}  // namespace nslab
