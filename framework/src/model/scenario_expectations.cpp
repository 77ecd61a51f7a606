// The scenario loader's "expect" section: single probes, captures, matrices
// and commands, with their ends checked against the lab that the nodes and
// links sections built.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fmt/format.h>

#include "scenario_loader.h"

namespace nslab {

PortScan ProbeExpectation::scan() const {
  return PortScan{probe.from,   probe.to,     probe.protocol, ports.value_or(PortSet{}),
                  probe.family, probe.source, probe.sport};
}

std::string ProbeExpectation::str() const {
  if (path) return fmt::format("{}: {}", probe.str(), path->str());
  if (answers) return fmt::format("{}: {}", probe.str(), answers->str());
  if (ports && open) return fmt::format("{}: open {}", scan().str(), open->empty() ? "none" : open->str());
  if (ports) {
    Probe shown = probe;
    shown.port = 0;
    shown.protocol = Protocol::icmp;
    std::string head = shown.str();
    std::string proto = fmt::format("{}/{}", to_string(probe.protocol), ports->str());
    head.replace(head.find(" icmp"), 5, " " + proto);
    return fmt::format("{}: {}", head, to_string(verdict));
  }
  std::string s = fmt::format("{}: {}", probe.str(), to_string(verdict));
  if (served_by) s += fmt::format(", served by {}", *served_by);
  if (seen_from) s += fmt::format(", seen from {}", seen_from->str());
  if (answered_by) {
    std::string who;
    for (const auto& n : *answered_by) who += (who.empty() ? "" : ", ") + n;
    s += answered_by->empty() ? std::string(", answered by nobody") : ", answered by " + who;
  }
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

namespace detail {

void Loader::expectation(const YAML::Node& item) {
  if (!item.IsMap()) {
    r_.error(item, "an expectation is a mapping, e.g. { from: red, to: blue, icmp: reachable }");
    return;
  }
  if (auto m = item["matrix"]) {
    if (!r_.keys(item, {"matrix"}, "a matrix expectation")) return;
    matrix(m);
  } else if (auto c = item["capture"]) {
    if (!r_.keys(item, {"capture"}, "a capture expectation")) return;
    capture(c);
  } else if (auto k = item["counter"]) {
    if (!r_.keys(item, {"counter"}, "a counter expectation")) return;
    counter(k);
  } else if (auto ct = item["conntrack"]) {
    if (!r_.keys(item, {"conntrack"}, "a conntrack expectation")) return;
    conntrack(ct);
  } else if (item["kept"]) {
    kept_expectation(item);
  } else if (item["command"]) {
    command_expectation(item);
  } else {
    probe_expectation(item);
  }
}

void Loader::probe_expectation(const YAML::Node& item) {
  if (item.IsMap() && item["scan"]) {
    scan_expectation(item);
    return;
  }
  if (item.IsMap() && (item["path"] || item["via"])) {
    path_expectation(item);
    return;
  }
  if (item.IsMap() && item["count"]) {
    count_expectation(item);
    return;
  }
  if (!r_.keys(item, {"from",   "to",      "icmp",   "tcp",   "udp",  "verdict", "served_by",  "seen_from",
                      "family", "payload", "source", "sport", "ttl",  "size",    "df",         "tos",
                      "dscp",   "path",    "via",    "count", "keep", "icmpv6",  "answered_by"},
               "an expectation"))
    return;
  ProbeExpectation e;
  auto probe = probe_of(item, "an expectation", &e.ports);
  if (!probe) return;
  e.where = r_.at(item);
  if (e.ports)
    for (const char* key : {"served_by", "seen_from", "payload", "ttl", "size", "df", "tos", "dscp"})
      if (item[key])
        r_.error(item[key], fmt::format("{} needs a single port; a port set checks each port's verdict only", key));
  if (probe->protocol == Protocol::icmp) {
    icmp_expectation(item, e, *probe);
  } else if (auto v = item["verdict"]) {
    if (auto verdict = r_.verdict(v)) e.verdict = *verdict;
  }
  const bool icmp = probe->protocol == Protocol::icmp;
  if (auto a = item["answered_by"]; a && !icmp)
    r_.error(a, "answered_by needs an icmp echo to a broadcast address (icmp: reachable, to: 192.168.1.255)");
  if (auto s = item["served_by"]) {
    e.served_by = r_.scalar(s, "served_by");
    if (e.served_by) check_node(s, *e.served_by, "served_by");
    if (icmp) r_.error(s, "served_by needs a tcp or udp probe to a built-in service");
    probe->want_served_by = true;
  }
  if (auto s = item["seen_from"]) {
    auto v = r_.scalar(s, "seen_from").value_or("");
    e.seen_from = IpAddress::parse(v);
    if (!e.seen_from)
      r_.error(s, fmt::format("seen_from \"{}\" is not an IP address", v));
    else if (const auto* b = e.seen_from->data(); !e.seen_from->is_v4() && std::all_of(b, b + 10, [](auto x) {
               return x == 0;
             }) && b[10] == 0xff && b[11] == 0xff)
      r_.error(s, fmt::format("seen_from \"{}\" is an IPv4-mapped address; a service sees an IPv4 client as "
                              "its IPv4 address",
                              v));
    if (icmp) r_.error(s, "seen_from needs a tcp or udp probe to a built-in service");
    probe->want_served_by = true;
  }
  e.probe = std::move(*probe);
  keep_key(item, e);
  s_.expectations.push_back(std::move(e));
}

void Loader::command_expectation(const YAML::Node& item) {
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
  if (c.command.find('\0') != std::string::npos) r_.error(item["command"], "a command cannot hold a NUL character");
  if (item["command"].IsScalar() && c.command.find_first_not_of(" \t\n") == std::string::npos)
    r_.error(item["command"], "the command is empty");
  if (auto x = item["exit"])
    if (auto v = r_.integer(x, "exit", 0, 255)) c.exit = static_cast<int>(*v);
  if (auto o = item["output"]) c.output = r_.scalar(o, "output");
  if (auto t = item["timeout"])
    if (auto d = timeout(t, "timeout")) c.timeout = *d;
  s_.expectations.push_back(std::move(c));
}

std::optional<Probe> Loader::probe_of(const YAML::Node& item, std::string_view what) {
  return probe_of(item, what, nullptr);
}

std::optional<Probe> Loader::probe_of(const YAML::Node& item, std::string_view what, std::optional<PortSet>* ports) {
  auto from = item["from"], to = item["to"];
  if (!from || !to) {
    r_.error(item, fmt::format("{} needs \"from\" and \"to\"", what));
    return std::nullopt;
  }
  Probe probe;
  probe.from = r_.scalar(from, "from").value_or("");
  probe.to = r_.scalar(to, "to").value_or("");
  const auto errors_before = r_.errors().size();
  check_source(from, probe.from);
  check_target(to, probe.to);
  const bool ends_known = r_.errors().size() == errors_before;
  const bool scan = ports && item["scan"];
  int protocols = (item["icmp"] ? 1 : 0) + (item["icmpv6"] ? 1 : 0) + (item["tcp"] ? 1 : 0) + (item["udp"] ? 1 : 0) +
                  (scan ? 1 : 0);
  if (protocols == 0 && icmp_by_default_) {
    // a path or a count without a protocol key: an ICMP echo
  } else if (protocols != 1) {
    r_.error(item, fmt::format("{} names exactly one of icmp, tcp: PORT, udp: PORT{}", what, scan ? ", scan" : ""));
    return std::nullopt;
  }
  if (item["icmp"] || item["icmpv6"] || protocols == 0) {
    probe.protocol = Protocol::icmp;
    icmp_kind(item, probe);
  } else if (!scan) {
    auto p = item["tcp"] ? item["tcp"] : item["udp"];
    probe.protocol = item["tcp"] ? Protocol::tcp : Protocol::udp;
    bool is_set = p.IsSequence() || (p.IsScalar() && p.Scalar().find_first_of(",-") != std::string::npos);
    if (is_set && !ports) {
      r_.error(p, fmt::format("{} takes a single port, not a port set", what));
    } else if (is_set) {
      *ports = port_set(p, "a port set");
      if (*ports && !(*ports)->empty()) probe.port = (*ports)->ranges().front().first;
      if (!*ports) return std::nullopt;
    } else if (auto port = r_.integer(p, "port", 1, 65535)) {
      probe.port = static_cast<std::uint16_t>(*port);
    }
  }
  source_keys(item, probe);
  if (auto f = item["family"])
    if (auto fam = family(f)) probe.family = fam;
  if (ends_known) check_probe_addresses(item["family"] ? item["family"] : item["to"], probe);
  if (auto p = item["payload"]) {
    probe.payload = r_.scalar(p, "payload").value_or("");
    // An echo request carries nslab's own key as its data; a payload there
    // would be silently ignored.
    if (probe.protocol == Protocol::icmp)
      r_.error(p, "payload needs a tcp or udp probe (an echo server sends it back); an icmp probe carries none");
    else if (probe.protocol == Protocol::udp && probe.payload.size() > Probe::kMaxUdpPayload)
      r_.error(p, fmt::format("a UDP payload has at most {} bytes (one datagram holds the service's greeting and "
                              "the echo), not {}",
                              Probe::kMaxUdpPayload, probe.payload.size()));
  }
  shape_keys(item, probe);
  return probe;
}

// The packet shape (README, scenario format): ttl, size, df, tos or dscp.
void Loader::shape_keys(const YAML::Node& item, Probe& probe) {
  const bool icmp = probe.protocol == Protocol::icmp;
  if (auto t = item["ttl"])
    if (auto v = r_.integer(t, "ttl", 1, 255)) probe.ttl = static_cast<int>(*v);
  if (auto n = item["size"]) {
    // icmp: echo data bytes as `ping -s` counts them; tcp/udp: a generated
    // payload, which cannot be empty (a probe without one sends its own).
    long lo = icmp ? 0 : 1;
    long hi = static_cast<long>(icmp                              ? Probe::kMaxEchoData
                                : probe.protocol == Protocol::udp ? Probe::kMaxUdpPayload
                                                                  : Probe::kMaxTcpPayload);
    if (auto v = r_.integer(n, icmp ? "size (echo data bytes, as ping -s)" : "size (payload bytes)", lo, hi))
      probe.size = static_cast<std::size_t>(*v);
    if (item["payload"]) r_.error(n, "size makes a payload of that many bytes; write payload or size, not both");
  }
  if (auto d = item["df"]) {
    if (auto v = r_.boolean(d, "df")) probe.df = *v;
    if (probe.df && probe.protocol == Protocol::tcp)
      r_.error(d, "df needs an icmp or udp probe; TCP always sets DF and adapts its segments to the path MTU");
  }
  if (auto t = item["tos"])
    if (auto v = r_.integer(t, "tos (the whole TOS byte, DSCP << 2 | ECN)", 0, 255))
      probe.tos = static_cast<std::uint8_t>(*v);
  if (auto d = item["dscp"]) {
    if (auto v = r_.integer(d, "dscp", 0, 63)) probe.tos = static_cast<std::uint8_t>(*v << 2);
    if (item["tos"]) r_.error(d, "dscp is the upper six bits of tos; write tos or dscp, not both");
  }
}

void Loader::capture(const YAML::Node& c) {
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
  if (!r_.keys(during,
               {"from", "to", "icmp", "tcp", "udp", "family", "source", "sport", "ttl", "size", "df", "tos", "dscp",
                "icmpv6"},
               "a capture's probe"))
    return;
  auto probe = probe_of(during, "a probe");
  if (!probe) return;
  e.during = std::move(*probe);
  if (auto f = c["filter"]) {
    e.filter = r_.scalar(f, "filter").value_or("");
    if (auto why = bpf_filter_problem(e.filter)) r_.error(f, *why);
  }
  e.count = count_of(c, "count");
  for (const auto& [key, slot] : {std::pair{"src", &e.src}, std::pair{"dst", &e.dst}})
    if (auto a = c[key]) {
      auto v = r_.scalar(a, key).value_or("");
      *slot = IpAddress::parse(v);
      if (!*slot) r_.error(a, fmt::format("{} \"{}\" is not an IP address", key, v));
    }
  s_.expectations.push_back(std::move(e));
}

void Loader::matrix(const YAML::Node& m) {
  if (m.IsMap() && m["keep"]) {
    r_.error(m["keep"],
             "a matrix cannot keep connections; keep one with a single probe, e.g. { from: a, to: b, "
             "tcp: 80, keep: web }");
    return;
  }
  if (!r_.keys(m, {"protocol", "port", "nodes", "default", "except", "family"}, "a matrix")) return;
  MatrixSpec spec;
  spec.where = r_.at(m);
  if (auto p = m["protocol"]) {
    auto v = r_.scalar(p, "protocol").value_or("");
    if (auto proto = parse_protocol(v))
      spec.protocol = *proto;
    else
      r_.error(p, fmt::format("protocol \"{}\" is not icmp, tcp or udp", v));
  }
  if (auto p = m["port"])
    if (auto v = r_.integer(p, "port", 1, 65535)) spec.port = static_cast<std::uint16_t>(*v);
  if (spec.protocol != Protocol::icmp && spec.port == 0)
    r_.error(m, fmt::format("a {} matrix needs a port", to_string(spec.protocol)));
  if (spec.protocol == Protocol::icmp && m["port"])
    r_.error(m["port"], "an icmp matrix has no port (give protocol: tcp or udp)");
  if (auto f = m["family"])
    if (auto fam = family(f)) spec.family = fam;
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
        if (IpAddress::parse(*name)) {
          r_.error(item,
                   fmt::format("matrix node \"{}\" is an address; a matrix takes nodes and node:interface", *name));
          continue;
        }
        auto before = r_.errors().size();
        check_target(item, *name);
        if (r_.errors().size() != before) continue;
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

CountSpec Loader::count_of(const YAML::Node& parent, const char* key) {
  auto n = parent[key];
  if (!n) return CountSpec{CountSpec::Op::ge, 1};
  auto v = r_.scalar(n, key).value_or("");
  if (auto cs = CountSpec::parse(v)) return *cs;
  r_.error(n, fmt::format("{} \"{}\" is not a count (e.g. 0, 3, \">= 1\", \"<= 2\")", key, v));
  return CountSpec{CountSpec::Op::ge, 1};
}

}  // namespace detail

}  // namespace nslab
