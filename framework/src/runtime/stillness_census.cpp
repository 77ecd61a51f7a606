// What the lab's nodes hold, for Stillness: each node's kernel state read
// by a thread inside it (sockets, local addresses, neighbour settings, the
// ruleset), and the processes and threads inside the nodes.
#include "stillness.h"
#include "stillness_neighbours.h"
#include "stillness_ruleset.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <cctype>
#include <cstdlib>
#include <map>
#include <unordered_map>
#include <mutex>
#include <sstream>
#include <thread>

#include "firewall.h"
#include "lab_internals.h"
#include "link_impairment.h"
#include "node_internals.h"
#include "nslab/fd.h"
#include "nslab/lab.h"
#include "netlink_dump.h"
#include "subprocess.h"
#include "sys.h"

namespace nslab::detail {

namespace {

std::string read_file(const std::string& path) {
  return sys::read_file_if(path).value_or("");
}

// "net:[4026532281]" -> 4026532281; 0 when the link cannot be read (the
// task has exited, or is a zombie).
unsigned long net_of(const std::string& ns_link) {
  char buf[64];
  ssize_t n = ::readlink(ns_link.c_str(), buf, sizeof buf - 1);
  if (n <= 5) return 0;
  buf[n] = 0;
  return std::strtoul(buf + 5, nullptr, 10);
}

std::string comm_of(const std::string& dir) {
  std::string c = read_file(dir + "/comm");
  while (!c.empty() && c.back() == '\n') c.pop_back();
  return c;
}

IpAddress v6_from_hex(std::string_view hex) {
  std::uint8_t b[16] = {};
  for (std::size_t i = 0; i < 16 && 2 * i + 1 < hex.size(); ++i)
    b[i] = static_cast<std::uint8_t>(std::stoul(std::string(hex.substr(2 * i, 2)), nullptr, 16));
  return IpAddress::from_bytes(Family::ipv6, b);
}

// What one node's kernel says, read by a thread inside it.
struct NodeCensus {
  std::vector<unsigned long> sockets;  // IP sockets held by someone (inode != 0)
  std::set<IpAddress> local;           // addresses it answers for: local routes, anycast
  std::vector<Prefix> prefixes;        // IPv6 prefixes of its addresses
  std::vector<IpAddress> pending;      // IPv6 addresses not yet in use
  bool any_ip = false;                 // a local route wider than one address
  bool proxies = false;                // proxy ARP/NDP, proxy entries, user-space resolution
  long failure_ms = 3000;              // the soonest an unanswered resolution fails here
  bool legacy_iptables = false;
  RulesetGeneration generation;  // read before the ruleset
  std::string ruleset;           // JSON
  std::string ruleset_error;
};

// How many sockets each protocol has in this namespace ("TCP" -> 2), from
// sockstat and sockstat6.
std::map<std::string, long> sockets_in_use() {
  std::map<std::string, long> out;
  for (const char* f : {"/proc/thread-self/net/sockstat", "/proc/thread-self/net/sockstat6"}) {
    std::istringstream in(read_file(f));
    for (std::string line; std::getline(in, line);) {
      std::istringstream l(line);
      std::string name, word;
      long n = -1;
      if (l >> name >> word >> n && word == "inuse" && !name.empty() && name.back() == ':') {
        name.pop_back();
        out[name] = n;
      }
    }
  }
  return out;
}

void read_sockets(NodeCensus& c) {
  // Reading /proc/net/tcp walks every bucket of the kernel's established
  // hash, which all namespaces share (262,144 buckets on a machine with a
  // few GiB): half of a seed scenario's CPU went there. A table whose
  // protocol has no socket in use here is not read.
  auto in_use = sockets_in_use();
  for (const char* f : {"tcp", "tcp6", "udp", "udp6", "udplite", "udplite6", "raw", "raw6", "icmp", "icmp6"}) {
    std::string upper;
    for (const char* p = f; *p; ++p) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(*p)));
    if (auto it = in_use.find(upper); it != in_use.end() && it->second == 0) continue;
    std::istringstream in(read_file(std::string("/proc/thread-self/net/") + f));
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::istringstream l(line);
      std::string col;
      for (int i = 0; i < 10 && l >> col; ++i) {}
      unsigned long inode = std::strtoul(col.c_str(), nullptr, 10);
      if (inode != 0) c.sockets.push_back(inode);
    }
  }
}

