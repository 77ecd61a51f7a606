#include "nslab/icmp_type.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>

namespace nslab {

namespace {

struct Name {
  Family family;
  std::string_view name;
  int type;
  int code;  // -1: the type itself, any code
};

// iptables -p icmp --help and ip6tables -p icmpv6 --help, in their order.
constexpr std::array kNames{
    Name{Family::ipv4, "echo-reply", 0, -1},
    Name{Family::ipv4, "destination-unreachable", 3, -1},
    Name{Family::ipv4, "network-unreachable", 3, 0},
    Name{Family::ipv4, "host-unreachable", 3, 1},
    Name{Family::ipv4, "protocol-unreachable", 3, 2},
    Name{Family::ipv4, "port-unreachable", 3, 3},
    Name{Family::ipv4, "fragmentation-needed", 3, 4},
    Name{Family::ipv4, "source-route-failed", 3, 5},
    Name{Family::ipv4, "network-unknown", 3, 6},
    Name{Family::ipv4, "host-unknown", 3, 7},
    Name{Family::ipv4, "network-prohibited", 3, 9},
    Name{Family::ipv4, "host-prohibited", 3, 10},
    Name{Family::ipv4, "communication-prohibited", 3, 13},
    Name{Family::ipv4, "source-quench", 4, -1},
    Name{Family::ipv4, "redirect", 5, -1},
    Name{Family::ipv4, "network-redirect", 5, 0},
    Name{Family::ipv4, "host-redirect", 5, 1},
    Name{Family::ipv4, "echo-request", 8, -1},
    Name{Family::ipv4, "router-advertisement", 9, -1},
    Name{Family::ipv4, "router-solicitation", 10, -1},
    Name{Family::ipv4, "time-exceeded", 11, -1},
    Name{Family::ipv4, "ttl-zero-during-transit", 11, 0},
    Name{Family::ipv4, "ttl-zero-during-reassembly", 11, 1},
    Name{Family::ipv4, "parameter-problem", 12, -1},
    Name{Family::ipv4, "timestamp-request", 13, -1},
    Name{Family::ipv4, "timestamp", 13, -1},
    Name{Family::ipv4, "timestamp-reply", 14, -1},
    Name{Family::ipv4, "address-mask-request", 17, -1},
    Name{Family::ipv4, "address-mask-reply", 18, -1},
    Name{Family::ipv6, "destination-unreachable", 1, -1},
    Name{Family::ipv6, "no-route", 1, 0},
    Name{Family::ipv6, "communication-prohibited", 1, 1},
    Name{Family::ipv6, "beyond-scope", 1, 2},
    Name{Family::ipv6, "address-unreachable", 1, 3},
    Name{Family::ipv6, "port-unreachable", 1, 4},
    Name{Family::ipv6, "failed-policy", 1, 5},
    Name{Family::ipv6, "reject-route", 1, 6},
    Name{Family::ipv6, "packet-too-big", 2, -1},
    Name{Family::ipv6, "time-exceeded", 3, -1},
    Name{Family::ipv6, "ttl-zero-during-transit", 3, 0},
    Name{Family::ipv6, "ttl-zero-during-reassembly", 3, 1},
    Name{Family::ipv6, "parameter-problem", 4, -1},
    Name{Family::ipv6, "echo-request", 128, -1},
    Name{Family::ipv6, "echo-reply", 129, -1},
    Name{Family::ipv6, "router-solicitation", 133, -1},
    Name{Family::ipv6, "router-advertisement", 134, -1},
    Name{Family::ipv6, "neighbour-solicitation", 135, -1},
    Name{Family::ipv6, "neighbor-solicitation", 135, -1},
    Name{Family::ipv6, "neighbour-advertisement", 136, -1},
    Name{Family::ipv6, "neighbor-advertisement", 136, -1},
    Name{Family::ipv6, "redirect", 137, -1},
};

}  // namespace

std::optional<IcmpType> IcmpType::parse(std::string_view name, Family family, std::string* why) {
  for (const auto& n : kNames)
    if (n.family == family && n.name == name)
      return IcmpType{family, static_cast<std::uint8_t>(n.type), static_cast<std::uint8_t>(n.code < 0 ? 0 : n.code)};
  if (why) {
    std::string names;
    for (const auto& n : kNames)
      if (n.family == family && n.code < 0) names += fmt::format("{}{}", names.empty() ? "" : ", ", n.name);
    *why = fmt::format("\"{}\" is not the name of an {} type (as {} names them: {}; or give {{ type: N, code: N }})",
                       name, family == Family::ipv4 ? "ICMP" : "ICMPv6",
                       family == Family::ipv4 ? "iptables" : "ip6tables", names);
  }
  return std::nullopt;
}

std::vector<std::string> IcmpType::names(Family family) {
  std::vector<std::string> out;
  for (const auto& n : kNames)
    if (n.family == family) out.emplace_back(n.name);
  return out;
}

bool IcmpType::names_code(std::string_view name, Family family) {
  return std::any_of(kNames.begin(), kNames.end(),
                     [&](const Name& n) { return n.family == family && n.name == name && n.code >= 0; });
}

bool IcmpType::echo() const noexcept {
  return type == (family == Family::ipv4 ? 8 : 128);
}

std::optional<std::uint8_t> IcmpType::reply_type() const noexcept {
  if (echo()) return family == Family::ipv4 ? 0 : 129;
  if (family == Family::ipv4 && type == 13) return 14;  // icmp_timestamp() in net/ipv4/icmp.c
  return std::nullopt;
}

bool IcmpType::error() const noexcept {
  if (family == Family::ipv6) return type < 128;
  return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
}

std::string IcmpType::str() const {
  std::string_view type_name;
  for (const auto& n : kNames) {
    if (n.family != family || n.type != type) continue;
    if (n.code == code && code != 0) return std::string(n.name);
    if (n.code < 0 && type_name.empty()) type_name = n.name;
  }
  if (type_name.empty()) {
    for (const auto& n : kNames)  // a code 0 with a name, and no name for its type
      if (n.family == family && n.type == type && n.code == 0) return std::string(n.name);
    return fmt::format("type {} code {}", type, code);
  }
  return code == 0 ? std::string(type_name) : fmt::format("{} code {}", type_name, code);
}

}  // namespace nslab
