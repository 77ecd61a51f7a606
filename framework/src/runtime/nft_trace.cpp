#include "nft_trace.h"

#include <endian.h>
#include <fmt/format.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <nftables/libnftables.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "iptables_text.h"
#include "netlink_dump.h"
#include "nslab/fd.h"
#include "nslab/node.h"
#include "sys.h"

namespace nslab::detail {

namespace {

// One trace event: a rule that gave a verdict, or a chain's policy.
struct Event {
  std::string family, table, chain;
  std::uint32_t type = 0;
  std::optional<std::uint64_t> handle;
  std::optional<std::int32_t> verdict;  // NF_DROP, NF_ACCEPT, NFT_JUMP...
  std::optional<std::uint32_t> policy;
};

std::string family_name(std::uint8_t f) {
  switch (f) {
    case NFPROTO_INET: return "inet";
    case NFPROTO_IPV4: return "ip";
    case NFPROTO_IPV6: return "ip6";
    case NFPROTO_ARP: return "arp";
    case NFPROTO_BRIDGE: return "bridge";
    case NFPROTO_NETDEV: return "netdev";
    default: return std::to_string(f);
  }
}

std::uint32_t be32(const char* p) {
  std::uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return be32toh(v);
}

std::uint64_t be64(const char* p) {
  std::uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return be64toh(v);
}

Event parse_event(const nlmsghdr& h) {
  Event e;
  const auto* g = static_cast<const nfgenmsg*>(NLMSG_DATA(&h));
  e.family = family_name(g->nfgen_family);
  const char* data = static_cast<const char*>(NLMSG_DATA(&h)) + NLMSG_ALIGN(sizeof(nfgenmsg));
  int len = static_cast<int>(h.nlmsg_len) - static_cast<int>(NLMSG_LENGTH(NLMSG_ALIGN(sizeof(nfgenmsg))));
  for_each_attribute(data, len, [&](int type, const char* p, int l) {
    auto text = [&] { return std::string(p, strnlen(p, static_cast<std::size_t>(l))); };
    if (type == NFTA_TRACE_TABLE) e.table = text();
    if (type == NFTA_TRACE_CHAIN) e.chain = text();
    if (type == NFTA_TRACE_TYPE && l >= 4) e.type = be32(p);
    if (type == NFTA_TRACE_RULE_HANDLE && l >= 8) e.handle = be64(p);
    if (type == NFTA_TRACE_POLICY && l >= 4) e.policy = be32(p);
    if (type == NFTA_TRACE_VERDICT)
      for_each_attribute(p, l, [&](int t, const char* q, int ql) {
        if (t == NFTA_VERDICT_CODE && ql >= 4) e.verdict = static_cast<std::int32_t>(be32(q));
      });
  });
  return e;
}

// Runs nft commands in the calling thread's namespace; returns the output,
// or throws Error with nft's message.
std::string nft_here(const std::string& commands, unsigned flags = 0) {
  std::unique_ptr<nft_ctx, void (*)(nft_ctx*)> ctx(nft_ctx_new(NFT_CTX_DEFAULT), nft_ctx_free);
  if (!ctx) throw Error("cannot create an nftables context");
  nft_ctx_output_set_flags(ctx.get(), flags);
  nft_ctx_buffer_output(ctx.get());
  nft_ctx_buffer_error(ctx.get());
  if (nft_run_cmd_from_buffer(ctx.get(), commands.c_str()) != 0)
    throw Error(fmt::format("nft: {}", nft_ctx_get_error_buffer(ctx.get())));
  return nft_ctx_get_output_buffer(ctx.get());
}

std::string squeezed(const std::string& s) {
  std::istringstream in(s);
  std::string out, w;
  while (in >> w) out += (out.empty() ? "" : " ") + w;
  return out;
}

// "family table" -> handle -> rule text, from `nft -a list ruleset`.
using Listing = std::map<std::string, std::map<std::uint64_t, std::string>>;

Listing parse_listing(const std::string& text) {
  Listing out;
  std::istringstream in(text);
  std::string line, table;
  std::vector<bool> blocks;  // one per open brace: true for a chain
  while (std::getline(in, line)) {
    std::string s = squeezed(line);
    if (s.starts_with("table ")) {
      std::istringstream w(s.substr(6));
      std::string family, name;
      w >> family >> name;
      table = family + " " + name;
    }
    if (s == "}") {
      if (!blocks.empty()) blocks.pop_back();
      continue;
    }
    std::uint64_t handle = 0;
    std::string rule;
    bool in_chain = !blocks.empty() && blocks.back();
    // A block opens where the text before the handle ends in "{" (a rule's
    // anonymous set, "tcp dport { 22, 80 } drop", closes on its line).
    auto mark = s.find("# handle");
    bool opens = mark != std::string::npos && squeezed(s.substr(0, mark)).ends_with("{");
    if (in_chain && !opens && rule_line_with_handle(s, handle, rule)) out[table][handle] = rule;
    if (opens) blocks.push_back(s.starts_with("chain "));
  }
  return out;
}

}  // namespace

bool rule_line_with_handle(const std::string& line, std::uint64_t& handle, std::string& text) {
  auto at = line.rfind("# handle ");
  if (at == std::string::npos) return false;
  std::string rest = line.substr(at + 9);
  if (rest.empty() || rest.find_first_not_of("0123456789") != std::string::npos) return false;
  text = squeezed(line.substr(0, at));
  if (text.empty()) return false;
  handle = std::stoull(rest);
  return true;
}

struct NftTrace::Node {
  std::string name;
  Fd socket;
  bool table_added = false;
  bool iptables = false;  // the node has iptables rules too: their counters explain them
  std::string error;
  RulesSpec source;
};

NftTrace::NftTrace(Lab& lab) : lab_(lab) {
  for (const auto& spec : lab.topology().nodes()) {
    if (spec.nftables.empty()) continue;
    auto n = std::make_unique<Node>();
    n->name = spec.name;
    n->source = spec.nftables;
    n->iptables = !spec.iptables.empty() || !spec.ip6tables.empty();
    try {
      lab.node(spec.name).run([&] {
        // Subscribed before the table exists: no event is missed.
        n->socket = sys::socket(AF_NETLINK, SOCK_RAW, NETLINK_NETFILTER, "an nftables trace socket");
        // Bound first: the kernel delivers a group's messages only to a
        // socket with a port id (membership alone does not bind it).
        sockaddr_nl self{};
        self.nl_family = AF_NETLINK;
        if (::bind(n->socket.get(), reinterpret_cast<const sockaddr*>(&self), sizeof self) != 0)
          throw SystemError("cannot bind an nftables trace socket", errno);
        int group = NFNLGRP_NFTRACE, size = 4 << 20;
        sys::set_option(n->socket.get(), SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, group, "the nftables trace group");
        sys::set_option(n->socket.get(), SOL_SOCKET, SO_RCVBUF, size, "the trace socket's buffer");
        nft_here(
            fmt::format("add table inet {0}\n"
                        "add chain inet {0} pre {{ type filter hook prerouting priority -500; }}\n"
                        "add chain inet {0} out {{ type filter hook output priority -500; }}\n"
                        "add rule inet {0} pre meta nftrace set 1\n"
                        "add rule inet {0} out meta nftrace set 1\n",
                        kTable));
        n->table_added = true;
      });
    } catch (const Error& e) {
      n->error = e.what();
    }
    nodes_.push_back(std::move(n));
  }
}

NftTrace::~NftTrace() {
  for (const auto& n : nodes_) {
    if (!n->table_added) continue;
    try {
      lab_.node(n->name).run([&] { nft_here(fmt::format("delete table inet {}\n", kTable)); });
    } catch (const Error&) {
      // The lab is going away with it, or the user's program removed it.
    }
  }
}

std::vector<std::string> NftTrace::causes() {
  std::vector<std::string> out;
  std::set<std::string> seen;
  auto add = [&](std::string s) {
    if (seen.insert(s).second) out.push_back(std::move(s));
  };
  for (const auto& n : nodes_) {
    if (!n->error.empty()) {
      add(fmt::format("no nftables trace on {}: {}", n->name, n->error));
      continue;
    }
    std::vector<Event> events;
    Listing listing;
    lab_.node(n->name).run([&] {
      std::vector<char> buf(1 << 16);
      for (;;) {
        ssize_t got = ::recv(n->socket.get(), buf.data(), buf.size(), MSG_DONTWAIT);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break;
        auto left = static_cast<unsigned>(got);
        for (auto* h = reinterpret_cast<const nlmsghdr*>(buf.data()); NLMSG_OK(h, left); h = NLMSG_NEXT(h, left))
          if ((h->nlmsg_type & 0xff) == NFT_MSG_TRACE && (h->nlmsg_type >> 8) == NFNL_SUBSYS_NFTABLES)
            events.push_back(parse_event(*h));
      }
      listing = parse_listing(nft_here("list ruleset", NFT_CTX_OUTPUT_HANDLE | NFT_CTX_OUTPUT_STATELESS));
    });
    // The scenario's lines, squeezed, with the chain each stands in, for the
    // position of a rule nft prints as it was written.
    struct SourceLine {
      int index;
      std::string chain;
    };
    std::map<std::string, std::vector<SourceLine>> lines;
    {
      std::istringstream in(n->source.text);
      std::string line, chain;
      for (int i = 0; std::getline(in, line); ++i) {
        std::string t = squeezed(line);
        if (t.starts_with("chain ")) chain = squeezed(t.substr(6, t.find('{') - 6));
        lines[t].push_back({i, chain});
      }
    }
    auto position = [&](const std::string& text, const std::string& chain) -> std::string {
      auto l = lines.find(text);
      if (text.empty() || l == lines.end()) return {};
      std::vector<int> here;
      for (const auto& c : l->second)
        if (c.chain == chain) here.push_back(c.index);
      if (here.size() != 1 && l->second.size() == 1) here = {l->second[0].index};
      return here.size() == 1 ? " (" + line_of(n->source.where, here[0]).str() + ")" : std::string();
    };
    for (const auto& e : events) {
      if (e.table == kTable) continue;
      static const std::set<std::string> xt = {"filter", "nat", "mangle", "raw", "security"};
      if (n->iptables && (e.family == "ip" || e.family == "ip6") && xt.count(e.table)) continue;
      const std::string where = fmt::format("{} {} {}", e.family, e.table, e.chain);
      if (e.type == NFT_TRACETYPE_POLICY && e.policy == NF_DROP) {
        add(fmt::format("blocked by {}: {} policy drop", n->name, where));
        continue;
      }
      if (e.type != NFT_TRACETYPE_RULE || !e.verdict || !e.handle) continue;
      if (*e.verdict != NF_DROP && *e.verdict != NF_ACCEPT) continue;  // jumps, returns, continues
      std::string text;
      if (auto t = listing.find(e.family + " " + e.table); t != listing.end())
        if (auto r = t->second.find(*e.handle); r != t->second.end()) text = r->second;
      auto has = [&](const char* word) { return text.find(word) != std::string::npos; };
      std::string verb = *e.verdict == NF_DROP ? (has("reject") ? "refused by" : "dropped by")
                         : has("dnat") || has("snat") || has("masquerade") || has("redirect") ? "translated by"
                                                                                              : "accepted by";
      std::string at = position(text, e.chain);
      add(text.empty() ? fmt::format("{} {}: {} rule handle {}", verb, n->name, where, *e.handle)
                       : fmt::format("{} {}: {} rule `{}`{}", verb, n->name, where, text, at));
    }
  }
  return out;
}

}  // namespace nslab::detail
