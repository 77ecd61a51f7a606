// Changing a running lab: the actions a scenario's steps take (nslab/step.h),
// as Lab and Node calls, each confirmed by the kernel before it returns.
#include <nftables/libnftables.h>
#include <poll.h>

#include <chrono>
#include <fmt/format.h>
#include <map>
#include <memory>
#include <sstream>

#include "firewall.h"
#include "lab_build.h"
#include "link_impairment.h"
#include "link_watch.h"
#include "node_internals.h"
#include "nslab/error.h"
#include "nslab/lab.h"
#include "nslab/scenario_run.h"
#include "nslab/step.h"
#include "policy_routing.h"
#include "step_wait.h"

namespace nslab {

namespace {

using Clock = std::chrono::steady_clock;

// One interface whose state a link change must reach.
struct End {
  Node* node;
  std::string interface;
  bool peer = false;  // the far end: it follows only when itself set up
};

std::pair<std::string, std::string> split_label(std::string_view label) {
  auto colon = label.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == label.size())
    throw ConfigError(fmt::format("\"{}\" is not node:interface", label));
  return {std::string(label.substr(0, colon)), std::string(label.substr(colon + 1))};
}

}  // namespace

void Lab::set_link_up(std::string_view label, bool up) {
  auto [node_name, iface] = split_label(label);
  Node& self = node(node_name);
  std::vector<End> ends{{&self, iface, false}};
  for (const auto& l : topology_.links())
    for (const auto& [mine, other] : {std::pair{&l.a, &l.b}, std::pair{&l.b, &l.a}})
      if (mine->node == node_name && mine->interface == iface) {
        ends.push_back({&node(other->node), other->interface, true});
        if (!other->bridge.empty() && up) ends.push_back({&node(other->node), other->bridge, true});
      }
  // Subscribed before the change and read after it: no announcement is
  // missed, and a dump after each wake-up sees the state as it is.
  std::vector<LinkWatch> watches;
  std::map<const Node*, std::size_t> watch_of;
  for (const auto& e : ends)
    if (watch_of.emplace(e.node, watches.size()).second)
      watches.push_back(LinkWatch::open(e.node->netns().fd(), e.node->name()));
  auto info = [&](const End& e) {
    auto li = NodeInternals::netlink(*e.node).find_link(e.interface);
    if (!li) throw NetlinkError(fmt::format("no link \"{}:{}\"", e.node->name(), e.interface), ENODEV);
    return *li;
  };
  const LinkInfo before = info(ends.front());
  NodeInternals::netlink(self).set_up(before.index, up, label);
  // Up: this end is up and, where its peer is up too (a step may have set
  // it down), both have carrier, a qdisc and operstate up (the peer's bridge
  // operstate up). Down: neither end has operstate up, the peer no carrier.
  auto settled = [&] {
    const LinkInfo mine = info(ends.front());
    if (!up) {
      if (mine.admin_up || mine.oper_up) return false;
      for (std::size_t k = 1; k < ends.size(); ++k) {
        LinkInfo li = info(ends[k]);
        if (li.oper_up || li.carrier) return false;
      }
      return true;
    }
    if (!mine.admin_up) return false;
    if (ends.size() == 1) return !mine.carrier || (mine.ready() && mine.oper_up);
    const LinkInfo peer = info(ends[1]);
    if (!peer.admin_up) return true;  // no carrier until the peer comes up
    if (!(mine.ready() && mine.oper_up && peer.ready() && peer.oper_up)) return false;
    for (std::size_t k = 2; k < ends.size(); ++k)
      if (!info(ends[k]).oper_up) return false;
    return true;
  };
  const auto deadline = Clock::now() + options_.link_up_timeout;
  while (!settled()) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0)
      throw TimeoutError(fmt::format("link \"{}\" not {} after {} ms (the kernel did not confirm it)", label,
                                     up ? "up" : "down", options_.link_up_timeout.count()));
    std::vector<pollfd> fds;
    fds.reserve(watches.size());
    for (const auto& w : watches) fds.push_back({w.fd(), POLLIN, 0});
    ::poll(fds.data(), fds.size(), static_cast<int>(std::min<long long>(left.count(), 100)));
    for (auto& w : watches) {
      bool overflowed = false;
      (void)w.read(overflowed);  // news only wakes us: settled() dumps the state
    }
  }
  // As at build (Lab::wait_links_up): the kernel's link watcher activates
  // the queues after setting operstate, under the RTNL lock; a request that
  // takes the lock returns after it.
  if (up) NodeInternals::netlink(self).set_up(1, true, node_name + ":lo");
  // A probe sent while the link was down left its neighbour entry
  // INCOMPLETE (or FAILED) at the sending end: the kernel sends the next
  // solicitation only at its retransmit tick, up to retrans_time_ms (1 s)
  // after the link is back. Deleted at both ends, the next packet resolves
  // at once.
  if (up)
    for (const auto& e : ends)
      NodeInternals::netlink(*e.node).flush_unresolved_neighbours(info(e).index, e.node->name() + ":" + e.interface);
}

namespace {

// A route of a node as netlink takes it, its devices looked up in the node.
RouteRequest route_in(Lab& lab, std::string_view node_name, const RouteSpec& route) {
  const NodeSpec* spec = lab.topology().find_node(node_name);
  if (!spec) throw ConfigError(fmt::format("no node \"{}\"", node_name));
  Node& n = lab.node(node_name);
  IndexOf index_of = [&](const std::string& dev) {
    auto li = NodeInternals::netlink(n).find_link(dev);
    if (!li) throw NetlinkError(fmt::format("no link \"{}:{}\"", node_name, dev), ENODEV);
    return li->index;
  };
  return route_request(*spec, route, index_of);
}

}  // namespace

