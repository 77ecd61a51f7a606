// Policy rules and neighbour entries from their `ip rule` / `ip neigh`
// words (routing.h).
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <climits>

#include "nslab/routing.h"
#include "routing_words.h"
#include "words.h"

namespace nslab {

using detail::number_or_throw;
using detail::parse_address;
using detail::selector;
using detail::split_words;
using detail::unknown_word;

std::string RuleSpec::str() const {
  std::string s;
  if (invert) s += "not ";
  s += "from " + (from ? from->str() : std::string("all"));
  if (to) s += " to " + to->str();
  if (fwmark)
    s += fwmask ? fmt::format(" fwmark {:#x}/{:#x}", *fwmark, *fwmask) : fmt::format(" fwmark {:#x}", *fwmark);
  if (!iif.empty()) s += " iif " + iif;
  if (!oif.empty()) s += " oif " + oif;
  if (priority) s += fmt::format(" priority {}", *priority);
  switch (action) {
    case Action::lookup: s += " table " + table; break;
    case Action::blackhole: s += " blackhole"; break;
    case Action::unreachable: s += " unreachable"; break;
    case Action::prohibit: s += " prohibit"; break;
  }
  if (!from && !to && family == Family::ipv6) s += " family ipv6";
  return s;
}

RuleSpec RuleSpec::parse(std::string_view text, const SourceLocation& where) {
  static const std::vector<std::string> kWords{"not",    "from",      "to",          "fwmark",  "iif",
                                               "oif",    "priority",  "pref",        "table",   "lookup",
                                               "family", "blackhole", "unreachable", "prohibit"};
  try {
    RuleSpec r;
    r.where = where;
    auto w = split_words(text);
    if (w.empty()) throw ConfigError("a rule cannot be empty (e.g. \"from 10.0.1.0/24 table 100\")");
    std::vector<std::string_view> seen;
    std::optional<Family> family;
    bool acted = false;
    auto act = [&](std::string_view word) {
      if (acted)
        throw ConfigError(
            fmt::format("rule \"{}\" has a second action \"{}\" (one of table, blackhole, "
                        "unreachable, prohibit)",
                        text, word));
      acted = true;
    };
    for (std::size_t i = 0; i < w.size(); ++i) {
      std::string_view key = w[i] == "lookup" ? "table" : w[i] == "pref" ? "priority" : w[i];
      if (std::find(kWords.begin(), kWords.end(), w[i]) == kWords.end()) unknown_word("rule", w[i], kWords);
      if (std::find(seen.begin(), seen.end(), key) != seen.end())
        throw ConfigError(fmt::format("rule word \"{}\" is given twice", w[i]));
      seen.push_back(key);
      if (key == "not") {
        if (i != 0) throw ConfigError("rule word \"not\" comes first");
        r.invert = true;
        continue;
      }
      if (key == "blackhole" || key == "unreachable" || key == "prohibit") {
        act(key);
        r.action = key == "blackhole"     ? Action::blackhole
                   : key == "unreachable" ? Action::unreachable
                                          : Action::prohibit;
        continue;
      }
      if (i + 1 >= w.size()) throw ConfigError(fmt::format("rule word \"{}\" needs a value", w[i]));
      std::string_view v = w[++i];
      if (key == "from")
        r.from = selector("from", v);
      else if (key == "to")
        r.to = selector("to", v);
      else if (key == "fwmark") {
        auto slash = v.find('/');
        r.fwmark = static_cast<std::uint32_t>(number_or_throw("rule fwmark", v.substr(0, slash), 0, UINT32_MAX));
        if (slash != std::string_view::npos)
          r.fwmask =
              static_cast<std::uint32_t>(number_or_throw("rule fwmark mask", v.substr(slash + 1), 1, UINT32_MAX));
      } else if (key == "iif")
        r.iif = std::string(v);
      else if (key == "oif")
        r.oif = std::string(v);
      else if (key == "priority")
        r.priority = static_cast<std::uint32_t>(number_or_throw("rule priority", v, 1, UINT32_MAX));
      else if (key == "table") {
        act("table");
        if (v == "0" || (!builtin_table(v) && !std::isalpha(static_cast<unsigned char>(v[0]))))
          throw ConfigError(fmt::format("rule table \"{}\" is not a number from 1 to 4294967295 or a name", v));
        r.table = std::string(v);
      } else {
        if (v == "ipv4" || v == "inet" || v == "4")
          family = Family::ipv4;
        else if (v == "ipv6" || v == "inet6" || v == "6")
          family = Family::ipv6;
        else
          throw ConfigError(fmt::format("rule family \"{}\" is not ipv4 or ipv6", v));
      }
    }
    if (!acted)
      throw ConfigError("a rule needs an action: \"table T\" (or lookup), blackhole, unreachable or prohibit");
    if (r.from && r.to && r.from->family() != r.to->family())
      throw ConfigError("a rule's from and to mix IPv4 and IPv6");
    Family f = r.from ? r.from->family() : r.to ? r.to->family() : family.value_or(Family::ipv4);
    if (family && *family != f) throw ConfigError("a rule's family does not match its from/to addresses");
    r.family = f;
    return r;
  } catch (const ConfigError& e) {
    throw ConfigError(e.message(), where);
  }
}

std::string NeighbourSpec::str() const {
  return fmt::format("{} lladdr {} dev {}", address.str(), to_string(lladdr), dev);
}

NeighbourSpec NeighbourSpec::parse(std::string_view text, const SourceLocation& where) {
  try {
    auto w = split_words(text);
    if (w.empty()) throw ConfigError("a neighbour is \"ADDRESS lladdr MAC dev IF\"");
    NeighbourSpec n;
    n.where = where;
    n.address = parse_address("neighbour", w[0]);
    bool mac = false;
    for (std::size_t i = 1; i < w.size(); i += 2) {
      if (w[i] != "lladdr" && w[i] != "dev") unknown_word("neighbour", w[i], {"lladdr", "dev"});
      if (i + 1 >= w.size()) throw ConfigError(fmt::format("neighbour word \"{}\" needs a value", w[i]));
      if ((w[i] == "lladdr" && mac) || (w[i] == "dev" && !n.dev.empty()))
        throw ConfigError(fmt::format("neighbour word \"{}\" is given twice", w[i]));
      if (w[i] == "dev") {
        n.dev = std::string(w[i + 1]);
        continue;
      }
      auto m = parse_mac(w[i + 1]);
      if (!m)
        throw ConfigError(fmt::format("neighbour lladdr \"{}\" is not a MAC address (02:00:00:00:00:09)", w[i + 1]));
      n.lladdr = *m;
      mac = true;
    }
    if (!mac || n.dev.empty()) throw ConfigError("a neighbour needs \"lladdr MAC\" and \"dev IF\"");
    return n;
  } catch (const ConfigError& e) {
    throw ConfigError(e.message(), where);
  }
}

}  // namespace nslab