void read_addresses(NodeCensus& c, const std::set<std::string>& down) {
  // IPv4: local routes in the local table (fib_trie: "|-- ADDRESS" then
  // "/LEN SCOPE TYPE" lines).
  {
    std::istringstream in(read_file("/proc/thread-self/net/fib_trie"));
    std::string line, last;
    while (std::getline(in, line)) {
      auto dash = line.find("|-- ");
      if (dash != std::string::npos) {
        last = line.substr(dash + 4);
        continue;
      }
      auto slash = line.find_first_not_of(' ');
      if (slash == std::string::npos || line[slash] != '/') continue;
      std::istringstream l(line.substr(slash + 1));
      int len = 0;
      std::string scope, type;
      l >> len >> scope >> type;
      auto a = IpAddress::parse(last);
      if (!a) continue;
      if (type == "LOCAL" || type == "BROADCAST") c.local.insert(*a);
      bool loopback = a->data()[0] == 127;
      if (type == "LOCAL" && len < 32 && !loopback) c.any_ip = true;
    }
  }
  // IPv6: local and anycast routes (ipv6_route: DEST LEN SRC LEN NEXTHOP
  // METRIC REFCNT USE FLAGS DEV).
  constexpr unsigned long kRtfLocal = 0x80000000, kRtfAnycast = 0x00100000;
  std::set<IpAddress> local6;
  {
    std::istringstream in(read_file("/proc/thread-self/net/ipv6_route"));
    std::string dest, len, src, slen, hop, metric, ref, use, flags, dev;
    while (in >> dest >> len >> src >> slen >> hop >> metric >> ref >> use >> flags >> dev) {
      unsigned long f = std::stoul(flags, nullptr, 16);
      int plen = static_cast<int>(std::stoul(len, nullptr, 16));
      if (!(f & (kRtfLocal | kRtfAnycast))) continue;
      IpAddress a = v6_from_hex(dest);
      c.local.insert(a);
      local6.insert(a);
      if (plen < 128) c.any_ip = true;  // AnyIP: `ip -6 route add local PREFIX`
    }
  }
  {
    std::istringstream in(read_file("/proc/thread-self/net/anycast6"));
    std::string index, dev, addr, users;
    while (in >> index >> dev >> addr >> users) c.local.insert(v6_from_hex(addr));
  }
  {
    // ADDRESS IFINDEX PLEN SCOPE FLAGS DEV
    std::istringstream in(read_file("/proc/thread-self/net/if_inet6"));
    std::string addr, index, plen, scope, flags, dev;
    constexpr unsigned long kTentative = 0x40;
    while (in >> addr >> index >> plen >> scope >> flags >> dev) {
      IpAddress a = v6_from_hex(addr);
      c.prefixes.emplace_back(a, static_cast<int>(std::stoul(plen, nullptr, 16)));
      if (dev == "lo" || down.count(dev)) continue;  // a down interface has no local routes
      if ((std::stoul(flags, nullptr, 16) & kTentative) || !local6.count(a)) c.pending.push_back(a);
    }
  }
}

bool has_proxy_entries() {
  Fd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (!fd) return true;  // cannot tell: assume there are
  struct {
    nlmsghdr h;
    ndmsg nd;
  } req{};
  req.h.nlmsg_len = sizeof req;
  req.h.nlmsg_type = RTM_GETNEIGH;
  req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  req.nd.ndm_family = AF_UNSPEC;
  req.nd.ndm_flags = NTF_PROXY;
  bool any = false;
  int error = detail::netlink_dump(fd.get(), &req, sizeof req, [&](const nlmsghdr& h) {
    any = h.nlmsg_type == RTM_NEWNEIGH;
    return !any;
  });
  return any || error != 0;
}

