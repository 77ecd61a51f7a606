// What crossed a wire: one captured frame decoded as far as a test needs, and
// the counts and filters that expectations put on captures.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nslab/ip_address.h"
#include "nslab/values.h"

namespace nslab {

// One captured frame, decoded as far as a test needs (Ethernet, IPv4/IPv6,
// TCP/UDP/ICMP). Fields that do not apply are empty.
struct Packet {
  std::chrono::system_clock::time_point time;
  std::vector<std::uint8_t> bytes;  // the frame as captured
  std::size_t wire_length = 0;
  MacAddress src_mac{}, dst_mac{};
  std::uint16_t ethertype = 0;
  std::optional<IpAddress> src, dst;
  std::optional<std::uint8_t> protocol;  // IPPROTO_*
  std::optional<std::uint16_t> sport, dport;
  std::optional<std::uint8_t> tcp_flags;  // TH_SYN, TH_ACK, ...
  std::optional<std::uint8_t> icmp_type, icmp_code;

  std::string str() const;  // "203.0.113.1 > 203.0.113.2 icmp type 8 code 0"
};

// A packet predicate: a field test, usable with Capture::count_if.
using PacketPredicate = std::function<bool(const Packet&)>;
PacketPredicate src(const std::string& address);
PacketPredicate dst(const std::string& address);

// "5", "== 5", ">= 1", "<= 3", "> 0", "< 2": a count and how to compare.
struct CountSpec {
  enum class Op { eq, ge, le, gt, lt } op = Op::eq;
  std::size_t value = 0;
  static std::optional<CountSpec> parse(std::string_view text);
  bool holds(std::size_t n) const noexcept;
  std::string str() const;
};

// Why libpcap does not compile `filter` (tcpdump's syntax), or nothing. Needs
// no privilege: the only libpcap a description uses.
std::optional<std::string> bpf_filter_problem(const std::string& filter);

}  // namespace nslab
