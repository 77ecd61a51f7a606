// The nslab command line: one subcommand per file, each a few flags and one
// call into the library.
#pragma once

#include <string>
#include <vector>

namespace nslab::cli {

using Args = std::vector<std::string>;

// Exit codes (README): 0 all expectations hold, 1 one failed, 2 bad
// scenario or usage, 4 skipped because this environment cannot run labs.
inline constexpr int kOk = 0, kFailed = 1, kUsage = 2, kCoverage = 3, kSkipped = 4;

int check(const Args& args);
int validate(const Args& args);
int graph(const Args& args);
int up(const Args& args);
int exec(const Args& args);
int list(const Args& args);
int down(const Args& args);
int inspect(const Args& args);
int logs(const Args& args);
int capture(const Args& args);

// True when args holds -h or --help.
bool wants_help(const Args& args);

}  // namespace nslab::cli
