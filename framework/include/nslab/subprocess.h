// Running a program inside a node, for build-time tools (iptables-restore):
// fork, join the node's namespace in the child, exec. Never on a probe path.
#pragma once

#include <string>
#include <vector>

namespace nslab {

class Netns;

struct ProcessResult {
  int status = -1;     // exit status; 128+N when killed by signal N
  std::string output;  // stdout and stderr together
  bool ok() const noexcept { return status == 0; }
};

// Runs argv[0] (looked up in PATH before forking) inside ns with `input` on
// its standard input; waits for it. Throws EnvironmentError when the program
// is not installed.
ProcessResult run_in_netns(const Netns& ns, const std::vector<std::string>& argv,
                           const std::string& input = {});

// The same in the caller's own namespace (for tools like Graphviz's dot).
ProcessResult run_program(const std::vector<std::string>& argv, const std::string& input = {});

// The full path of a program in PATH, or empty.
std::string find_program(const std::string& name);

}  // namespace nslab
