#include "kernel_drops.h"

#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <charconv>
#include <cerrno>
#include <optional>
#include <sstream>

#include "nslab/node.h"
#include "probe_engine_impl.h"
#include "sys.h"
#include "sysctl.h"

namespace nslab::detail {

namespace {

std::optional<std::uint64_t> number(const std::string& text) {
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return v;
}

std::uint64_t moved(const DropCounters& before, const DropCounters& after, const std::string& key) {
  auto a = after.mib.find(key);
  if (a == after.mib.end()) return 0;
  auto b = before.mib.find(key);
  std::uint64_t was = b == before.mib.end() ? 0 : b->second;
  return a->second - std::min(a->second, was);
}

// Interfaces and their received packets, from /proc/net/dev.
std::map<std::string, std::uint64_t> rx_packets_here() {
  std::map<std::string, std::uint64_t> out;
  std::istringstream in(sys::read_file("/proc/thread-self/net/dev"));
  std::string line;
  for (int header = 0; header < 2 && std::getline(in, line); ++header) {}
  while (std::getline(in, line)) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    name.erase(0, name.find_first_not_of(' '));
    std::istringstream fields(line.substr(colon + 1));
    std::uint64_t bytes = 0, packets = 0;
    if (fields >> bytes >> packets) out[name] = packets;
  }
  return out;
}

// errno of a route lookup for `to` in the calling thread's namespace, as a
// datagram socket's connect() makes it (0: a route exists).
int route_lookup_here(const IpAddress& to) {
  Fd s = sys::socket(to_af(to.family()), SOCK_DGRAM, 0, "a route lookup socket");
  sockaddr_storage ss{};
  socklen_t len = probe_engine::make_sockaddr(to, 9, ss);
  return ::connect(s.get(), reinterpret_cast<const sockaddr*>(&ss), len) == 0 ? 0 : errno;
}

std::string read_or(std::string_view key, std::string fallback) {
  try {
    return read_sysctl_here(key);
  } catch (const Error&) {
    return fallback;
  }
}

// The addresses the probe's packets carry as source: its `source`, or the
// from node's addresses of the target's family.
std::vector<IpAddress> sources_of(const Lab& lab, const Probe& probe, Family family) {
  if (probe.source) return {*probe.source};
  if (auto a = IpAddress::parse(probe.from)) return {*a};
  std::string node = probe.from.substr(0, probe.from.find(':'));
  std::string iface = probe.from.find(':') == std::string::npos ? "" : probe.from.substr(probe.from.find(':') + 1);
  std::vector<IpAddress> out;
  for (const auto& i : lab.topology().interfaces_of(node))
    if (iface.empty() || i.name == iface)
      for (const auto& p : i.addresses)
        if (p.family() == family) out.push_back(p.address());
  return out;
}

std::string rp_filter_cause(Lab& lab, const std::string& node, const DropCounters& before, const DropCounters& after) {
  // The interfaces that received packets during the run and filter by
  // reverse path (the kernel uses the larger of "all" and the interface's).
  auto filtering = lab.node(node).run([&] {
    std::vector<std::pair<std::string, std::string>> out;
    int all = std::atoi(read_or("net.ipv4.conf.all.rp_filter", "0").c_str());
    for (const auto& [name, packets] : after.rx_packets) {
      auto b = before.rx_packets.find(name);
      if (b != before.rx_packets.end() && b->second >= packets) continue;
      if (name.find('.') != std::string::npos) continue;  // no per-interface key for dotted names
      int mine = std::atoi(read_or("net.ipv4.conf." + name + ".rp_filter", "0").c_str());
      if (std::max(all, mine) > 0)
        out.emplace_back(name, mine >= all ? fmt::format("net.ipv4.conf.{}.rp_filter = {}", name, mine)
                                           : fmt::format("net.ipv4.conf.all.rp_filter = {}", all));
    }
    return out;
  });
  if (filtering.size() == 1)
    return fmt::format("dropped by rp_filter on {}:{} ({})", node, filtering[0].first, filtering[0].second);
  return fmt::format("dropped by rp_filter on {} (TcpExt IPReversePathFilter)", node);
}

// A route is missing for the target or for the probe's source (the answer's
// way back). A node that forwarded (IpExt InNoRoutes: the lookup of a packet
// it received) tries the target first; one that sent (Ip OutNoRoutes) is the
// probe's own source, short of the target, or a node answering, short of the
// way back (a DNAT'd server without a return route).
std::string no_route_cause(Lab& lab, const std::string& node, bool sent, const Probe& probe, const IpAddress& target) {
  auto sources = sources_of(lab, probe, target.family());
  bool from_here = probe.from.substr(0, probe.from.find(':')) == node;
  std::vector<IpAddress> order;
  if (!sent || from_here) order.push_back(target);
  order.insert(order.end(), sources.begin(), sources.end());
  if (sent && !from_here) order.push_back(target);
  auto missing = lab.node(node).run([&]() -> std::optional<IpAddress> {
    for (const auto& a : order)
      if (route_lookup_here(a) == ENETUNREACH) return a;
    return std::nullopt;
  });
  if (!missing)
    return fmt::format("no route on {} for a packet of the probe ({})", node,
                       sent             ? "Ip OutNoRoutes"
                       : target.is_v4() ? "IpExt InNoRoutes"
                                        : "Ip6 InNoRoutes");
  return fmt::format("no route on {} for {}{}", node, missing->str(),
                     *missing == target ? "" : " (the answer's way back)");
}

std::string address_error_cause(Lab& lab, const std::string& node, bool v4, std::uint64_t n) {
  std::string key = v4 ? "net.ipv4.ip_forward" : "net.ipv6.conf.all.forwarding";
  std::string value = lab.node(node).run([&] { return read_or(key, "?"); });
  while (!value.empty() && (value.back() == '\n' || value.back() == ' ')) value.pop_back();
  if (value == "0") return fmt::format("not forwarded by {}: {} = 0", node, key);
  return fmt::format("dropped by {}: {} packet{} for an address it does not deliver to ({} InAddrErrors)", node, n,
                     n == 1 ? "" : "s", v4 ? "Ip" : "Ip6");
}

}  // namespace

