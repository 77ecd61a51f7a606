// iptables rule lines ("-t nat -A POSTROUTING ... -j MASQUERADE", "-P FORWARD
// DROP", "-N LOG_DROP"; a leading "iptables" is allowed), read as sh splits
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

struct IptablesRules {
  std::map<std::string, std::vector<std::pair<int, std::string>>> rules;  // table -> (line index, rule)
  std::map<std::string, std::vector<std::string>> chains;                 // table -> ":CHAIN POLICY [0:0]"
  std::vector<std::string> tables;                                        // in order of first use
  std::string restore_input() const;  // iptables-restore's input, every table committed
};

// `where` is where the first line starts; throws ConfigError.
IptablesRules parse_iptables(std::string_view lines, const SourceLocation& where = {});
std::string iptables_restore_input(std::string_view lines, const SourceLocation& where = {});
// The location `index` lines after `first`.
SourceLocation line_of(const SourceLocation& first, int index);

}  // namespace nslab
