// Topology: the description of a lab, separate from building it (Mininet's
// addHost/addLink, then Mininet(topo)). Plain data plus a validator; a Lab
// realizes it. Scenario files produce one, C++ tests build one directly.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nslab/bridge_options.h"
#include "nslab/error.h"
#include "nslab/impairment.h"
#include "nslab/ip_address.h"
#include "nslab/limits.h"
#include "nslab/link_kinds.h"
#include "nslab/names.h"
#include "nslab/nexthop.h"
#include "nslab/ovs.h"
#include "nslab/routing.h"
#include "nslab/values.h"

namespace nslab {

// One end of a link: "red:eth0", or "host:veth-red@v-net-0" for a bridge port.
struct Endpoint {
  std::string node;
  std::string interface;
  std::string bridge;  // a bridge of `node` this end is a port of; empty for none
  std::vector<Prefix> addresses;
  int mtu = 0;                                  // 0: kernel default (1500)
  bool up = true;                               // false leaves the interface down (a negative test)
  std::vector<AddressOptions> address_options;  // of the addresses that have any (routing.h)
  SourceLocation where;

  // Parses "node:interface[@bridge] [ADDRESS/LEN ...]"; throws ConfigError.
  static Endpoint parse(std::string_view text, const SourceLocation& where = {});
  std::string label() const { return node + ":" + interface; }
};

struct LinkSpec {
  Endpoint a;
  Endpoint b;
  Impairment impair;  // rate, loss, delay, jitter (see impairment.h)
  SourceLocation where;
};

struct BridgeSpec {
  std::string name;
  std::vector<Prefix> addresses;
  int mtu = 0;
  BridgeOptions switching;  // VLANs, STP, ageing, port flags (bridge_options.h)
  SourceLocation where;
  BridgeKind kind = BridgeKind::linux_bridge;
  OvsOptions ovs;  // kind ovs: datapath, fail mode, flows, ports, mirrors (ovs.h)
};

struct RouteSpec {
  std::optional<Prefix> to;  // empty: default
  Family family = Family::ipv4;
  std::optional<IpAddress> via;
  std::string dev;
  int metric = 0;
  RouteType type = RouteType::unicast;
  // Policy routing (routing.h): the table (empty: main; a number,
  // main/local/default, or a name from the node's `tables`), the preferred
  // source, a gateway not on a connected subnet, the protocol and scope
  // (empty: static, and the kernel's default for the type), and the next
  // hops of a multipath route (instead of via and dev).
  std::string table;
  std::optional<IpAddress> src;
  bool onlink = false;
  std::optional<std::uint8_t> protocol, scope;
  std::vector<NextHop> nexthops;
  std::uint32_t nhid = 0;  // a nexthop object of the node (nexthop.h), instead of via and dev; 0: none
  SourceLocation where;

  // "default via 192.168.1.254", "192.168.1.0/24 dev eth0", "blackhole 10.0.0.0/8".
  std::string str() const;
  // `to` is "default", "default6" or a prefix; via is an address or empty.
  static RouteSpec make(std::string_view to, std::string_view via = {}, std::string_view dev = {});
  // A route as a scenario file writes it, in `ip route` words:
  //   [unreachable | prohibit | blackhole | local | throw] DEST [via GATEWAY]
  //   [dev IF] [metric N] [table T] [src ADDRESS] [onlink] [proto P] [scope S]
  //   [nexthop via GW [dev IF] [weight W] [onlink] ...] [nhid ID]
  // DEST is "default", "default6", a prefix, or an address (a host route):
  // "default via 192.168.1.254", "10.0.0.0/8 via 10.1.1.1 dev eth0 metric 5",
  // "unreachable 198.51.100.0/24". Throws ConfigError at `where`. Checks
  // against the rest of the lab (the device exists, the gateway is
  // connected) are Topology::problems()'.
  static RouteSpec parse(std::string_view text, const SourceLocation& where = {});
};

struct ServiceSpec {
  Protocol protocol = Protocol::tcp;
  std::uint16_t port = 0;
  SourceLocation where;
};

// A program a node runs for the whole life of the lab (or until it exits).
// The shortest wait a run program may have to exit or get ready: starting
// a program in a node takes milliseconds.
inline constexpr std::chrono::milliseconds kMinRunTimeout{10};

struct RunSpec {
  std::vector<std::string> argv;
  std::map<std::string, std::string> env;
  std::string working_dir;
  // Ready when something listens on this port, or when this command exits 0.
  std::optional<std::pair<Protocol, std::uint16_t>> ready_port;
  std::vector<std::string> ready_command;
  std::chrono::milliseconds timeout{5000};
  std::optional<int> expect_exit;  // empty: it must keep running
  SourceLocation where;
};

// One sysctl a node sets, with where it was written (for error locations).
struct SysctlSpec {
  std::string key;  // "net.ipv4.ip_forward"
  std::string value;
  SourceLocation where;
};

// Firewall rules as text, with where the text starts (for error locations):
// written inline, or read from a rule file (then `where` is its line 1).
struct RulesSpec {
  std::string text;
  SourceLocation where;
  std::string file;               // the rule file it was read from; empty for inline rules
  std::string root;               // the folder an nftables file's includes stay inside ("": anywhere)
  bool includes_outside = false;  // an nftables file may include files outside `root`
  bool empty() const noexcept { return text.find_first_not_of(" \t\n") == std::string::npos; }
};

struct NodeSpec {
  std::string name;
  std::vector<BridgeSpec> bridges;
  std::vector<RouteSpec> routes;
  std::vector<SysctlSpec> sysctls;  // in order given
  std::vector<ServiceSpec> services;
  RulesSpec iptables;          // lines as typed after `iptables`
  RulesSpec ip6tables;         // lines as typed after `ip6tables`
  RulesSpec nftables;          // an nft ruleset (nft -f syntax)
  std::string hostname;        // non-empty: its processes get a UTS namespace with it
  bool pid_namespace = false;  // its processes get a PID namespace of their own
  Limits limits;               // for all its programs together (one cgroup per node)
  std::vector<RunSpec> run;
  // Interfaces of other kinds (vlan, bond, vxlan, lo's addresses...; link_kinds.h).
  std::vector<NodeInterface> interfaces;
  // Policy routing and neighbours (routing.h).
  std::vector<RuleSpec> rules;    // `ip_rules`, in order given
  std::vector<TableSpec> tables;  // named tables
  std::vector<NeighbourSpec> neighbours;
  std::vector<NexthopSpec> nexthops;  // `nexthops`, nexthop objects (nexthop.h)
  ArpMode arp = ArpMode::planned;
  SourceLocation where;

