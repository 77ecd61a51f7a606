// Rule counters: which kernel rule is which line of a rule file, and how
// many packets each has matched (see nslab/rule_hits.h for the contract).
#include "nslab/rule_hits.h"

#include <endian.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "firewall.h"
#include "iptables_text.h"
#include "netlink_dump.h"
#include "nslab/fd.h"
#include "nslab/lab.h"

namespace nslab {

namespace {

using Json = nlohmann::json;

struct Count {
  std::uint64_t packets = 0, bytes = 0;
};

// The counters of every chain of one family in the calling thread's
// namespace ("TABLE CHAIN" -> count): for a base chain iptables-nft made,
// the packets its policy decided. nf_tables keeps them only for chains made
// with counters (iptables-nft's are; nft's are not).
std::map<std::string, Count> chain_counters_here(std::uint8_t family) {
  Fd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER));
  if (!fd) throw SystemError("cannot open a netfilter netlink socket", errno);
  struct {
    nlmsghdr nh;
    nfgenmsg g;
  } req{};
  req.nh.nlmsg_len = sizeof(req);
  req.nh.nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETCHAIN;
  req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  req.nh.nlmsg_seq = 1;
  req.g.nfgen_family = family;
  req.g.version = NFNETLINK_V0;
  std::map<std::string, Count> out;
  int error = detail::netlink_dump(fd.get(), &req, sizeof req, [&](const nlmsghdr& m) {
    const nlmsghdr* nh = &m;
    const char* data = static_cast<const char*>(NLMSG_DATA(nh)) + NLMSG_ALIGN(sizeof(nfgenmsg));
    int len = static_cast<int>(nh->nlmsg_len) - static_cast<int>(NLMSG_LENGTH(NLMSG_ALIGN(sizeof(nfgenmsg))));
    std::string table, chain;
    std::optional<Count> count;
    auto be64 = [](const char* p) {
      std::uint64_t v;
      std::memcpy(&v, p, sizeof(v));
      return be64toh(v);
    };
    detail::for_each_attribute(data, len, [&](int type, const char* p, int l) {
      if (type == NFTA_CHAIN_TABLE) table.assign(p, strnlen(p, static_cast<std::size_t>(l)));
      if (type == NFTA_CHAIN_NAME) chain.assign(p, strnlen(p, static_cast<std::size_t>(l)));
      if (type == NFTA_CHAIN_COUNTERS) {
        count = Count{};
        detail::for_each_attribute(p, l, [&](int t, const char* q, int ql) {
          if (ql < 8) return;
          if (t == NFTA_COUNTER_PACKETS) count->packets = be64(q);
          if (t == NFTA_COUNTER_BYTES) count->bytes = be64(q);
        });
      }
    });
    if (count) out[table + " " + chain] = *count;
    return true;
  });
  if (error) throw SystemError("cannot list nf_tables' chains", error);
  return out;
}

// The rules' counters of one family ("ip", "ip6"), "TABLE CHAIN" -> in chain order.
std::map<std::string, std::vector<Count>> rule_counters(const Json& ruleset, const std::string& family) {
  std::map<std::string, std::vector<Count>> out;
  if (!ruleset.contains("nftables")) return out;
  for (const auto& item : ruleset["nftables"]) {
    auto it = item.find("rule");
    if (it == item.end() || it->value("family", "") != family) continue;
    Count c;
    if (auto e = it->find("expr"); e != it->end() && e->is_array())
      for (const auto& st : *e)
        if (auto k = st.find("counter"); k != st.end() && k->is_object()) {
          c.packets = k->value("packets", std::uint64_t{0});
          c.bytes = k->value("bytes", std::uint64_t{0});
        }
    out[it->value("table", "") + " " + it->value("chain", "")].push_back(c);
  }
  return out;
}

Json ruleset_of(Lab& lab, std::string_view node) {
  std::string text = lab.node(node).run([] { return list_ruleset_json_here(); });
  Json doc = Json::parse(text, nullptr, false);
  if (doc.is_discarded()) throw Error(fmt::format("node \"{}\": libnftables listed a ruleset nslab cannot read", node));
  return doc;
}

}  // namespace

