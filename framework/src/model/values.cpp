#include "nslab/values.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fmt/format.h>

namespace nslab {

std::string_view to_string(Protocol p) noexcept {
  switch (p) {
    case Protocol::icmp: return "icmp";
    case Protocol::tcp: return "tcp";
    case Protocol::udp: return "udp";
  }
  return "?";
}

std::optional<Protocol> parse_protocol(std::string_view s) {
  if (s == "icmp") return Protocol::icmp;
  if (s == "tcp") return Protocol::tcp;
  if (s == "udp") return Protocol::udp;
  return std::nullopt;
}

std::string_view to_string(RouteType t) noexcept {
  switch (t) {
    case RouteType::unicast: return "unicast";
    case RouteType::blackhole: return "blackhole";
    case RouteType::unreachable: return "unreachable";
    case RouteType::prohibit: return "prohibit";
    case RouteType::local: return "local";
    case RouteType::throw_: return "throw";
  }
  return "?";
}

std::optional<RouteType> parse_route_type(std::string_view s) {
  for (auto t : {RouteType::unicast, RouteType::blackhole, RouteType::unreachable, RouteType::prohibit,
                 RouteType::local, RouteType::throw_})
    if (s == to_string(t)) return t;
  return std::nullopt;
}

std::string to_string(const MacAddress& m) {
  return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m[0], m[1], m[2], m[3], m[4], m[5]);
}

// Milliseconds in "500ms", "1.5s": finite and not negative; empty otherwise.
std::optional<double> parse_milliseconds(std::string_view text) {
  if (text.empty() || text[0] == '-') return std::nullopt;
  double value = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || !std::isfinite(value) || value < 0) return std::nullopt;
  std::string_view unit(p, static_cast<std::size_t>(text.data() + text.size() - p));
  if (unit == "ms") return value;
  if (unit == "s") return value * 1000;
  return std::nullopt;
}

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  auto ms = parse_milliseconds(text);
  if (!ms || *ms > static_cast<double>(kMaxDuration.count())) return std::nullopt;
  return std::chrono::milliseconds(std::llround(*ms));
}

namespace {

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

}  // namespace

std::string closest(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t best_d = std::max<std::size_t>(2, word.size() / 3) + 1;
  for (const auto& c : candidates) {
    std::size_t d = edit_distance(word, c);
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  return best;
}

}  // namespace nslab
