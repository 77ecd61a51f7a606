// Process: a real program running inside a lab node (a web server behind a
// port forward, a DNS server, the user's own daemon).
//
// Started as a Subprocess (see subprocess.h): under a supervisor that joins
// the node's network namespace and, when asked, a UTS namespace with the
// node's hostname and a PID namespace of its own (the program is its PID 1,
// and `ps` inside shows only its processes). Its stdout and stderr, and its
// children's, go to an anonymous in-memory log (nothing on disk).
// It dies with everything it started — background children, double forks,
// setsid daemons — when the Process goes (the lab's teardown), and when the
// nslab process dies, even under SIGKILL and whatever thread started it.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nslab/error.h"
#include "nslab/values.h"

namespace nslab {

class Node;

// A process exited when it should not have, or with the wrong code.
class ProcessError : public Error {
 public:
  using Error::Error;
};

// How a program that ran to its end ended.
struct ProcessResult {
  int status = -1;         // exit status; 128+N when killed by signal N
  std::string output;      // stdout and stderr together
  bool timed_out = false;  // the timeout passed: the tree was killed, output is what came before
  bool ok() const noexcept { return status == 0 && !timed_out; }
};

struct ProcessSpec {
  std::vector<std::string> argv;
  std::map<std::string, std::string> env;  // added to the caller's environment
  std::string working_dir;                 // empty: the caller's
  std::string hostname;                    // non-empty: a UTS namespace with it
  bool pid_namespace = false;              // a PID namespace with its own /proc
};

class Process {
 public:
  Process(const Node& node, ProcessSpec spec);
  ~Process();  // kills the program and every process it started
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  int pid() const noexcept;                   // the program's, as this process sees it
  const std::string& label() const noexcept;  // "red: python3 -m http.server 80"
  bool running();
  std::optional<int> exit_code();  // once it has exited (128+N for signal N)
  // Waits for the exit; throws TimeoutError naming the process.
  int wait(std::chrono::milliseconds timeout);
  // SIGTERM to the program's process group, then after `grace` (or once it
  // has exited) SIGKILL to everything it started; returns its exit code.
  int stop(std::chrono::milliseconds grace = std::chrono::milliseconds(1000));
  // SIGKILL to the program and everything it started, at once; returns its
  // exit code once none of them is left.
  int kill();
  std::string log() const;  // stdout and stderr so far
  std::string log_tail(std::size_t lines = 15) const;
  // Why an exit with this code happened, when the lab knows more than the
  // code says: " (killed by the kernel's OOM killer: node \"x\" has
  // limits.memory 64MiB)"; empty otherwise.
  std::string exit_note(int code) const;
  // Throws ProcessError with the exit code and the log's tail if it exited.
  void require_running();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Waits until something inside the node listens on the port (TCP: a socket
// in LISTEN; UDP: a bound socket), or `watch` exits, or the timeout passes;
// the error says which.
void wait_listening(const Node& node, Protocol protocol, std::uint16_t port, std::chrono::milliseconds timeout,
                    Process* watch = nullptr);
// Runs the command inside the node until it exits 0 (every 20 ms).
void wait_command(const Node& node, const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                  Process* watch = nullptr);

}  // namespace nslab
