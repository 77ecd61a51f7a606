// A lab's Open vSwitch bridges (ovs_lab.h).
#include "ovs_lab.h"

#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <fstream>
#include <regex>
#include <set>

#include "nslab/error.h"
#include "nslab/fd.h"
#include "lab_build.h"
#include "nslab/node.h"
#include "ovs_daemons.h"

namespace nslab::detail {

namespace {

// Bounds for the daemons' start-up and ovs-vsctl's wait for ovs-vswitchd;
// they matter only when something is wrong (a slow emulated VM takes seconds).
constexpr std::chrono::milliseconds kDaemonTimeout{30000};

bool has_ovs_bridge(const NodeSpec& n) {
  for (const auto& b : n.bridges)
    if (b.kind == BridgeKind::ovs) return true;
  return false;
}

// The kernel datapath is there, or can be loaded: the module is loaded or
// built in (/sys/module), or a module file for this kernel exists.
bool kernel_datapath_available() {
  if (::access("/sys/module/openvswitch", F_OK) == 0) return true;
  utsname u{};
  if (::uname(&u) != 0) return false;
  std::ifstream dep(std::string("/lib/modules/") + u.release + "/modules.dep");
  std::string line;
  while (std::getline(dep, line))
    if (line.find("/openvswitch.ko") != std::string::npos) return true;
  return false;
}

std::string join_numbers(const std::vector<std::uint16_t>& v) {
  std::string s;
  for (auto x : v) s += (s.empty() ? "" : ",") + std::to_string(x);
  return s;
}

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

void disable_tx_checksum(const Node& node, const std::vector<std::string>& interfaces) {
  node.run([&] {
    Fd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!s) throw SystemError(fmt::format("node \"{}\": cannot open a socket for SIOCETHTOOL", node.name()), errno);
    for (const auto& name : interfaces) {
      ethtool_value v{};
      v.cmd = ETHTOOL_STXCSUM;
      v.data = 0;
      ifreq ifr{};
      std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
      ifr.ifr_data = reinterpret_cast<char*>(&v);
      if (::ioctl(s.get(), SIOCETHTOOL, &ifr) != 0)
        throw SystemError(fmt::format("cannot turn transmit checksum offload off on \"{}:{}\"", node.name(), name),
                          errno);
    }
  });
}

OvsLab::OvsLab(const Topology& t, const std::vector<Node*>& nodes) : topology_(t), all_(nodes) {
  for (std::size_t i = 0; i < t.nodes().size(); ++i) {
    const NodeSpec& n = t.nodes()[i];
    if (!has_ovs_bridge(n)) continue;
    for (const auto& b : n.bridges)
      if (b.kind == BridgeKind::ovs && b.ovs.datapath == OvsDatapath::system && !kernel_datapath_available())
        throw EnvironmentError(
            fmt::format("{}bridge \"{}:{}\" has datapath system, which needs the kernel's openvswitch module "
                        "(CONFIG_OPENVSWITCH); this kernel has none (datapath netdev works on any kernel)",
                        b.where.known() ? b.where.str() + ": " : "", n.name, b.name));
    for (const auto& b : n.bridges)
      // The netdev datapath's own port of a bridge is a tap device.
      if (b.kind == BridgeKind::ovs && b.ovs.datapath == OvsDatapath::netdev &&
          ::access("/dev/net/tun", R_OK | W_OK) != 0) {
        const int err = errno;
        throw EnvironmentError(fmt::format(
            "{}bridge \"{}:{}\": the netdev datapath makes the bridge's own port as a tap device, and /dev/net/tun "
            "cannot be opened here ({}{})",
            b.where.known() ? b.where.str() + ": " : "", n.name, b.name, std::strerror(err),
            err == ENOENT ? "; the tun module (CONFIG_TUN) makes it: modprobe tun"
                          : "; rootless, it must be readable and writable by everyone, as Debian makes it: chmod "
                            "0666 /dev/net/tun"));
      }
    nodes_.push_back(nodes.at(i));
  }
  if (nodes_.empty()) return;
  if (auto why = ovs_missing(); !why.empty()) throw EnvironmentError(why);
  starter_ = std::thread([this] {
    try {
      start();
    } catch (...) {
      failed_ = std::current_exception();
    }
  });
}

OvsLab::~OvsLab() {
  if (starter_.joinable()) starter_.join();
  daemons_.clear();
}

void OvsLab::start() {
  // Every ovsdb-server first, then every switch: their start-ups overlap.
  for (Node* n : nodes_) {
    const NodeSpec& spec = topology_.node(n->name());
    auto d =
        std::make_unique<OvsDaemons>(*n, ProcessSpec{.hostname = spec.hostname, .pid_namespace = spec.pid_namespace});
    daemons_.emplace(n->name(), std::move(d));
  }
  for (auto& [name, d] : daemons_) d->start_switch(kDaemonTimeout);
}

const OvsDaemons* OvsLab::daemons(std::string_view node) const {
  auto it = daemons_.find(node);
  return it == daemons_.end() ? nullptr : it->second.get();
}

std::vector<Process*> OvsLab::processes() const {
  std::vector<Process*> out;
  for (const auto& [name, d] : daemons_)
    for (auto* p : d->processes()) out.push_back(p);
  return out;
}

void OvsLab::configure(const std::map<std::string, MacAddress, std::less<>>& macs) {
  if (starter_.joinable()) starter_.join();
  if (failed_) std::rethrow_exception(failed_);
  for (Node* n : nodes_) configure_node(topology_.node(n->name()), *daemons_.at(n->name()), macs);
  // The bridges' own interfaces (taps or internal ports), up like a Linux bridge.
  for (Node* n : nodes_)
    for (const auto& b : topology_.node(n->name()).bridges)
      if (b.kind == BridgeKind::ovs) netlink_of(*n).configure(b.name, 0, true, n->name() + ":" + b.name);
  // Checksums: both ends of every link with an end on a netdev bridge.
  std::map<std::string, std::vector<std::string>> offload;
  for (const auto& l : topology_.links()) {
    bool netdev = false;
    for (const auto* e : {&l.a, &l.b})
      if (!e->bridge.empty())
        if (const BridgeSpec* b = topology_.node(e->node).find_bridge(e->bridge);
            b && b->kind == BridgeKind::ovs && b->ovs.datapath == OvsDatapath::netdev)
          netdev = true;
    if (!netdev) continue;
    for (const auto* e : {&l.a, &l.b}) offload[e->node].push_back(e->interface);
  }
  for (const auto& [node, ifs] : offload)
    for (Node* n : all_)
      if (n->name() == node) disable_tx_checksum(*n, ifs);
}

// One transaction for the node: every bridge with its settings, its ports
// with their VLANs, its mirrors. ovs-vsctl returns once ovs-vswitchd has
// applied it (or the timeout passes).
void OvsLab::configure_node(const NodeSpec& spec, const OvsDaemons& d,
                            const std::map<std::string, MacAddress, std::less<>>& macs) {
  std::vector<std::string> argv{"ovs-vsctl", fmt::format("--timeout={}", kDaemonTimeout.count() / 1000), "--", "init"};
  auto more = [&](std::initializer_list<std::string> words) { argv.insert(argv.end(), words); };
  int ids = 0;
  for (const auto& b : spec.bridges) {
    if (b.kind != BridgeKind::ovs) continue;
    more({"--", "add-br", b.name, "--", "set", "bridge", b.name,
          fmt::format("datapath_type={}", to_string(b.ovs.datapath)),
          fmt::format("fail_mode={}", to_string(b.ovs.fail_mode))});
    if (auto m = macs.find(spec.name + ":" + b.name); m != macs.end())
      argv.push_back(fmt::format("other_config:hwaddr=\"{}\"", to_string(m->second)));
    if (b.mtu) more({"--", "set", "interface", b.name, fmt::format("mtu_request={}", b.mtu)});
    for (const auto& l : topology_.links())
      for (const auto* e : {&l.a, &l.b}) {
        if (e->node != spec.name || e->bridge != b.name) continue;
        more({"--", "add-port", b.name, e->interface});
        if (const OvsPort* p = b.ovs.find_port(e->interface)) {
          if (p->tag) argv.push_back(fmt::format("tag={}", *p->tag));
          if (!p->trunks.empty()) argv.push_back("trunks=" + join_numbers(p->trunks));
          if (p->vlan_mode) argv.push_back(fmt::format("vlan_mode={}", to_string(*p->vlan_mode)));
        }
      }
    for (const auto& m : b.ovs.mirrors) {
      const int id = ids++;
      more({"--", fmt::format("--id=@out{}", id), "get", "port", m.output});
      std::string selected;
      for (std::size_t k = 0; k < m.select.size(); ++k) {
        more({"--", fmt::format("--id=@sel{}x{}", id, k), "get", "port", m.select[k]});
        selected += fmt::format("{}@sel{}x{}", k ? "," : "", id, k);
      }
      more({"--", fmt::format("--id=@m{}", id), "create", "mirror", "name=" + m.name,
            fmt::format("output_port=@out{}", id)});
      if (m.select.empty())
        argv.push_back("select_all=true");
      else
        more({"select_src_port=" + selected, "select_dst_port=" + selected});
      more({"--", "add", "bridge", b.name, "mirrors", fmt::format("@m{}", id)});
    }
  }
  auto r = d.run(argv, kDaemonTimeout + std::chrono::seconds(2));
  std::string out = trimmed(r.output);
  if (!r.ok() || out.find("Error detected while setting up") != std::string::npos) {
    for (const auto& b : spec.bridges)
      if (b.kind == BridgeKind::ovs && b.ovs.datapath == OvsDatapath::system &&
          out.find("'" + b.name + "'") != std::string::npos)
        throw EnvironmentError(fmt::format(
            "{}bridge \"{}:{}\": ovs-vswitchd cannot open the kernel datapath (datapath system needs the openvswitch "
            "module, CONFIG_OPENVSWITCH, loaded or loadable here): {}",
            b.where.known() ? b.where.str() + ": " : "", spec.name, b.name, out));
    throw SystemError(fmt::format("node \"{}\": ovs-vsctl could not make its Open vSwitch bridges ({}): {}", spec.name,
                                  r.timed_out ? "timed out" : fmt::format("exit {}", r.status), out),
                      0);
  }
  for (const auto& b : spec.bridges)
    if (b.kind == BridgeKind::ovs && !b.ovs.openflow.empty()) load_flows(spec, b, d);
}

// The flows go to a file in the daemons' directory, verbatim (so that
// ovs-ofctl's "FILE:LINE:" is the text's line), and in one bundle: all of
// them or none.
void OvsLab::load_flows(const NodeSpec& spec, const BridgeSpec& b, const OvsDaemons& d) {
  const std::string file = d.dir() + "/" + b.name + ".flows";
  {
    std::ofstream f(file);
    f << b.ovs.openflow;
    if (!b.ovs.openflow.empty() && b.ovs.openflow.back() != '\n') f << '\n';
    if (!f)
      throw SystemError(fmt::format("cannot write the flows of bridge \"{}:{}\" to {}", spec.name, b.name, file),
                        errno);
  }
  auto r = d.run({"ovs-ofctl", "--bundle", "add-flows", b.name, file}, kDaemonTimeout);
  if (r.ok()) return;
  std::string out = trimmed(r.output);
  SourceLocation at = b.ovs.openflow_where;
  std::string flow;
  static const std::regex line_re(R"(:(\d+): (.*))");
  std::smatch m;
  if (auto pos = out.find(file); pos != std::string::npos) {
    std::string rest = out.substr(pos + file.size());
    if (std::regex_search(rest, m, line_re) && m.position(0) == 0) {
      const int index = std::stoi(m[1]) - 1;
      for (const auto& l : openflow_lines(b.ovs.openflow))
        if (l.line == index) {
          flow = l.text;
          if (at.known()) {
            at.line += index;
            at.column += l.column;
          }
        }
      out = m[2];
    }
  }
  throw ConfigError(fmt::format("bridge \"{}:{}\": ovs-ofctl rejected {}: {}", spec.name, b.name,
                                flow.empty() ? std::string("the flows") : "the flow \"" + flow + "\"", out),
                    at);
}

}  // namespace nslab::detail