void read_neighbour_settings(NodeCensus& c) {
  auto settings = neighbour_settings_here();
  c.proxies = settings.proxies || has_proxy_entries();
  c.failure_ms = settings.failure_ms;
}

void read_firewall(NodeCensus& c) {
  for (const char* f : {"ip_tables_names", "ip6_tables_names", "arp_tables_names"})
    if (read_file(std::string("/proc/thread-self/net/") + f).find_first_not_of(" \n") != std::string::npos)
      c.legacy_iptables = true;
  c.generation = ruleset_generation_here();
  if (auto json = cached_ruleset(c.generation)) {
    c.ruleset = std::move(*json);
    return;
  }
  try {
    c.ruleset = list_ruleset_json_here();
  } catch (const Error& e) {
    c.ruleset_error = e.what();
  }
}

// iptables-nft's conntrack match, when nft cannot express it natively
// (--ctstate with other options), shows as an xt expression without its
// options: iptables-save says whether one of them is the time left.
bool conntrack_expiry(const Node& n) {
  for (const char* tool : {"iptables-save", "ip6tables-save"}) {
    auto r = run_in_netns(n.netns(), {tool});
    if (r.status != 0 || r.output.find("--ctexpire") != std::string::npos) return true;
  }
  return false;
}

}  // namespace

