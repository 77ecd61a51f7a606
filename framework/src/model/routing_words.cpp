// The word helpers shared by the route, rule and neighbour parsers.
#include "routing_words.h"

#include <fmt/format.h>

#include <charconv>

#include "nslab/error.h"
#include "nslab/values.h"

namespace nslab::detail {

std::optional<std::uint64_t> number(std::string_view text, std::uint64_t hi) {
  int base = 10;
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    text.remove_prefix(2);
    base = 16;
  }
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v, base);
  if (text.empty() || ec != std::errc{} || p != text.data() + text.size() || v > hi) return std::nullopt;
  return v;
}

std::uint64_t number_or_throw(std::string_view what, std::string_view text, std::uint64_t lo, std::uint64_t hi) {
  auto v = number(text, hi);
  if (!v || *v < lo)
    throw ConfigError(fmt::format("{} must be a whole number from {} to {}, not \"{}\"", what, lo, hi, text));
  return *v;
}

[[noreturn]] void unknown_word(std::string_view what, std::string_view word, const std::vector<std::string>& valid) {
  std::string hint = closest(word, valid);
  std::string all;
  for (const auto& v : valid) all += (all.empty() ? "" : ", ") + v;
  throw ConfigError(hint.empty() ? fmt::format("unknown {} word \"{}\" ({})", what, word, all)
                                 : fmt::format("unknown {} word \"{}\"; did you mean \"{}\"?", what, word, hint));
}

IpAddress parse_address(std::string_view what, std::string_view text) {
  auto a = IpAddress::parse(text);
  if (!a) throw ConfigError(fmt::format("{} \"{}\" is not an IP address", what, text));
  return *a;
}

std::optional<Prefix> selector(std::string_view what, std::string_view text) {
  if (text == "all") return std::nullopt;
  if (auto p = Prefix::parse(text)) return p->network();
  if (auto a = IpAddress::parse(text)) return Prefix(*a, a->is_v4() ? 32 : 128);
  throw ConfigError(fmt::format("rule \"{}\" needs \"all\", an address or a prefix, not \"{}\"", what, text));
}

}  // namespace nslab::detail
