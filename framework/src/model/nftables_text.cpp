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

std::optional<ConfigError> nftables_problem(std::string_view text, const SourceLocation& where) {
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
      if (command_start && depth == 0 && std::find(kNotRuleset.begin(), kNotRuleset.end(), word) != kNotRuleset.end()) {
        SourceLocation at = where;
        if (at.known()) {
          at.line += line;
          at.column += static_cast<int>(start - line_start);
        }
        std::string why = word == "monitor"   ? "it watches events and never ends"
                          : word == "include" ? "it reads a file outside the scenario; write the rules inline"
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