std::string RuleHit::str() const {
  return fmt::format("{}:{} {}: {} packet{}", where.file.empty() ? node : where.file, where.line, rule, packets,
                     packets == 1 ? "" : "s");
}

std::vector<RuleHit> rule_hits(Lab& lab, std::string_view node) {
  const NodeSpec* spec = lab.topology().find_node(node);
  if (!spec) throw ConfigError(fmt::format("no node \"{}\" in the lab", node));
  std::vector<RuleHit> out;
  std::optional<Json> ruleset;
  for (bool v6 : {false, true}) {
    const RulesSpec& rules = v6 ? spec->ip6tables : spec->iptables;
    if (rules.empty()) continue;
    IptablesRules parsed = parse_iptables(rules.text, rules.where);
    if (!ruleset) ruleset = ruleset_of(lab, node);
    const std::string family = v6 ? "ip6" : "ip";
    auto kernel = rule_counters(*ruleset, family);
    auto chains = lab.node(node).run([&] { return chain_counters_here(v6 ? NFPROTO_IPV6 : NFPROTO_IPV4); });
    for (const auto& table : parsed.tables) {
      // The order the kernel holds each chain's rules in: -A appends, -I inserts.
      std::map<std::string, std::vector<const IptablesRule*>> order;
      if (auto it = parsed.rules.find(table); it != parsed.rules.end())
        for (const auto& r : it->second) {
          auto& v = order[r.chain];
          auto at =
              r.insert_at == 0 ? v.size() : std::min<std::size_t>(static_cast<std::size_t>(r.insert_at - 1), v.size());
          v.insert(v.begin() + static_cast<std::ptrdiff_t>(at), &r);
        }
      std::map<const IptablesRule*, Count> counts;
      for (const auto& [chain, rs] : order) {
        const auto& held = kernel[table + " " + chain];
        if (held.size() != rs.size())
          throw Error(
              fmt::format("node \"{}\": {} chain {} of table {} holds {} rules, and nslab loaded {} ({}): "
                          "something else changed the chain, so its counters cannot be matched to lines",
                          node, v6 ? "ip6tables" : "iptables", chain, table, held.size(), rs.size(),
                          rules.file.empty() ? rules.where.str() : rules.file));
        for (std::size_t i = 0; i < rs.size(); ++i) counts[rs[i]] = held[i];
      }
      if (auto it = parsed.rules.find(table); it != parsed.rules.end())
        for (const auto& r : it->second) {
          RuleHit h{std::string(node), line_of(rules.where, r.line), table, r.chain, r.text, v6, false, 0, 0};
          h.where.column = rules.where.known() ? rules.where.column : 0;
          h.packets = counts[&r].packets;
          h.bytes = counts[&r].bytes;
          out.push_back(std::move(h));
        }
      if (auto it = parsed.chains.find(table); it != parsed.chains.end())
        for (const auto& c : it->second) {
          if (c.policy == "-") continue;
          RuleHit h{std::string(node),
                    line_of(rules.where, c.line),
                    table,
                    c.name,
                    fmt::format("-P {} {}", c.name, c.policy),
                    v6,
                    true,
                    0,
                    0};
          h.where.column = rules.where.known() ? rules.where.column : 0;
          if (auto k = chains.find(table + " " + c.name); k != chains.end()) {
            h.packets = k->second.packets;
            h.bytes = k->second.bytes;
          }
          out.push_back(std::move(h));
        }
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const RuleHit& a, const RuleHit& b) {
    return std::tie(a.where.file, a.where.line) < std::tie(b.where.file, b.where.line);
  });
  return out;
}

std::map<std::string, std::uint64_t> nft_counters(Lab& lab, std::string_view node) {
  Json doc = ruleset_of(lab, node);
  std::map<std::string, std::uint64_t> out;
  std::map<std::string, int> tables_with;
  if (!doc.contains("nftables")) return out;
  for (const auto& item : doc["nftables"]) {
    auto it = item.find("counter");
    if (it == item.end() || !it->contains("name")) continue;
    std::string name = it->value("name", "");
    auto packets = it->value("packets", std::uint64_t{0});
    out[it->value("table", "") + " " + name] = packets;
    if (++tables_with[name] == 1)
      out[name] = packets;
    else
      out.erase(name);
  }
  return out;
}

}  // namespace nslab
