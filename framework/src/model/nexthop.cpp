// Nexthop objects from their `ip nexthop` words (nslab/nexthop.h), and the
// node builder's calls.
#include "nslab/nexthop.h"

#include <fmt/format.h>

#include <algorithm>

#include "nslab/topology.h"
#include "routing_words.h"
#include "words.h"

namespace nslab {

namespace {

using detail::number_or_throw;
using detail::parse_address;
using detail::split_words;
using detail::unknown_word;

// "1/2,3": members 1 (weight 1) and 2 (weight 3).
std::vector<NexthopSpec::Member> parse_group(std::string_view text) {
  std::vector<NexthopSpec::Member> out;
  std::size_t i = 0;
  while (i <= text.size()) {
    auto slash = text.find('/', i);
    std::string_view part = text.substr(i, slash == std::string_view::npos ? std::string_view::npos : slash - i);
    auto comma = part.find(',');
    NexthopSpec::Member m;
    m.id = static_cast<std::uint32_t>(number_or_throw("a group member's id", part.substr(0, comma), 1, UINT32_MAX));
    if (comma != std::string_view::npos)
      m.weight = static_cast<int>(number_or_throw("a group member's weight", part.substr(comma + 1), 1, 256));
    out.push_back(m);
    if (slash == std::string_view::npos) break;
    i = slash + 1;
  }
  return out;
}

}  // namespace

std::string NexthopSpec::str() const {
  std::string s = fmt::format("id {}", id);
  if (blackhole) s += " blackhole";
  if (via) s += " via " + via->str();
  if (!dev.empty()) s += " dev " + dev;
  if (onlink) s += " onlink";
  if (is_group()) {
    s += " group ";
    for (std::size_t i = 0; i < group.size(); ++i) {
      if (i) s += "/";
      s += std::to_string(group[i].id);
      if (group[i].weight != 1) s += fmt::format(",{}", group[i].weight);
    }
  }
  if (family == Family::ipv6 && !via && !is_group()) s += " family ipv6";
  return s;
}

NexthopSpec NexthopSpec::parse(std::string_view text, const SourceLocation& where) {
  static const std::vector<std::string> kWords{"id", "via", "dev", "onlink", "blackhole", "group", "family"};
  try {
    auto w = split_words(text);
    NexthopSpec n;
    std::vector<std::string_view> seen;
    std::optional<Family> family;
    for (std::size_t i = 0; i < w.size(); ++i) {
      if (std::find(kWords.begin(), kWords.end(), w[i]) == kWords.end()) unknown_word("nexthop", w[i], kWords);
      if (std::find(seen.begin(), seen.end(), w[i]) != seen.end())
        throw ConfigError(fmt::format("nexthop word \"{}\" is given twice", w[i]));
      seen.push_back(w[i]);
      if (w[i] == "onlink") {
        n.onlink = true;
        continue;
      }
      if (w[i] == "blackhole") {
        n.blackhole = true;
        continue;
      }
      if (i + 1 >= w.size()) throw ConfigError(fmt::format("nexthop word \"{}\" needs a value", w[i]));
      std::string_view key = w[i], v = w[++i];
      if (key == "id")
        n.id = static_cast<std::uint32_t>(number_or_throw("a nexthop id", v, 1, UINT32_MAX));
      else if (key == "via")
        n.via = parse_address("nexthop gateway", v);
      else if (key == "dev")
        n.dev = std::string(v);
      else if (key == "group")
        n.group = parse_group(v);
      else if (v == "ipv4" || v == "inet")
        family = Family::ipv4;
      else if (v == "ipv6" || v == "inet6")
        family = Family::ipv6;
      else
        throw ConfigError(fmt::format("nexthop family \"{}\" is not ipv4 or ipv6", v));
    }
    if (n.id == 0) throw ConfigError("a nexthop needs an id (\"id 1 via 10.0.0.1 dev eth0\")");
    const int shapes = (n.blackhole ? 1 : 0) + (n.is_group() ? 1 : 0) + (n.via || !n.dev.empty() ? 1 : 0);
    if (shapes == 0) throw ConfigError(fmt::format("nexthop {} needs via and dev, a dev, blackhole or a group", n.id));
    if (shapes > 1)
      throw ConfigError(fmt::format("nexthop {} is one of: via GATEWAY dev IF, dev IF, blackhole, group", n.id));
    if (n.via && n.dev.empty())
      throw ConfigError(fmt::format("nexthop {}: a gateway needs its device (\"via {} dev IF\"), as the kernel asks",
                                    n.id, n.via->str()));
    if (n.onlink && !n.via) throw ConfigError(fmt::format("nexthop {}: onlink needs a gateway (via)", n.id));
    if (n.via) {
      if (family && *family != n.via->family())
        throw ConfigError(fmt::format("nexthop {}: gateway {} is not of family {}", n.id, n.via->str(),
                                      *family == Family::ipv4 ? "ipv4" : "ipv6"));
      n.family = n.via->family();
    } else if (family) {
      if (n.is_group()) throw ConfigError(fmt::format("nexthop {}: a group has its members' family", n.id));
      n.family = *family;
    }
    n.where = where;
    return n;
  } catch (const ConfigError& e) {
    throw ConfigError(e.message(), where);
  }
}

NodeSpec& NodeSpec::nexthop(std::string_view text) {
  nexthops.push_back(NexthopSpec::parse(text));
  return *this;
}

const NexthopSpec* NodeSpec::find_nexthop(std::uint32_t id) const {
  for (const auto& n : nexthops)
    if (n.id == id) return &n;
  return nullptr;
}

}  // namespace nslab
