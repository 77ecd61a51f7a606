// Reading YAML with positions: every check reports file:line:column, and a
// misspelt key comes with the closest valid one. Internal to the scenario
// loader (scenario_loader.h).
#pragma once

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <fmt/format.h>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nslab/error.h"
#include "nslab/ip_address.h"
#include "nslab/scenario.h"
#include "nslab/verdict.h"

namespace nslab::detail {

using Keys = std::vector<std::string>;

class Reader {
 public:
  Reader(std::string file, std::string_view source) : file_(std::move(file)), source_(source) {}

  std::vector<ConfigError>& errors() { return errors_; }

  SourceLocation at(const YAML::Node& n, const SourceLocation& fallback = {}) const {
    auto m = n.Mark();
    if (m.is_null() || m.line < 0) return fallback.known() ? fallback : SourceLocation{file_, 0, 0};
    return {file_, m.line + 1, m.column + 1};
  }
  // Where a scalar's text starts: the line after `|` or `>`, the character
  // after an opening quote.
  SourceLocation text_start(const YAML::Node& n) const {
    SourceLocation w = at(n);
    auto m = n.Mark();
    if (!m.is_null() && m.pos >= 0 && static_cast<std::size_t>(m.pos) < source_.size()) {
      char c = source_[static_cast<std::size_t>(m.pos)];
      if (c == '"' || c == '\'') ++w.column;
      if (c == '|' || c == '>') {
        // The text starts on the next line, at its indentation.
        auto eol = source_.find('\n', static_cast<std::size_t>(m.pos));
        ++w.line;
        w.column = 1;
        if (eol != std::string_view::npos) {
          auto first = source_.find_first_not_of(' ', eol + 1);
          if (first != std::string_view::npos) w.column = static_cast<int>(first - eol);
        }
      }
    }
    return w;
  }

  // Messages quote scenario text, so control characters in it are shown
  // escaped (\x0d), never raw: one problem is one line.
  void error(const YAML::Node& n, const std::string& msg) { errors_.emplace_back(printable(msg), at(n)); }
  void error(const SourceLocation& w, const std::string& msg) { errors_.emplace_back(printable(msg), w); }
  static std::string printable(std::string_view text) {
    std::string out;
    for (char c : text) {
      auto u = static_cast<unsigned char>(c);
      out += u < 0x20 || u == 0x7f ? fmt::format("\\x{:02x}", u) : std::string(1, c);
    }
    return out;
  }

  // Every key of `map` must be one of `allowed`; reports the others with the
  // closest valid key, and duplicates. Returns false when `map` is not a map.
  bool keys(const YAML::Node& map, const Keys& allowed, std::string_view context) {
    if (!map.IsMap()) {
      error(map, fmt::format("{} must be a mapping", context));
      return false;
    }
    std::map<std::string, SourceLocation> seen;
    for (auto it = map.begin(); it != map.end(); ++it) {
      std::string k = it->first.IsScalar() ? it->first.Scalar() : std::string("?");
      if (auto [pos, fresh] = seen.emplace(k, at(it->first)); !fresh) {
        error(it->first, fmt::format("duplicate key \"{}\" in {} (first at line {})", k, context, pos->second.line));
        continue;
      }
      if (std::find(allowed.begin(), allowed.end(), k) != allowed.end()) continue;
      std::string hint = closest(k, allowed);
      error(it->first, fmt::format("unknown key \"{}\" in {}{}", k, context,
                                   hint.empty() ? fmt::format(" (valid keys: {})", join(allowed))
                                                : fmt::format("; did you mean \"{}\"?", hint)));
    }
    return true;
  }

  std::optional<std::string> scalar(const YAML::Node& n, std::string_view what) {
    if (!n.IsScalar()) {
      error(n, fmt::format("{} must be a single value, not a {}", what, kind(n)));
      return std::nullopt;
    }
    return n.Scalar();
  }

