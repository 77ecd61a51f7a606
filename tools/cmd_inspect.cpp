// nslab inspect LAB [--json]: a kept lab's nodes as the kernel holds them, and
// its programs as the keeper knows them (like `clab inspect`).
#include <cstdio>
#include <fmt/format.h>
#include <sstream>
#include <string>

#include "commands.h"
#include "json_text.h"
#include "kept_lab.h"
#include "kept_lab_inspect.h"

namespace nslab::cli {

namespace {

const char* kHelp = R"(usage: nslab inspect LAB [--json]

Shows a lab kept up by `nslab up`: its keeper, and for each node its
hostname, interfaces and addresses (`ip -br address`), routes (`ip route`,
`ip -6 route`), firewall rules (iptables-save, ip6tables-save, and `nft list
ruleset` without the tables iptables-save shows), its programs with their pid and
state (running, or exited and with which code), and its built-in services.
The rules and routes are read inside the node, as the kernel holds them.

  --json   the same as one JSON object: iproute2's and nft's own JSON
           (`ip -j`, `nft -j`) for addresses, routes and nftables, and
           iptables-save's text
)";

// The program's command line: its label without "NODE: ".
std::string command_of(const KeptProgramState& p) {
  return p.label.rfind(p.node + ": ", 0) == 0 ? p.label.substr(p.node.size() + 2) : p.label;
}

void section(const char* title, const std::string& text) {
  if (text.find_first_not_of(" \n") == std::string::npos) return;
  std::printf("  %s\n", title);
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.pop_back();
    if (!line.empty()) std::printf("    %s\n", line.c_str());
  }
}

}  // namespace

int inspect(const Args& args) {
  if (wants_help(args)) {
    std::fputs(kHelp, stdout);
    return kOk;
  }
  bool json = false;
  std::string id;
  for (const auto& a : args) {
    if (a == "--json")
      json = true;
    else if (id.empty() && !a.empty() && a[0] != '-')
      id = a;
    else {
      std::fprintf(stderr, "nslab inspect: unexpected \"%s\"\n\n%s", a.c_str(), kHelp);
      return kUsage;
    }
  }
  if (id.empty()) {
    std::fputs(kHelp, stderr);
    return kUsage;
  }
  KeptLab k;
  try {
    k = find_kept_lab(id);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "nslab inspect: %s\n", e.what());
    return kUsage;
  }
  // The keeper first: seeing the nodes enters the keeper's namespaces.
  KeptLabPrograms programs = kept_lab_programs(k);
  std::vector<KeptNodeView> nodes = inspect_kept_nodes(k, json);
  if (json) {
    std::string out =
        fmt::format("{{\"lab\":{},\"scenario\":{},\"keeper\":{{\"pid\":{},\"state\":\"running\"}},\"nodes\":[",
                    json_string(k.id), json_string(k.scenario), k.keeper);
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      const auto& v = nodes[i];
      std::string progs, services;
      for (const auto& p : programs.programs) {
        if (p.node != v.node) continue;
        auto code = p.state.rfind("exited ", 0) == 0 ? p.state.substr(7) : std::string("null");
        progs += fmt::format("{}{{\"index\":{},\"pid\":{},\"state\":{},\"exit\":{},\"command\":{}}}",
                             progs.empty() ? "" : ",", p.index, p.pid,
                             json_string(code == "null" ? "running" : "exited"), code, json_string(command_of(p)));
      }
      for (const auto& s : programs.services)
        if (s.node == v.node) services += (services.empty() ? "" : ",") + json_string(s.service);
      out += fmt::format(
          "{}{{\"name\":{},\"hostname\":{},\"netns\":{},\"addresses\":{},\"routes\":{},\"routes6\":{},"
          "\"iptables\":{},\"ip6tables\":{},\"nftables\":{},\"programs\":[{}],\"services\":[{}]}}",
          i ? "," : "", json_string(v.node), v.hostname.empty() ? "null" : json_string(v.hostname),
          json_string(v.netns), json_raw(v.addresses), json_raw(v.routes), json_raw(v.routes6), json_string(v.iptables),
          json_string(v.ip6tables), json_raw(v.nftables), progs, services);
    }
    std::printf("%s]}\n", out.c_str());
    return kOk;
  }
  std::printf("lab %s  (scenario %s)  keeper pid %d: running\n", k.id.c_str(), k.scenario.c_str(), k.keeper);
  for (const auto& v : nodes) {
    std::printf("\nnode %s%s  %s\n", v.node.c_str(),
                v.hostname.empty() ? "" : fmt::format("  (hostname {})", v.hostname).c_str(), v.netns.c_str());
    section("interfaces", v.addresses);
    section("routes", v.routes);
    section("routes (IPv6)", v.routes6);
    section("iptables", v.iptables);
    section("ip6tables", v.ip6tables);
    section("nftables", v.nftables);
    std::string progs;
    for (const auto& p : programs.programs)
      if (p.node == v.node) progs += fmt::format("pid {:<7} {:<10} {}\n", p.pid, p.state, command_of(p));
    section("programs", progs);
    std::string services;
    for (const auto& s : programs.services)
      if (s.node == v.node) services += s.service + " (built-in responder)\n";
    section("services", services);
  }
  return kOk;
}

}  // namespace nslab::cli
