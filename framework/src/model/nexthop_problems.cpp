// Nexthop objects against the rest of their node: unique ids, devices that
// exist, gateways on a connected subnet (unless onlink), groups of single
// nexthops of one family, and routes naming an id that exists, of their family.
#include "nexthop_problems.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

namespace nslab::detail {

namespace {

// fe80::/10: on every IPv6 link, whatever its addresses.
bool link_local(const IpAddress& a) {
  return !a.is_v4() && a.data()[0] == 0xfe && (a.data()[1] & 0xc0) == 0x80;
}

void check_node(const Topology& t, const NodeSpec& n, std::vector<ConfigError>& out) {
  const auto ifaces = t.interfaces_of(n.name);
  std::vector<std::string> names{"lo"};
  for (const auto& i : ifaces) names.push_back(i.name);
  auto problem = [&](const std::string& msg, const SourceLocation& w) {
    out.emplace_back(msg, w.known() ? w : n.where);
  };
  std::map<std::uint32_t, const NexthopSpec*> by_id;
  for (const auto& h : n.nexthops) {
    const std::string what = fmt::format("nexthop \"{}\" on node \"{}\"", h.str(), n.name);
    if (auto [it, fresh] = by_id.emplace(h.id, &h); !fresh)
      problem(fmt::format("{}: id {} is taken", what, h.id), h.where);
    if (!h.dev.empty() && std::find(names.begin(), names.end(), h.dev) == names.end()) {
      std::string hint = closest(h.dev, names);
      problem(fmt::format("{}: no interface \"{}\"{}", what, h.dev,
                          hint.empty() ? "" : fmt::format("; did you mean \"{}\"?", hint)),
              h.where);
    } else if (h.via && !h.onlink) {
      bool connected = false, own = false;
      for (const auto& i : ifaces)
        for (const auto& p : i.addresses) {
          connected = connected || (i.name == h.dev && p.contains(*h.via));
          own = own || p.address() == *h.via;
        }
      if (own)
        problem(fmt::format("{}: gateway {} is an address of \"{}\" itself", what, h.via->str(), n.name), h.where);
      else if (!connected && !link_local(*h.via))
        problem(fmt::format("{}: gateway {} is not on a subnet of \"{}\" (or say onlink)", what, h.via->str(), h.dev),
                h.where);
    }
  }
  // Groups: of single nexthops that exist, each once, of one family.
  for (auto& h : n.nexthops) {
    if (!h.is_group()) continue;
    const std::string what = fmt::format("nexthop group {} on node \"{}\"", h.id, n.name);
    std::set<std::uint32_t> seen;
    std::optional<Family> family;
    for (const auto& m : h.group) {
      auto it = by_id.find(m.id);
      if (it == by_id.end()) {
        problem(fmt::format("{}: no nexthop {} in the node", what, m.id), h.where);
        continue;
      }
      if (!seen.insert(m.id).second) problem(fmt::format("{}: member {} is given twice", what, m.id), h.where);
      const NexthopSpec& member = *it->second;
      if (member.is_group())
        problem(fmt::format("{}: member {} is a group itself (the kernel nests no groups)", what, m.id), h.where);
      else if (member.blackhole && h.group.size() > 1)
        problem(fmt::format("{}: blackhole {} can only be a group's one member", what, m.id), h.where);
      else if (family && *family != member.family)
        problem(fmt::format("{}: its members mix IPv4 and IPv6", what), h.where);
      family = member.family;
    }
  }
  for (const auto& r : n.routes) {
    if (!r.nhid) continue;
    const std::string what = fmt::format("route \"{}\" on node \"{}\"", r.str(), n.name);
    auto it = by_id.find(r.nhid);
    if (it == by_id.end()) {
      problem(fmt::format("{}: no nexthop {} in the node (give it under \"nexthops\")", what, r.nhid), r.where);
      continue;
    }
    if (r.type != RouteType::unicast)
      problem(fmt::format("{}: a {} route takes no nexthop", what, to_string(r.type)), r.where);
    // A group has its first member's family.
    const NexthopSpec* h = it->second;
    if (h->is_group())
      if (auto m = by_id.find(h->group.front().id); m != by_id.end()) h = m->second;
    if (!h->blackhole && h->family != r.family)
      problem(fmt::format("{}: nexthop {} is {}, the route {}", what, r.nhid,
                          h->family == Family::ipv4 ? "IPv4" : "IPv6", r.family == Family::ipv4 ? "IPv4" : "IPv6"),
              r.where);
  }
}

}  // namespace

void nexthop_problems(const Topology& t, std::vector<ConfigError>& out) {
  for (const auto& n : t.nodes()) {
    bool uses = !n.nexthops.empty() || std::any_of(n.routes.begin(), n.routes.end(), [](auto& r) { return r.nhid; });
    if (uses) check_node(t, n, out);
  }
}

}  // namespace nslab::detail
