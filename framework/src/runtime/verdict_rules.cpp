#include "verdict_rules.h"

#include <linux/icmp.h>
#include <netinet/icmp6.h>

#include <cerrno>
#include <fmt/format.h>
#include <string>

namespace nslab::detail {

std::optional<int> icmp_errno(Family family, int type, int code) noexcept {
  if (family == Family::ipv4) {
    switch (type) {
      case ICMP_DEST_UNREACH: {
        // The kernel's icmp_err_convert, code by code.
        static constexpr int table[] = {
            ENETUNREACH,   // 0 net unreachable
            EHOSTUNREACH,  // 1 host unreachable
            ENOPROTOOPT,   // 2 protocol unreachable
            ECONNREFUSED,  // 3 port unreachable
            EMSGSIZE,      // 4 fragmentation needed
            EOPNOTSUPP,    // 5 source route failed
            ENETUNREACH,   // 6 net unknown
            EHOSTDOWN,     // 7 host unknown
            ENONET,        // 8 source host isolated
            ENETUNREACH,   // 9 net administratively prohibited
            EHOSTUNREACH,  // 10 host administratively prohibited
            ENETUNREACH,   // 11 net unreachable for TOS
            EHOSTUNREACH,  // 12 host unreachable for TOS
            EHOSTUNREACH,  // 13 communication administratively prohibited
            EHOSTUNREACH,  // 14 host precedence violation
            EHOSTUNREACH,  // 15 precedence cutoff
        };
        if (code >= 0 && code < static_cast<int>(std::size(table))) return table[code];
        return EHOSTUNREACH;
      }
      case ICMP_TIME_EXCEEDED: return EHOSTUNREACH;
      case ICMP_PARAMETERPROB: return EPROTO;
      default: return std::nullopt;  // source quench, redirect, echo, ...: ignored
    }
  }
  switch (type) {
    case ICMP6_DST_UNREACH: {
      static constexpr int table[] = {
          ENETUNREACH,   // 0 no route to destination
          EACCES,        // 1 administratively prohibited
          EHOSTUNREACH,  // 2 beyond scope of source address
          EHOSTUNREACH,  // 3 address unreachable
          ECONNREFUSED,  // 4 port unreachable
          EACCES,        // 5 source address failed ingress/egress policy
          EACCES,        // 6 reject route to destination
      };
      if (code >= 0 && code < static_cast<int>(std::size(table))) return table[code];
      return EPROTO;
    }
    case ICMP6_PACKET_TOO_BIG: return EMSGSIZE;
    case ICMP6_TIME_EXCEEDED: return EHOSTUNREACH;
    case ICMP6_PARAM_PROB: return EPROTO;
    default: return std::nullopt;
  }
}

std::optional<Verdict> verdict_of_network_errno(int err) noexcept {
  switch (err) {
    case ECONNREFUSED:  // TCP reset, ICMP port unreachable
    case ENOPROTOOPT:   // ICMP protocol unreachable: the host takes no such protocol
      return Verdict::refused;
    case ENETUNREACH:
    case EHOSTUNREACH:
    case EACCES:  // ICMPv6 administratively prohibited, policy, reject route
    case EHOSTDOWN:
    case ENONET:
    case EOPNOTSUPP:  // source route failed
    case EMSGSIZE:    // too big for the path, and not to be fragmented
    case EPROTO:      // parameter problem
      return Verdict::unreachable;
    default: return std::nullopt;
  }
}

std::optional<Verdict> verdict_of_local_errno(int err) noexcept {
  switch (err) {
    case ECONNREFUSED:  // a reset from a local peer, or the source's own REJECT
    case ECONNRESET: return Verdict::refused;
    case ENETUNREACH:   // no route at the source
    case EHOSTUNREACH:  // an unreachable route at the source, or no neighbour
    case EACCES:        // a prohibit route at the source
    case ENETDOWN: return Verdict::unreachable;
    case EINVAL:  // a blackhole route (or rule) at the source: silence
    case EPERM:   // the source's own OUTPUT rules dropped it: silence
    case ETIMEDOUT: return Verdict::blocked;
    default: return verdict_of_network_errno(err);
  }
}

std::string_view local_cause(int err) noexcept {
  switch (err) {
    case EINVAL: return "a blackhole route at the source";
    case EPERM: return "dropped by the source's own OUTPUT rules";
    case EACCES: return "a prohibit route at the source, or a broadcast destination (sending there needs SO_BROADCAST)";
    case ENETUNREACH: return "no route at the source";
    case EMSGSIZE: return "larger than the MTU toward the target, and df forbids fragmenting";
    default: return {};
  }
}

std::string icmp_name(Family family, int type, int code) {
  if (family == Family::ipv4) {
    if (type == ICMP_DEST_UNREACH) {
      static constexpr const char* names[] = {"net unreachable",
                                              "host unreachable",
                                              "protocol unreachable",
                                              "port unreachable",
                                              "fragmentation needed",
                                              "source route failed",
                                              "net unknown",
                                              "host unknown",
                                              "source host isolated",
                                              "net prohibited",
                                              "host prohibited",
                                              "net unreachable for TOS",
                                              "host unreachable for TOS",
                                              "administratively prohibited",
                                              "host precedence violation",
                                              "precedence cutoff"};
      if (code >= 0 && code < 16) return fmt::format("ICMP {}", names[code]);
    }
    if (type == ICMP_TIME_EXCEEDED) return "ICMP time exceeded";
    if (type == ICMP_PARAMETERPROB) return "ICMP parameter problem";
    return fmt::format("ICMP type {} code {}", type, code);
  }
  if (type == ICMP6_DST_UNREACH) {
    static constexpr const char* names[] = {
        "no route",         "administratively prohibited",  "beyond scope", "address unreachable",
        "port unreachable", "source address failed policy", "reject route"};
    if (code >= 0 && code < 7) return fmt::format("ICMPv6 {}", names[code]);
  }
  if (type == ICMP6_PACKET_TOO_BIG) return "ICMPv6 packet too big";
  if (type == ICMP6_TIME_EXCEEDED) return "ICMPv6 time exceeded";
  if (type == ICMP6_PARAM_PROB) return "ICMPv6 parameter problem";
  return fmt::format("ICMPv6 type {} code {}", type, code);
}

}  // namespace nslab::detail
