// The scenario loader. It reads YAML with yaml-cpp, keeping every node's mark
// so that each problem names file:line:column, and builds a Topology and a list
// of expectations. It collects problems rather than stopping at the first.
#include "nslab/scenario.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <climits>
#include <cmath>
#include <fmt/format.h>
#include <fstream>
#include <set>
#include <sstream>

#include "yaml_reader.h"

namespace nslab {

std::string ProbeExpectation::str() const {
  std::string s = fmt::format("{}: {}", probe.str(), to_string(verdict));
  if (served_by) s += fmt::format(", served by {}", *served_by);
  if (seen_from) s += fmt::format(", seen from {}", seen_from->str());
  return s;
}

std::string CaptureExpectation::str() const {
  std::string s = fmt::format("capture on {} during {}: {} packets", on, during.str(), count.str());
  if (!filter.empty()) s += fmt::format(" matching \"{}\"", filter);
  if (src) s += fmt::format(", all from {}", src->str());
  if (dst) s += fmt::format(", all to {}", dst->str());
  return s;
}

std::string CommandExpectation::str() const {
  std::string s = fmt::format("{}$ {}: exit {}", from, command, exit);
  if (output) s += fmt::format(", output contains \"{}\"", *output);
  return s;
}


namespace {

using detail::Keys;
using detail::Reader;

std::optional<Protocol> protocol_of(std::string_view s) {
  if (s == "icmp") return Protocol::icmp;
  if (s == "tcp") return Protocol::tcp;
  if (s == "udp") return Protocol::udp;
  return std::nullopt;
}

std::optional<Family> family_of(std::string_view s) {
  if (s == "ipv4" || s == "4" || s == "inet") return Family::ipv4;
  if (s == "ipv6" || s == "6" || s == "inet6") return Family::ipv6;
  return std::nullopt;
}

class Loader {
 public:
  Loader(Reader& r, Scenario& s) : r_(r), s_(s) {}

  void load(const YAML::Node& root) {
    if (!r_.keys(root, {"name", "description", "nodes", "links", "expect", "options"}, "the scenario"))
      return;
    if (auto n = root["name"]) {
      if (auto v = r_.scalar(n, "name")) s_.name = *v;
    }
    if (auto d = root["description"]) {
      if (auto v = r_.scalar(d, "description")) s_.description = *v;
    }
    if (s_.name.empty()) {
      auto base = r_.file().substr(r_.file().find_last_of('/') + 1);
      s_.name = base.substr(0, base.find('.'));
    }
    s_.topology.set_name(s_.name);
    if (auto o = root["options"]) options(o);
    if (!root["nodes"]) {
      r_.error(root, "the scenario has no \"nodes\"");
      return;
    }
    nodes(root["nodes"]);
    if (auto l = root["links"])
      for (const auto& item : r_.list(l, "links")) link(item);
    if (auto e = root["expect"])
      for (const auto& item : r_.list(e, "expect")) expectation(item);
  }

 private:
  void options(const YAML::Node& o) {
    if (!r_.keys(o, {"timeout", "static_neighbours", "link_up_timeout"}, "options")) return;
    if (auto t = o["timeout"])
      if (auto d = timeout(t, "timeout")) s_.probe_options.timeout = *d;
    if (auto t = o["link_up_timeout"])
      if (auto d = timeout(t, "link_up_timeout")) s_.lab_options.link_up_timeout = *d;
    if (auto n = o["static_neighbours"])
      if (auto b = r_.boolean(n, "static_neighbours")) s_.lab_options.static_neighbours = *b;
  }

