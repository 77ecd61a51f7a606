// Conntrack entries as conntrack -L prints them, and what an expectation
// asks of one (see nslab/conntrack.h). No kernel here: matching is plain
// data, so unit tests need no privilege.
#include "nslab/conntrack.h"

#include <algorithm>
#include <fmt/format.h>

namespace nslab {

namespace {

constexpr std::uint8_t kTcp = 6, kUdp = 17, kIcmp = 1, kIcmpv6 = 58;

bool is_icmp(std::uint8_t p) {
  return p == kIcmp || p == kIcmpv6;
}

std::string tuple_text(std::uint8_t l4, const ConntrackTuple& t) {
  std::string s = fmt::format("src={} dst={}", t.src.str(), t.dst.str());
  if (is_icmp(l4))
    s += fmt::format(" id={}", t.sport);
  else if (l4 == kTcp || l4 == kUdp)
    s += fmt::format(" sport={} dport={}", t.sport, t.dport);
  return s;
}

}  // namespace

std::string_view ConntrackEntry::proto() const noexcept {
  switch (l4proto) {
    case kTcp: return "tcp";
    case kUdp: return "udp";
    case kIcmp: return "icmp";
    case kIcmpv6: return "icmpv6";
    default: return "";
  }
}

std::string ConntrackEntry::str() const {
  std::string name(proto());
  std::string s = fmt::format("{} {} {}", name.empty() ? "unknown" : name, l4proto, timeout);
  if (!tcp_state.empty()) s += " " + tcp_state;
  s += " " + tuple_text(l4proto, original);
  if (!seen_reply) s += " [UNREPLIED]";
  s += " " + tuple_text(l4proto, reply);
  if (assured) s += " [ASSURED]";
  if (packets) s += fmt::format(" packets={}", *packets);
  s += fmt::format(" mark={} zone={}", mark, zone);
  return s;
}

const std::vector<std::string>& ConntrackMatch::state_words() {
  static const std::vector<std::string> words{"ESTABLISHED", "UNREPLIED", "SYN_SENT",  "SYN_RECV", "FIN_WAIT",
                                              "CLOSE_WAIT",  "LAST_ACK",  "TIME_WAIT", "CLOSE"};
  return words;
}

std::vector<std::string> ConntrackMatch::differences(const ConntrackEntry& e) const {
  std::vector<std::string> out;
  if (proto) {
    bool same = *proto == Protocol::icmp ? is_icmp(e.l4proto) : e.l4proto == (*proto == Protocol::tcp ? kTcp : kUdp);
    if (!same)
      out.push_back(fmt::format("proto {}, not {}", e.proto().empty() ? "other" : e.proto(), to_string(*proto)));
  }
  auto address = [&](const char* what, const std::optional<IpAddress>& want, const IpAddress& have) {
    if (want && *want != have) out.push_back(fmt::format("{} {}, not {}", what, have.str(), want->str()));
  };
  auto port = [&](const char* what, const std::optional<std::uint16_t>& want, std::uint16_t have) {
    if (want && *want != have) out.push_back(fmt::format("{} {}, not {}", what, have, *want));
  };
  address("src", src, e.original.src);
  address("dst", dst, e.original.dst);
  port("sport", sport, is_icmp(e.l4proto) ? std::uint16_t{0} : e.original.sport);
  port("dport", dport, e.original.dport);
  if (nat_src) {
    if (!e.snat())
      out.push_back(fmt::format("no source NAT (replies go to {}), not nat src {}", e.reply.dst.str(), nat_src->str()));
    else
      address("nat src", nat_src, e.reply.dst);
  }
  if (nat_dst) {
    if (!e.dnat())
      out.push_back(
          fmt::format("no destination NAT (replies come from {}), not nat dst {}", e.reply.src.str(), nat_dst->str()));
    else
      address("nat dst", nat_dst, e.reply.src);
  }
  port("nat sport", nat_sport, e.reply.dport);
  port("nat dport", nat_dport, e.reply.sport);
  if (mark && *mark != e.mark) out.push_back(fmt::format("mark {}, not {}", e.mark, *mark));
  if (zone && *zone != e.zone) out.push_back(fmt::format("zone {}, not {}", e.zone, *zone));
  if (state) {
    std::string have = !e.tcp_state.empty() ? e.tcp_state : e.seen_reply ? "ESTABLISHED" : "UNREPLIED";
    bool ok = false;
    if (*state == "ESTABLISHED")
      ok = e.l4proto == kTcp ? e.assured : e.seen_reply;
    else if (*state == "UNREPLIED")
      ok = !e.seen_reply;
    else
      ok = e.tcp_state == *state;
    if (!ok) {
      std::string shown = have;
      if (e.l4proto == kTcp && *state == "ESTABLISHED" && !e.assured) shown += " (never ESTABLISHED: not ASSURED)";
      out.push_back(fmt::format("state {}, not {}", shown, *state));
    }
  }
  return out;
}

std::string ConntrackMatch::str() const {
  std::vector<std::string> parts;
  if (proto) parts.emplace_back(to_string(*proto));
  if (state) parts.push_back(*state);
  if (src) parts.push_back("src=" + src->str());
  if (dst) parts.push_back("dst=" + dst->str());
  if (sport) parts.push_back(fmt::format("sport={}", *sport));
  if (dport) parts.push_back(fmt::format("dport={}", *dport));
  if (nat_src) parts.push_back("nat src=" + nat_src->str());
  if (nat_dst) parts.push_back("nat dst=" + nat_dst->str());
  if (nat_sport) parts.push_back(fmt::format("nat sport={}", *nat_sport));
  if (nat_dport) parts.push_back(fmt::format("nat dport={}", *nat_dport));
  if (mark) parts.push_back(fmt::format("mark={}", *mark));
  if (zone) parts.push_back(fmt::format("zone={}", *zone));
  return parts.empty() ? std::string("any fields") : fmt::format("{}", fmt::join(parts, " "));
}

}  // namespace nslab
