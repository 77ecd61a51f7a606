// Nexthop objects (`ip nexthop`): a node's next hops made once, by id, and
// routes that name one with `nhid N` instead of a gateway and device.
// Changing an object changes every route using it; a group spreads flows
// over its members by weight. Part of topology.h; Topology::problems()
// checks them against the node's interfaces and routes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nslab/error.h"
#include "nslab/ip_address.h"

namespace nslab {

// One nexthop object, in `ip nexthop add` words:
//   id ID (via GATEWAY dev IF [onlink] | dev IF | blackhole | group ID[,WEIGHT][/ID[,WEIGHT]...])
//   [family ipv4|ipv6]
// "id 1 via 10.0.1.254 dev eth0", "id 3 group 1/2,3" (member 2 has weight
// 3), "id 9 blackhole". The family follows from the gateway, else IPv4
// unless `family ipv6` says otherwise; a group has the family of its members.
struct NexthopSpec {
  struct Member {
    std::uint32_t id = 0;
    int weight = 1;  // 1..256
  };
  std::uint32_t id = 0;  // 1..4294967295, unique in the node
  Family family = Family::ipv4;
  std::optional<IpAddress> via;
  std::string dev;
  bool onlink = false;
  bool blackhole = false;
  std::vector<Member> group;  // non-empty: a group of other (single) nexthops
  SourceLocation where;

  bool is_group() const noexcept { return !group.empty(); }
  std::string str() const;
  // Throws ConfigError at `where`.
  static NexthopSpec parse(std::string_view text, const SourceLocation& where = {});
};

}  // namespace nslab
