#include "nslab/ip_address.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>
#include <fmt/format.h>

#include "nslab/error.h"

namespace nslab {

int to_af(Family f) noexcept {
  return f == Family::ipv4 ? AF_INET : AF_INET6;
}
std::string_view to_string(Family f) noexcept {
  return f == Family::ipv4 ? "ipv4" : "ipv6";
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  std::string s(text);
  IpAddress a;
  if (inet_pton(AF_INET, s.c_str(), a.bytes_.data()) == 1) {
    a.family_ = Family::ipv4;
    return a;
  }
  if (inet_pton(AF_INET6, s.c_str(), a.bytes_.data()) == 1) {
    a.family_ = Family::ipv6;
    return a;
  }
  return std::nullopt;
}

IpAddress IpAddress::from_string(std::string_view text) {
  auto a = parse(text);
  if (!a) throw ConfigError(fmt::format("invalid IP address \"{}\"", text));
  return *a;
}

IpAddress IpAddress::from_bytes(Family f, const void* bytes) {
  IpAddress a;
  a.family_ = f;
  std::memcpy(a.bytes_.data(), bytes, f == Family::ipv4 ? 4 : 16);
  return a;
}

std::string IpAddress::str() const {
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(to_af(family_), bytes_.data(), buf, sizeof buf);
  return buf;
}

bool IpAddress::is_unspecified() const noexcept {
  for (std::size_t i = 0; i < size(); ++i)
    if (bytes_[i] != 0) return false;
  return true;
}

Prefix::Prefix(IpAddress address, int length) : address_(address), length_(length) {}

std::optional<Prefix> Prefix::parse(std::string_view text) {
  auto slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto addr = IpAddress::parse(text.substr(0, slash));
  if (!addr) return std::nullopt;
  auto len_text = text.substr(slash + 1);
  int len = -1;
  auto [p, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), len);
  if (ec != std::errc{} || p != len_text.data() + len_text.size()) return std::nullopt;
  int max = addr->is_v4() ? 32 : 128;
  if (len < 0 || len > max) return std::nullopt;
  return Prefix(*addr, len);
}

Prefix Prefix::from_string(std::string_view text) {
  auto p = parse(text);
  if (!p) {
    throw ConfigError(
        fmt::format("invalid prefix \"{}\" (expected ADDRESS/LENGTH, e.g. 192.168.1.1/24 or fd00::1/64)", text));
  }
  return *p;
}

Prefix Prefix::network() const {
  IpAddress n = address_;
  std::uint8_t* b = n.data();
  for (int i = 0; i < static_cast<int>(n.size()); ++i) {
    int bits = length_ - i * 8;
    if (bits >= 8) continue;
    b[i] = bits <= 0 ? 0 : static_cast<std::uint8_t>(b[i] & (0xff << (8 - bits)));
  }
  return Prefix(n, length_);
}

bool Prefix::contains(const IpAddress& a) const noexcept {
  if (a.family() != family()) return false;
  return Prefix(a, length_).network().address() == network().address();
}

std::string Prefix::str() const {
  return fmt::format("{}/{}", address_.str(), length_);
}

std::optional<std::string> interface_address_problem(const Prefix& p) {
  const IpAddress& a = p.address();
  const std::uint8_t* b = a.data();
  if (a.is_unspecified()) return "is the unspecified address";
  if (a.is_v4()) {
    if (b[0] == 127) return "is a loopback address (127.0.0.0/8)";
    if (b[0] == 0) return "is in 0.0.0.0/8 (\"this network\"), which no interface can use";
    if (b[0] >= 224 && b[0] <= 239) return "is a multicast address (224.0.0.0/4)";
    if (b[0] == 255 && b[1] == 255 && b[2] == 255 && b[3] == 255) return "is the limited broadcast address";
  } else {
    bool loopback = b[15] == 1;
    bool mapped = b[10] == 0xff && b[11] == 0xff;
    for (int i = 0; i < 10; ++i) loopback = loopback && b[i] == 0, mapped = mapped && b[i] == 0;
    for (int i = 10; i < 15; ++i) loopback = loopback && b[i] == 0;
    if (loopback) return "is the loopback address (::1)";
    if (mapped) return "is an IPv4-mapped IPv6 address (::ffff:0:0/96); write the IPv4 address";
    if (b[0] == 0xff) return "is a multicast address (ff00::/8)";
  }
  if (p.length() == 0) return "has prefix length 0; an interface address needs a subnet (e.g. /24, /64)";
  return {};
}

}  // namespace nslab
