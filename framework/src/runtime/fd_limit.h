// The descriptor limits a large lab runs into, and what to say when it does.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

namespace nslab {

// For EMFILE: "too many open files (limit 20000)"; for ENFILE: the machine's
// table is full; otherwise nothing.
std::optional<std::string> descriptor_exhaustion(int err);

// Raises RLIMIT_NOFILE's soft limit to its hard limit, and — where the
// process may (CAP_SYS_RESOURCE) — the hard limit too, up to fs.nr_open,
// when `wanted` descriptors would not fit otherwise. Returns the soft limit.
unsigned long ensure_fd_limit(unsigned long wanted) noexcept;

// For a lab of `nodes`: while it builds, it holds two descriptors per node
// (the namespace and its netlink socket), and probes add up to two raw
// sockets per node.
inline unsigned long reserve_lab_descriptors(std::size_t nodes) noexcept {
  return ensure_fd_limit(4 * static_cast<unsigned long>(nodes) + 256);
}

}  // namespace nslab
