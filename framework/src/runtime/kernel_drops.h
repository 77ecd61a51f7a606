// The kernel's own drop counters, per node: what an explanation says when no
// firewall rule decided a probe. Each node's IP MIB (/proc/net/snmp,
// netstat, snmp6: per network namespace) counts the packets it dropped for
// want of a route (IpExt InNoRoutes, Ip6InNoRoutes; Ip OutNoRoutes when it
// sent them), for an address it could not deliver to, forwarding off among
// them (Ip InAddrErrors, Ip6InAddrErrors), and by reverse-path filtering
// (TcpExt IPReversePathFilter). A counter that moved while a probe ran alone
// names a node; its settings and routes then say why.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "nslab/ip_address.h"
#include "nslab/lab.h"
#include "nslab/probe.h"

namespace nslab::detail {

struct DropCounters {
  std::map<std::string, std::uint64_t> mib;         // "IpExt:InNoRoutes" -> 3
  std::map<std::string, std::uint64_t> rx_packets;  // interface -> packets received
};
using DropSnapshot = std::map<std::string, DropCounters>;  // node -> its counters

// Every node's counters now (a thread in each node reads its own procfs view).
DropSnapshot read_drop_counters(Lab& lab);

// What the counters that moved from `before` to `after` say, one line per
// node and cause: "dropped by rp_filter on fw:wan0 (net.ipv4.conf.wan0.rp_filter = 1)",
// "no route on r2 for 10.9.0.5", "not forwarded by r1: net.ipv4.ip_forward = 0".
// `probe` and its `target` name the addresses a route lookup is tried for.
std::vector<std::string> kernel_drops(Lab& lab, const DropSnapshot& before, const DropSnapshot& after,
                                      const Probe& probe, const IpAddress& target);

// The MIB text of one procfs file parsed into "Section:Name" -> value (the
// two-line "Ip: A B\nIp: 1 2" form of snmp/netstat, and snmp6's
// "Ip6InNoRoutes 0" lines, as "Ip6:InNoRoutes"). Pure; unit-tested.
std::map<std::string, std::uint64_t> parse_mib(const std::string& text);

}  // namespace nslab::detail