void Lab::add_route(std::string_view node_name, const RouteSpec& route) {
  auto request = route_in(*this, node_name, route);
  NodeInternals::netlink(node(node_name)).add_route(request);
}

void Lab::add_rule(std::string_view node_name, const RuleSpec& rule) {
  const NodeSpec* spec = topology().find_node(node_name);
  if (!spec) throw ConfigError(fmt::format("no node \"{}\"", node_name));
  NodeInternals::netlink(node(node_name)).add_rule(rule_request(*spec, rule));
}

void Lab::delete_rule(std::string_view node_name, const RuleSpec& rule) {
  const NodeSpec* spec = topology().find_node(node_name);
  if (!spec) throw ConfigError(fmt::format("no node \"{}\"", node_name));
  NodeInternals::netlink(node(node_name)).delete_rule(rule_request(*spec, rule));
}

void Lab::delete_route(std::string_view node_name, const RouteSpec& route) {
  auto request = route_in(*this, node_name, route);
  NodeInternals::netlink(node(node_name)).delete_route(request);
}

// Every table but nslab's own loss tables (link_impairment.h), which a
// link's `loss:` needs on a kernel without netem, deleted in one transaction.
void Node::flush_rules() const {
  const std::string own = loss_table_name("");
  std::string listed = run([&] {
    std::unique_ptr<nft_ctx, void (*)(nft_ctx*)> ctx(nft_ctx_new(NFT_CTX_DEFAULT), nft_ctx_free);
    if (!ctx) throw SystemError(fmt::format("node \"{}\": cannot make an nftables context", name_), ENOMEM);
    nft_ctx_buffer_output(ctx.get());
    nft_ctx_buffer_error(ctx.get());
    if (nft_run_cmd_from_buffer(ctx.get(), "list tables") != 0)
      throw Error(
          fmt::format("node \"{}\": cannot list its nftables tables: {}", name_, nft_ctx_get_error_buffer(ctx.get())));
    return std::string(nft_ctx_get_output_buffer(ctx.get()));
  });
  std::string batch;
  std::istringstream lines(listed);
  for (std::string word, family, table; lines >> word >> family >> table;)
    if (word == "table" && table.rfind(own, 0) != 0) batch += fmt::format("delete table {} {}\n", family, table);
  if (!batch.empty()) apply_nftables(*this, batch);
}

void Node::replace_rules(const FirewallRules& rules) const {
  flush_rules();
  if (!rules.nftables.empty())
    apply_nftables(*this, rules.nftables.text, rules.nftables.where, include_dir(rules.nftables));
  if (!rules.iptables.empty()) apply_iptables(*this, rules.iptables.text, Family::ipv4, rules.iptables.where);
  if (!rules.ip6tables.empty()) apply_iptables(*this, rules.ip6tables.text, Family::ipv6, rules.ip6tables.where);
}

void apply_action(Lab& lab, const StepAction& action) {
  // A failure names the action and where the scenario wrote it.
  auto at = [](const SourceLocation& where, auto&& fn) {
    try {
      fn();
    } catch (const ConfigError&) {
      throw;
    } catch (const EnvironmentError& e) {
      throw EnvironmentError(where.known() ? where.str() + ": " + e.what() : e.what());
    } catch (const TimeoutError& e) {
      throw TimeoutError(where.known() ? where.str() + ": " + e.what() : e.what());
    } catch (const Error& e) {
      if (!where.known()) throw;
      throw ConfigError(e.what(), where);
    }
  };
  if (auto* l = std::get_if<LinkAction>(&action)) {
    at(l->where, [&] { lab.set_link_up(l->interface, l->up); });
  } else if (auto* r = std::get_if<RulesAction>(&action)) {
    at(r->where, [&] {
      if (r->flush_only)
        lab.node(r->node).flush_rules();
      else
        lab.node(r->node).replace_rules(r->rules);
    });
  } else if (auto* rt = std::get_if<RouteAction>(&action)) {
    at(rt->where, [&] {
      if (rt->add)
        lab.add_route(rt->node, rt->route);
      else
        lab.delete_route(rt->node, rt->route);
    });
  } else if (auto* ru = std::get_if<RuleAction>(&action)) {
    at(ru->where, [&] {
      if (ru->add)
        lab.add_rule(ru->node, ru->rule);
      else
        lab.delete_rule(ru->node, ru->rule);
    });
  } else if (auto* s = std::get_if<SysctlAction>(&action)) {
    for (const auto& x : s->sysctls) at(x.where, [&] { lab.node(s->node).set_sysctl(x.key, x.value); });
  } else if (auto* im = std::get_if<ImpairAction>(&action)) {
    at(im->where, [&] { lab.set_impairment(im->interface, im->impair); });
  } else if (auto* start = std::get_if<StartAction>(&action)) {
    at(start->where, [&] { lab.start_program(start->node, start->name, start->run); });
  } else if (auto* stop = std::get_if<StopAction>(&action)) {
    at(stop->where, [&] { lab.stop_program(stop->name, stop->kill, stop->grace); });
  } else if (auto* w = std::get_if<WaitAction>(&action)) {
    // The runner reports a wait as an outcome (detail::wait_until); here one
    // that never holds throws, with what it saw last.
    at(w->where, [&] {
      const Scenario defaults;       // the default probe options
      detail::KeptConnections none;  // apply_action has no run, so no kept connections
      ExpectationOutcome o = detail::wait_until(lab, defaults, *w, none);
      if (!o.passed) throw TimeoutError(o.title + ": " + o.summary);
    });
  }
}

}  // namespace nslab
