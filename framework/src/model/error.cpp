#include "nslab/error.h"

#include <fmt/format.h>

#include <cstring>

namespace nslab {

SystemError::SystemError(const std::string& what_failed, int err)
    : Error(fmt::format("{}: {}", what_failed, std::strerror(err))), code_(err) {}

NetlinkError::NetlinkError(const std::string& what_failed, int err)
    : Error(fmt::format("{}: {}", what_failed, std::strerror(err))), code_(err) {}

std::string SourceLocation::str() const {
  if (!known()) return file;
  return fmt::format("{}:{}:{}", file, line, column);
}

ConfigError::ConfigError(const std::string& message, SourceLocation where)
    : Error(where.known() || !where.file.empty() ? fmt::format("{}: {}", where.str(), message) : message),
      message_(message),
      where_(std::move(where)) {}

namespace {
std::string join_problems(const std::vector<ConfigError>& problems) {
  std::string out;
  for (const auto& p : problems) out += (out.empty() ? "" : "\n") + std::string(p.what());
  return out;
}
}  // namespace

ScenarioError::ScenarioError(std::vector<ConfigError> problems)
    : Error(join_problems(problems)), problems_(std::move(problems)) {}

}  // namespace nslab