  void nodes(const YAML::Node& ns) {
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

  void node(NodeSpec& n, const YAML::Node& body) {
    if (body.IsNull()) return;
    std::string ctx = fmt::format("node \"{}\"", n.name);
    if (!r_.keys(body, {"bridges", "sysctl", "routes", "services", "iptables", "ip6tables", "nftables", "run",
                        "hostname", "pid_namespace"},
                 ctx))
      return;
    if (auto h = body["hostname"]) {
      n.hostname = r_.scalar(h, "hostname").value_or("");
      auto plain = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_'; };
      if (n.hostname.empty() || n.hostname.size() > 64)
        r_.error(h, "a hostname has 1 to 64 characters");
      else if (!std::all_of(n.hostname.begin(), n.hostname.end(), plain))
        r_.error(h, fmt::format("hostname \"{}\" may hold only letters, digits, '-', '_' and '.'", n.hostname));
    }
    if (auto p = body["pid_namespace"])
      if (auto b = r_.boolean(p, "pid_namespace")) n.pid_namespace = *b;
    if (auto rs = body["run"])
      for (const auto& item : r_.list(rs, "run")) run(n, item);
    if (auto b = body["bridges"]) bridges(n, b);
    if (auto s = body["sysctl"]) {
      if (s.IsMap()) {
        for (auto it = s.begin(); it != s.end(); ++it) {
          auto k = r_.scalar(it->first, "a sysctl name");
          auto v = r_.scalar(it->second, "a sysctl value");
          if (!k || !v) continue;
          if (auto why = sysctl_key_problem(*k)) r_.error(it->first, *why);
          else if (v->empty() || std::any_of(v->begin(), v->end(), [](char c) {
                     return (static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f;
                   }))
            r_.error(it->second, fmt::format("sysctl \"{}\": the value must be one line of text, not \"{}\"", *k, *v));
          else n.sysctls.push_back(SysctlSpec{*k, *v, r_.at(it->first)});
        }
      } else {
        r_.error(s, "\"sysctl\" must be a mapping, e.g. { net.ipv4.ip_forward: 1 }");
      }
    }
    if (auto rs = body["routes"])
      for (const auto& item : r_.list(rs, "routes")) route(n, item);
    if (auto sv = body["services"])
      for (const auto& item : r_.list(sv, "services")) service(n, item);
    rules(body["iptables"], n.iptables, "iptables");
    rules(body["ip6tables"], n.ip6tables, "ip6tables");
    rules(body["nftables"], n.nftables, "nftables");
  }

  // A command as a list of words, or a string for sh -c.
  std::vector<std::string> command(const YAML::Node& n, std::string_view what) {
    std::vector<std::string> argv;
    if (n.IsScalar()) {
      if (n.Scalar().find('\0') != std::string::npos) {
        r_.error(n, fmt::format("{} cannot hold a NUL character", what));
        return argv;
      }
      return {"sh", "-c", n.Scalar()};
    }
    if (!n.IsSequence() || n.size() == 0) {
      r_.error(n, fmt::format("{} is a list of words, or a string for sh -c", what));
      return argv;
    }
    for (const auto& w : r_.list(n, what))
      if (auto v = r_.scalar(w, "a command word")) {
        if (v->find('\0') != std::string::npos) r_.error(w, "a command word cannot hold a NUL character");
        else argv.push_back(*v);
      }
    return argv;
  }

  // A duration from `lo` to `hi`, or a positioned error saying why not.
  std::optional<std::chrono::milliseconds> duration(const YAML::Node& n, std::string_view what,
                                                    std::chrono::milliseconds lo, std::chrono::milliseconds hi,
                                                    std::string_view range) {
    auto v = r_.scalar(n, what);
    if (!v) return std::nullopt;
    auto ms = parse_milliseconds(*v);
    if (!ms) {
      r_.error(n, fmt::format("{} \"{}\" is not a duration (a number with ms or s, e.g. 500ms, 2s)", what, *v));
      return std::nullopt;
    }
    if (!(*ms <= static_cast<double>(hi.count())) || std::llround(*ms) < lo.count()) {
      r_.error(n, fmt::format("{} \"{}\" is out of range: {}", what, *v, range));
      return std::nullopt;
    }
    return std::chrono::milliseconds(std::llround(*ms));
  }
  std::optional<std::chrono::milliseconds> timeout(const YAML::Node& n, std::string_view what) {
    return duration(n, what, std::chrono::milliseconds(1), kMaxDuration, "a timeout is from 1ms to 1h (3600s)");
  }

  void run(NodeSpec& n, const YAML::Node& item) {
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
    if (auto e = item["env"]) {
      if (!e.IsMap()) r_.error(e, "\"env\" must be a mapping of names to values");
      else
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
          else r.env[*name] = *value;
        }
    }
    if (auto t = item["timeout"])
      if (auto d = timeout(t, "timeout")) r.timeout = *d;
    if (auto x = item["exit"])
      if (auto v = r_.integer(x, "exit", 0, 255)) r.expect_exit = static_cast<int>(*v);
    if (auto rd = item["ready"]) {
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

  void rules(const YAML::Node& node, RulesSpec& out, std::string_view what) {
    if (!node) return;
    if (auto v = r_.scalar(node, what)) {
      out.text = *v;
      out.where = r_.text_start(node);
    }
  }

  void bridges(NodeSpec& n, const YAML::Node& b) {
    auto add = [&](const YAML::Node& key, const YAML::Node& value) {
      auto name = r_.scalar(key, "a bridge name");
      if (!name) return;
      BridgeSpec spec;
      spec.name = *name;
      spec.where = r_.at(key);
      if (value && value.IsMap()) {
        if (r_.keys(value, {"addresses", "mtu"}, fmt::format("bridge \"{}\"", *name))) {
          if (auto a = value["addresses"])
            for (const auto& item : r_.list(a, "addresses"))
              if (auto p = r_.prefix(item, "bridge address")) spec.addresses.push_back(*p);
          if (auto m = value["mtu"])
            if (auto v = r_.integer(m, "mtu", 68, 65535)) spec.mtu = static_cast<int>(*v);
        }
      } else if (value && !value.IsNull()) {
        for (const auto& item : r_.list(value, "bridge addresses"))
          if (auto p = r_.prefix(item, "bridge address")) spec.addresses.push_back(*p);
      }
      n.bridges.push_back(std::move(spec));
    };
    if (b.IsMap()) {
      for (auto it = b.begin(); it != b.end(); ++it) add(it->first, it->second);
    } else {
      for (const auto& item : r_.list(b, "bridges")) add(item, YAML::Node());
    }
  }

  void route(NodeSpec& n, const YAML::Node& item) {
    RouteSpec r;
    try {
      if (item.IsScalar()) {
        // "default via 192.168.1.254", "10.0.0.0/8 via 10.1.1.1 dev eth0 metric 5",
        // "unreachable 198.51.100.0/24"
        std::istringstream in(item.Scalar());
        std::vector<std::string> w;
        for (std::string x; in >> x;) w.push_back(x);
        std::size_t i = 0;
        RouteType type = RouteType::unicast;
        if (!w.empty() && (w[0] == "blackhole" || w[0] == "unreachable" || w[0] == "prohibit")) {
          type = w[0] == "blackhole" ? RouteType::blackhole
                 : w[0] == "unreachable" ? RouteType::unreachable : RouteType::prohibit;
          ++i;
        }
        if (i >= w.size()) throw ConfigError("a route needs a destination (\"default\" or a prefix)");
        std::string to = w[i++], via, dev;
        int metric = 0;
        for (; i < w.size(); i += 2) {
          if (i + 1 >= w.size()) throw ConfigError(fmt::format("route word \"{}\" needs a value", w[i]));
          if (w[i] == "via") via = w[i + 1];
          else if (w[i] == "dev") dev = w[i + 1];
          else if (w[i] == "metric") metric = route_metric(w[i + 1]);
          else throw ConfigError(fmt::format("unknown route word \"{}\" (via, dev, metric)", w[i]));
        }
        r = RouteSpec::make(to, via, dev);
        r.metric = metric;
        r.type = type;
      } else if (item.IsMap()) {
        if (!r_.keys(item, {"to", "via", "dev", "metric", "type"}, "a route")) return;
        std::string to = "default", via, dev;
        if (auto t = item["to"]) to = r_.scalar(t, "to").value_or("default");
        if (auto v = item["via"]) via = r_.scalar(v, "via").value_or("");
        if (auto d = item["dev"]) dev = r_.scalar(d, "dev").value_or("");
        r = RouteSpec::make(to, via, dev);
        if (auto m = item["metric"])
          if (auto v = r_.integer(m, "metric", 0, INT_MAX)) r.metric = static_cast<int>(*v);
        if (auto t = item["type"]) {
          auto v = r_.scalar(t, "type").value_or("");
          if (v == "unicast") r.type = RouteType::unicast;
          else if (v == "blackhole") r.type = RouteType::blackhole;
          else if (v == "unreachable") r.type = RouteType::unreachable;
          else if (v == "prohibit") r.type = RouteType::prohibit;
          else r_.error(t, fmt::format("route type \"{}\" is not unicast, blackhole, unreachable or prohibit", v));
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

  static int route_metric(const std::string& text) {
    long v = -1;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc{} || p != text.data() + text.size() || v < 0 || v > INT_MAX)
      throw ConfigError(fmt::format("route metric must be a whole number from 0 to {}, not \"{}\"", INT_MAX, text));
    return static_cast<int>(v);
  }

  void service(NodeSpec& n, const YAML::Node& item) {
    auto v = r_.scalar(item, "a service");
    if (!v) return;
    auto slash = v->find('/');
    auto proto = protocol_of(v->substr(0, slash));
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

  std::optional<Endpoint> endpoint(const YAML::Node& e) {
    try {
      if (e.IsScalar()) return Endpoint::parse(e.Scalar(), r_.at(e));
      if (e.IsMap()) {
        if (!r_.keys(e, {"at", "addresses", "mtu", "up"}, "a link endpoint")) return std::nullopt;
        if (!e["at"]) {
          r_.error(e, "a link endpoint needs \"at\": node:interface");
          return std::nullopt;
        }
        auto at = r_.scalar(e["at"], "at");
        if (!at) return std::nullopt;
        Endpoint ep = Endpoint::parse(*at, r_.at(e["at"]));
        if (auto a = e["addresses"])
          for (const auto& item : r_.list(a, "addresses"))
            if (auto p = r_.prefix(item, "address")) ep.addresses.push_back(*p);
        if (auto m = e["mtu"])
          if (auto v = r_.integer(m, "mtu", 68, 65535)) ep.mtu = static_cast<int>(*v);
        if (auto u = e["up"])
          if (auto v = r_.boolean(u, "up")) ep.up = *v;
        return ep;
      }
      r_.error(e, "a link endpoint is \"node:interface [ADDRESS/LEN ...]\"");
    } catch (const ConfigError& err) {
      r_.error(e, err.message());
    }
    return std::nullopt;
  }

  void link(const YAML::Node& item) {
    YAML::Node ends;
    int mtu = 0;
    if (item.IsSequence()) {
      ends = item;
    } else if (item.IsMap()) {
      if (!r_.keys(item, {"endpoints", "mtu", "impair"}, "a link")) return;
      ends = item["endpoints"];
      if (!ends) {
        r_.error(item, "a link needs \"endpoints\": [node:if, node:if]");
        return;
      }
      if (auto m = item["mtu"])
        if (auto v = r_.integer(m, "mtu", 68, 65535)) mtu = static_cast<int>(*v);
    } else {
      r_.error(item, "a link is [\"node:if ADDR\", \"node:if ADDR\"] or {endpoints: [...]}");
      return;
    }
    if (!ends.IsSequence() || ends.size() != 2) {
      r_.error(ends, "a link has exactly two endpoints");
      return;
    }
    auto a = endpoint(ends[0]);
    auto b = endpoint(ends[1]);
    if (!a || !b) return;
    if (mtu) {
      if (!a->mtu) a->mtu = mtu;
      if (!b->mtu) b->mtu = mtu;
    }
    auto& spec = s_.topology.add_link(*a, *b, r_.at(item));
    if (item.IsMap())
      if (auto im = item["impair"]) spec.impair = impairment(im);
  }

  Impairment impairment(const YAML::Node& im) {
    Impairment out;
    if (!r_.keys(im, {"rate", "loss", "delay", "jitter", "direction"}, "an impairment")) return out;
    if (auto r = im["rate"]) {
      if (auto v = r_.scalar(r, "rate")) {
        out.rate = Rate::parse(*v);
        if (!out.rate)
          r_.error(r, fmt::format("rate \"{}\" is not a rate from 8bit to 10tbit (a number with bit, kbit, mbit, "
                                  "gbit or tbit, or bps... for bytes; e.g. 10mbit, 500kbit, 1gbit)",
                                  *v));
      }
    }
    if (auto l = im["loss"]) {
      if (auto v = r_.scalar(l, "loss")) {
        out.loss_percent = parse_percent(*v);
        if (!out.loss_percent)
          r_.error(l, fmt::format("loss \"{}\" is not a percentage from 0% to 100% (e.g. 1%, 0.5%; the smallest "
                                  "loss is {}%)",
                                  *v, kMinLossPercent));
      }
    }
    for (const auto& [key, slot] : {std::pair{"delay", &out.delay}, std::pair{"jitter", &out.jitter}})
      if (auto d = im[key])
        if (auto ms = duration(d, key, std::chrono::milliseconds(0), std::chrono::milliseconds(60000),
                               fmt::format("{} is from 0ms to 60s", key)))
          *slot = std::chrono::duration_cast<std::chrono::microseconds>(*ms);
    if (auto d = im["direction"]) {
      auto v = r_.scalar(d, "direction").value_or("");
      if (v == "both") out.direction = Impairment::Direction::both;
      else if (v == "forward") out.direction = Impairment::Direction::a_to_b;
      else if (v == "reverse") out.direction = Impairment::Direction::b_to_a;
      else r_.error(d, fmt::format("direction \"{}\" is not both, forward (first endpoint to second) or reverse", v));
    }
    return out;
  }

  void check_target(const YAML::Node& n, const std::string& target) {
    if (IpAddress::parse(target)) return;
    std::string node = target.substr(0, target.find(':'));
    const NodeSpec* spec = s_.topology.find_node(node);
    if (!spec) {
      std::vector<std::string> names;
      for (const auto& x : s_.topology.nodes()) names.push_back(x.name);
      std::string hint = closest(node, names);
      r_.error(n, fmt::format("no node \"{}\"{}", node,
                              hint.empty() ? "" : fmt::format("; did you mean \"{}\"?", hint)));
      return;
    }
    if (auto colon = target.find(':'); colon != std::string::npos) {
      std::string iface = target.substr(colon + 1);
      auto ifaces = s_.topology.interfaces_of(node);
      if (std::none_of(ifaces.begin(), ifaces.end(), [&](auto& i) { return i.name == iface; }))
        r_.error(n, fmt::format("node \"{}\" has no interface \"{}\"", node, iface));
    }
  }

  // Where a probe starts, who served it, where a command runs: a node's name.
  // (node:interface and addresses as sources may come later.)
  bool check_node(const YAML::Node& n, const std::string& name, std::string_view what) {
    if (IpAddress::parse(name)) {
      r_.error(n, fmt::format("{} \"{}\" is an address; {} must be a node name (only \"to\" takes an address)", what,
                              name, what));
      return false;
    }
    if (name.find(':') != std::string::npos) {
      r_.error(n, fmt::format("{} \"{}\" names an interface; {} must be a node name (only \"to\" and a capture's "
                              "\"on\" take node:interface)",
                              what, name, what));
      return false;
    }
    auto before = r_.errors().size();
    check_target(n, name);
    return r_.errors().size() == before;
  }

  // The addresses a node or node:interface has, of one family (or all).
  std::vector<IpAddress> addresses_of(const std::string& target, std::optional<Family> f) const {
    std::vector<IpAddress> out;
    auto colon = target.find(':');
    std::string node = target.substr(0, colon);
    std::string iface = colon == std::string::npos ? std::string() : target.substr(colon + 1);
    for (const auto& i : s_.topology.interfaces_of(node))
      if (iface.empty() || i.name == iface)
        for (const auto& p : i.addresses)
          if (!f || p.family() == *f) out.push_back(p.address());
    return out;
  }
  bool lab_has(Family f) const {
    for (const auto& n : s_.topology.nodes())
      if (!addresses_of(n.name, f).empty()) return true;
    return false;
  }
  static std::string family_name(Family f) { return f == Family::ipv4 ? "IPv4" : "IPv6"; }

  // A probe aims at an address of its target, and an explicit family needs
  // an address of that family at both ends. Reported at `at` (the family
  // key, else the target).
  void check_probe_addresses(const YAML::Node& at, const Probe& p) {
    if (!s_.topology.find_node(p.from)) return;  // reported already
    if (auto a = IpAddress::parse(p.to)) {
      if (p.family && *p.family != a->family()) {
        r_.error(at, fmt::format("family {} does not fit target {}, an {} address", to_string(*p.family), p.to,
                                 family_name(a->family())));
        return;
      }
      if (!lab_has(a->family()))
        r_.error(at, fmt::format("target {} is an {} address, but the lab has no {} addresses ({} is off in its "
                                 "nodes)",
                                 p.to, family_name(a->family()), family_name(a->family()), family_name(a->family())));
      else if (p.family && addresses_of(p.from, a->family()).empty())
        r_.error(at, fmt::format("family {}: the source \"{}\" has no {} address", to_string(*p.family), p.from,
                                 family_name(*p.family)));
      return;
    }
    std::string node = p.to.substr(0, p.to.find(':'));
    if (!s_.topology.find_node(node)) return;  // reported already
    if (p.family) {
      if (addresses_of(p.to, p.family).empty())
        r_.error(at, fmt::format("family {}: the target \"{}\" has no {} address", to_string(*p.family), p.to,
                                 family_name(*p.family)));
      else if (addresses_of(p.from, p.family).empty())
        r_.error(at, fmt::format("family {}: the source \"{}\" has no {} address", to_string(*p.family), p.from,
                                 family_name(*p.family)));
    } else if (addresses_of(p.to, std::nullopt).empty()) {
      r_.error(at, fmt::format("the target \"{}\" has no address to probe", p.to));
    }
  }

  void expectation(const YAML::Node& item) {
    if (!item.IsMap()) {
      r_.error(item, "an expectation is a mapping, e.g. { from: red, to: blue, icmp: reachable }");
      return;
    }
    if (auto m = item["matrix"]) {
      if (!r_.keys(item, {"matrix"}, "a matrix expectation")) return;
      matrix(m);
      return;
    }
    if (auto c = item["capture"]) {
      if (!r_.keys(item, {"capture"}, "a capture expectation")) return;
      capture(c);
      return;
    }
    if (item["command"]) {
      if (!r_.keys(item, {"from", "command", "exit", "output", "timeout"}, "a command expectation")) return;
      CommandExpectation c;
      c.where = r_.at(item);
      if (!item["from"]) {
        r_.error(item, "a command expectation needs \"from\": the node to run it in");
        return;
      }
      c.from = r_.scalar(item["from"], "from").value_or("");
      check_node(item["from"], c.from, "from");
      c.command = r_.scalar(item["command"], "command").value_or("");
      if (auto x = item["exit"])
        if (auto v = r_.integer(x, "exit", 0, 255)) c.exit = static_cast<int>(*v);
      if (auto o = item["output"]) c.output = r_.scalar(o, "output");
      if (auto t = item["timeout"])
        if (auto d = timeout(t, "timeout")) c.timeout = *d;
      s_.expectations.push_back(std::move(c));
      return;
    }
    if (!r_.keys(item, {"from", "to", "icmp", "tcp", "udp", "verdict", "served_by", "seen_from", "family", "payload"},
                 "an expectation"))
      return;
    ProbeExpectation e;
    e.where = r_.at(item);
    auto from = item["from"], to = item["to"];
    if (!from || !to) {
      r_.error(item, "an expectation needs \"from\" and \"to\"");
      return;
    }
    e.probe.from = r_.scalar(from, "from").value_or("");
    e.probe.to = r_.scalar(to, "to").value_or("");
    const auto errors_before = r_.errors().size();
    check_node(from, e.probe.from, "from");
    check_target(to, e.probe.to);
    const bool ends_known = r_.errors().size() == errors_before;
    int protocols = (item["icmp"] ? 1 : 0) + (item["tcp"] ? 1 : 0) + (item["udp"] ? 1 : 0);
    if (protocols != 1) {
      r_.error(item, "an expectation names exactly one of icmp, tcp: PORT, udp: PORT");
      return;
    }
    if (auto i = item["icmp"]) {
      e.probe.protocol = Protocol::icmp;
      if (auto v = r_.verdict(i)) e.verdict = *v;
      if (item["verdict"]) r_.error(item["verdict"], "with icmp, write the verdict as icmp: VERDICT");
    } else {
      auto p = item["tcp"] ? item["tcp"] : item["udp"];
      e.probe.protocol = item["tcp"] ? Protocol::tcp : Protocol::udp;
      if (auto port = r_.integer(p, "port", 1, 65535)) e.probe.port = static_cast<std::uint16_t>(*port);
      if (auto v = item["verdict"])
        if (auto verdict = r_.verdict(v)) e.verdict = *verdict;
    }
    if (auto s = item["served_by"]) {
      e.served_by = r_.scalar(s, "served_by");
      if (e.served_by) check_node(s, *e.served_by, "served_by");
      if (e.probe.protocol == Protocol::icmp)
        r_.error(s, "served_by needs a tcp or udp probe to a built-in service");
      e.probe.want_served_by = true;
    }
    if (auto s = item["seen_from"]) {
      auto v = r_.scalar(s, "seen_from").value_or("");
      e.seen_from = IpAddress::parse(v);
      if (!e.seen_from) r_.error(s, fmt::format("seen_from \"{}\" is not an IP address", v));
      if (e.probe.protocol == Protocol::icmp)
        r_.error(s, "seen_from needs a tcp or udp probe to a built-in service");
      e.probe.want_served_by = true;
    }
    if (auto f = item["family"]) {
      auto v = r_.scalar(f, "family").value_or("");
      if (auto fam = family_of(v)) e.probe.family = fam;
      else r_.error(f, fmt::format("family \"{}\" is not ipv4 or ipv6", v));
    }
    if (ends_known) check_probe_addresses(item["family"] ? item["family"] : to, e.probe);
    if (auto p = item["payload"]) e.probe.payload = r_.scalar(p, "payload").value_or("");
    s_.expectations.push_back(std::move(e));
  }

  // The probe part of an expectation: from, to, icmp | tcp: PORT | udp: PORT.
  bool probe_of(const YAML::Node& item, Probe& probe) {
    auto from = item["from"], to = item["to"];
    if (!from || !to) {
      r_.error(item, "a probe needs \"from\" and \"to\"");
      return false;
    }
    probe.from = r_.scalar(from, "from").value_or("");
    probe.to = r_.scalar(to, "to").value_or("");
    const auto errors_before = r_.errors().size();
    check_node(from, probe.from, "from");
    check_target(to, probe.to);
    const bool ends_known = r_.errors().size() == errors_before;
    int protocols = (item["icmp"] ? 1 : 0) + (item["tcp"] ? 1 : 0) + (item["udp"] ? 1 : 0);
    if (protocols != 1) {
      r_.error(item, "a probe names exactly one of icmp, tcp: PORT, udp: PORT");
      return false;
    }
    if (item["icmp"]) {
      probe.protocol = Protocol::icmp;
    } else {
      auto p = item["tcp"] ? item["tcp"] : item["udp"];
      probe.protocol = item["tcp"] ? Protocol::tcp : Protocol::udp;
      if (auto port = r_.integer(p, "port", 1, 65535)) probe.port = static_cast<std::uint16_t>(*port);
    }
    if (auto f = item["family"]) {
      auto v = r_.scalar(f, "family").value_or("");
      if (auto fam = family_of(v)) probe.family = fam;
      else r_.error(f, fmt::format("family \"{}\" is not ipv4 or ipv6", v));
    }
    if (ends_known) check_probe_addresses(item["family"] ? item["family"] : to, probe);
    return true;
  }

  void capture(const YAML::Node& c) {
    if (!r_.keys(c, {"on", "during", "filter", "count", "src", "dst"}, "a capture")) return;
    CaptureExpectation e;
    e.where = r_.at(c);
    if (!c["on"] || !c["during"]) {
      r_.error(c, "a capture needs \"on\" (node:interface) and \"during\" (a probe)");
      return;
    }
    e.on = r_.scalar(c["on"], "on").value_or("");
    if (e.on.find(':') == std::string::npos || IpAddress::parse(e.on)) {
      r_.error(c["on"], fmt::format("capture point \"{}\" must be node:interface", e.on));
    } else {
      check_target(c["on"], e.on);
      for (const auto& l : s_.topology.links())
        for (const auto* end : {&l.a, &l.b})
          if (!end->up && end->label() == e.on)
            r_.error(c["on"], fmt::format("capture point \"{}\" is an interface left down (up: false); a capture "
                                          "there could see nothing",
                                          e.on));
    }
    auto during = c["during"];
    if (!r_.keys(during, {"from", "to", "icmp", "tcp", "udp", "family"}, "a capture's probe")) return;
    if (!probe_of(during, e.during)) return;
    if (auto f = c["filter"]) {
      e.filter = r_.scalar(f, "filter").value_or("");
      if (auto why = bpf_filter_problem(e.filter)) r_.error(f, *why);
    }
    e.count = CountSpec{CountSpec::Op::ge, 1};
    if (auto n = c["count"]) {
      auto v = r_.scalar(n, "count").value_or("");
      if (auto cs = CountSpec::parse(v)) e.count = *cs;
      else r_.error(n, fmt::format("count \"{}\" is not a count (e.g. 0, 3, \">= 1\", \"<= 2\")", v));
    }
    for (const auto& [key, slot] : {std::pair{"src", &e.src}, std::pair{"dst", &e.dst}})
      if (auto a = c[key]) {
        auto v = r_.scalar(a, key).value_or("");
        *slot = IpAddress::parse(v);
        if (!*slot) r_.error(a, fmt::format("{} \"{}\" is not an IP address", key, v));
      }
    s_.expectations.push_back(std::move(e));
  }

  void matrix(const YAML::Node& m) {
    if (!r_.keys(m, {"protocol", "port", "nodes", "default", "except", "family"}, "a matrix")) return;
    MatrixSpec spec;
    spec.where = r_.at(m);
    if (auto p = m["protocol"]) {
      auto v = r_.scalar(p, "protocol").value_or("");
      if (auto proto = protocol_of(v)) spec.protocol = *proto;
      else r_.error(p, fmt::format("protocol \"{}\" is not icmp, tcp or udp", v));
    }
    if (auto p = m["port"])
      if (auto v = r_.integer(p, "port", 1, 65535)) spec.port = static_cast<std::uint16_t>(*v);
    if (spec.protocol != Protocol::icmp && spec.port == 0)
      r_.error(m, fmt::format("a {} matrix needs a port", to_string(spec.protocol)));
    if (auto f = m["family"]) {
      auto v = r_.scalar(f, "family").value_or("");
      if (auto fam = family_of(v)) spec.family = fam;
      else r_.error(f, fmt::format("family \"{}\" is not ipv4 or ipv6", v));
    }
    // Every node of a matrix is a target, so each needs an address (of the
    // matrix's family, when it has one).
    auto needs_address = [&](const YAML::Node& at, const std::string& name) {
      if (addresses_of(name, spec.family).empty())
        r_.error(at, spec.family ? fmt::format("matrix node \"{}\" has no {} address (family: {})", name,
                                               family_name(*spec.family), to_string(*spec.family))
                                 : fmt::format("matrix node \"{}\" has no address to probe", name));
    };
    if (auto n = m["nodes"]) {
      for (const auto& item : r_.list(n, "matrix nodes"))
        if (auto name = r_.scalar(item, "a node name")) {
          if (std::find(spec.nodes.begin(), spec.nodes.end(), *name) != spec.nodes.end()) {
            r_.error(item, fmt::format("matrix node \"{}\" is listed twice", *name));
            continue;
          }
          if (!check_node(item, *name, "a matrix node")) continue;
          needs_address(item, *name);
          spec.nodes.push_back(*name);
        }
    } else {
      for (const auto& x : s_.topology.nodes()) {
        needs_address(m, x.name);
        spec.nodes.push_back(x.name);
      }
    }
    if (auto d = m["default"])
      if (auto v = r_.verdict(d)) spec.default_verdict = *v;
    if (auto ex = m["except"]) {
      for (const auto& item : r_.list(ex, "except")) {
        if (!r_.keys(item, {"from", "to", "verdict"}, "a matrix exception")) continue;
        if (!item["from"] || !item["to"] || !item["verdict"]) {
          r_.error(item, "a matrix exception needs from, to and verdict");
          continue;
        }
        MatrixCell c;
        c.from = r_.scalar(item["from"], "from").value_or("");
        c.to = r_.scalar(item["to"], "to").value_or("");
        c.where = r_.at(item);
        for (const auto& [key, name] : {std::pair{"from", c.from}, std::pair{"to", c.to}})
          if (std::find(spec.nodes.begin(), spec.nodes.end(), name) == spec.nodes.end())
            r_.error(item[key], fmt::format("\"{}\" is not one of the matrix's nodes", name));
        if (auto v = r_.verdict(item["verdict"])) c.verdict = *v;
        spec.exceptions.push_back(std::move(c));
      }
    }
    s_.expectations.push_back(std::move(spec));
  }

  Reader& r_;
  Scenario& s_;
};

}  // namespace

Scenario parse_scenario(std::string_view yaml, const std::string& file) {
  Scenario s;
  s.file = file;
  detail::Reader r(file, yaml);
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    SourceLocation w{file, e.mark.line + 1, e.mark.column + 1};
    if (e.mark.is_null()) w = {file, 0, 0};
    throw ScenarioError({ConfigError(fmt::format("YAML syntax: {}", e.msg), w)});
  }
  if (!root || root.IsNull()) throw ScenarioError({ConfigError("the scenario is empty", {file, 1, 1})});
  try {
    Loader(r, s).load(root);
  } catch (const YAML::Exception& e) {
    r.errors().emplace_back(fmt::format("YAML: {}", e.msg), SourceLocation{file, e.mark.line + 1, e.mark.column + 1});
  }
  if (r.errors().empty()) {
    for (auto& p : s.topology.problems()) r.error(p.where(), p.message());
  }
  if (!r.errors().empty()) throw ScenarioError(std::move(r.errors()));
  return s;
}

Scenario load_scenario(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ScenarioError({ConfigError("cannot read the scenario file", {path, 0, 0})});
  std::stringstream buf;
  buf << in.rdbuf();
  return parse_scenario(buf.str(), path);
}

}  // namespace nslab
