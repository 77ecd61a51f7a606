// Subprocess: the one way nslab runs a program — a lab's `run:` programs,
// `command:` expectations, build-time tools such as iptables-restore — and
// everything that program starts.
//
// nslab forks a small supervisor, which forks the program:
//
//   nslab ── supervisor (single-threaded, never execs) ── program ── ...
//
// The supervisor
//  - is a child subreaper (PR_SET_CHILD_SUBREAPER): an orphan anywhere in
//    the program's tree — a double fork, a `setsid` daemon, `sleep &` in a
//    shell — is reparented to it, so the whole tree stays its descendants;
//  - holds a lifeline: the read end of a pipe whose write end only the nslab
//    process holds (O_CLOEXEC, and closed in every child nslab forks). When
//    nslab exits or is killed, even by SIGKILL, the pipe reads end-of-file
//    and the supervisor kills the tree. This does not depend on the thread
//    that started the program (PR_SET_PDEATHSIG follows the thread);
//  - kills the tree on request, SIGKILLing its descendants until it has none,
//    and only then exits: when kill_tree() returns, nothing of it is left.
// The program's output goes to an in-memory file (memfd) that the tree
// shares, never to a pipe that a background child could hold open.
//
// The one way out of this is a SIGKILL sent to the supervisor itself (it
// ignores or handles every other signal): the program then dies too
// (PR_SET_PDEATHSIG from the single-threaded supervisor), but descendants
// that left its process group would survive.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nslab/fd.h"
#include "nslab/process.h"

namespace nslab {

class Netns;
class Node;

struct SubprocessSpec {
  std::vector<std::string> argv;           // argv[0] is looked up in PATH first
  std::map<std::string, std::string> env;  // added to this process's environment
  std::string working_dir;                 // empty: this process's
  int netns_fd = -1;                       // the network namespace to run in; -1: this process's
  std::string hostname;                    // non-empty: a UTS namespace with this hostname
  bool pid_namespace = false;              // the program is PID 1 of a PID namespace with its own /proc
  std::string input;                       // its standard input; empty: /dev/null
  std::string label;                       // names it in errors; default: the command line
  std::vector<int> cgroups;                // cgroup.procs files (open for writing) the program joins
  // With no argv: a guardian, a supervisor without a program, which removes
  // these directories (deepest first, once empty) when the Subprocess goes
  // or the nslab process dies, even by SIGKILL.
  std::vector<std::string> remove_dirs;
  // The same for directories it removes with everything in them (a lab's
  // private Open vSwitch run directory), after remove_dirs.
  std::vector<std::string> remove_trees;
};

class Subprocess {
 public:
  // Starts the program; returns once it has been exec'd. Throws
  // EnvironmentError when argv[0] is not installed and SystemError naming
  // the step (entering the namespace, exec) when it cannot start.
  explicit Subprocess(SubprocessSpec spec);
  ~Subprocess();  // kill_tree()
  Subprocess(Subprocess&&) noexcept;
  Subprocess& operator=(Subprocess&&) noexcept;
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  const std::string& label() const noexcept;
  // The program's pid, as this process sees it.
  pid_t pid() const noexcept;
  // The program's exit status once it has exited (128+N for signal N).
  std::optional<int> exit_code();
  // Waits up to `timeout` for the program to exit; its status, or empty.
  std::optional<int> wait_for(std::chrono::milliseconds timeout);
  // SIGTERM to the program's process group (if the program still runs).
  void terminate();
  // SIGKILLs the program and every descendant and returns when none is left.
  void kill_tree() noexcept;
  // Everything the tree wrote to stdout and stderr so far.
  std::string output() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Runs argv inside ns with `input` on its standard input, and waits for it
// to exit or for the timeout (none: no limit). Then kills whatever it left
// running in the background. Throws EnvironmentError when the program is not
// installed.
ProcessResult run_in_netns(const Netns& ns, const std::vector<std::string>& argv, const std::string& input = {},
                           std::optional<std::chrono::milliseconds> timeout = std::nullopt);
// The same in a lab node: its network namespace and, when it has limits, its cgroup.
ProcessResult run_in_node(const Node& node, const std::vector<std::string>& argv,
                          std::optional<std::chrono::milliseconds> timeout = std::nullopt);

// The same in the caller's own namespace (for tools like Graphviz's dot).
ProcessResult run_program(const std::vector<std::string>& argv, const std::string& input = {},
                          std::optional<std::chrono::milliseconds> timeout = std::nullopt);

// The full path of a program in PATH, or empty.
std::string find_program(const std::string& name);

}  // namespace nslab
