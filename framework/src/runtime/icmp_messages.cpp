// ICMP messages other than the echo, written and recognised (icmp_codec.h).
#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string_view>

#include "icmp_codec.h"

namespace nslab::detail {

namespace {

constexpr std::string_view kMark = "nslab-icmp";

void put16(std::vector<std::uint8_t>& p, std::size_t at, std::uint16_t v) {
  p[at] = static_cast<std::uint8_t>(v >> 8);
  p[at + 1] = static_cast<std::uint8_t>(v & 0xff);
}

void put32(std::vector<std::uint8_t>& p, std::size_t at, std::uint32_t v) {
  put16(p, at, static_cast<std::uint16_t>(v >> 16));
  put16(p, at + 2, static_cast<std::uint16_t>(v & 0xffff));
}

// The datagram an error message quotes: an IP header from `target` to a
// documentation address, then a UDP header (port 9 to port 9).
void put_quote(std::vector<std::uint8_t>& p, const IpAddress& target) {
  const std::size_t at = p.size();
  if (target.is_v4()) {
    p.resize(at + 28, 0);
    p[at] = 0x45;
    put16(p, at + 2, 28);
    p[at + 8] = 64;  // ttl
    p[at + 9] = IPPROTO_UDP;
    std::memcpy(&p[at + 12], target.data(), 4);
    const std::uint8_t doc[4] = {192, 0, 2, 1};
    std::memcpy(&p[at + 16], doc, 4);
    std::uint16_t sum = internet_checksum(&p[at], 20);
    std::memcpy(&p[at + 10], &sum, 2);
    put16(p, at + 20, 9);
    put16(p, at + 22, 9);
    put16(p, at + 24, 8);
    return;
  }
  p.resize(at + 48, 0);
  p[at] = 0x60;
  put16(p, at + 4, 8);  // payload length
  p[at + 6] = IPPROTO_UDP;
  p[at + 7] = 64;  // hop limit
  std::memcpy(&p[at + 8], target.data(), 16);
  const std::uint8_t doc[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  std::memcpy(&p[at + 24], doc, 16);
  put16(p, at + 40, 9);
  put16(p, at + 42, 9);
  put16(p, at + 44, 8);
}

}  // namespace

std::vector<std::uint8_t> make_icmp_message(const IcmpType& type, std::uint32_t key, const IpAddress& target) {
  if (type.echo()) {
    auto pkt = make_echo_request(type.family, key);
    pkt[1] = type.code;
    if (type.family == Family::ipv4) {
      std::memset(&pkt[2], 0, 2);
      std::uint16_t sum = internet_checksum(pkt.data(), pkt.size());
      std::memcpy(&pkt[2], &sum, 2);
    }
    return pkt;
  }
  std::vector<std::uint8_t> pkt(8, 0);
  pkt[0] = type.type;
  pkt[1] = type.code;
  if (type.reply_type()) {
    // A timestamp request (RFC 792): identifier, sequence number, then the
    // originate timestamp (ms since midnight UTC) and two empty ones the
    // target fills in.
    put32(pkt, 4, key);
    pkt.resize(20, 0);
    auto now = std::chrono::system_clock::now().time_since_epoch();
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now).count() % 86400000;
    put32(pkt, 8, static_cast<std::uint32_t>(ms));
  } else {
    if (type.error()) put_quote(pkt, target);
    std::size_t at = pkt.size();
    pkt.resize(at + kMark.size() + 4, 0);
    std::memcpy(&pkt[at], kMark.data(), kMark.size());
    put32(pkt, at + kMark.size(), key);
  }
  if (type.family == Family::ipv4) {  // ICMPv6's checksum is the kernel's
    std::uint16_t sum = internet_checksum(pkt.data(), pkt.size());
    std::memcpy(&pkt[2], &sum, 2);
  }
  return pkt;
}

std::optional<DeliveredMessage> parse_delivered(Family family, const std::uint8_t* p, std::size_t n) {
  if (family == Family::ipv4) {
    if (n < 20) return std::nullopt;
    std::size_t ihl = static_cast<std::size_t>(p[0] & 0x0f) * 4;
    if (ihl < 20 || n < ihl + 8) return std::nullopt;
    p += ihl;
    n -= ihl;
  }
  if (n < 8 + kMark.size() + 4) return std::nullopt;
  // The mark right after the header, or after the quote of an error.
  for (std::size_t at : {std::size_t{8}, std::size_t{8 + 28}, std::size_t{8 + 48}}) {
    if (at + kMark.size() + 4 > n || std::memcmp(p + at, kMark.data(), kMark.size()) != 0) continue;
    const std::uint8_t* k = p + at + kMark.size();
    DeliveredMessage m;
    m.type = p[0];
    m.code = p[1];
    m.key = static_cast<std::uint32_t>(k[0]) << 24 | static_cast<std::uint32_t>(k[1]) << 16 |
            static_cast<std::uint32_t>(k[2]) << 8 | k[3];
    return m;
  }
  return std::nullopt;
}

}  // namespace nslab::detail
