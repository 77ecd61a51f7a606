// The scenario loader's conntrack expectations:
//   conntrack: { node: fw, during: { from: lan, to: wan, tcp: 80 },
//                expect: { state: ESTABLISHED, proto: tcp, dst: 203.0.113.2, dport: 80,
//                          nat: { src: 203.0.113.1 } } }
//   conntrack: { node: fw, during: {...}, expect: {...}, absent: true }   # or count: 0
// After the `during` probe ran, the entries it made in the node's table
// must match every field given (see nslab/conntrack.h for what they mean).
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <fmt/format.h>

#include "scenario_loader.h"

namespace nslab {

std::string ConntrackExpectation::str() const {
  std::string what = count.op == CountSpec::Op::eq && count.value == 0   ? std::string("no entry")
                     : count.op == CountSpec::Op::ge && count.value == 1 ? std::string("an entry")
                                                                         : fmt::format("{} entries", count.str());
  return fmt::format("conntrack on {} during {}: {} with {}", node, during.str(), what, expect.str());
}

namespace detail {

namespace {
const char* kShape =
    "conntrack: { node: fw, during: { from: lan, to: wan, tcp: 80 }, expect: { state: ESTABLISHED, "
    "nat: { src: 203.0.113.1 } } }";
}  // namespace

void Loader::conntrack(const YAML::Node& c) {
  if (!r_.keys(c, {"node", "during", "expect", "count", "absent"}, "a conntrack expectation")) return;
  ConntrackExpectation e;
  e.where = r_.at(c);
  for (const char* k : {"node", "during", "expect"})
    if (!c[k]) {
      r_.error(c, fmt::format("a conntrack expectation needs \"{}\": {}", k, kShape));
      return;
    }
  e.node = r_.scalar(c["node"], "node").value_or("");
  if (e.node.empty() || !check_node(c["node"], e.node, "a conntrack expectation's node")) return;

  auto during = c["during"];
  if (!r_.keys(during, {"from", "to", "icmp", "tcp", "udp", "family", "source", "sport"}, "a conntrack's probe"))
    return;
  auto probe = probe_of(during, "a probe");
  if (!probe) return;
  e.during = std::move(*probe);
  const Protocol proto = e.during.protocol;

  e.count = count_of(c, "count");
  if (auto a = c["absent"]) {
    if (c["count"]) r_.error(a, "give absent: true or a count, not both (absent: true is count: 0)");
    if (auto b = r_.boolean(a, "absent")) {
      if (*b) e.count = CountSpec{CountSpec::Op::eq, 0};
    }
  }

  auto x = c["expect"];
  if (!r_.keys(x, {"state", "proto", "src", "dst", "sport", "dport", "mark", "zone", "nat"},
               "a conntrack expectation's expect"))
    return;
  ConntrackMatch& m = e.expect;
  // The family the probe runs over, as the probe engine picks it: given,
  // fixed by a source or target address, else IPv4 where the target has it.
  std::optional<Family> family = e.during.family;
  if (!family && e.during.source) family = e.during.source->family();
  if (!family)
    if (auto a = IpAddress::parse(e.during.from)) family = a->family();
  if (!family)
    if (auto a = IpAddress::parse(e.during.to)) family = a->family();
  if (!family && !addresses_of(e.during.to, std::nullopt).empty())
    family = addresses_of(e.during.to, Family::ipv4).empty() ? Family::ipv6 : Family::ipv4;
  std::optional<std::string> family_from;
  if (family) family_from = "the probe runs over";
  auto address = [&](const YAML::Node& n, const char* what, std::optional<IpAddress>& slot) {
    auto v = r_.scalar(n, what).value_or("");
    slot = IpAddress::parse(v);
    if (!slot) {
      r_.error(n, fmt::format("{} \"{}\" is not an IP address", what, v));
      return;
    }
    if (family && *family != slot->family()) {
      r_.error(n, fmt::format("{} {} is an {} address, but {} {}: one conntrack entry has one family", what, v,
                              to_string(slot->family()), family_from.value_or(""), to_string(*family)));
      slot.reset();
      return;
    }
    family = slot->family();
    if (!family_from) family_from = fmt::format("{} is", what);
  };
  if (auto s = x["state"]) {
    auto v = r_.scalar(s, "state").value_or("");
    std::string up = v;
    std::transform(up.begin(), up.end(), up.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::toupper(ch)); });
    const auto& words = ConntrackMatch::state_words();
    if (std::find(words.begin(), words.end(), up) == words.end()) {
      std::string hint = closest(up, words);
      r_.error(s, fmt::format("state \"{}\" is not a conntrack state ({}){}", v, fmt::join(words, ", "),
                              hint.empty() ? "" : fmt::format("; did you mean \"{}\"?", hint)));
    } else if (up != "ESTABLISHED" && up != "UNREPLIED" && proto != Protocol::tcp) {
      r_.error(s, fmt::format("state {} is a TCP state, and the probe is {} (its entries have ESTABLISHED or "
                              "UNREPLIED)",
                              up, to_string(proto)));
    } else {
      m.state = up;
    }
  }
  if (auto p = x["proto"]) {
    auto v = r_.scalar(p, "proto").value_or("");
    if (auto pr = parse_protocol(v)) {
      if (*pr != proto)
        r_.error(p, fmt::format("proto {} cannot match: the probe during it is {}, and so are the entries it makes", v,
                                to_string(proto)));
      else
        m.proto = pr;
    } else {
      r_.error(p, fmt::format("proto \"{}\" is not tcp, udp or icmp", v));
    }
  }
  if (auto a = x["src"]) address(a, "src", m.src);
  if (auto a = x["dst"]) address(a, "dst", m.dst);
  for (const auto& [key, slot] : {std::pair{"sport", &m.sport}, std::pair{"dport", &m.dport}})
    if (auto n = x[key]) {
      if (proto == Protocol::icmp) {
        r_.error(n, fmt::format("{}: an icmp entry has no ports", key));
        continue;
      }
      if (auto v = r_.integer(n, key, 1, 65535)) *slot = static_cast<std::uint16_t>(*v);
    }
  if (auto n = x["mark"])
    if (auto v = r_.integer(n, "mark", 0, 4294967295L)) m.mark = static_cast<std::uint32_t>(*v);
  if (auto n = x["zone"])
    if (auto v = r_.integer(n, "zone", 0, 65535)) m.zone = static_cast<std::uint16_t>(*v);
  if (auto nat = x["nat"]) {
    if (r_.keys(nat, {"src", "dst", "sport", "dport"}, "nat (the address and port a connection was translated to)")) {
      if (!nat["src"] && !nat["dst"] && !nat["sport"] && !nat["dport"])
        r_.error(nat,
                 "nat needs src or sport (SNAT/MASQUERADE to that address or port), or dst or dport (DNAT to "
                 "that address or port)");
      if (auto a = nat["src"]) address(a, "nat src", m.nat_src);
      if (auto a = nat["dst"]) address(a, "nat dst", m.nat_dst);
      for (const auto& [key, slot] : {std::pair{"sport", &m.nat_sport}, std::pair{"dport", &m.nat_dport}})
        if (auto n = nat[key]) {
          if (proto == Protocol::icmp) {
            r_.error(n, fmt::format("nat {}: an icmp entry has no ports", key));
            continue;
          }
          if (auto v = r_.integer(n, fmt::format("nat {}", key), 1, 65535)) *slot = static_cast<std::uint16_t>(*v);
        }
    }
  }
  const NodeSpec* node = s_.topology.find_node(e.node);
  if (node && node->iptables.empty() && node->ip6tables.empty() && node->nftables.empty() && node->run.empty())
    s_.warnings.push_back(fmt::format(
        "{}: warning: node \"{}\" loads no firewall rules: the kernel tracks its connections only once a rule "
        "there uses conntrack (NAT, ct state), so its table stays empty",
        r_.at(c["node"]).str(), e.node));
  s_.expectations.push_back(std::move(e));
}

}  // namespace detail
}  // namespace nslab
