#include "nslab/node.h"

#include "nslab/sys.h"
#include "nslab/sysctl.h"

namespace nslab {

Fd Node::socket(int domain, int type, int protocol) const {
  return run([&] { return sys::socket(domain, type, protocol, "socket in node \"" + name_ + "\""); });
}

void Node::set_sysctl(std::string_view key, std::string_view value) const {
  run([&] { write_sysctl_here(key, value); });
}

std::string Node::sysctl(std::string_view key) const {
  return run([&] { return read_sysctl_here(key); });
}

std::optional<IpAddress> Node::primary_address(Family f) const {
  for (const auto& i : interfaces_)
    for (const auto& p : i.addresses)
      if (p.family() == f) return p.address();
  return std::nullopt;
}

std::optional<IpAddress> Node::interface_address(std::string_view iface, Family f) const {
  for (const auto& i : interfaces_)
    if (i.name == iface)
      for (const auto& p : i.addresses)
        if (p.family() == f) return p.address();
  return std::nullopt;
}

bool Node::owns(const IpAddress& a) const {
  for (const auto& i : interfaces_)
    for (const auto& p : i.addresses)
      if (p.address() == a) return true;
  return false;
}

}  // namespace nslab
