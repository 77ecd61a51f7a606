#include "routing_problems.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>

namespace nslab {

namespace {

bool uses_policy_routing(const NodeSpec& n) {
  if (!n.rules.empty() || !n.tables.empty() || !n.neighbours.empty()) return true;
  return std::any_of(n.routes.begin(), n.routes.end(), [](const RouteSpec& r) {
    return !r.table.empty() || r.src || !r.nexthops.empty() || r.onlink || r.protocol || r.scope ||
           r.type != RouteType::unicast;
  });
}

// Whether any interface of the lab has an IPv6 address: the lab turns IPv6
// off in every node otherwise (Lab), and the kernel then refuses IPv6
// neighbour entries (EINVAL). One pass over the description.
bool lab_has_ipv6(const Topology& t) {
  auto any_v6 = [](const std::vector<Prefix>& addresses) {
    return std::any_of(addresses.begin(), addresses.end(), [](const Prefix& p) { return !p.address().is_v4(); });
  };
  for (const auto& n : t.nodes()) {
    for (const auto& b : n.bridges)
      if (any_v6(b.addresses)) return true;
    for (const auto& i : n.interfaces)
      if (any_v6(i.addresses)) return true;
  }
  for (const auto& l : t.links())
    if (any_v6(l.a.addresses) || any_v6(l.b.addresses)) return true;
  return false;
}

class NodeCheck {
 public:
  NodeCheck(const Topology& t, const NodeSpec& n, std::vector<ConfigError>& out, bool lab_ipv6)
      : n_(n), ifaces_(t.interfaces_of(n.name)), out_(out), lab_ipv6_(lab_ipv6) {
    names_.push_back("lo");
    for (const auto& i : ifaces_) names_.push_back(i.name);
    for (const auto& tb : n.tables) tables_.push_back(tb.name);
  }

  void run() {
    table_problems();
    for (const auto& r : n_.routes) route(r);
    for (const auto& r : n_.rules) rule(r);
    neighbour_problems();
  }

 private:
  SourceLocation at(const SourceLocation& w) const { return w.known() ? w : n_.where; }
  void problem(const std::string& msg, const SourceLocation& w) { out_.emplace_back(printable(msg), at(w)); }

  // Empty when `dev` is an interface of the node, else why not.
  std::optional<std::string> no_interface(const std::string& dev) const {
    if (std::find(names_.begin(), names_.end(), dev) != names_.end()) return std::nullopt;
    std::string hint = closest(dev, names_);
    return fmt::format("no interface \"{}\"{}", dev, hint.empty() ? "" : fmt::format("; did you mean \"{}\"?", hint));
  }
  std::optional<std::string> no_table(const std::string& table) const {
    if (n_.table_id(table)) return std::nullopt;
    auto known = tables_;
    for (const char* b : {"main", "local", "default"}) known.emplace_back(b);
    std::string hint = closest(table, known);
    return fmt::format("no table \"{}\" (name it under \"tables\", or give its number){}", table,
                       hint.empty() ? "" : fmt::format("; did you mean \"{}\"?", hint));
  }
  bool own(const IpAddress& a) const {
    for (const auto& i : ifaces_)
      for (const auto& p : i.addresses)
        if (p.address() == a) return true;
    return false;
  }
  bool connected(const IpAddress& a, const std::string& dev) const {
    for (const auto& i : ifaces_)
      for (const auto& p : i.addresses)
        if (p.contains(a) && (dev.empty() || dev == i.name)) return true;
    return false;
  }

  void table_problems() {
    std::map<std::string, SourceLocation> names;
    std::map<std::uint32_t, std::string> ids;
    for (const auto& tb : n_.tables) {
      std::string what = fmt::format("node \"{}\": table \"{}\"", n_.name, tb.name);
      bool word = !tb.name.empty() && std::isalpha(static_cast<unsigned char>(tb.name[0])) &&
                  std::all_of(tb.name.begin(), tb.name.end(), [](char c) {
                    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
                  });
      if (!word)
        problem(fmt::format("{}: a table name is letters, digits, '-' and '_', starting with a letter", what),
                tb.where);
      else if (builtin_table(tb.name))
        problem(fmt::format("{}: main, local and default are the kernel's own tables", what), tb.where);
      if (tb.id == 0 || tb.id == kTableMain || tb.id == kTableLocal || tb.id == kTableDefault)
        problem(fmt::format("{}: number {} is not free (1 to 4294967295, but not 253, 254 or 255, the kernel's "
                            "default, main and local)",
                            what, tb.id),
                tb.where);
      if (!names.emplace(tb.name, tb.where).second) problem(fmt::format("{} is named twice", what), tb.where);
      if (auto [it, fresh] = ids.emplace(tb.id, tb.name); !fresh && tb.id != 0)
        problem(fmt::format("{}: number {} is table \"{}\" already", what, tb.id, it->second), tb.where);
    }
  }

