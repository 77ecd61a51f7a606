// Netlink: a route-netlink socket bound to one namespace, on libnl-3.
//
// The socket belongs to the namespace it was created in and can then be used
// from any thread. No libnl type leaves this wrapper; every failure becomes a
// NetlinkError naming the object ("red:eth0") and the kernel's reason.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nslab/ip_address.h"
#include "nslab/names.h"
#include "nslab/routing.h"
#include "nslab/values.h"

namespace nslab {

struct NodeInterface;  // nslab/link_kinds.h
struct BridgeOptions;  // nslab/bridge_options.h
struct BridgePort;

// The tc parent under a netem root qdisc (1:1), for a rate limit below it.
inline constexpr std::uint32_t kNetemChildHandle = (1u << 16) | 1u;

struct LinkInfo {
  int index = 0;
  std::string name;
  std::string kind;       // "veth", "bridge", "" for lo
  bool oper_up = false;   // IF_OPER_UP, as the link watcher last set it
  bool carrier = false;   // IFF_LOWER_UP
  bool admin_up = false;  // IFF_UP: set up by a user (ip link set up)
  // The root qdisc; "noop" until the link's queueing is set up.
  std::string qdisc;
  // True when the link has carrier and a qdisc. A link opened with carrier
  // (a veth end brought up after its peer, a bridge brought up after its
  // ports) has its transmit queues activated on the spot and can send at
  // once. A link that gains carrier while already up keeps the "noop" qdisc
  // on its transmit queues, dropping every packet, until the kernel's link
  // watcher handles the change: that pass sets the operational state, then
  // activates the queues, under the RTNL lock. IFLA_QDISC names the default
  // qdisc before it, so such a link is ready only once oper_up too (see
  // Lab::wait_links_up).
  bool ready() const noexcept { return carrier && !qdisc.empty() && qdisc != "noop"; }
  int mtu = 0;
  int master = 0;
};

// One end of a veth pair. netns_fd < 0 means the socket's own namespace.
// The peer end is always created down and unenslaved (the kernel cannot open
// it before both ends exist): configure it from its own node afterwards.
struct VethEnd {
  std::string name;
  std::string label;  // for messages: "red:eth0"
  int netns_fd = -1;
  int master = 0;  // bridge ifindex in that end's namespace; 0 for none
  bool up = true;
  int mtu = 0;                    // 0: kernel default
  std::optional<MacAddress> mac;  // empty: random
};

// A permanent neighbour (ARP/NDP) entry: address -> MAC on a link; or, with
// fdb set, a static forwarding entry of a bridge: MAC -> the port `ifindex`.
struct Neighbour {
  int ifindex = 0;
  IpAddress address;
  MacAddress mac{};
  bool fdb = false;
};

struct RouteRequest {
  Family family = Family::ipv4;
  std::optional<Prefix> destination;  // empty: default route
  std::optional<IpAddress> gateway;
  int oif = 0;
  int metric = 0;
  RouteType type = RouteType::unicast;
  std::string label;  // for messages: "red: default via 192.168.1.254"
  // Policy routing (netlink_routing.cpp): the table, preferred source,
  // onlink, protocol (RTPROT_STATIC), scope (empty: by type) and the next
  // hops of a multipath route.
  std::uint32_t table = 254;
  std::optional<IpAddress> src;
  bool onlink = false;
  std::uint8_t protocol = 4;
  std::optional<std::uint8_t> scope;
  struct Hop {
    std::optional<IpAddress> gateway;
    int oif = 0;
    int weight = 1;
    bool onlink = false;
  };
  std::vector<Hop> nexthops;
  std::uint32_t nhid = 0;  // a nexthop object instead of gateway, oif and nexthops
};

// A nexthop object (`ip nexthop add`; nslab/nexthop.h): a gateway on a
// device, a device, a blackhole, or a group of other objects with weights.
struct NexthopRequest {
  std::uint32_t id = 0;
  Family family = Family::ipv4;
  std::optional<IpAddress> gateway;
  int oif = 0;
  bool onlink = false;
  bool blackhole = false;
  std::vector<std::pair<std::uint32_t, int>> group;  // id, weight 1..256
  std::string label;                                 // for messages: "r: id 1 via 10.0.1.254 dev eth0"
};

// A policy rule (`ip rule add`), as RuleSpec describes it.
struct RuleRequest {
  Family family = Family::ipv4;
  bool invert = false;
  std::optional<Prefix> from, to;
  std::optional<std::uint32_t> fwmark, fwmask, priority;
  std::string iif, oif;
  std::uint8_t action = 1;  // FR_ACT_TO_TBL; 6 blackhole, 7 unreachable, 8 prohibit
  std::uint32_t table = 0;
  std::string label;
};

// What is moving through one namespace, for telling when a lab has gone
// still: the sum of every link's packet and drop counters (each only ever
// grows, so an equal sum means no counter moved), and the neighbour entries
// whose resolution is still under way (each holds packets and has a timer).
struct TrafficSnapshot {
  std::uint64_t packets = 0;
  std::vector<std::pair<int, IpAddress>> resolving;  // ifindex, address
  std::uint64_t queued = 0;                          // packets held by qdiscs (a rate limit, a delay)
  std::uint64_t shaper_drops = 0;                    // packets a rate limit (tbf, htb) dropped: its queue was full
  bool operator==(const TrafficSnapshot&) const = default;
};

class Netlink {
 public:
  // A socket in the calling thread's namespace. `owner` names that namespace
  // in messages ("red"). With netns_fd (that namespace, held by the caller
  // for as long as this object lives) the socket can be closed and is
  // reopened there on its next use.
  static Netlink open_here(std::string owner, int netns_fd = -1);

