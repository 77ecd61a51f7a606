#include "firewall.h"

#include <nftables/libnftables.h>
#include <nlohmann/json.hpp>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <filesystem>
#include <fmt/format.h>
#include <map>
#include <memory>
#include <regex>
#include <vector>

#include "iptables_text.h"
#include "nslab/netns.h"
#include "nslab/node.h"
#include "subprocess.h"
#include "sys.h"

namespace nslab {

void apply_iptables(const Node& node, std::string_view lines, Family family, const SourceLocation& where) {
  IptablesRules parsed = parse_iptables(lines, where);
  if (parsed.tables.empty()) return;
  std::string input = parsed.restore_input();
  const char* tool = family == Family::ipv4 ? "iptables-restore" : "ip6tables-restore";
  auto r = run_in_netns(node.netns(), {tool, "--noflush", "--wait"}, input);
  if (r.status == 0) return;
  // iptables-restore names a line of its input, but iptables-nft only finds
  // most errors at COMMIT. To name the rule, load the rules one by one into a
  // scratch namespace until one fails (this costs time only on failure).
  SourceLocation at = where;
  std::string rule;
  try {
    Netns scratch = Netns::create();
    std::string chains;
    for (const auto& table : parsed.tables)
      if (auto it = parsed.chains.find(table); it != parsed.chains.end()) {
        chains += "*" + table + "\n";
        for (const auto& c : it->second) chains += fmt::format(":{} {} [0:0]\n", c.name, c.policy);
        chains += "COMMIT\n";
      }
    bool found = false;
    if (!chains.empty() && run_in_netns(scratch, {tool, "--noflush", "--wait"}, chains).status != 0) found = true;
    for (const auto& table : parsed.tables) {
      if (found) break;
      auto it = parsed.rules.find(table);
      if (it == parsed.rules.end()) continue;
      for (const auto& line : it->second) {
        std::string one = "*" + table + "\n" + line.text + "\nCOMMIT\n";
        if (run_in_netns(scratch, {tool, "--noflush", "--wait"}, one).status != 0) {
          at = line_of(where, line.line);
          rule = line.text;
          found = true;
          break;
        }
      }
    }
  } catch (const Error&) {
    // Without a scratch namespace the error still names the node and tool.
  }
  while (!r.output.empty() && r.output.back() == '\n') r.output.pop_back();
  throw ConfigError(fmt::format("node \"{}\": {} rejected {}: {}", node.name(), tool,
                                rule.empty() ? std::string("the rules") : "\"" + rule + "\"", r.output),
                    at);
}

void apply_nftables(const Node& node, std::string_view ruleset, const SourceLocation& where,
                    const std::string& include_dir) {
  // The ruleset is read from a memfd by name, so that nft's messages carry
  // "PATH:LINE:COLUMN" (its messages for in-memory buffers quote the wrong line).
  Fd file(::memfd_create("nslab-nftables", MFD_CLOEXEC));
  if (!file) throw SystemError("cannot create a memfd for an nftables ruleset", errno);
  sys::write_all(file.get(), ruleset, "nftables ruleset");
  std::string path = fmt::format("/proc/self/fd/{}", file.get());
  std::string error = node.run([&] {
    nft_ctx* ctx = nft_ctx_new(NFT_CTX_DEFAULT);
    if (!ctx) return std::string("cannot create an nftables context");
    nft_ctx_buffer_output(ctx);
    nft_ctx_buffer_error(ctx);
    // A ruleset kept in a file includes files beside it, and nothing from
    // the machine's own include path (/etc).
    nft_ctx_clear_include_paths(ctx);
    if (!include_dir.empty()) nft_ctx_add_include_path(ctx, include_dir.c_str());
    int rc = nft_run_cmd_from_filename(ctx, path.c_str());
    std::string err = rc == 0 ? std::string() : std::string(nft_ctx_get_error_buffer(ctx));
    if (rc != 0 && err.empty()) err = "nft failed without a message";
    nft_ctx_free(ctx);
    return err;
  });
  if (error.empty()) return;
  while (!error.empty() && error.back() == '\n') error.pop_back();
  SourceLocation at = where;
  std::smatch m;
  if (std::regex_search(error, m, std::regex(path + ":([0-9]+):([0-9]+)"))) {
    at = line_of(where, std::stoi(m[1]) - 1);
    // Columns count from the ruleset's own indentation in the scenario.
    if (at.known()) at.column = where.column + std::stoi(m[2]) - 1;
  } else if (!include_dir.empty() &&
             std::regex_search(error, m, std::regex("(/[^:\n]+):([0-9]+):([0-9]+)"))) {  // in an included file
    at = SourceLocation{m[1], std::stoi(m[2]), std::stoi(m[3])};
  }
  // Name the lab's file, not our memfd, in the tool's message.
  error = std::regex_replace(error, std::regex(path + ":"),
                             where.file.empty() || include_dir.empty() ? std::string("line ") : where.file + ":");
  throw ConfigError(fmt::format("node \"{}\": nftables ruleset rejected: {}", node.name(), error), at);
}

std::string include_dir(const RulesSpec& rules) {
  if (rules.file.empty()) return {};
  std::error_code ec;
  // A file in the current directory has an empty parent, which absolute()
  // refuses (EINVAL): its directory is ".".
  auto parent = std::filesystem::path(rules.file).parent_path();
  auto dir = std::filesystem::absolute(parent.empty() ? std::filesystem::path(".") : parent, ec);
  return ec ? std::string() : dir.lexically_normal().string();
}

namespace {

using Json = nlohmann::json;

std::string str_of(const Json& j, const char* key) {
  if (!j.is_object()) return {};
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

template <std::size_t N>
bool one_of(std::string_view word, const std::array<std::string_view, N>& list) {
  return std::find(list.begin(), list.end(), word) != list.end();
}

// Meta and ct keys that are a function of the packet, its interfaces and its
// own flow. Not: time, day, hour, cpu, random; ct expiration, count, helper,
// event.
constexpr std::array<std::string_view, 34> kMetaKeys = {
    "length",   "protocol", "nfproto",   "l4proto", "priority", "mark",     "iif",       "iifname", "iiftype",
    "oif",      "oifname",  "oiftype",   "skuid",   "skgid",    "nftrace",  "rtclassid", "ibrname", "obrname",
    "ibriport", "obriport", "ibrvproto", "ibrpvid", "pkttype",  "iifgroup", "oifgroup",  "iifkind", "oifkind",
    "sdif",     "sdifname", "broute",    "secpath", "cgroup",   "secmark",  "ipsec"};
constexpr std::array<std::string_view, 19> kCtKeys = {
    "state",     "direction", "status",   "mark",     "label",     "zone",      "l3proto", "protocol", "saddr", "daddr",
    "proto-src", "proto-dst", "ip saddr", "ip daddr", "ip6 saddr", "ip6 daddr", "bytes",   "packets",  "avgpkt"};
// Expressions read from the packet or from fixed data.
constexpr std::array<std::string_view, 28> kExpressions = {
    "payload", "exthdr", "tcp option", "ip option", "sctp chunk", "dccp option", "fib",  "rt",  "socket", "jhash",
    "symhash", "prefix", "range",      "concat",    "set",        "map",         "|",    "&",   "^",      "<<",
    ">>",      "elem",   "accept",     "drop",      "continue",   "return",      "jump", "goto"};
// Statements whose effect is a pure function of the packet.
constexpr std::array<std::string_view, 22> kStatements = {
    "match", "accept", "drop",       "continue", "return",  "jump", "goto", "counter", "log",  "mangle", "reject",
    "snat",  "dnat",   "masquerade", "redirect", "notrack", "dup",  "fwd",  "tproxy",  "vmap", "xt",     "meta"};
// iptables-nft compat extensions that match on the packet or act on it
// alone (the others, such as limit, statistic, recent, hashlimit,
// connlimit, time, quota, conntrack with --ctexpire, set, CT, depend on
// time, chance or ageing state).
constexpr std::array<std::string_view, 45> kXt = {
    "comment", "addrtype", "multiport", "iprange",  "mac",        "pkttype", "mark",   "connmark", "state",
    "icmp",    "icmp6",    "tcp",       "udp",      "sctp",       "physdev", "length", "ttl",      "hl",
    "dscp",    "tos",      "ecn",       "devgroup", "ipv6header", "frag",    "hbh",    "rt",       "ah",
    "esp",     "REJECT",   "LOG",       "NFLOG",    "MASQUERADE", "SNAT",    "DNAT",   "REDIRECT", "NETMAP",
    "MARK",    "CONNMARK", "TCPMSS",    "DSCP",     "TOS",        "TTL",     "HL",     "NOTRACK",  "rpfilter"};

struct RulesetScan {
  const std::set<std::string>& xt_allowed;
  std::string where;  // the table and chain being looked at
  std::optional<std::string> problem;
  int depth = 0;

  bool fail(std::string what) {
    if (!problem) problem = fmt::format("rules with \"{}\"{}", what, where.empty() ? "" : " (" + where + ")");
    return false;
  }

  // The values inside a statement's or an expression's body.
  bool fields(const Json& body) {
    if (body.is_array()) return expr(body);
    if (body.is_object())
      for (const auto& m : body)
        if (!expr(m)) return false;
    return true;
  }

  bool expr(const Json& v) {
    if (++depth > 200) return fail("expressions nested too deep");
    bool ok = expr_body(v);
    --depth;
    return ok;
  }

  bool expr_body(const Json& v) {
    if (v.is_array()) {
      for (const auto& i : v)
        if (!expr(i)) return false;
      return true;
    }
    if (!v.is_object()) return true;  // a literal; "@name" refers to a set, scanned on its own
    if (v.size() != 1) return fields(v);
    const std::string& kind = v.begin().key();
    const Json& body = v.begin().value();
    if (kind == "meta") {
      std::string key = str_of(body, "key");
      return one_of(key, kMetaKeys) || fail("meta " + key);
    }
    if (kind == "ct") {
      std::string key = str_of(body, "key");
      return one_of(key, kCtKeys) || fail("ct " + key);
    }
    if (kind == "elem" && body.is_object() && (body.contains("timeout") || body.contains("expires")))
      return fail("element timeout");
    if (!one_of(kind, kExpressions)) return fail(kind);
    return fields(body);
  }

  bool statement(const Json& s) {
    if (!s.is_object() || s.size() != 1) return fail("an unknown statement");
    const std::string& kind = s.begin().key();
    const Json& body = s.begin().value();
    if (!one_of(kind, kStatements)) return fail(kind);
    if (kind == "xt") {
      std::string name = str_of(body, "name");
      return one_of(name, kXt) || xt_allowed.count(name) || fail("xt " + name);
    }
    if (kind == "meta") {  // meta KEY set VALUE
      std::string key = str_of(body, "key");
      if (!one_of(key, kMetaKeys)) return fail("meta " + key);
    }
    return fields(body);
  }

  bool set(const Json& body, std::string_view what) {
    if (auto flags = body.find("flags"); flags != body.end()) {
      // One flag is a string, several an array.
      Json list = flags->is_array() ? *flags : Json::array({*flags});
      for (const auto& f : list)
        if (f == "timeout" || f == "dynamic") return fail(fmt::format("a {} with flag {}", what, f.get<std::string>()));
    }
    if (body.contains("timeout") || body.contains("gc-interval")) return fail(fmt::format("a {} with timeouts", what));
    if (auto stmts = body.find("stmt"); stmts != body.end() && stmts->is_array())
      for (const auto& st : *stmts)
        if (!statement(st)) return false;
    if (auto elems = body.find("elem"); elems != body.end())
      if (!expr(*elems)) return false;
    return true;
  }

  void object(const Json& item, const std::set<std::string>& skip) {
    if (!item.is_object() || item.size() != 1) {
      fail("an unknown object");
      return;
    }
    const std::string& kind = item.begin().key();
    const Json& body = item.begin().value();
    std::string family = str_of(body, "family");
    std::string table = kind == "table" ? str_of(body, "name") : str_of(body, "table");
    if (skip.count(family + " " + table)) return;
    where = fmt::format("{} {}", family, table);
    if (kind == "metainfo" || kind == "table" || kind == "chain" || kind == "counter") return;
    if (kind == "rule") {
      where += " " + str_of(body, "chain");
      if (auto e = body.find("expr"); e != body.end() && e->is_array())
        for (const auto& st : *e)
          if (!statement(st)) return;
      return;
    }
    if (kind == "set" || kind == "map" || kind == "element") {
      where += " " + str_of(body, "name");
      set(body, kind == "element" ? "set" : kind);
      return;
    }
    fail(kind);  // quota, limit, ct helper/timeout/expectation, synproxy, flowtable, secmark, tunnel objects
  }
};

}  // namespace

std::string list_ruleset_json_here() {
  std::unique_ptr<nft_ctx, void (*)(nft_ctx*)> ctx(nft_ctx_new(NFT_CTX_DEFAULT), nft_ctx_free);
  if (!ctx) throw SystemError("cannot create an nftables context", ENOMEM);
  nft_ctx_output_set_flags(ctx.get(), NFT_CTX_OUTPUT_JSON);
  nft_ctx_buffer_output(ctx.get());
  nft_ctx_buffer_error(ctx.get());
  if (nft_run_cmd_from_buffer(ctx.get(), "list ruleset") != 0)
    throw SystemError(fmt::format("cannot list the nftables ruleset: {}", nft_ctx_get_error_buffer(ctx.get())), EIO);
  return nft_ctx_get_output_buffer(ctx.get());
}

std::optional<std::string> time_dependent_rule(std::string_view json, const std::set<std::string>& skip,
                                               const std::set<std::string>& xt_allowed) {
  // An empty ruleset lists as nothing at all, or as metainfo alone.
  if (json.find_first_not_of(" \n\t") == std::string_view::npos) return std::nullopt;
  Json doc = Json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("nftables") || !doc["nftables"].is_array())
    return std::string("a ruleset nslab cannot read");
  RulesetScan scan{xt_allowed, {}, std::nullopt};
  for (const auto& item : doc["nftables"]) {
    scan.object(item, skip);
    if (scan.problem) return scan.problem;
  }
  return std::nullopt;
}

}  // namespace nslab