  void route(const RouteSpec& r) {
    std::string what = fmt::format("route \"{}\" on node \"{}\"", r.str(), n_.name);
    if (!r.table.empty())
      if (auto why = no_table(r.table)) problem(fmt::format("{}: {}", what, *why), r.where);
    if (r.src) {
      if (r.src->family() != r.family)
        problem(fmt::format("{}: source {} is not of the route's family", what, r.src->str()), r.where);
      else if (!own(*r.src))
        problem(fmt::format("{}: source {} is not an address of \"{}\" (the kernel refuses a preferred source "
                            "the node does not have)",
                            what, r.src->str(), n_.name),
                r.where);
    }
    if (r.onlink && (!r.via || r.dev.empty()))
      problem(fmt::format("{}: onlink needs a gateway (via) and a device (dev)", what), r.where);
    if (r.type == RouteType::local && r.dev.empty())
      problem(fmt::format("{}: a local route needs a device (dev lo, or an interface)", what), r.where);
    if (r.type != RouteType::unicast && r.type != RouteType::local && (r.via || !r.dev.empty() || !r.nexthops.empty()))
      problem(fmt::format("{}: a {} route has no gateway or device", what, to_string(r.type)), r.where);
    if (r.nexthops.empty()) return;
    if (r.type != RouteType::unicast) problem(fmt::format("{}: only a unicast route has next hops", what), r.where);
    for (const auto& h : r.nexthops) {
      std::string hop = fmt::format("{}: \"{}\"", what, h.str());
      if (!h.dev.empty() && h.dev != "lo")
        if (auto why = no_interface(h.dev)) problem(fmt::format("{}: {}", hop, *why), r.where);
      if (!h.via) continue;
      if (h.via->family() != r.family)
        problem(fmt::format("{}: the gateway is not of the route's family", hop), r.where);
      else if (own(*h.via))
        problem(fmt::format("{}: gateway {} is an address of \"{}\" itself", hop, h.via->str(), n_.name), r.where);
      else if (!h.onlink && !connected(*h.via, h.dev))
        problem(fmt::format("{}: gateway {} is not on any subnet connected to \"{}\"", hop, h.via->str(), n_.name),
                r.where);
      if (h.onlink && h.dev.empty()) problem(fmt::format("{}: onlink needs a device (dev)", hop), r.where);
    }
  }

  void rule(const RuleSpec& r) {
    std::string what = fmt::format("rule \"{}\" on node \"{}\"", r.str(), n_.name);
    for (const auto* dev : {&r.iif, &r.oif})
      if (!dev->empty())
        if (auto why = no_interface(*dev)) problem(fmt::format("{}: {}", what, *why), r.where);
    if (r.action == RuleSpec::Action::lookup)
      if (auto why = no_table(r.table)) problem(fmt::format("{}: {}", what, *why), r.where);
    if (r.fwmask && !r.fwmark) problem(fmt::format("{}: a fwmark mask needs a fwmark", what), r.where);
  }

  void neighbour_problems() {
    std::set<std::pair<std::string, IpAddress>> seen;
    for (const auto& e : n_.neighbours) {
      std::string what = fmt::format("neighbour \"{}\" on node \"{}\"", e.str(), n_.name);
      if (e.dev == "lo")
        problem(fmt::format("{}: lo has no neighbours", what), e.where);
      else if (auto why = no_interface(e.dev))
        problem(fmt::format("{}: {}", what, *why), e.where);
      if (auto why = interface_address_problem(Prefix(e.address, e.address.is_v4() ? 32 : 128)))
        problem(fmt::format("{}: {} {}", what, e.address.str(), *why), e.where);
      else if (own(e.address))
        problem(fmt::format("{}: {} is an address of \"{}\" itself", what, e.address.str(), n_.name), e.where);
      if (!e.address.is_v4() && !lab_ipv6_)
        problem(fmt::format("{}: an IPv6 neighbour in a lab without IPv6 addresses (IPv6 is off in its nodes then); "
                            "give an interface of the lab an IPv6 address",
                            what),
                e.where);
      if (e.lladdr[0] & 1)
        problem(fmt::format("{}: {} is a multicast MAC address", what, to_string(e.lladdr)), e.where);
      if (!seen.emplace(e.dev, e.address).second)
        problem(fmt::format("{}: {} on {} is given twice", what, e.address.str(), e.dev), e.where);
    }
  }

  const NodeSpec& n_;
  std::vector<Topology::InterfaceSpec> ifaces_;
  std::vector<std::string> names_, tables_;
  std::vector<ConfigError>& out_;
  bool lab_ipv6_;
};

}  // namespace

std::set<std::pair<std::string, IpAddress>> shared_addresses(const Topology& t) {
  std::set<std::pair<std::string, IpAddress>> out;
  for (const auto& l : t.links())
    for (const auto* e : {&l.a, &l.b})
      for (const auto& o : e->address_options)
        if (o.shared) out.emplace(e->node, o.prefix.address());
  return out;
}

void routing_problems(const Topology& t, std::vector<ConfigError>& out) {
  std::optional<bool> ipv6;  // asked once, and only when some node needs it
  for (const auto& n : t.nodes())
    if (uses_policy_routing(n)) {
      if (!ipv6) ipv6 = lab_has_ipv6(t);
      NodeCheck(t, n, out, *ipv6).run();
    }
}

}  // namespace nslab