  std::optional<long> integer(const YAML::Node& n, std::string_view what, long lo, long hi) {
    auto s = scalar(n, what);
    if (!s) return std::nullopt;
    long v = 0;
    auto [p, ec] = std::from_chars(s->data(), s->data() + s->size(), v);
    if (ec != std::errc{} || p != s->data() + s->size() || v < lo || v > hi) {
      error(n, fmt::format("{} must be a whole number from {} to {}, not \"{}\"", what, lo, hi, *s));
      return std::nullopt;
    }
    return v;
  }

  std::optional<bool> boolean(const YAML::Node& n, std::string_view what) {
    auto s = scalar(n, what);
    if (!s) return std::nullopt;
    if (*s == "true" || *s == "yes" || *s == "on") return true;
    if (*s == "false" || *s == "no" || *s == "off") return false;
    error(n, fmt::format("{} must be true or false, not \"{}\"", what, *s));
    return std::nullopt;
  }

  std::vector<YAML::Node> list(const YAML::Node& n, std::string_view what) {
    std::vector<YAML::Node> out;
    if (n.IsNull()) return out;
    if (n.IsSequence()) {
      for (auto it = n.begin(); it != n.end(); ++it) out.push_back(*it);
    } else if (n.IsScalar()) {
      out.push_back(n);  // a single item may stand for a list of one
    } else {
      error(n, fmt::format("{} must be a list", what));
    }
    return out;
  }

  std::optional<Prefix> prefix(const YAML::Node& n, std::string_view what) {
    auto s = scalar(n, what);
    if (!s) return std::nullopt;
    auto p = Prefix::parse(*s);
    if (!p)
      error(n, fmt::format("{} \"{}\" is not an address with a prefix length (e.g. 192.168.1.1/24 "
                           "or fd00::1/64)",
                           what, *s));
    return p;
  }

  // `delivered` only where `delivery` says an ICMP message judged by
  // delivery may have it (README, ICMP types).
  std::optional<Verdict> verdict(const YAML::Node& n, bool delivery = false) {
    auto s = scalar(n, "a verdict");
    if (!s) return std::nullopt;
    if (auto v = parse_verdict(*s); v && (*v != Verdict::delivered || delivery)) return v;
    if (*s == "delivered") {
      error(n,
            "\"delivered\" is the verdict of an ICMP message that gets no answer (e.g. icmp: "
            "router-advertisement, icmp: { type: 3, code: 3 }); a probe that gets answers is reachable, blocked, "
            "refused or unreachable");
      return std::nullopt;
    }
    Keys names{"reachable", "blocked", "refused", "unreachable"};
    std::string hint = closest(*s, names);
    error(n, fmt::format("\"{}\" is not a verdict{}", *s,
                         hint.empty() ? " (reachable, blocked, refused or unreachable)"
                                      : fmt::format("; did you mean \"{}\"?", hint)));
    return std::nullopt;
  }

  static std::string kind(const YAML::Node& n) {
    if (n.IsMap()) return "mapping";
    if (n.IsSequence()) return "list";
    if (n.IsNull()) return "empty value";
    return "value";
  }
  static std::string join(const Keys& k) {
    std::string s;
    for (const auto& x : k) s += (s.empty() ? "" : ", ") + x;
    return s;
  }

  const std::string& file() const { return file_; }

  // YAML merge keys (`<<: *base`, `<<: [*a, *b]`), which yaml-cpp leaves as
  // ordinary keys: each map with one gets the keys of the maps it names that
  // it does not have itself (the earlier map in a list wins), and loses the
  // `<<`. The merged key and value nodes are the anchored ones, so problems
  // in them point into the anchor's text. Walks at most kMaxNodes nodes (a
  // file of aliases of aliases expands exponentially); beyond that, an error.
  // In yaml_reader.cpp.
  static constexpr std::size_t kMaxNodes = 200000;
  void expand_merge_keys(YAML::Node root);

 private:
  std::string file_;
  std::string_view source_;
  std::vector<ConfigError> errors_;
};

}  // namespace nslab::detail
