// Resource limits of a node: what a container adds to its namespaces. Every
// program the lab starts in the node (`run:`, Lab::start) runs in one cgroup
// of the node, so the limits hold for all of them together.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace nslab {

struct Limits {
  std::optional<double> cpu;               // CPUs' worth of time: 0.5 is half of one CPU
  std::optional<std::uint64_t> memory;     // bytes of memory (no swap on top)
  std::optional<std::uint32_t> pids;       // processes and threads at once
  std::optional<std::uint32_t> io_weight;  // 1..10000, relative to other cgroups (default 100)

  bool empty() const noexcept { return !cpu && !memory && !pids && !io_weight; }
  std::string str() const;  // "cpu 0.5, memory 64MiB, pids 100"

  static constexpr double kMinCpu = 0.01;  // a 1 ms quota per 100 ms period
  static constexpr double kMaxCpu = 1024;
  static constexpr std::uint64_t kMinMemory = 1 << 20;  // less cannot even start a shell
  static constexpr std::uint32_t kMaxPids = 4'194'304;  // the kernel's PID_MAX_LIMIT
};

// "64MiB", "1.5GiB", "512KiB", "100MB" (powers of ten), "65536" (bytes).
// Empty when the text is not a size from 1 byte to 1 TiB-ish bounds the
// caller checks (NaN, negative, 1e300, unknown units).
std::optional<std::uint64_t> parse_size(std::string_view text);
// 67108864 -> "64MiB"; exact binary units when they divide, else bytes.
std::string size_text(std::uint64_t bytes);

}  // namespace nslab
