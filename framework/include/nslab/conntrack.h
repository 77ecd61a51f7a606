// A node's connection tracking table, read in-process (libnetfilter_conntrack
// over ctnetlink, on a thread inside the node's namespace), never by parsing
// `conntrack -L`; and what a scenario's `conntrack:` expectation asks of it.
//
// The kernel tracks a namespace's connections only once a rule there needs
// it (NAT, `ct state`, `-m conntrack`): a node without such rules has an
// empty table.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nslab/ip_address.h"
#include "nslab/values.h"

namespace nslab {

class Lab;

// One direction of a connection. ICMP has no ports: its echo id is in
// `sport` (as conntrack -L prints id=), `dport` is 0.
struct ConntrackTuple {
  IpAddress src, dst;
  std::uint16_t sport = 0, dport = 0;
};

struct ConntrackEntry {
  std::uint32_t id = 0;      // the kernel's id of the entry (conntrack -L -o id)
  std::uint8_t l4proto = 0;  // IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, IPPROTO_ICMPV6, ...
  ConntrackTuple original;   // as the first packet came in
  ConntrackTuple reply;      // as the answer is expected, after NAT
  std::string tcp_state;     // "ESTABLISHED", "TIME_WAIT"...; empty for other protocols
  bool seen_reply = false;   // traffic went both ways (not [UNREPLIED])
  bool assured = false;      // [ASSURED]: for TCP, the handshake completed
  std::uint32_t mark = 0;
  std::uint16_t zone = 0;
  std::uint32_t timeout = 0;  // seconds left
  // Packets both ways, when the namespace counts them
  // (net.netfilter.nf_conntrack_acct, on for nodes a scenario's conntrack
  // expectations read).
  std::optional<std::uint64_t> packets;

  std::string_view proto() const noexcept;  // "tcp", "udp", "icmp", "icmpv6", or "" for others
  // SNAT: the reply goes to another address than the original source.
  bool snat() const noexcept { return reply.dst != original.src; }
  // DNAT: the reply comes from another address than the original destination.
  bool dnat() const noexcept { return reply.src != original.dst; }
  // Much as conntrack -L prints it (packets both ways together): "tcp 6 118 TIME_WAIT src=... dst=... sport=...
  // dport=... src=... dst=... sport=... dport=... [ASSURED] mark=0 zone=0".
  std::string str() const;
};

// What a `conntrack:` expectation asks of an entry: every field given must
// hold. `state` is a conntrack word: ESTABLISHED means the connection got
// there (TCP: the handshake completed, the entry is ASSURED, whatever it
// has become since the probe closed it; UDP/ICMP: a reply came back), and
// UNREPLIED that no answer came; any other TCP state word (SYN_SENT,
// TIME_WAIT...) is the entry's state when the table is read.
struct ConntrackMatch {
  std::optional<std::string> state;
  std::optional<Protocol> proto;  // icmp matches ICMP and ICMPv6 entries
  std::optional<IpAddress> src, dst;
  std::optional<std::uint16_t> sport, dport;
  std::optional<std::uint32_t> mark;
  std::optional<std::uint16_t> zone;
  std::optional<IpAddress> nat_src;  // the reply goes to it: SNAT to this address
  std::optional<IpAddress> nat_dst;  // the reply comes from it: DNAT to this address
  // The translated ports (tcp, udp): the reply goes to nat_sport (the source
  // port SNAT/MASQUERADE chose) and comes from nat_dport (the port DNAT sent
  // the connection to: 80 for a forward of 8080 to red:80).
  std::optional<std::uint16_t> nat_sport, nat_dport;

  // The state words `state` may take.
  static const std::vector<std::string>& state_words();
  // What of `e` differs from what is asked ("dst 10.0.0.9, not 10.0.0.2");
  // empty when `e` matches.
  std::vector<std::string> differences(const ConntrackEntry& e) const;
  bool matches(const ConntrackEntry& e) const { return differences(e).empty(); }
  std::string str() const;  // "tcp ESTABLISHED dst=203.0.113.2 dport=80 nat src=203.0.113.1", "any fields"
};

// Every entry of the node's table (IPv4 and IPv6). Throws Error when the
// table cannot be read.
std::vector<ConntrackEntry> conntrack_table(Lab& lab, std::string_view node);

}  // namespace nslab