std::map<std::string, std::uint64_t> parse_mib(const std::string& text) {
  std::map<std::string, std::uint64_t> out;
  std::istringstream in(text);
  std::string line, header;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string first;
    if (!(words >> first)) continue;
    if (first.back() == ':') {
      // Two lines per section: the names, then the values.
      if (header.empty() || header.substr(0, header.find(' ')) != first) {
        header = line;
        continue;
      }
      std::istringstream names(header);
      std::string section, name, value;
      names >> section;
      section.pop_back();
      while (names >> name && words >> value) {
        if (auto v = number(value)) out[section + ":" + name] = *v;  // a negative value (Tcp MaxConn -1): not kept
      }
      header.clear();
    } else if (first.starts_with("Ip6") || first.starts_with("Icmp6") || first.starts_with("Udp6")) {
      // snmp6: "Ip6InNoRoutes   3"
      std::string value;
      std::size_t split = first.starts_with("Ip6") ? 3 : first.starts_with("Icmp6") ? 5 : 4;
      if (words >> value)
        if (auto v = number(value)) out[first.substr(0, split) + ":" + first.substr(split)] = *v;
    }
  }
  return out;
}

DropSnapshot read_drop_counters(Lab& lab) {
  const auto& nodes = lab.nodes();
  std::vector<DropCounters> each(nodes.size());
  lab.run_in_each(nodes, [&](Node& n) {
    std::size_t i = static_cast<std::size_t>(std::find(nodes.begin(), nodes.end(), &n) - nodes.begin());
    DropCounters& c = each[i];
    for (const char* f : {"snmp", "netstat", "snmp6"}) {
      try {
        c.mib.merge(parse_mib(sys::read_file(std::string("/proc/thread-self/net/") + f)));
      } catch (const Error&) {
        // snmp6 is absent where IPv6 is off: nothing to count there
      }
    }
    c.rx_packets = rx_packets_here();
  });
  DropSnapshot out;
  for (std::size_t i = 0; i < nodes.size(); ++i) out[nodes[i]->name()] = std::move(each[i]);
  return out;
}

std::vector<std::string> kernel_drops(Lab& lab, const DropSnapshot& before, const DropSnapshot& after,
                                      const Probe& probe, const IpAddress& target) {
  std::vector<std::string> out;
  for (const auto& [node, now] : after) {
    auto b = before.find(node);
    if (b == before.end()) continue;
    const DropCounters& was = b->second;
    if (moved(was, now, "TcpExt:IPReversePathFilter") > 0) out.push_back(rp_filter_cause(lab, node, was, now));
    if (moved(was, now, "IpExt:InNoRoutes") > 0 || moved(was, now, "Ip6:InNoRoutes") > 0)
      out.push_back(no_route_cause(lab, node, false, probe, target));
    else if (moved(was, now, "Ip:OutNoRoutes") > 0 || moved(was, now, "Ip6:OutNoRoutes") > 0)
      out.push_back(no_route_cause(lab, node, true, probe, target));
    if (auto n = moved(was, now, "Ip:InAddrErrors")) out.push_back(address_error_cause(lab, node, true, n));
    if (auto n = moved(was, now, "Ip6:InAddrErrors")) out.push_back(address_error_cause(lab, node, false, n));
  }
  if (out.empty()) {
    // An ICMP echo reply that cannot be routed is dropped without a count
    // (icmp_reply() keeps none). The target's node got the probe (its
    // interfaces received packets) and has no route back: that is a fact
    // of its routing table, said as such.
    std::string owner;
    for (const auto& n : lab.topology().nodes())
      for (const auto& i : lab.topology().interfaces_of(n.name))
        for (const auto& p : i.addresses)
          if (p.address() == target) owner = n.name;
    auto a = after.find(owner), b = before.find(owner);
    if (!owner.empty() && a != after.end() && b != before.end() && a->second.rx_packets != b->second.rx_packets) {
      auto sources = sources_of(lab, probe, target.family());
      auto missing = lab.node(owner).run([&]() -> std::optional<IpAddress> {
        for (const auto& s : sources)
          if (route_lookup_here(s) == ENETUNREACH) return s;
        return std::nullopt;
      });
      if (missing)
        out.push_back(fmt::format("{} received the probe and has no route back to {}", owner, missing->str()));
    }
  }
  return out;
}

}  // namespace nslab::detail
