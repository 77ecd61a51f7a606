// Packet capture with libpcap inside a lab node, on any interface the lab
// made (a veth end, a bridge, a bridge port), and assertions on what crossed
// the wire. No libpcap type appears here.
//
//   auto cap = lab.capture("external:eth0", "icmp");
//   lab.ping("red", "external");
//   BOOST_TEST(cap.count("src host 203.0.113.1") >= 1);
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nslab/ip_address.h"
#include "nslab/netlink.h"

namespace nslab {

class Node;

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
  std::optional<std::uint8_t> tcp_flags;   // TH_SYN, TH_ACK, ...
  std::optional<std::uint8_t> icmp_type, icmp_code;

  std::string summary() const;  // "203.0.113.1 > 203.0.113.2 icmp echo-request"
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

// Empty when libpcap compiles `filter`; otherwise why not (no privilege needed).
std::string bpf_filter_problem(const std::string& filter);

class Capture {
 public:
  // Starts capturing on `iface` inside `node`, in immediate mode, with
  // `filter` (BPF, compiled by libpcap; empty for everything). Throws
  // ConfigError naming the filter and libpcap's message when it is invalid.
  Capture(const Node& node, const std::string& iface, const std::string& filter = {});
  Capture(Capture&&) noexcept;
  Capture& operator=(Capture&&) noexcept;
  ~Capture();

  const std::string& label() const noexcept;   // "external:eth0"
  const std::string& filter() const noexcept;

  // Stops capturing, after reading what the kernel still holds. Idempotent.
  void stop();
  // Everything captured so far (reads what has arrived).
  const std::vector<Packet>& packets();
  // Packets that also match a BPF expression (evaluated by libpcap).
  std::size_t count(const std::string& filter = {});
  std::size_t count_if(const PacketPredicate& predicate);
  // Packets the kernel dropped because we did not read fast enough.
  std::size_t dropped();
  // Writes the packets as a pcap file (tcpdump -r, Wireshark).
  void save(const std::string& path);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nslab