  NodeSpec& bridge(std::string name, const std::vector<std::string>& addresses = {});
  // The switch settings of a bridge added before (bridge_options.h):
  //   bridge("br0").bridge_options("br0", {.vlan_filtering = true, .ports = {{.name = "veth-a", .pvid = 10}}})
  // Throws ConfigError when the node has no such bridge.
  NodeSpec& bridge_options(std::string_view bridge, BridgeOptions options);
  // An Open vSwitch bridge (ovs.h): ovs_bridge("br0", {.fail_mode = OvsFailMode::secure}).
  NodeSpec& ovs_bridge(std::string name, OvsOptions options = {}, const std::vector<std::string>& addresses = {});
  // The full route text (RouteSpec::parse): route("unreachable 10.9.0.0/16"),
  // route("10.0.0.0/8 via 10.1.1.1 dev eth0 metric 5"), route("default").
  NodeSpec& route(std::string_view text);
  NodeSpec& route(std::string_view to, std::string_view via, std::string_view dev = {});
  NodeSpec& sysctl(std::string key, std::string value);
  NodeSpec& service(Protocol protocol, std::uint16_t port);
  NodeSpec& iptables_rules(std::string_view lines);
  NodeSpec& ip6tables_rules(std::string_view lines);
  NodeSpec& nftables_ruleset(std::string_view ruleset);
  // Rules kept in a file (iptables-save format, or nft -f syntax), read now;
  // a relative path starts from the current directory. Throws ConfigError
  // when the file cannot be read; replaces rules given before.
  NodeSpec& iptables_file(const std::string& path);
  NodeSpec& ip6tables_file(const std::string& path);
  NodeSpec& nftables_file(const std::string& path);
  const BridgeSpec* find_bridge(std::string_view name) const;
  // Link kinds (link_kinds.h): interface(NodeInterface{.name = "vx0", .kind =
  // InterfaceKind::vxlan, ...}); loopback({"10.255.0.1/32"}) puts addresses on lo.
  NodeSpec& interface(NodeInterface spec);
  NodeSpec& loopback(const std::vector<std::string>& addresses);
  const NodeInterface* find_interface(std::string_view name) const;
  // rule("from 10.0.1.0/24 table wan2 priority 1000") (RuleSpec::parse),
  // table("wan2", 200), neighbour("10.0.0.9 lladdr 02:00:00:00:00:09 dev eth0"),
  // arp_dynamic(): this node resolves its neighbours by ARP/NDP.
  NodeSpec& rule(std::string_view text);
  NodeSpec& table(std::string name, std::uint32_t id);
  NodeSpec& neighbour(std::string_view text);
  NodeSpec& arp_dynamic(bool dynamic = true);
  // nexthop("id 1 via 10.0.1.254 dev eth0"), nexthop("id 3 group 1/2") (NexthopSpec::parse).
  NodeSpec& nexthop(std::string_view text);
  const NexthopSpec* find_nexthop(std::uint32_t id) const;
  // A table's number: a number, main/local/default, or a name in `tables`.
  std::optional<std::uint32_t> table_id(std::string_view table) const;
};

class Topology {
 public:
  explicit Topology(std::string name = "lab") : name_(std::move(name)) {}

  const std::string& name() const noexcept { return name_; }
  void set_name(std::string name) { name_ = std::move(name); }

  // Throws ConfigError on a duplicate or invalid name.
  NodeSpec& add_node(std::string name, SourceLocation where = {});
  NodeSpec& node(std::string_view name);
  const NodeSpec& node(std::string_view name) const;
  const NodeSpec* find_node(std::string_view name) const;
  LinkSpec& add_link(Endpoint a, Endpoint b, SourceLocation where = {});
  // Shorthand: link("red:eth0 192.168.1.1/24", "host:veth-red@v-net-0").
  LinkSpec& link(std::string_view a, std::string_view b);

  const std::vector<NodeSpec>& nodes() const noexcept { return nodes_; }
  const std::vector<LinkSpec>& links() const noexcept { return links_; }
  std::vector<LinkSpec>& links() noexcept { return links_; }

  // Every problem found, in the order of the description. Needs no privilege.
  std::vector<ConfigError> problems() const;
  // Throws the first problem.
  void validate() const;

  // Interfaces of a node in declaration order (bridges first, then link ends),
  // each with its addresses; used for "primary address" and validation.
  struct InterfaceSpec {
    std::string name;
    std::vector<Prefix> addresses;
    SourceLocation where;
  };
  std::vector<InterfaceSpec> interfaces_of(std::string_view node) const;

  // Layer-2 segments: "node:interface" -> segment number. A veth pair is one
  // segment; a bridge and every port on it are one.
  std::map<std::string, int> segments() const;

 private:
  std::string name_;
  std::vector<NodeSpec> nodes_;
  std::vector<LinkSpec> links_;
};

}  // namespace nslab
