#include "firewall.h"

#include <nftables/libnftables.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
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
        for (const auto& c : it->second) chains += c + "\n";
        chains += "COMMIT\n";
      }
    bool found = false;
    if (!chains.empty() && run_in_netns(scratch, {tool, "--noflush", "--wait"}, chains).status != 0) found = true;
    for (const auto& table : parsed.tables) {
      if (found) break;
      auto it = parsed.rules.find(table);
      if (it == parsed.rules.end()) continue;
      for (const auto& [line, text] : it->second) {
        std::string one = "*" + table + "\n" + text + "\nCOMMIT\n";
        if (run_in_netns(scratch, {tool, "--noflush", "--wait"}, one).status != 0) {
          at = line_of(where, line);
          rule = text;
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

void apply_nftables(const Node& node, std::string_view ruleset, const SourceLocation& where) {
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
  }
  // Name the lab, not our memfd, in the tool's message.
  error = std::regex_replace(error, std::regex(path + ":"), "line ");
  throw ConfigError(fmt::format("node \"{}\": nftables ruleset rejected: {}", node.name(), error), at);
}

namespace {

// Just enough JSON for libnftables' output: objects keep their order.
// (A member is its own struct: std::pair<std::string, Json> inside Json
// would need Json complete, which only GCC's library lets pass.)
struct JsonMember;
struct Json {
  enum Kind { null, boolean, number, string, array, object } kind = null;
  std::string text;  // string; a number's digits
  std::vector<Json> items;
  std::vector<JsonMember> members;

  const Json* get(std::string_view key) const;
  std::string str_of(std::string_view key) const {
    const Json* v = get(key);
    return v && v->kind == string ? v->text : std::string();
  }
};
struct JsonMember {
  std::string key;
  Json value;
};

const Json* Json::get(std::string_view key) const {
  for (const auto& [k, v] : members)
    if (k == key) return &v;
  return nullptr;
}

class JsonReader {
 public:
  explicit JsonReader(std::string_view in) : in_(in) {}
  std::optional<Json> document() {
    Json v;
    if (!value(v, 0)) return std::nullopt;
    space();
    if (at_ != in_.size()) return std::nullopt;
    return v;
  }

 private:
  void space() {
    while (at_ < in_.size() && (in_[at_] == ' ' || in_[at_] == '\n' || in_[at_] == '\t' || in_[at_] == '\r')) ++at_;
  }
  bool literal(std::string_view word) {
    if (in_.substr(at_, word.size()) != word) return false;
    at_ += word.size();
    return true;
  }
  bool string(std::string& out) {
    if (at_ >= in_.size() || in_[at_] != '"') return false;
    ++at_;
    while (at_ < in_.size() && in_[at_] != '"') {
      char c = in_[at_++];
      if (c != '\\') {
        out += c;
        continue;
      }
      if (at_ >= in_.size()) return false;
      char e = in_[at_++];
      switch (e) {
        case 'n': out += '\n'; break;
        case 't': out += '\t'; break;
        case 'r': out += '\r'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'u':
          if (at_ + 4 > in_.size()) return false;
          out += '?';  // names only matter to us in ASCII
          at_ += 4;
          break;
        default: out += e;
      }
    }
    if (at_ >= in_.size()) return false;
    ++at_;
    return true;
  }
  bool value(Json& v, int depth) {
    if (depth > 200) return false;
    space();
    if (at_ >= in_.size()) return false;
    char c = in_[at_];
    if (c == '{') {
      v.kind = Json::object;
      ++at_;
      space();
      if (at_ < in_.size() && in_[at_] == '}') return ++at_, true;
      for (;;) {
        space();
        std::string key;
        if (!string(key)) return false;
        space();
        if (at_ >= in_.size() || in_[at_++] != ':') return false;
        Json member;
        if (!value(member, depth + 1)) return false;
        v.members.push_back(JsonMember{std::move(key), std::move(member)});
        space();
        if (at_ >= in_.size()) return false;
        if (in_[at_] == ',') {
          ++at_;
          continue;
        }
        return in_[at_++] == '}';
      }
    }
    if (c == '[') {
      v.kind = Json::array;
      ++at_;
      space();
      if (at_ < in_.size() && in_[at_] == ']') return ++at_, true;
      for (;;) {
        Json item;
        if (!value(item, depth + 1)) return false;
        v.items.push_back(std::move(item));
        space();
        if (at_ >= in_.size()) return false;
        if (in_[at_] == ',') {
          ++at_;
          continue;
        }
        return in_[at_++] == ']';
      }
    }
    if (c == '"') {
      v.kind = Json::string;
      return string(v.text);
    }
    if (literal("null")) return true;
    if (literal("true") || literal("false")) {
      v.kind = Json::boolean;
      return true;
    }
    std::size_t start = at_;
    while (at_ < in_.size() && (std::isdigit(static_cast<unsigned char>(in_[at_])) || in_[at_] == '-' ||
                                in_[at_] == '+' || in_[at_] == '.' || in_[at_] == 'e' || in_[at_] == 'E'))
      ++at_;
    if (at_ == start) return false;
    v.kind = Json::number;
    v.text = std::string(in_.substr(start, at_ - start));
    return true;
  }

  std::string_view in_;
  std::size_t at_ = 0;
};

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
constexpr std::array<std::string_view, 44> kXt = {
    "comment", "addrtype", "multiport", "iprange",  "mac",        "pkttype", "mark",   "connmark", "state",
    "icmp",    "icmp6",    "tcp",       "udp",      "sctp",       "physdev", "length", "ttl",      "hl",
    "dscp",    "tos",      "ecn",       "devgroup", "ipv6header", "frag",    "hbh",    "rt",       "ah",
    "esp",     "REJECT",   "LOG",       "NFLOG",    "MASQUERADE", "SNAT",    "DNAT",   "REDIRECT", "NETMAP",
    "MARK",    "CONNMARK", "TCPMSS",    "DSCP",     "TOS",        "TTL",     "HL",     "NOTRACK"};

struct RulesetScan {
  const std::set<std::string>& xt_allowed;
  std::string where;  // the table and chain being looked at
  std::optional<std::string> problem;

  bool fail(std::string what) {
    if (!problem) problem = fmt::format("rules with \"{}\"{}", what, where.empty() ? "" : " (" + where + ")");
    return false;
  }

  // The values inside a statement's or an expression's body.
  bool fields(const Json& body) {
    if (body.kind == Json::array) return expr(body);
    for (const auto& [k, m] : body.members)
      if (!expr(m)) return false;
    return true;
  }

  bool expr(const Json& v) {
    if (v.kind == Json::array) {
      for (const auto& i : v.items)
        if (!expr(i)) return false;
      return true;
    }
    if (v.kind != Json::object) return true;  // a literal; "@name" refers to a set, scanned on its own
    if (v.members.size() != 1) return fields(v);
    const auto& [kind, body] = v.members.front();
    if (kind == "meta") {
      std::string key = body.str_of("key");
      return one_of(key, kMetaKeys) || fail("meta " + key);
    }
    if (kind == "ct") {
      std::string key = body.str_of("key");
      return one_of(key, kCtKeys) || fail("ct " + key);
    }
    if (kind == "elem" && (body.get("timeout") || body.get("expires"))) return fail("element timeout");
    if (!one_of(kind, kExpressions)) return fail(kind);
    return fields(body);
  }

  bool statement(const Json& s) {
    if (s.kind != Json::object || s.members.size() != 1) return fail("an unknown statement");
    const auto& [kind, body] = s.members.front();
    if (!one_of(kind, kStatements)) return fail(kind);
    if (kind == "xt") {
      std::string name = body.str_of("name");
      return one_of(name, kXt) || xt_allowed.count(name) || fail("xt " + name);
    }
    if (kind == "meta") {  // meta KEY set VALUE
      std::string key = body.str_of("key");
      if (!one_of(key, kMetaKeys)) return fail("meta " + key);
    }
    return fields(body);
  }

  bool set(const Json& body, std::string_view what) {
    if (const Json* flags = body.get("flags"))
      for (const auto& f : flags->items)
        if (f.text == "timeout" || f.text == "dynamic") return fail(fmt::format("a {} with flag {}", what, f.text));
    if (body.get("timeout") || body.get("gc-interval")) return fail(fmt::format("a {} with timeouts", what));
    if (const Json* stmts = body.get("stmt"))
      for (const auto& st : stmts->items)
        if (!statement(st)) return false;
    if (const Json* elems = body.get("elem"))
      if (!expr(*elems)) return false;
    return true;
  }

  void object(const Json& item, const std::set<std::string>& skip) {
    if (item.kind != Json::object || item.members.size() != 1) {
      fail("an unknown object");
      return;
    }
    const auto& [kind, body] = item.members.front();
    std::string family = body.str_of("family");
    std::string table = kind == "table" ? body.str_of("name") : body.str_of("table");
    if (skip.count(family + " " + table)) return;
    where = fmt::format("{} {}", family, table);
    if (kind == "metainfo" || kind == "table" || kind == "chain" || kind == "counter") return;
    if (kind == "rule") {
      where += " " + body.str_of("chain");
      if (const Json* e = body.get("expr"))
        for (const auto& st : e->items)
          if (!statement(st)) return;
      return;
    }
    if (kind == "set" || kind == "map" || kind == "element") {
      where += " " + body.str_of("name");
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
  auto doc = JsonReader(json).document();
  const Json* list = doc ? doc->get("nftables") : nullptr;
  if (!list || list->kind != Json::array) return std::string("a ruleset nslab cannot read");
  RulesetScan scan{xt_allowed, {}, std::nullopt};
  for (const auto& item : list->items) {
    scan.object(item, skip);
    if (scan.problem) return scan.problem;
  }
  return std::nullopt;
}

}  // namespace nslab
