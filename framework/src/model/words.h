// The words of a text split at white space (no quoting: for route, rule and
// endpoint words; iptables lines have their own shell-like splitter).
#pragma once

#include <string_view>
#include <vector>

namespace nslab::detail {

inline std::vector<std::string_view> split_words(std::string_view s, std::string_view blanks = " \t\n\v\f\r") {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && blanks.find(s[i]) != std::string_view::npos) ++i;
    std::size_t j = i;
    while (j < s.size() && blanks.find(s[j]) == std::string_view::npos) ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

}  // namespace nslab::detail
