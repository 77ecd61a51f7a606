// The ICMP and ICMPv6 echo codec of the probe engine: pure functions over
// bytes, tested without root. An echo's identifier and sequence number carry
// one 32-bit key per probe; an error message is matched to its probe through
// the echo request it quotes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "nslab/icmp_type.h"
#include "nslab/ip_address.h"

namespace nslab::detail {

// An echo request of `size` bytes, its 8-byte header included (at least 8;
// ICMPv6's checksum is left to the kernel, IPv4's is filled in).
std::vector<std::uint8_t> make_echo_request(Family family, std::uint32_t key, std::size_t size = 64);

struct IcmpMessage {
  bool reply = false;  // an echo (or timestamp) reply; otherwise an error quoting such a request
  int type = 0;
  int code = 0;
  std::uint32_t key = 0;  // of the echo it answers or quotes
  // Fragmentation needed / packet too big: the MTU of the next hop the
  // router reports (0 when it reports none).
  std::uint32_t mtu = 0;
};

// Reads what a raw ICMP socket received (IPv4 raw sockets include the IP
// header). Empty for anything that is not an echo reply or an error about one
// of our echo requests, and for truncated or malformed packets.
std::optional<IcmpMessage> parse_icmp(Family family, const std::uint8_t* data, std::size_t size);

// Messages other than the echo (icmp_messages.cpp). A type with an answer
// (timestamp) carries the key where the echo does, in its identifier and
// sequence number. Any other carries "nslab-icmp" and the key after its
// header; an error type (destination unreachable, redirect, ...) first
// quotes a UDP datagram from `target` to a documentation address
// (192.0.2.1, 2001:db8::1; no packet ever goes there), as a real error
// quotes the packet it is about, so that the target's kernel reads it as
// an error about nothing it sent. A redirect names no gateway (0.0.0.0),
// a too-big and a parameter problem no MTU or pointer: the target's
// kernel has nothing to learn from them.
std::vector<std::uint8_t> make_icmp_message(const IcmpType& type, std::uint32_t key, const IpAddress& target);

// What a raw socket in the target node saw: a message carrying the mark
// and a key (IPv4 raw sockets include the IP header).
struct DeliveredMessage {
  int type = 0;
  int code = 0;
  std::uint32_t key = 0;
};
std::optional<DeliveredMessage> parse_delivered(Family family, const std::uint8_t* data, std::size_t size);

// The Internet checksum, in network byte order.
std::uint16_t internet_checksum(const void* data, std::size_t size) noexcept;

}  // namespace nslab::detail
