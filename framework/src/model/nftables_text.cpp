#include "nftables_text.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <fmt/format.h>

namespace nslab {

namespace {

// Commands of nft's grammar that are not part of a ruleset: they print,
// watch or read something else (monitor never ends).
constexpr std::array<std::string_view, 8> kNotRuleset = {"list",  "monitor", "describe", "get",
                                                         "reset", "export",  "import",   "include"};

bool word_char(char c) {
  auto u = static_cast<unsigned char>(c);
  return std::isalnum(u) || c == '_' || c == '-' || c == '.' || c == '$' || c == '/' || c == '@';
}

}  // namespace

std::optional<ConfigError> nftables_problem(std::string_view text, const SourceLocation& where,
                                            const IncludeCheck& includes) {
  int depth = 0;              // braces open
  bool command_start = true;  // the next word at depth 0 starts a command
  int line = 0;
  std::size_t line_start = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (c == '\n') {
      if (depth == 0) command_start = true;
      ++line;
      line_start = ++i;
    } else if (c == '\\' && i + 1 < text.size() && text[i + 1] == '\n') {
      ++line;  // the command goes on
      i += 2;
      line_start = i;
    } else if (c == ' ' || c == '\t' || c == '\r') {
      ++i;
    } else if (c == '#') {
      while (i < text.size() && text[i] != '\n') ++i;
    } else if (c == '"') {
      for (++i; i < text.size() && text[i] != '"' && text[i] != '\n'; ++i)
        if (text[i] == '\\' && i + 1 < text.size() && text[i + 1] != '\n') ++i;
      if (i < text.size() && text[i] == '"') ++i;
      command_start = false;
    } else if (c == ';') {
      if (depth == 0) command_start = true;
      ++i;
    } else if (c == '{') {
      ++depth;
      command_start = false;
      ++i;
    } else if (c == '}') {
      depth = std::max(depth - 1, 0);
      ++i;
    } else if (word_char(c)) {
      std::size_t start = i;
      while (i < text.size() && word_char(text[i])) ++i;
      std::string_view word = text.substr(start, i - start);
      auto position = [&](std::size_t byte) {
        SourceLocation at = where;
        if (at.known()) {
          at.line += line;
          at.column += static_cast<int>(byte - line_start);
        }
        return at;
      };
      if (command_start && depth == 0 && word == "include" && includes) {
        while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
        std::size_t open = i;
        if (i >= text.size() || text[i] != '"')
          return ConfigError(
              fmt::format("nftables line {}: include takes a quoted file name: include \"FILE\"", line + 1),
              position(open));
        std::size_t close = text.find_first_of("\"\n", open + 1);
        if (close == std::string_view::npos || text[close] != '"')
          return ConfigError(fmt::format("nftables line {}: unterminated \" quote", line + 1), position(open));
        if (auto e = includes(text.substr(open + 1, close - open - 1), position(open + 1))) return e;
        i = close + 1;
        command_start = false;
        continue;
      }
      if (command_start && depth == 0 && std::find(kNotRuleset.begin(), kNotRuleset.end(), word) != kNotRuleset.end()) {
        SourceLocation at = where;
        if (at.known()) {
          at.line += line;
          at.column += static_cast<int>(start - line_start);
        }
        std::string why = word == "monitor"   ? "it watches events and never ends"
                          : word == "include" ? "an inline ruleset includes nothing; keep the ruleset in a file "
                                                "(nftables_file:) to include files beside it"
                                              : "it does not build rules";
        return ConfigError(fmt::format("nftables line {}: \"{}\" is a command, not part of a ruleset ({}); "
                                       "a lab loads only rules (table, chain, set, add, insert, delete, "
                                       "flush...)",
                                       line + 1, word, why),
                           at);
      }
      command_start = false;
    } else {
      command_start = false;
      ++i;
    }
  }
  return std::nullopt;
}

}  // namespace nslab
