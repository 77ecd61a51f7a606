// One error hierarchy for nslab. Every message names the object and the cause.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace nslab {

// Base of everything nslab throws.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A system call failed: `cannot open /proc/thread-self/ns/net: Permission denied`.
class SystemError : public Error {
 public:
  SystemError(const std::string& what_failed, int err);
  int code() const noexcept { return code_; }

 private:
  int code_;
};

// The kernel refused a netlink request:
// `cannot create veth "red:eth0" <-> "host:veth-red": File exists`.
class NetlinkError : public Error {
 public:
  NetlinkError(const std::string& what_failed, int err);
  int code() const noexcept { return code_; }

 private:
  int code_;
};

// Where a piece of configuration came from (a scenario file, or nothing for C++).
struct SourceLocation {
  std::string file;
  int line = 0;    // 1-based; 0 when unknown
  int column = 0;  // 1-based
  bool known() const noexcept { return line > 0; }
  std::string str() const;  // "file:line:column"
};

// A lab description that cannot be built: a duplicate node, a name too long,
// a bridge that does not exist. Carries the scenario location when known and
// renders as `file:line:column: message`.
class ConfigError : public Error {
 public:
  explicit ConfigError(const std::string& message, SourceLocation where = {});
  const std::string& message() const noexcept { return message_; }
  const SourceLocation& where() const noexcept { return where_; }

 private:
  std::string message_;
  SourceLocation where_;
};

// A scenario file with one or more problems, each a ConfigError with its
// file:line:column. what() lists them all, one per line.
class ScenarioError : public Error {
 public:
  explicit ScenarioError(std::vector<ConfigError> problems);
  const std::vector<ConfigError>& problems() const noexcept { return problems_; }

 private:
  std::vector<ConfigError> problems_;
};

// The environment cannot run a lab: no CAP_NET_ADMIN, no user namespaces, a
// missing kernel feature or tool. Tools exit 4 (skip) on it, naming the reason.
class EnvironmentError : public Error {
 public:
  using Error::Error;
};

// An expectation did not hold where the library must fail at once (a readiness
// wait that timed out, a process that exited early).
class TimeoutError : public Error {
 public:
  using Error::Error;
};

}  // namespace nslab
