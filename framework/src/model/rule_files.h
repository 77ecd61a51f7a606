// Firewall rules kept in files of their own (`iptables_file: rules.v4`,
// `nftables_file: fw.nft`), read when the scenario is: a path is relative to
// the scenario's folder and, for scenarios, never leaves it (no absolute
// path, no "..", no symbolic link out, no control character). The rules'
// positions then name the rule file: rules.v4:12:1.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "nslab/error.h"
#include "nslab/topology.h"

namespace nslab {

struct RuleFileOptions {
  std::string base;       // the folder relative paths start from ("" for the current directory)
  std::string root;       // the folder the file must stay inside; empty: anywhere (C++ builders)
  std::string_view what;  // "iptables_file", for messages
};

// The rules of the file `written` names, with `where` at its first line and
// `file` and `root` set. Throws ConfigError at `at` saying why not.
RulesSpec read_rule_file(std::string_view written, const RuleFileOptions& options, const SourceLocation& at = {});

// "rules.v4" (a file name, or a path ending in one) names `rules`' file.
bool names_rule_file(std::string_view file, const RulesSpec& rules);

// Why an nftables `include "PATH"` of `rules` (a rule file) cannot be
// loaded: a path outside the rule file's folder (unless rules.includes_outside),
// a missing file, or a problem inside the included file. Empty when it can.
std::optional<ConfigError> include_problem(const RulesSpec& rules, std::string_view path, const SourceLocation& at,
                                           int depth = 0);

}  // namespace nslab
