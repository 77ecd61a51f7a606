// Typed IPv4/IPv6 addresses and prefixes, parsed once at the edge.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace nslab {

enum class Family { ipv4, ipv6 };
int to_af(Family f) noexcept;  // AF_INET / AF_INET6
std::string_view to_string(Family f) noexcept;

class IpAddress {
 public:
  IpAddress() = default;
  static std::optional<IpAddress> parse(std::string_view text);
  // Throws ConfigError("invalid IP address ...") when text is not one.
  static IpAddress from_string(std::string_view text);
  static IpAddress from_bytes(Family f, const void* bytes);

  Family family() const noexcept { return family_; }
  bool is_v4() const noexcept { return family_ == Family::ipv4; }
  std::size_t size() const noexcept { return is_v4() ? 4 : 16; }
  const std::uint8_t* data() const noexcept { return bytes_.data(); }
  std::uint8_t* data() noexcept { return bytes_.data(); }
  std::string str() const;
  bool is_unspecified() const noexcept;

  friend auto operator<=>(const IpAddress&, const IpAddress&) = default;

 private:
  Family family_ = Family::ipv4;
  std::array<std::uint8_t, 16> bytes_{};
};

// An address with a prefix length, as written on an interface: 192.168.1.1/24.
class Prefix {
 public:
  Prefix() = default;
  Prefix(IpAddress address, int length);
  static std::optional<Prefix> parse(std::string_view text);
  static Prefix from_string(std::string_view text);  // throws ConfigError

  const IpAddress& address() const noexcept { return address_; }
  int length() const noexcept { return length_; }
  Family family() const noexcept { return address_.family(); }
  Prefix network() const;  // host bits cleared
  bool contains(const IpAddress& a) const noexcept;
  std::string str() const;

  friend auto operator<=>(const Prefix&, const Prefix&) = default;

 private:
  IpAddress address_;
  int length_ = 0;
};

// Empty when `p` can be a lab interface's address, else why not (a phrase
// such as "is a loopback address"): not unspecified, loopback, multicast,
// IPv4 limited broadcast or "this network" (0.0.0.0/8), an IPv4-mapped IPv6
// address, nor a prefix length of 0. Link-local addresses are fine.
std::optional<std::string> interface_address_problem(const Prefix& p);

}  // namespace nslab
