// An nftables ruleset as a scenario's `nftables:` holds it (nft -f syntax),
// read just far enough to find its top-level commands: a lab loads a
// ruleset, so only commands that build one (table, chain, set, rule...,
// add, insert, replace, create, delete, destroy, flush, rename, define) are
// allowed, not those that show or watch one (list, monitor, describe, get,
// reset, export, import). `include "FILE"` is refused unless the caller
// checks includes (rulesets kept in files: rule_files.h). Pure text work:
// validation runs it without privilege.
#pragma once

#include <functional>
#include <optional>
#include <string_view>

#include "nslab/error.h"

namespace nslab {

// The first problem of `ruleset`, whose first line starts at `where`, with
// the position of the offending word.
// `includes` judges each `include "PATH"` (at the position of PATH); without
// it every include is a problem.
using IncludeCheck = std::function<std::optional<ConfigError>(std::string_view path, const SourceLocation& at)>;
std::optional<ConfigError> nftables_problem(std::string_view ruleset, const SourceLocation& where = {},
                                            const IncludeCheck& includes = {});

}  // namespace nslab
