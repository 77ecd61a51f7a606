// Per-namespace sysctls, written through /proc/sys by a thread inside the
// namespace (the net.* tree shows the namespace of the thread that opens it).
#pragma once

#include <string>
#include <string_view>

namespace nslab {

// Writes key (dotted, "net.ipv4.ip_forward") in the calling thread's namespace.
// Only for threads made for it (see Netns::run). Throws ConfigError for keys
// that are not net.* or do not exist, SystemError otherwise.
void write_sysctl_here(std::string_view key, std::string_view value);
std::string read_sysctl_here(std::string_view key);
// True when the key exists in the calling thread's namespace.
bool sysctl_exists_here(std::string_view key);

}  // namespace nslab
