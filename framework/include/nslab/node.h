// Node: one namespace of a lab, as a test sees it — its name, its interfaces
// and addresses, and a way to run code or make sockets inside it.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nslab/fd.h"
#include "nslab/ip_address.h"
#include "nslab/netns.h"
#include "nslab/values.h"

namespace nslab::detail {
class NodeCgroup;
}

namespace nslab {

class Netlink;         // the framework's own netlink socket (not part of the API)
struct FirewallRules;  // nslab/step.h

class Node {
 public:
  struct Interface {
    std::string name;
    std::vector<Prefix> addresses;
    MacAddress mac{};
  };

  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  const std::string& name() const noexcept { return name_; }
  const Netns& netns() const noexcept { return ns_; }

  // Runs fn inside this node on a thread made for it; returns fn's result.
  template <typename F>
  auto run(F&& fn) const {
    return ns_.run(std::forward<F>(fn));
  }
  // A socket that belongs to this node, usable from any thread.
  Fd socket(int domain, int type, int protocol) const;
  void set_sysctl(std::string_view key, std::string_view value) const;
  std::string sysctl(std::string_view key) const;
  // The node's firewall replaced: every nftables table (iptables-nft's
  // included) deleted, then `rules` loaded as the build loads a node's own.
  // nslab's loss tables (link impairment without netem) stay.
  void replace_rules(const FirewallRules& rules) const;
  void flush_rules() const;

  // Interfaces as the lab made them, in declaration order (bridges first).
  const std::vector<Interface>& interfaces() const noexcept { return interfaces_; }
  // The first address of the family on the first interface that has one.
  std::optional<IpAddress> primary_address(Family f) const;
  std::optional<IpAddress> interface_address(std::string_view iface, Family f) const;

 private:
  friend class Lab;
  friend struct NodeInternals;  // the framework's view: netlink and probe sockets

  Node(std::string name, Netns ns, std::unique_ptr<Netlink> netlink);

  // Member order is teardown order in reverse: the probe sockets, then the
  // netlink socket, then the namespace handle that they keep alive.
  std::string name_;
  Netns ns_;
  std::unique_ptr<Netlink> netlink_;
  Fd icmp4_, icmp6_;                                  // raw ICMP sockets for probes, made on first use
  std::shared_ptr<const detail::NodeCgroup> cgroup_;  // its limits' cgroup; null without limits
  std::vector<Interface> interfaces_;
};

}  // namespace nslab
