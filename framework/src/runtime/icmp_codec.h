// The ICMP and ICMPv6 echo codec of the probe engine: pure functions over
// bytes, tested without root. An echo's identifier and sequence number carry
// one 32-bit key per probe; an error message is matched to its probe through
// the echo request it quotes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "nslab/ip_address.h"

namespace nslab::detail {

// An echo request of `size` bytes, its 8-byte header included (at least 8;
// ICMPv6's checksum is left to the kernel, IPv4's is filled in).
std::vector<std::uint8_t> make_echo_request(Family family, std::uint32_t key, std::size_t size = 64);

struct IcmpMessage {
  bool reply = false;  // an echo reply; otherwise an error quoting an echo request
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

// The Internet checksum, in network byte order.
std::uint16_t internet_checksum(const void* data, std::size_t size) noexcept;

}  // namespace nslab::detail
