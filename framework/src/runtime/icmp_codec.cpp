#include "icmp_codec.h"

#include <arpa/inet.h>
#include <linux/icmp.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>

namespace nslab::detail {

std::uint16_t internet_checksum(const void* data, std::size_t size) noexcept {
  const auto* p = static_cast<const std::uint8_t*>(data);
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i + 1 < size; i += 2) sum += static_cast<std::uint32_t>(p[i] << 8 | p[i + 1]);
  if (size & 1) sum += static_cast<std::uint32_t>(p[size - 1] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return htons(static_cast<std::uint16_t>(~sum));
}

std::vector<std::uint8_t> make_echo_request(Family family, std::uint32_t key, std::size_t size) {
  std::vector<std::uint8_t> pkt(std::max<std::size_t>(size, 8), 0);
  pkt[0] = family == Family::ipv4 ? ICMP_ECHO : ICMP6_ECHO_REQUEST;
  std::uint16_t id = htons(static_cast<std::uint16_t>(key >> 16));
  std::uint16_t seq = htons(static_cast<std::uint16_t>(key & 0xffff));
  std::memcpy(&pkt[4], &id, 2);
  std::memcpy(&pkt[6], &seq, 2);
  static constexpr char kMark[] = "nslab-probe";
  std::memcpy(&pkt[8], kMark, std::min(sizeof kMark - 1, pkt.size() - 8));
  if (family == Family::ipv4) {
    std::uint16_t sum = internet_checksum(pkt.data(), pkt.size());
    std::memcpy(&pkt[2], &sum, 2);
  }
  return pkt;
}

namespace {

std::uint32_t key_at(const std::uint8_t* echo) {
  std::uint16_t id, seq;
  std::memcpy(&id, echo + 4, 2);
  std::memcpy(&seq, echo + 6, 2);
  return static_cast<std::uint32_t>(ntohs(id)) << 16 | ntohs(seq);
}

}  // namespace

std::optional<IcmpMessage> parse_icmp(Family family, const std::uint8_t* p, std::size_t n) {
  if (family == Family::ipv4) {  // raw IPv4 sockets deliver the IP header too
    if (n < 20) return std::nullopt;
    std::size_t ihl = static_cast<std::size_t>(p[0] & 0x0f) * 4;
    if (ihl < 20 || n < ihl + 8) return std::nullopt;
    p += ihl;
    n -= ihl;
  }
  if (n < 8) return std::nullopt;
  IcmpMessage m;
  m.type = p[0];
  m.code = p[1];
  // A timestamp reply answers as an echo reply does, with the same key.
  m.reply =
      family == Family::ipv4 ? m.type == ICMP_ECHOREPLY || m.type == ICMP_TIMESTAMPREPLY : m.type == ICMP6_ECHO_REPLY;
  if (m.reply) {
    m.key = key_at(p);
    return m;
  }
  bool error = family == Family::ipv4
                   ? (m.type == ICMP_DEST_UNREACH || m.type == ICMP_TIME_EXCEEDED || m.type == ICMP_PARAMETERPROB ||
                      m.type == ICMP_SOURCE_QUENCH || m.type == ICMP_REDIRECT)
                   : (m.type == ICMP6_DST_UNREACH || m.type == ICMP6_PACKET_TOO_BIG || m.type == ICMP6_TIME_EXCEEDED ||
                      m.type == ICMP6_PARAM_PROB);
  if (!error) return std::nullopt;
  if (family == Family::ipv4 && m.type == ICMP_DEST_UNREACH && m.code == ICMP_FRAG_NEEDED)
    m.mtu = static_cast<std::uint32_t>(p[6] << 8 | p[7]);
  else if (family == Family::ipv6 && m.type == ICMP6_PACKET_TOO_BIG)
    m.mtu = static_cast<std::uint32_t>(p[4]) << 24 | static_cast<std::uint32_t>(p[5]) << 16 |
            static_cast<std::uint32_t>(p[6]) << 8 | p[7];
  // An error quotes the packet that caused it: its IP header, then our echo.
  const std::uint8_t* inner = p + 8;
  std::size_t left = n - 8;
  const std::uint8_t* echo = nullptr;
  if (family == Family::ipv4) {
    if (left < 20) return std::nullopt;
    std::size_t ihl = static_cast<std::size_t>(inner[0] & 0x0f) * 4;
    if (ihl < 20 || left < ihl + 8 || inner[9] != IPPROTO_ICMP) return std::nullopt;
    echo = inner + ihl;
    if (echo[0] != ICMP_ECHO && echo[0] != ICMP_TIMESTAMP) return std::nullopt;
  } else {
    if (left < 40 + 8 || inner[6] != IPPROTO_ICMPV6) return std::nullopt;
    echo = inner + 40;
    if (echo[0] != ICMP6_ECHO_REQUEST) return std::nullopt;
  }
  m.key = key_at(echo);
  return m;
}

}  // namespace nslab::detail
