#include "nslab/node.h"

#include "netlink.h"
#include "sys.h"
#include "sysctl.h"

namespace nslab {

Node::Node(std::string name, Netns ns, std::unique_ptr<Netlink> netlink)
    : name_(std::move(name)), ns_(std::move(ns)), netlink_(std::move(netlink)) {}

Node::~Node() = default;

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

}  // namespace nslab
