// The word helpers shared by the route, rule and neighbour parsers
// (routing.cpp, routing_rules.cpp): numbers, addresses, selectors and the
// "unknown word; did you mean" error.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nslab/ip_address.h"

namespace nslab::detail {

// A whole number up to `hi`, decimal or 0x-hex; empty when it is not one.
std::optional<std::uint64_t> number(std::string_view text, std::uint64_t hi);
// The same from `lo` to `hi`, or a ConfigError naming `what`.
std::uint64_t number_or_throw(std::string_view what, std::string_view text, std::uint64_t lo, std::uint64_t hi);
// "unknown route word "vai"; did you mean "via"?".
[[noreturn]] void unknown_word(std::string_view what, std::string_view word, const std::vector<std::string>& valid);
IpAddress parse_address(std::string_view what, std::string_view text);
// A rule's "all", a prefix, or an address (a host prefix); empty for "all".
std::optional<Prefix> selector(std::string_view what, std::string_view text);

}  // namespace nslab::detail