  Netlink(Netlink&&) noexcept;
  Netlink& operator=(Netlink&&) noexcept;
  ~Netlink();

  // Closes the socket, to hold fewer descriptors, when it can be reopened
  // (see open_here); the next request reopens it on a thread made for it.
  void close();
  bool is_open() const noexcept;

  std::optional<LinkInfo> find_link(std::string_view name) const;
  // Only the ifindex, without a link message (SIOCGIFINDEX on this socket,
  // in its namespace): O(1) where find_link and links() cost the kernel a
  // walk of the namespace's ids per veth whose peer is elsewhere (a hub of
  // N ports: O(N) per lookup, O(N²) per dump). Empty when there is none.
  std::optional<int> index_of(std::string_view name) const;
  LinkInfo link(std::string_view name) const;  // throws when missing
  std::vector<LinkInfo> links() const;
  // With qdiscs, also what every qdisc has passed, dropped and holds.
  TrafficSnapshot traffic(bool qdiscs = false) const;

  // Creates `local` (enslaved, MTU, up) in this socket's namespace and `peer`
  // directly in its target namespace, in one message.
  void create_veth(const VethEnd& local, const VethEnd& peer);
  // Returns the new bridge's ifindex. STP stays off: ports forward at once.
  // The bridge is created down: brought up after its ports have carrier, it
  // has carrier at once and its queue is activated on the spot. Brought up
  // empty, its activation would wait for the kernel's link watcher, which
  // handles a bridge's carrier change at most once a second.
  // With options that set something (bridge_options.h), they go in the same
  // message; vlan_filtering on a kernel without it is an EnvironmentError.
  int create_bridge(std::string_view name, int mtu, std::string_view label,
                    std::optional<MacAddress> mac = std::nullopt, const BridgeOptions* options = nullptr);
  // A bridge port's flags and VLANs (netlink_bridge.cpp), and with
  // drop_default_vlan the kernel's VLAN 1 taken off it.
  void set_bridge_port(int index, const BridgePort& port, bool drop_default_vlan, std::string_view label);
  // Changes a bridge's own options (those set in `o`) after its creation.
  void set_bridge_options(int index, const BridgeOptions& o, std::string_view label);
  // Every bridge port's STP state (ifindex, BR_STATE_*).
  std::vector<std::pair<int, int>> bridge_port_states() const;
  void set_up(int index, bool up, std::string_view label);
  // Enslaves (master > 0) and sets up/down the link called name, in one message.
  void configure(std::string_view name, int master, bool up, std::string_view label);
  // IPv6 addresses are added with IFA_F_NODAD: lab addresses are unique by
  // validation, and a tentative address would make the first probes flaky.
  // With options: its scope and noprefixroute (routing.h).
  void add_address(int index, const Prefix& prefix, std::string_view label, const AddressOptions* options = nullptr);
  void add_route(const RouteRequest& route);  // netlink_routing.cpp
  void delete_route(const RouteRequest& route);
  void add_rule(const RuleRequest& rule);
  void delete_rule(const RuleRequest& rule);
  void add_nexthop(const NexthopRequest& nexthop);  // netlink_nexthops.cpp
  // Link kinds (netlink_kinds.cpp): creates `spec` down and unenslaved,
  // standing on `parent` (an ifindex; 0: none), and returns its ifindex. A
  // kind this kernel lacks throws EnvironmentError naming the kernel option.
  int create_kind(const NodeInterface& spec, int parent, std::string_view label);
  // Adds permanent entries, many requests in flight at once. Permanent
  // entries do not count against the kernel's neighbour table limit
  // (gc_thresh3), which is shared by every namespace on the machine.
  void add_neighbours(const std::vector<Neighbour>& entries);

  // Traffic control on a link's egress. A tbf rate limit as the root qdisc
  // (or under `parent`, a tc handle), with a queue of about 50 ms.
  void add_rate_limit(int index, std::uint64_t bits_per_second, std::uint32_t parent, std::string_view label);
  // A netem root qdisc (handle 1:) with delay, jitter and loss.
  void add_netem(int index, std::chrono::microseconds delay, std::chrono::microseconds jitter, double loss_percent,
                 std::string_view label);
  // True when a netem qdisc can be created on `index` (a capability check;
  // the qdisc stays, so ask in a scratch namespace).
  bool can_add_netem(int index);
  // Deletes the root qdisc of `index` (the kernel's default comes back);
  // none to delete is not an error (netlink_neigh_flush.cpp).
  void delete_root_qdisc(int index, std::string_view label);
  // Deletes the IPv4 and IPv6 neighbour entries of `index` that are
  // INCOMPLETE or FAILED (a resolution that went unanswered); returns how
  // many went (netlink_neigh_flush.cpp).
  std::size_t flush_unresolved_neighbours(int index, std::string_view label);

 private:
  struct Impl;
  explicit Netlink(std::unique_ptr<Impl> impl);
  void route_message(const RouteRequest& route, bool add);
  std::unique_ptr<Impl> impl_;
};

}  // namespace nslab
