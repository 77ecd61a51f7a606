// Small value types shared by descriptions and labs, parsed once at the edge.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace nslab {

enum class Protocol { icmp, tcp, udp };
std::string_view to_string(Protocol p) noexcept;
std::optional<Protocol> parse_protocol(std::string_view text);

// The kinds of route: unicast (via a gateway or a device), the three that
// answer for the destination themselves, `local` (delivered to the node
// itself) and `throw` (the lookup goes on with the next policy rule).
enum class RouteType { unicast, blackhole, unreachable, prohibit, local, throw_ };
std::string_view to_string(RouteType t) noexcept;
std::optional<RouteType> parse_route_type(std::string_view text);

using MacAddress = std::array<std::uint8_t, 6>;
std::string to_string(const MacAddress& mac);

// "7ms", "500ms", "1s", "1.5s", rounded to the millisecond. Empty when the
// text is not a duration from 0 to kMaxDuration (nan, inf, negative, 1e300s).
// In scenarios, timeouts run from 1ms to 1h, delay and jitter from 0 to 60s.
inline constexpr std::chrono::milliseconds kMaxDuration{3'600'000};
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);
// The milliseconds a duration's text says, unrounded and unbounded (finite
// and not negative), for callers with bounds of their own.
std::optional<double> parse_milliseconds(std::string_view text);

// The candidate closest to `word` (edit distance), or empty when none is close.
std::string closest(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace nslab
