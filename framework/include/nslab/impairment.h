// Link impairment: rate, loss, delay and jitter on a link, in one or both
// directions (MTU is an endpoint setting). Typed settings, parsed once.
//
// A lab makes the rate a tbf qdisc on the sending interface, and loss, delay
// and jitter a netem qdisc where the kernel has it. Without netem, loss falls
// back to an nftables random-drop rule at the receiving interface's ingress,
// and delay or jitter cannot be emulated: building such a lab throws
// EnvironmentError naming the missing kernel option (a skip, exit 4), never a
// silent no-op.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace nslab {

// Bits per second. "10mbit", "1gbit", "500kbit", "64000bit", "2tbit"; "1mbps"
// is a megabyte per second, as tc has it. From 8bit (a byte a second) to
// 10tbit; tbf takes rates above 32 bits of bytes per second (34 Gbit/s) as
// the kernel's 64-bit rate.
struct Rate {
  static constexpr std::uint64_t kMinBitsPerSecond = 8;
  static constexpr std::uint64_t kMaxBitsPerSecond = 10'000'000'000'000;
  std::uint64_t bits_per_second = 0;
  // Empty for anything else: no unit, nan, inf, 0, out of range.
  static std::optional<Rate> parse(std::string_view text);
  std::string str() const;
};

// "1%", "0.5%", "12.5%": 0, or from kMinLossPercent to 100.
inline constexpr double kMinLossPercent = 0.0001;
std::optional<double> parse_percent(std::string_view text);

struct Impairment {
  enum class Direction { both, a_to_b, b_to_a };
  std::optional<Rate> rate;
  std::optional<double> loss_percent;
  std::optional<std::chrono::microseconds> delay;
  std::optional<std::chrono::microseconds> jitter;
  Direction direction = Direction::both;

  bool empty() const noexcept { return !rate && !loss_percent && !delay && !jitter; }
  bool needs_netem() const noexcept { return delay || jitter; }
  std::string str() const;  // "rate 10mbit, loss 1%"
};

}  // namespace nslab
