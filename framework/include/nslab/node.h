// Node: one namespace of a lab and what the lab keeps for it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nslab/fd.h"
#include "nslab/ip_address.h"
#include "nslab/netlink.h"
#include "nslab/netns.h"

namespace nslab {

class Node {
 public:
  struct Interface {
    std::string name;
    std::vector<Prefix> addresses;
    MacAddress mac{};
  };

  Node(std::string name, Netns ns, Netlink netlink)
      : name_(std::move(name)), ns_(std::move(ns)), netlink_(std::move(netlink)) {}
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  const std::string& name() const noexcept { return name_; }
  const Netns& netns() const noexcept { return ns_; }
  Netlink& netlink() noexcept { return netlink_; }
  const Netlink& netlink() const noexcept { return netlink_; }

  // Runs fn inside this node on a thread made for it; returns fn's result.
  template <typename F>
  auto run(F&& fn) const {
    return ns_.run(std::forward<F>(fn));
  }
  // A socket that belongs to this node, usable from any thread.
  Fd socket(int domain, int type, int protocol) const;
  void set_sysctl(std::string_view key, std::string_view value) const;
  std::string sysctl(std::string_view key) const;

  // The node's raw ICMP socket for the family, made on first use by a thread
  // inside the node (see run_probes). -1 until then.
  int icmp_socket(Family f) const noexcept { return (f == Family::ipv4 ? icmp4_ : icmp6_).get(); }
  void set_icmp_socket(Family f, Fd fd) { (f == Family::ipv4 ? icmp4_ : icmp6_) = std::move(fd); }

  // Interfaces as the lab made them, in declaration order (bridges first).
  const std::vector<Interface>& interfaces() const noexcept { return interfaces_; }
  void record_interface(Interface i) { interfaces_.push_back(std::move(i)); }
  // The first address of the family on the first interface that has one.
  std::optional<IpAddress> primary_address(Family f) const;
  std::optional<IpAddress> interface_address(std::string_view iface, Family f) const;
  // True when the address is on one of this node's interfaces.
  bool owns(const IpAddress& a) const;

 private:
  // Member order is teardown order in reverse: probe sockets, then the netlink
  // socket, then the namespace handle that they keep alive.
  std::string name_;
  Netns ns_;
  Netlink netlink_;
  Fd icmp4_, icmp6_;
  std::vector<Interface> interfaces_;
};

}  // namespace nslab
