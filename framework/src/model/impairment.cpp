#include "nslab/impairment.h"

#include <charconv>
#include <cmath>
#include <fmt/format.h>

namespace nslab {

std::optional<Rate> Rate::parse(std::string_view text) {
  double value = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || !std::isfinite(value) || value <= 0) return std::nullopt;
  std::string_view unit(p, static_cast<std::size_t>(text.data() + text.size() - p));
  double factor;
  if (unit == "bit")
    factor = 1;
  else if (unit == "kbit")
    factor = 1e3;
  else if (unit == "mbit")
    factor = 1e6;
  else if (unit == "gbit")
    factor = 1e9;
  else if (unit == "tbit")
    factor = 1e12;
  else if (unit == "bps")
    factor = 8;
  else if (unit == "kbps")
    factor = 8e3;
  else if (unit == "mbps")
    factor = 8e6;
  else if (unit == "gbps")
    factor = 8e9;
  else if (unit == "tbps")
    factor = 8e12;
  else
    return std::nullopt;
  double bits = value * factor;
  if (!(bits >= static_cast<double>(kMinBitsPerSecond)) || !(bits <= static_cast<double>(kMaxBitsPerSecond)))
    return std::nullopt;
  return Rate{static_cast<std::uint64_t>(bits)};
}

std::string Rate::str() const {
  if (bits_per_second % 1000000000000 == 0) return fmt::format("{}tbit", bits_per_second / 1000000000000);
  if (bits_per_second % 1000000000 == 0) return fmt::format("{}gbit", bits_per_second / 1000000000);
  if (bits_per_second % 1000000 == 0) return fmt::format("{}mbit", bits_per_second / 1000000);
  if (bits_per_second % 1000 == 0) return fmt::format("{}kbit", bits_per_second / 1000);
  return fmt::format("{}bit", bits_per_second);
}

std::optional<double> parse_percent(std::string_view text) {
  if (text.empty() || text.back() != '%') return std::nullopt;
  text.remove_suffix(1);
  double v = -1;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || p != text.data() + text.size() || !std::isfinite(v) || v < 0 || v > 100) return std::nullopt;
  // Below one in a million (the nftables fallback's resolution) is no loss
  // anyone could measure, and most likely a typo.
  if (v > 0 && v < kMinLossPercent) return std::nullopt;
  return v;
}

std::string Impairment::str() const {
  std::string s;
  auto add = [&](const std::string& part) { s += (s.empty() ? "" : ", ") + part; };
  if (rate) add("rate " + rate->str());
  if (loss_percent) add(fmt::format("loss {}%", *loss_percent));
  if (delay) add(fmt::format("delay {}ms", std::chrono::duration<double, std::milli>(*delay).count()));
  if (jitter) add(fmt::format("jitter {}ms", std::chrono::duration<double, std::milli>(*jitter).count()));
  if (direction == Direction::a_to_b) add("first endpoint to second only");
  if (direction == Direction::b_to_a) add("second endpoint to first only");
  return s;
}

}  // namespace nslab
