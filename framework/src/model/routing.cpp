// Routes from their `ip route` words (routing.h), and the node builder's
// routing calls. Policy rules and neighbours: routing_rules.cpp.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <climits>
#include <utility>

#include "nslab/topology.h"
#include "routing_words.h"
#include "words.h"

namespace nslab {

namespace {

using Words = std::vector<std::string_view>;

using detail::number;
using detail::number_or_throw;
using detail::parse_address;
using detail::split_words;
using detail::unknown_word;

struct Named {
  const char* name;
  std::uint8_t value;
};
constexpr Named kProtocols[] = {{"kernel", 2}, {"boot", 3},  {"static", 4}, {"ra", 9},    {"zebra", 11},
                                {"bird", 12},  {"dhcp", 16}, {"babel", 42}, {"bgp", 186}, {"isis", 187},
                                {"ospf", 188}, {"rip", 189}, {"eigrp", 192}};
constexpr Named kScopes[] = {{"global", 0}, {"universe", 0}, {"site", 200},
                             {"link", 253}, {"host", 254},   {"nowhere", 255}};

template <std::size_t N>
std::uint8_t named_or_number(std::string_view what, std::string_view text, const Named (&names)[N]) {
  for (const auto& n : names)
    if (text == n.name) return n.value;
  if (auto v = number(text, 255)) return static_cast<std::uint8_t>(*v);
  std::vector<std::string> valid;
  for (const auto& n : names) valid.emplace_back(n.name);
  std::string hint = closest(text, valid);
  throw ConfigError(fmt::format(
      "route {} \"{}\" is not a number from 0 to 255 or a name{}", what, text,
      hint.empty() ? fmt::format(" ({})", fmt::join(valid, ", ")) : fmt::format("; did you mean \"{}\"?", hint)));
}

template <std::size_t N>
std::string name_of(std::uint8_t v, const Named (&names)[N]) {
  for (const auto& n : names)
    if (n.value == v) return n.name;
  return std::to_string(v);
}

}  // namespace

std::optional<std::uint32_t> builtin_table(std::string_view text) {
  if (text == "main") return kTableMain;
  if (text == "local") return kTableLocal;
  if (text == "default") return kTableDefault;
  if (auto v = number(text, UINT32_MAX); v && *v > 0) return static_cast<std::uint32_t>(*v);
  return std::nullopt;
}

std::optional<MacAddress> parse_mac(std::string_view text) {
  if (text.size() != 17) return std::nullopt;
  MacAddress m{};
  for (std::size_t i = 0; i < 6; ++i) {
    if (i > 0 && text[i * 3 - 1] != ':') return std::nullopt;
    auto pair = text.substr(i * 3, 2);
    if (!std::isxdigit(static_cast<unsigned char>(pair[0])) || !std::isxdigit(static_cast<unsigned char>(pair[1])))
      return std::nullopt;
    std::from_chars(pair.data(), pair.data() + 2, m[i], 16);
  }
  return m;
}

std::size_t read_address_option(const std::vector<std::string_view>& w, std::size_t i, const Prefix& of,
                                std::vector<AddressOptions>& out) {
  if (w[i] != "noprefixroute" && w[i] != "shared" && w[i] != "scope") return 0;
  if (out.empty() || out.back().prefix != of) out.push_back(AddressOptions{of, {}, false, false});
  AddressOptions& o = out.back();
  if (w[i] == "noprefixroute") {
    o.noprefixroute = true;
    return 1;
  }
  if (w[i] == "shared") {
    o.shared = true;
    return 1;
  }
  if (i + 1 >= w.size()) throw ConfigError(fmt::format("address {}: \"scope\" needs a value", of.str()));
  try {
    o.scope = named_or_number("scope", w[i + 1], kScopes);
  } catch (const ConfigError& e) {
    throw ConfigError(fmt::format("address {}: {}", of.str(), e.message().substr(6)));  // no "route "
  }
  return 2;
}

std::string AddressOptions::str() const {
  std::string s = prefix.str();
  if (scope) s += " scope " + name_of(*scope, kScopes);
  if (noprefixroute) s += " noprefixroute";
  if (shared) s += " shared";
  return s;
}

std::string NextHop::str() const {
  std::string s = "nexthop";
  if (via) s += " via " + via->str();
  if (!dev.empty()) s += " dev " + dev;
  if (weight != 1) s += fmt::format(" weight {}", weight);
  if (onlink) s += " onlink";
  return s;
}

std::string RouteSpec::str() const {
  std::string s;
  if (type != RouteType::unicast) s += std::string(to_string(type)) + " ";
  s += to ? to->network().str() : std::string(family == Family::ipv4 ? "default" : "default (ipv6)");
  if (via) s += " via " + via->str();
  if (!dev.empty()) s += " dev " + dev;
  if (metric) s += fmt::format(" metric {}", metric);
  if (!table.empty()) s += " table " + table;
  if (src) s += " src " + src->str();
  if (onlink) s += " onlink";
  if (protocol) s += " proto " + name_of(*protocol, kProtocols);
  if (scope) s += " scope " + name_of(*scope, kScopes);
  for (const auto& h : nexthops) s += " " + h.str();
  if (nhid) s += fmt::format(" nhid {}", nhid);
  return s;
}

RouteSpec RouteSpec::make(std::string_view to, std::string_view via, std::string_view dev) {
  RouteSpec r;
  if (!via.empty()) {
    r.via = IpAddress::from_string(via);
    r.family = r.via->family();
  }
  if (to == "default" || to == "default4") {
    if (r.via && !r.via->is_v4()) r.family = Family::ipv6;
  } else if (to == "default6") {
    r.family = Family::ipv6;
  } else {
    auto p = Prefix::parse(to);
    if (!p) {
      auto a = IpAddress::parse(to);
      if (!a) throw ConfigError(fmt::format("route destination \"{}\" is not \"default\", an address or a prefix", to));
      p = Prefix(*a, a->is_v4() ? 32 : 128);
    }
    r.to = p->network();
    r.family = p->family();
  }
  r.dev = std::string(dev);
  return r;
}

namespace {

// The words after "nexthop": via, dev, weight, onlink, up to the next "nexthop".
std::size_t parse_nexthop(const Words& w, std::size_t i, RouteSpec& r) {
  NextHop h;
  std::vector<std::string_view> seen;
  for (; i < w.size() && w[i] != "nexthop"; ++i) {
    if (std::find(seen.begin(), seen.end(), w[i]) != seen.end())
      throw ConfigError(fmt::format("nexthop word \"{}\" is given twice in one nexthop", w[i]));
    seen.push_back(w[i]);
    if (w[i] == "onlink") {
      h.onlink = true;
      continue;
    }
    if (w[i] != "via" && w[i] != "dev" && w[i] != "weight")
      unknown_word("nexthop", w[i], {"via", "dev", "weight", "onlink"});
    if (i + 1 >= w.size()) throw ConfigError(fmt::format("nexthop word \"{}\" needs a value", w[i]));
    std::string_view v = w[++i];
    if (w[i - 1] == "via")
      h.via = parse_address("nexthop gateway", v);
    else if (w[i - 1] == "dev")
      h.dev = std::string(v);
    else
      h.weight = static_cast<int>(number_or_throw("nexthop weight", v, 1, 256));
  }
  if (!h.via && h.dev.empty()) throw ConfigError("a nexthop needs a gateway (via) or a device (dev)");
  r.nexthops.push_back(std::move(h));
  return i;
}

}  // namespace

RouteSpec RouteSpec::parse(std::string_view text, const SourceLocation& where) {
  static const std::vector<std::string> kWords{"via",   "dev",   "metric", "table",   "src",
                                               "proto", "scope", "onlink", "nexthop", "nhid"};
  try {
    auto w = split_words(text);
    std::size_t i = 0;
    RouteType type = RouteType::unicast;
    if (auto t = w.empty() ? std::nullopt : parse_route_type(w[0]); t && *t != RouteType::unicast) {
      type = *t;
      ++i;
    }
    if (i >= w.size()) throw ConfigError("a route needs a destination (\"default\" or a prefix)");
    std::string_view to = w[i++], via, dev;
    if (std::find(kWords.begin(), kWords.end(), to) != kWords.end())
      throw ConfigError(fmt::format("a route needs a destination (\"default\" or a prefix) before \"{}\"", to));
    RouteSpec extra;
    int metric = 0;
    std::vector<std::string_view> seen;
    while (i < w.size()) {
      if (w[i] == "nexthop") {
        i = parse_nexthop(w, i + 1, extra);
        continue;
      }
      if (!extra.nexthops.empty())
        throw ConfigError(fmt::format("route word \"{}\" must come before the first nexthop", w[i]));
      if (std::find(seen.begin(), seen.end(), w[i]) != seen.end())
        throw ConfigError(fmt::format("route word \"{}\" is given twice", w[i]));
      seen.push_back(w[i]);
      if (w[i] == "onlink") {
        extra.onlink = true;
        ++i;
        continue;
      }
      if (std::find(kWords.begin(), kWords.end(), w[i]) == kWords.end()) unknown_word("route", w[i], kWords);
      if (i + 1 >= w.size()) throw ConfigError(fmt::format("route word \"{}\" needs a value", w[i]));
      std::string_view key = w[i], v = w[i + 1];
      i += 2;
      if (key == "via")
        via = v;
      else if (key == "dev")
        dev = v;
      else if (key == "metric")
        metric = static_cast<int>(number_or_throw("route metric", v, 0, INT_MAX));
      else if (key == "table") {
        if (v == "0" || (!builtin_table(v) && !std::isalpha(static_cast<unsigned char>(v[0]))))
          throw ConfigError(fmt::format("route table \"{}\" is not a number from 1 to 4294967295 or a name", v));
        extra.table = std::string(v);
      } else if (key == "src")
        extra.src = parse_address("route source", v);
      else if (key == "nhid")
        extra.nhid = static_cast<std::uint32_t>(number_or_throw("route nhid", v, 1, UINT32_MAX));
      else if (key == "proto")
        extra.protocol = named_or_number("proto", v, kProtocols);
      else
        extra.scope = named_or_number("scope", v, kScopes);
    }
    if (!extra.nexthops.empty() && (!via.empty() || !dev.empty()))
      throw ConfigError("a multipath route gives via and dev in each nexthop, not before them");
    if (extra.nhid && (!via.empty() || !dev.empty() || !extra.nexthops.empty()))
      throw ConfigError(
          "a route with nhid takes its gateway and device from the nexthop object, not via, dev or "
          "nexthop");
    if (!via.empty() && !IpAddress::parse(via))
      throw ConfigError(fmt::format("route gateway \"{}\" is not an IP address", via));
    RouteSpec r = make(to, via, dev);
    if (!r.to && !extra.nexthops.empty() && extra.nexthops.front().via && to != "default6")
      r.family = extra.nexthops.front().via->family();
    r.metric = metric;
    r.type = type;
    r.table = std::move(extra.table);
    r.src = extra.src;
    r.onlink = extra.onlink;
    r.protocol = extra.protocol;
    r.scope = extra.scope;
    r.nexthops = std::move(extra.nexthops);
    r.nhid = extra.nhid;
    r.where = where;
    return r;
  } catch (const ConfigError& e) {
    throw ConfigError(e.message(), where);
  }
}

NodeSpec& NodeSpec::route(std::string_view text) {
  routes.push_back(RouteSpec::parse(text));
  return *this;
}

NodeSpec& NodeSpec::route(std::string_view to, std::string_view via, std::string_view dev) {
  routes.push_back(RouteSpec::make(to, via, dev));
  return *this;
}

NodeSpec& NodeSpec::rule(std::string_view text) {
  rules.push_back(RuleSpec::parse(text));
  return *this;
}

NodeSpec& NodeSpec::table(std::string table_name, std::uint32_t id) {
  tables.push_back(TableSpec{std::move(table_name), id, {}});
  return *this;
}

NodeSpec& NodeSpec::neighbour(std::string_view text) {
  neighbours.push_back(NeighbourSpec::parse(text));
  return *this;
}

NodeSpec& NodeSpec::arp_dynamic(bool dynamic) {
  arp = dynamic ? ArpMode::dynamic : ArpMode::planned;
  return *this;
}

std::optional<std::uint32_t> NodeSpec::table_id(std::string_view t) const {
  if (t.empty()) return kTableMain;
  if (auto id = builtin_table(t)) return id;
  for (const auto& spec : tables)
    if (spec.name == t) return spec.id;
  return std::nullopt;
}

}  // namespace nslab
