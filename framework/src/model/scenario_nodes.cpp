// The scenario loader's "nodes" section: each node's sysctls, routes,
// services, firewall rules and programs.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <climits>
#include <cstdint>
#include <fmt/format.h>
#include <set>

#include "scenario_loader.h"

namespace nslab::detail {

void Loader::nodes(const YAML::Node& ns) {
  if (!ns.IsMap()) {
    r_.error(ns, "\"nodes\" must be a mapping of node names to their settings");
    return;
  }
  std::set<std::string> seen;
  for (auto it = ns.begin(); it != ns.end(); ++it) {
    auto name = r_.scalar(it->first, "a node name");
    if (!name) continue;
    if (!seen.insert(*name).second) {
      r_.error(it->first, fmt::format("duplicate node \"{}\"", *name));
      continue;
    }
    NodeSpec* spec = nullptr;
    try {
      spec = &s_.topology.add_node(*name, r_.at(it->first));
    } catch (const ConfigError& e) {
      r_.errors().push_back(e);
      continue;
    }
    node(*spec, it->second);
  }
}

void Loader::node(NodeSpec& n, const YAML::Node& own) {
  const YAML::Node body = with_defaults(own);  // scenario_defaults.cpp
  if (body.IsNull()) return;
  std::string ctx = fmt::format("node \"{}\"", n.name);
  if (!r_.keys(body, node_keys(), ctx)) return;
  if (auto h = body["hostname"]) hostname(n, h);
  if (auto p = body["pid_namespace"])
    if (auto b = r_.boolean(p, "pid_namespace")) n.pid_namespace = *b;
  if (auto l = body["limits"]) limits(n, l);
  if (auto rs = body["run"])
    for (const auto& item : r_.list(rs, "run")) run(n, item);
  if (auto b = body["bridges"]) bridges(n, b);
  if (auto i = body["interfaces"]) interfaces(n, i);
  if (auto s = body["sysctl"]) sysctls(n, s);
  if (auto rs = body["routes"])
    for (const auto& item : r_.list(rs, "routes")) route(n, item);
  if (auto t = body["tables"]) tables(n, t);  // scenario_routing.cpp
  if (auto rl = body["ip_rules"]) ip_rules(n, rl);
  if (auto nb = body["neighbours"]) neighbours(n, nb);
  if (auto a = body["arp"]) arp(n, a);
  if (auto nh = body["nexthops"]) nexthops(n, nh);  // scenario_routing.cpp
  if (auto sv = body["services"])
    for (const auto& item : r_.list(sv, "services")) service(n, item);
  rules(body["iptables"], n.iptables, "iptables");
  rules(body["ip6tables"], n.ip6tables, "ip6tables");
  rules(body["nftables"], n.nftables, "nftables");
  rule_file(body["iptables_file"], body["iptables"], n.iptables, "iptables_file");
  rule_file(body["ip6tables_file"], body["ip6tables"], n.ip6tables, "ip6tables_file");
  rule_file(body["nftables_file"], body["nftables"], n.nftables, "nftables_file");
}

void Loader::hostname(NodeSpec& n, const YAML::Node& h) {
  n.hostname = r_.scalar(h, "hostname").value_or("");
  auto plain = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_'; };
  if (n.hostname.empty() || n.hostname.size() > 64)
    r_.error(h, "a hostname has 1 to 64 characters");
  else if (!std::all_of(n.hostname.begin(), n.hostname.end(), plain))
    r_.error(h, fmt::format("hostname \"{}\" may hold only letters, digits, '-', '_' and '.'", n.hostname));
}

void Loader::sysctls(NodeSpec& n, const YAML::Node& s) {
  if (!s.IsMap()) {
    r_.error(s, "\"sysctl\" must be a mapping, e.g. { net.ipv4.ip_forward: 1 }");
    return;
  }
  for (auto it = s.begin(); it != s.end(); ++it) {
    auto k = r_.scalar(it->first, "a sysctl name");
    auto v = r_.scalar(it->second, "a sysctl value");
    if (!k || !v) continue;
    if (auto why = sysctl_key_problem(*k))
      r_.error(it->first, *why);
    else if (v->empty() || std::any_of(v->begin(), v->end(), [](char c) {
               return (static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f;
             }))
      r_.error(it->second, fmt::format("sysctl \"{}\": the value must be one line of text, not \"{}\"", *k, *v));
    else
      n.sysctls.push_back(SysctlSpec{*k, *v, r_.at(it->first)});
  }
}

void Loader::run(NodeSpec& n, const YAML::Node& item) {
  RunSpec r;
  r.where = r_.at(item);
  if (item.IsScalar() || item.IsSequence()) {
    r.argv = command(item, "run");
    if (!r.argv.empty()) n.run.push_back(std::move(r));
    return;
  }
  if (!r_.keys(item, {"command", "cwd", "env", "ready", "timeout", "exit"}, "a run entry")) return;
  if (!item["command"]) {
    r_.error(item, "a run entry needs a \"command\"");
    return;
  }
  r.argv = command(item["command"], "command");
  if (auto c = item["cwd"]) r.working_dir = r_.scalar(c, "cwd").value_or("");
  if (auto e = item["env"]) environment(r, e);
  if (auto t = item["timeout"]) {
    // How long the program has to exit or to get ready: starting one takes
    // milliseconds, so less than kMinRunTimeout could never be met.
    if (auto d = duration(t, "timeout", kMinRunTimeout, kMaxDuration,
                          fmt::format("a run timeout is from {}ms to 1h (3600s)", kMinRunTimeout.count())))
      r.timeout = *d;
    if (!item["exit"] && !item["ready"])
      r_.error(t, "a run timeout bounds the wait for \"exit\" or \"ready\", and this entry has neither");
  }
  if (auto x = item["exit"])
    if (auto v = r_.integer(x, "exit", 0, 255)) r.expect_exit = static_cast<int>(*v);
  if (auto rd = item["ready"]) {
    if (item["exit"]) r_.error(rd, "a run entry with \"exit\" must end, so it is never \"ready\"; give one of them");
    if (rd.IsMap() && rd["tcp"] && rd["udp"]) r_.error(rd["udp"], "\"ready\" waits for one port: tcp or udp, not both");
    if (r_.keys(rd, {"tcp", "udp", "command"}, "\"ready\"")) {
      if (auto t = rd["tcp"])
        if (auto v = r_.integer(t, "port", 1, 65535)) r.ready_port = {Protocol::tcp, static_cast<std::uint16_t>(*v)};
      if (auto u = rd["udp"])
        if (auto v = r_.integer(u, "port", 1, 65535)) r.ready_port = {Protocol::udp, static_cast<std::uint16_t>(*v)};
      if (auto c = rd["command"]) r.ready_command = command(c, "ready command");
    }
  }
  if (!r.argv.empty()) n.run.push_back(std::move(r));
}

void Loader::environment(RunSpec& r, const YAML::Node& e) {
  if (!e.IsMap()) {
    r_.error(e, "\"env\" must be a mapping of names to values");
    return;
  }
  for (auto it = e.begin(); it != e.end(); ++it) {
    auto name = r_.scalar(it->first, "a variable name");
    auto value = r_.scalar(it->second, "a value");
    if (!name || !value) continue;
    bool ok = !name->empty() && !std::isdigit(static_cast<unsigned char>((*name)[0])) &&
              std::all_of(name->begin(), name->end(),
                          [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
    if (!ok)
      r_.error(it->first, fmt::format("environment variable \"{}\" must be letters, digits and '_', not "
                                      "starting with a digit",
                                      *name));
    else if (value->find('\0') != std::string::npos)
      r_.error(it->second, fmt::format("environment variable \"{}\" cannot hold a NUL character", *name));
    else
      r.env[*name] = *value;
  }
}

void Loader::rules(const YAML::Node& node, RulesSpec& out, std::string_view what) {
  if (!node) return;
  if (auto v = r_.scalar(node, what)) {
    out.text = *v;
    out.where = r_.text_start(node);
  }
}

// A route as text (RouteSpec::parse: "default via 192.168.1.254") or as a
// mapping { to, via, dev, metric, type }.
void Loader::route(NodeSpec& n, const YAML::Node& item) {
  RouteSpec r;
  try {
    if (item.IsScalar()) {
      r = RouteSpec::parse(item.Scalar(), r_.at(item));
    } else if (item.IsMap()) {
      if (!r_.keys(
              item,
              {"to", "via", "dev", "metric", "type", "table", "src", "onlink", "proto", "scope", "nexthops", "nhid"},
              "a route"))
        return;
      std::string to = "default", via, dev;
      if (auto t = item["to"]) to = r_.scalar(t, "to").value_or("default");
      if (auto v = item["via"]) via = r_.scalar(v, "via").value_or("");
      if (auto d = item["dev"]) dev = r_.scalar(d, "dev").value_or("");
      r = RouteSpec::make(to, via, dev);
      if (auto m = item["metric"])
        if (auto v = r_.integer(m, "metric", 0, INT_MAX)) r.metric = static_cast<int>(*v);
      if (auto t = item["type"]) {
        auto v = r_.scalar(t, "type").value_or("");
        if (auto type = parse_route_type(v))
          r.type = *type;
        else
          r_.error(
              t, fmt::format("route type \"{}\" is not unicast, blackhole, unreachable, prohibit, local or throw", v));
      }
      route_policy(r, item);
      if (auto h = item["nhid"]) {
        if (auto v = r_.integer(h, "nhid", 1, UINT32_MAX)) r.nhid = static_cast<std::uint32_t>(*v);
        if (!via.empty() || !dev.empty() || item["nexthops"])
          r_.error(h,
                   "a route with nhid takes its gateway and device from the nexthop object, not via, dev or "
                   "nexthops");
      }
    } else {
      r_.error(item, "a route is \"DEST via GATEWAY\" or a mapping {to, via, dev}");
      return;
    }
  } catch (const ConfigError& e) {
    r_.error(item, e.message());
    return;
  }
  r.where = r_.at(item);
  n.routes.push_back(std::move(r));
}

void Loader::service(NodeSpec& n, const YAML::Node& item) {
  auto v = r_.scalar(item, "a service");
  if (!v) return;
  auto slash = v->find('/');
  auto proto = parse_protocol(v->substr(0, slash));
  long port = 0;
  bool ok = slash != std::string::npos && proto && *proto != Protocol::icmp;
  if (ok) {
    auto rest = v->substr(slash + 1);
    auto [p, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), port);
    ok = ec == std::errc{} && p == rest.data() + rest.size() && port >= 1 && port <= 65535;
  }
  if (!ok) {
    r_.error(item, fmt::format("service \"{}\" must be tcp/PORT or udp/PORT, e.g. tcp/80", *v));
    return;
  }
  n.services.push_back(ServiceSpec{*proto, static_cast<std::uint16_t>(port), r_.at(item)});
}

}  // namespace nslab::detail
