// What the framework keeps per node beyond the public Node: its netlink
// socket, the raw ICMP sockets the probe engine shares, and the record of
// the interfaces the lab made.
#pragma once

#include "netlink.h"
#include "nslab/node.h"

namespace nslab {

struct NodeInternals {
  static Netlink& netlink(Node& n) noexcept { return *n.netlink_; }
  static const Netlink& netlink(const Node& n) noexcept { return *n.netlink_; }
  // The node's raw ICMP socket for the family; -1 until made (by a thread
  // inside the node, see the probe engine).
  static int icmp_socket(const Node& n, Family f) noexcept { return (f == Family::ipv4 ? n.icmp4_ : n.icmp6_).get(); }
  static void set_icmp_socket(Node& n, Family f, Fd fd) { (f == Family::ipv4 ? n.icmp4_ : n.icmp6_) = std::move(fd); }
  static void record_interface(Node& n, Node::Interface i) { n.interfaces_.push_back(std::move(i)); }
  // The cgroup of the node's limits (cgroup.h); null without limits.
  static const std::shared_ptr<const detail::NodeCgroup>& cgroup(const Node& n) noexcept { return n.cgroup_; }
  static void set_cgroup(Node& n, std::shared_ptr<const detail::NodeCgroup> c) { n.cgroup_ = std::move(c); }
};

}  // namespace nslab
