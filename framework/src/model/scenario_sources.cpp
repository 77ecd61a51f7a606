// The scenario loader's probe sources and port sets: `from` as a node,
// node:interface or address, `source` and `sport`, port sets (`tcp: [22, 80]`,
// `tcp: 1-1024`) and scans (`scan: tcp/1-65535, open: [80, 443]`).
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fmt/format.h>

#include "scenario_loader.h"

namespace nslab::detail {

std::string Loader::source_node(const std::string& from) const {
  if (auto a = IpAddress::parse(from)) {
    for (const auto& n : s_.topology.nodes())
      for (const auto& have : addresses_of(n.name, std::nullopt))
        if (have == *a) return n.name;
    return {};
  }
  return from.substr(0, from.find(':'));
}

bool Loader::check_source(const YAML::Node& n, const std::string& from) {
  if (IpAddress::parse(from)) {
    if (source_node(from).empty()) {
      r_.error(
          n, fmt::format("from {} is no address of a node (an address as \"from\" names the node that has it)", from));
      return false;
    }
    return true;
  }
  auto before = r_.errors().size();
  check_target(n, from);
  if (r_.errors().size() != before) return false;
  if (from.find(':') != std::string::npos && addresses_of(from, std::nullopt).empty()) {
    r_.error(n, fmt::format("from \"{}\" names an interface without an address to send from", from));
    return false;
  }
  return true;
}

void Loader::source_keys(const YAML::Node& item, Probe& probe) {
  if (auto s = item["source"]) {
    auto text = r_.scalar(s, "source");
    auto v = text.value_or("");
    auto a = IpAddress::parse(v);
    if (!text) {
      // reported by scalar()
    } else if (!a) {
      r_.error(s, fmt::format("source \"{}\" is not an IP address", v));
    } else if (IpAddress::parse(probe.from) || probe.from.find(':') != std::string::npos) {
      r_.error(s, fmt::format("from \"{}\" already sets the source address; write from: NODE with source", probe.from));
    } else {
      std::string node = source_node(probe.from);
      auto mine = addresses_of(node, std::nullopt);
      if (s_.topology.find_node(node) && std::find(mine.begin(), mine.end(), *a) == mine.end()) {
        std::string list;
        for (const auto& m : mine) list += (list.empty() ? "" : ", ") + m.str();
        r_.error(s, fmt::format("source {} is not an address of node \"{}\" ({})", v, node,
                                list.empty() ? "it has none" : "it has " + list));
      } else {
        probe.source = a;
      }
    }
  }
  if (auto p = item["sport"]) {
    if (auto v = r_.integer(p, "sport", 1, 65535)) probe.sport = static_cast<std::uint16_t>(*v);
    if (item["icmp"]) r_.error(p, "sport needs a tcp or udp probe; an icmp probe has no port");
  }
}

std::optional<PortSet> Loader::port_set(const YAML::Node& n, std::string_view what) {
  PortSet out;
  bool ok = true;
  auto one = [&](const YAML::Node& item) {
    auto text = r_.scalar(item, what);
    if (!text) {
      ok = false;
      return;
    }
    std::string why;
    if (auto s = PortSet::parse(*text, &why)) {
      for (const auto& [lo, hi] : s->ranges()) out.add(lo, hi);
    } else {
      r_.error(item, fmt::format("{}: {}", what, why));
      ok = false;
    }
  };
  if (n.IsSequence()) {
    for (auto it = n.begin(); it != n.end(); ++it) one(*it);
  } else if (n.IsNull()) {
    r_.error(n, fmt::format("{} is empty", what));
    return std::nullopt;
  } else {
    one(n);
  }
  if (!ok) return std::nullopt;
  if (out.empty()) {
    r_.error(n, fmt::format("{} is empty", what));
    return std::nullopt;
  }
  return out;
}

// { from, to, scan: tcp/1-65535, open: [80, 443] }
void Loader::scan_expectation(const YAML::Node& item) {
  if (!r_.keys(item, {"from", "to", "scan", "open", "family", "source", "sport"}, "a scan")) return;
  ProbeExpectation e;
  e.where = r_.at(item);
  auto probe = probe_of(item, "a scan", &e.ports);
  if (!probe) return;
  auto s = item["scan"];
  auto text = r_.scalar(s, "scan").value_or("");
  auto slash = text.find('/');
  auto proto = parse_protocol(text.substr(0, slash));
  if (slash == std::string::npos || !proto || *proto == Protocol::icmp) {
    r_.error(s,
             fmt::format("scan \"{}\" is not tcp/PORTS or udp/PORTS (e.g. tcp/1-65535, udp/53, tcp/22,80,443)", text));
    return;
  }
  std::string why;
  auto ports = PortSet::parse(text.substr(slash + 1), &why);
  if (!ports) {
    r_.error(s, fmt::format("scan \"{}\": {}", text, why));
    return;
  }
  probe->protocol = *proto;
  probe->port = ports->ranges().front().first;
  e.ports = ports;
  if (!item["open"]) {
    r_.error(item, "a scan needs \"open\": the ports that must be open (open: [] when none)");
    return;
  }
  auto o = item["open"];
  if (o.IsSequence() && o.size() == 0) {
    e.open = PortSet{};
  } else if (auto set = port_set(o, "open")) {
    e.open = set;
    for (auto p : set->ports())
      if (!ports->contains(p)) {
        r_.error(o, fmt::format("open port {} is outside the scan ({})", p, ports->str()));
        return;
      }
  } else {
    return;
  }
  e.verdict = Verdict::reachable;
  e.probe = std::move(*probe);
  s_.expectations.push_back(std::move(e));
}

}  // namespace nslab::detail
