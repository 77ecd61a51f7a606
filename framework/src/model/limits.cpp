#include "nslab/limits.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <utility>
#include <vector>

namespace nslab {

std::optional<std::uint64_t> parse_size(std::string_view text) {
  std::size_t digits = 0;
  while (digits < text.size() && ((text[digits] >= '0' && text[digits] <= '9') || text[digits] == '.')) ++digits;
  if (digits == 0) return std::nullopt;
  double number = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + digits, number);
  if (ec != std::errc() || end != text.data() + digits || !std::isfinite(number)) return std::nullopt;
  std::string_view unit = text.substr(digits);
  if (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  static const std::vector<std::pair<std::string_view, double>> units = {{"", 1},          {"B", 1},
                                                                         {"KiB", 1024.0},  {"MiB", 1024.0 * 1024},
                                                                         {"GiB", 1 << 30}, {"TiB", 1024.0 * (1 << 30)},
                                                                         {"kB", 1e3},      {"KB", 1e3},
                                                                         {"MB", 1e6},      {"GB", 1e9},
                                                                         {"TB", 1e12}};
  for (const auto& [name, factor] : units) {
    if (unit != name) continue;
    double bytes = number * factor;
    // Whole bytes, and no more than 2^53 (a double's exact integers; far
    // beyond any machine's memory).
    if (bytes < 1 || bytes > 9007199254740992.0 || bytes != std::floor(bytes)) return std::nullopt;
    return static_cast<std::uint64_t>(bytes);
  }
  return std::nullopt;
}

std::string size_text(std::uint64_t bytes) {
  static const std::pair<std::uint64_t, const char*> units[] = {
      {1ull << 40, "TiB"}, {1ull << 30, "GiB"}, {1ull << 20, "MiB"}, {1ull << 10, "KiB"}};
  for (const auto& [factor, name] : units)
    if (bytes >= factor && bytes % factor == 0) return fmt::format("{}{}", bytes / factor, name);
  return fmt::format("{} bytes", bytes);
}

std::string Limits::str() const {
  std::string s;
  auto add = [&](const std::string& part) { s += (s.empty() ? "" : ", ") + part; };
  if (cpu) add(fmt::format("cpu {}", *cpu));
  if (memory) add("memory " + size_text(*memory));
  if (pids) add(fmt::format("pids {}", *pids));
  if (io_weight) add(fmt::format("io_weight {}", *io_weight));
  return s;
}

}  // namespace nslab
