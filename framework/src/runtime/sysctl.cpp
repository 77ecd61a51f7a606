#include "sysctl.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fmt/format.h>

#include "nslab/error.h"
#include "sys.h"
#include "nslab/topology.h"

namespace nslab {

namespace {
std::string path_of(std::string_view key) {
  if (auto why = sysctl_key_problem(key)) throw ConfigError(*why);
  std::string p = "/proc/sys/";
  p += key;
  std::replace(p.begin() + 10, p.end(), '.', '/');
  return p;
}
}  // namespace

bool sysctl_exists_here(std::string_view key) {
  return ::access(path_of(key).c_str(), F_OK) == 0;
}

void write_sysctl_here(std::string_view key, std::string_view value) {
  std::string path = path_of(key);
  try {
    // With a newline, as sysctl(8) writes: an empty value is then written
    // (clearing a list like net.ipv6.icmp.ratemask), not silently skipped.
    sys::write_file(path, std::string(value) + "\n");
  } catch (const SystemError& e) {
    if (e.code() == ENOENT)
      throw ConfigError(fmt::format("unknown sysctl \"{}\" (no {} in this namespace)", key, path));
    throw SystemError(fmt::format("cannot set sysctl {}={}", key, value), e.code());
  }
}

std::string read_sysctl_here(std::string_view key) {
  std::string v = sys::read_file(path_of(key));
  while (!v.empty() && (v.back() == '\n' || v.back() == ' ')) v.pop_back();
  return v;
}

}  // namespace nslab
