#include "policy_routing.h"

#include <linux/fib_rules.h>

#include "nslab/error.h"

namespace nslab {

RouteRequest route_request(const NodeSpec& node, const RouteSpec& r, const IndexOf& index_of) {
  auto oif = [&](const std::string& dev) { return dev.empty() ? 0 : (dev == "lo" ? 1 : index_of(dev)); };
  RouteRequest req;
  req.family = r.family;
  req.destination = r.to;
  req.gateway = r.via;
  req.oif = oif(r.dev);
  req.metric = r.metric;
  req.type = r.type;
  req.label = node.name + ": " + r.str();
  // As `ip route` does: a local route goes to the local table unless told.
  if (r.table.empty() && r.type == RouteType::local)
    req.table = kTableLocal;
  else
    req.table = node.table_id(r.table).value_or(kTableMain);  // validated: it resolves
  req.src = r.src;
  req.onlink = r.onlink;
  if (r.protocol) req.protocol = *r.protocol;
  req.scope = r.scope;
  for (const auto& h : r.nexthops) req.nexthops.push_back({h.via, oif(h.dev), h.weight, h.onlink});
  req.nhid = r.nhid;
  return req;
}

AddressOptionsMap address_options(const Topology& t) {
  AddressOptionsMap out;
  for (const auto& l : t.links())
    for (const auto* e : {&l.a, &l.b})
      if (!e->address_options.empty()) out[e->label()] = e->address_options;
  return out;
}

const AddressOptions* find_options(const AddressOptionsMap& all, const std::string& label, const Prefix& p) {
  if (all.empty()) return nullptr;
  auto it = all.find(label);
  if (it == all.end()) return nullptr;
  for (const auto& o : it->second)
    if (o.prefix == p) return &o;
  return nullptr;
}

void add_nexthops(Netlink& nl, const NodeSpec& node, const IndexOf& index_of) {
  // Single nexthops before the groups made of them.
  for (bool groups : {false, true})
    for (const auto& h : node.nexthops) {
      if (h.is_group() != groups) continue;
      NexthopRequest req;
      req.id = h.id;
      req.family = h.family;
      req.gateway = h.via;
      req.oif = h.dev.empty() ? 0 : (h.dev == "lo" ? 1 : index_of(h.dev));
      req.onlink = h.onlink;
      req.blackhole = h.blackhole;
      for (const auto& m : h.group) req.group.emplace_back(m.id, m.weight);
      req.label = node.name + ": " + h.str();
      try {
        nl.add_nexthop(req);
      } catch (const NetlinkError& e) {
        if (h.where.known()) throw ConfigError(e.what(), h.where);
        throw;
      }
    }
}

RuleRequest rule_request(const NodeSpec& node, const RuleSpec& r) {
  RuleRequest req;
  req.family = r.family;
  req.invert = r.invert;
  req.from = r.from;
  req.to = r.to;
  req.fwmark = r.fwmark;
  req.fwmask = r.fwmask;
  req.priority = r.priority;
  req.iif = r.iif;
  req.oif = r.oif;
  switch (r.action) {
    case RuleSpec::Action::lookup: req.action = FR_ACT_TO_TBL; break;
    case RuleSpec::Action::blackhole: req.action = FR_ACT_BLACKHOLE; break;
    case RuleSpec::Action::unreachable: req.action = FR_ACT_UNREACHABLE; break;
    case RuleSpec::Action::prohibit: req.action = FR_ACT_PROHIBIT; break;
  }
  if (r.action == RuleSpec::Action::lookup) req.table = node.table_id(r.table).value_or(kTableMain);
  req.label = node.name + ": " + r.str();
  return req;
}

void add_rules(Netlink& nl, const NodeSpec& node) {
  for (const auto& r : node.rules) {
    RuleRequest req = rule_request(node, r);
    try {
      nl.add_rule(req);
    } catch (const NetlinkError& e) {
      if (r.where.known()) throw ConfigError(e.what(), r.where);
      throw;
    }
  }
}

void add_node_neighbours(Netlink& nl, const NodeSpec& node) {
  if (node.neighbours.empty()) return;
  std::vector<Neighbour> entries;
  entries.reserve(node.neighbours.size());
  for (const auto& e : node.neighbours) entries.push_back(Neighbour{nl.link(e.dev).index, e.address, e.lladdr, false});
  nl.add_neighbours(entries);
}

}  // namespace nslab
