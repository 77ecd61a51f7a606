// Policy routing in a node's description: rules (`ip rule`), named routing
// tables, the next hops of a multipath route, and static neighbour entries.
// Each parses the words `ip` takes, so that a scenario line reads as the
// command would; checks against the rest of the lab (interfaces, tables,
// connected gateways) are Topology::problems()'. Part of topology.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nslab/error.h"
#include "nslab/ip_address.h"
#include "nslab/values.h"

namespace nslab {

// The kernel's own tables: `main` (where routes go by default), `local`
// (the node's addresses) and `default`.
inline constexpr std::uint32_t kTableMain = 254;
inline constexpr std::uint32_t kTableLocal = 255;
inline constexpr std::uint32_t kTableDefault = 253;

// A routing table's number from its text: a number from 1 to 4294967295 or
// main, local, default; empty for a name (a node's own `tables` say which).
std::optional<std::uint32_t> builtin_table(std::string_view text);

// One next hop of a multipath route: `nexthop via 10.0.0.1 dev eth0 weight 2`.
struct NextHop {
  std::optional<IpAddress> via;
  std::string dev;
  int weight = 1;  // 1..256: the share of flows this hop gets
  bool onlink = false;
  std::string str() const;
};

// A policy rule, in `ip rule add` words:
//   [not] [from PREFIX|all] [to PREFIX|all] [fwmark MARK[/MASK]] [iif IF]
//   [oif IF] [priority N] (table T | lookup T | blackhole | unreachable | prohibit)
//   [family ipv4|ipv6]
// "from 10.0.1.0/24 table 100 priority 1000", "fwmark 0x1 table wan2",
// "iif eth1 table 200", "to 10.9.0.0/16 table 300". The family follows from
// `from` or `to`, else it is IPv4 unless `family ipv6` says otherwise.
struct RuleSpec {
  enum class Action { lookup, blackhole, unreachable, prohibit };
  Family family = Family::ipv4;
  bool invert = false;  // "not": the rule applies to what does not match
  std::optional<Prefix> from, to;
  std::optional<std::uint32_t> fwmark, fwmask;
  std::string iif, oif;
  std::optional<std::uint32_t> priority;  // empty: the kernel's (below the last rule)
  Action action = Action::lookup;
  std::string table;  // with Action::lookup: a number, main/local/default, or a name from `tables`
  SourceLocation where;

  std::string str() const;
  // Throws ConfigError at `where`.
  static RuleSpec parse(std::string_view text, const SourceLocation& where = {});
};

// A node's named routing table: `tables: { wan2: 200 }`.
struct TableSpec {
  std::string name;
  std::uint32_t id = 0;
  SourceLocation where;
};

// A permanent neighbour entry: "10.0.0.9 lladdr 02:00:00:00:00:09 dev eth0".
struct NeighbourSpec {
  IpAddress address;
  MacAddress lladdr{};
  std::string dev;
  SourceLocation where;

  std::string str() const;
  // Throws ConfigError at `where`.
  static NeighbourSpec parse(std::string_view text, const SourceLocation& where = {});
};

// How a node learns its neighbours' MACs: from the lab's plan (permanent
// entries, no ARP on the wire; see README, Defaults) or by ARP/NDP.
enum class ArpMode { planned, dynamic };

// Options of one interface address, written after it in an endpoint:
// "red:eth0 10.0.0.5/24 noprefixroute 10.0.0.6/24 scope link 10.9.0.1/32 shared".
// `shared`: the node has the same address on another interface too (the
// kernel allows it; rp_filter labs use it) — without it, validation refuses
// the second one as a mistake. A second address in the subnet of an
// earlier one becomes the kernel's "secondary" address on its own.
struct AddressOptions {
  Prefix prefix;
  std::optional<std::uint8_t> scope;  // empty: global
  bool noprefixroute = false;
  bool shared = false;
  std::string str() const;  // "10.0.0.5/24 noprefixroute"
};

// The option words at words[i] after address `of` (noprefixroute, shared,
// scope global|site|link|host|N), added to `out` (one entry per address);
// returns how many words it read, 0 when words[i] is none of them. Throws
// ConfigError for a scope that is neither a name nor 0..255.
std::size_t read_address_option(const std::vector<std::string_view>& words, std::size_t i, const Prefix& of,
                                std::vector<AddressOptions>& out);

// "02:00:00:00:00:09"; empty when the text is not six hex pairs.
std::optional<MacAddress> parse_mac(std::string_view text);

}  // namespace nslab
