// ICMP messages other than the echo: a probe can send any ICMP or ICMPv6
// type and code (README, "ICMP types"). A type with an answer (IPv4's
// timestamp request, answered by a timestamp reply) is judged as an echo is;
// every other type gets no answer, and is judged by delivery: a raw socket in
// the target node sees what its INPUT chain let through.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nslab/ip_address.h"

namespace nslab {

struct IcmpType {
  Family family = Family::ipv4;  // ICMP (IPv4) or ICMPv6: the numbers differ
  std::uint8_t type = 0;
  std::uint8_t code = 0;

  static IcmpType timestamp() { return IcmpType{Family::ipv4, 13, 0}; }
  // A name as iptables and ip6tables spell it ("timestamp-request",
  // "destination-unreachable", "port-unreachable", "router-advertisement",
  // "neighbour-solicitation"; "timestamp" too), for `family`. Empty, with
  // `why` set when given, for a name of no type of that family.
  static std::optional<IcmpType> parse(std::string_view name, Family family, std::string* why = nullptr);
  // Every name parse() takes for `family`, types and codes.
  static std::vector<std::string> names(Family family);
  // Whether `name` names a code (as "port-unreachable"), not a whole type.
  static bool names_code(std::string_view name, Family family);

  // The echo request (ICMP 8, ICMPv6 128): an ordinary echo probe.
  bool echo() const noexcept;
  // The type of the answer the target's kernel sends, if it sends one:
  // timestamp request 13 -> timestamp reply 14. Empty: judged by delivery.
  std::optional<std::uint8_t> reply_type() const noexcept;
  // An error message (destination unreachable, time exceeded, ...): it
  // quotes a packet, and no router answers it with another error.
  bool error() const noexcept;
  std::string str() const;  // "timestamp-request", "icmpv6 type 200 code 1", "port-unreachable"
  bool operator==(const IcmpType&) const = default;
};

}  // namespace nslab