bool Stillness::someone_inside(std::string& why) const {
  std::map<unsigned long, std::string> nets;
  for (const auto& n : lab_.nodes()) nets[n->netns().inode()] = n->name();
  // /proc must show this PID namespace, or its pids mean nothing here.
  char self[32];
  ssize_t len = ::readlink("/proc/self", self, sizeof self - 1);
  if (len <= 0 || std::strtol(std::string(self, static_cast<std::size_t>(len)).c_str(), nullptr, 10) != ::getpid()) {
    why = "/proc shows another PID namespace's processes, so nslab cannot see what runs in the lab's nodes";
    return true;
  }
  const std::string me = std::to_string(::getpid());
  for (const auto& pid : sys::entries("/proc")) {
    if (pid.find_first_not_of("0123456789") != std::string::npos || pid == me) continue;
    if (daemons_.count(std::atoi(pid.c_str()))) continue;
    auto it = nets.find(net_of("/proc/" + pid + "/ns/net"));
    if (it == nets.end()) continue;
    why = fmt::format("a process runs in node \"{}\" (pid {}, {})", it->second, pid, comm_of("/proc/" + pid));
    return true;
  }
  // This process's own threads: nslab's never stay in a node, so one that
  // is there runs the caller's code (Node::run, Netns::run).
  const auto tid = std::to_string(::syscall(SYS_gettid));
  // A thread that nslab joined a moment ago may still be listed there: the
  // kernel wakes its joiner before it leaves the namespace. Such a thread is
  // gone within microseconds; give it 20 ms before calling it the caller's.
  for (int wait = 0;; ++wait) {
    std::string inside;
    for (const auto& t : sys::entries("/proc/self/task")) {
      if (t == tid) continue;
      auto it = nets.find(net_of("/proc/self/task/" + t + "/ns/net"));
      if (it != nets.end()) inside = it->second;
    }
    if (inside.empty()) return false;
    if (wait == 20) {
      why = fmt::format("a thread of this process runs in node \"{}\" (code given to Node::run?)", inside);
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

std::optional<std::string> Stillness::look_at_nodes(Lab& lab) {
  pending_addresses_ = false;
  const auto& nodes = lab.nodes();
  std::vector<NodeCensus> census(nodes.size());
  std::vector<Node*> all(nodes.begin(), nodes.end());
  std::map<std::string, std::set<std::string>> down;  // node -> interfaces the lab leaves down
  for (const auto& l : lab.topology().links())
    for (const auto* e : {&l.a, &l.b})
      if (!e->up) down[e->node].insert(e->interface);
  auto before = LabInternals::service_sockets(lab);
  std::unordered_map<const Node*, std::size_t> index;
  for (std::size_t i = 0; i < nodes.size(); ++i) index.emplace(nodes[i], i);
  lab.run_in_each(all, [&](Node& n) {
    NodeCensus& c = census[index.at(&n)];
    read_sockets(c);
    read_addresses(c, down[n.name()]);
    read_neighbour_settings(c);
    read_firewall(c);
  });
  // nslab's own sockets: the services' (before and after the look, for
  // connections accepted or closed meanwhile) and the probes' raw sockets.
  std::set<unsigned long> own(before.begin(), before.end());
  for (auto ino : LabInternals::service_sockets(lab)) own.insert(ino);
  for (const auto& n : nodes)
    for (Family f : {Family::ipv4, Family::ipv6}) {
      struct stat st {};
      int fd = NodeInternals::icmp_socket(*n, f);
      if (fd >= 0 && ::fstat(fd, &st) == 0) own.insert(static_cast<unsigned long>(st.st_ino));
    }
  // nslab's loss tables, where loss is an nftables drop.
  std::vector<std::set<std::string>> loss_tables(nodes.size());
  for (std::size_t i = 0; i < nodes.size(); ++i)
    for (const auto& t : loss_tables_of(lab, nodes[i]->name())) loss_tables[i].insert("netdev " + t);

  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const NodeCensus& c = census[i];
    const std::string& name = nodes[i]->name();
    for (auto ino : c.sockets)
      if (!own.count(ino))
        return fmt::format("node \"{}\" holds a socket that is not nslab's (Node::socket, or one made in Node::run)",
                           name);
    if (!c.pending.empty()) {
      pending_addresses_ = true;
      return fmt::format(
          "node \"{}\": IPv6 address {} is not in use yet (the kernel's address configuration "
          "work is behind)",
          name, c.pending.front().str());
    }
    if (c.legacy_iptables)
      return fmt::format("node \"{}\" has legacy iptables tables, whose rules nslab cannot read", name);
    if (!c.ruleset_error.empty()) return fmt::format("node \"{}\": {}", name, c.ruleset_error);
    auto why = ruleset_verdict(c.generation, c.ruleset, loss_tables[i], [&] {
      auto w = time_dependent_rule(c.ruleset, loss_tables[i]);
      if (w && w->rfind("rules with \"xt conntrack\"", 0) == 0 && !conntrack_expiry(*nodes[i]))
        w = time_dependent_rule(c.ruleset, loss_tables[i], {"conntrack"});
      return w;
    });
    if (why) return fmt::format("node \"{}\" has {}, whose verdict may change with time", name, *why);
    owned_.insert(c.local.begin(), c.local.end());
    prefixes_.insert(prefixes_.end(), c.prefixes.begin(), c.prefixes.end());
    if (c.any_ip || c.proxies) dead_ends_ = false;
    neighbour_failure_ = std::min(neighbour_failure_, std::chrono::milliseconds(c.failure_ms));
  }
  return std::nullopt;
}

Stillness::Settled Stillness::settle(Clock::time_point deadline, const std::function<int()>& poll, int batch,
                                     std::string& why) {
  while (poll() == batch) {}
  if (!look(deadline)) {
    if (!blocker_) return Settled::moved;
    why = *blocker_;
    return Settled::gave_up;
  }
  while (poll() > 0) {}
  // A program started meanwhile (by another thread) may still answer.
  if (someone_inside(why)) return Settled::gave_up;
  return Settled::still;
}

}  // namespace nslab::detail
