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
#include "nslab/packet.h"

namespace nslab {

class Node;

class Capture {
 public:
  // Starts capturing on `iface` inside `node`, in immediate mode, with
  // `filter` (BPF, compiled by libpcap; empty for everything). Throws
  // ConfigError naming the filter and libpcap's message when it is invalid.
  Capture(const Node& node, const std::string& iface, const std::string& filter = {});
  Capture(Capture&&) noexcept;
  Capture& operator=(Capture&&) noexcept;
  ~Capture();

  const std::string& label() const noexcept;  // "external:eth0"
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
