#include "nslab/firewall.h"

#include <nftables/libnftables.h>
#include <sys/mman.h>
#include <unistd.h>

#include <fmt/format.h>
#include <map>
#include <regex>
#include <sstream>
#include <vector>

#include "nslab/netns.h"
#include "nslab/node.h"
#include "nslab/subprocess.h"
#include "nslab/sys.h"

namespace nslab {

namespace {

std::vector<std::string> words(const std::string& line) {
  std::vector<std::string> out;
  std::istringstream in(line);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

SourceLocation line_of(const SourceLocation& first, int index) {
  SourceLocation w = first;
  if (w.known()) w.line += index;
  return w;
}

struct Parsed {
  std::map<std::string, std::vector<std::pair<int, std::string>>> rules;  // table -> (line, rule)
  std::map<std::string, std::vector<std::string>> chains;  // table -> ":CHAIN POLICY [0:0]"
  std::vector<std::string> tables;  // in order of first use
};

Parsed parse(std::string_view text, const SourceLocation& where) {
  Parsed p;
  std::istringstream in{std::string(text)};
  int index = 0;
  for (std::string line; std::getline(in, line); ++index) {
    if (auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
    auto w = words(line);
    if (w.empty()) continue;
    if (w[0] == "iptables" || w[0] == "ip6tables") w.erase(w.begin());
    std::string table = "filter";
    std::vector<std::string> rest;
    for (std::size_t i = 0; i < w.size(); ++i) {
      if ((w[i] == "-t" || w[i] == "--table") && i + 1 < w.size()) {
        table = w[++i];
        continue;
      }
      rest.push_back(w[i]);
    }
    if (rest.empty())
      throw ConfigError(fmt::format("iptables line \"{}\" has no rule", line), line_of(where, index));
    const std::string& op = rest[0];
    if (op == "-P" || op == "--policy") {
      if (rest.size() != 3)
        throw ConfigError(fmt::format("iptables line \"{}\": -P takes CHAIN POLICY", line),
                          line_of(where, index));
      p.chains[table].push_back(fmt::format(":{} {} [0:0]", rest[1], rest[2]));
    } else if (op == "-N" || op == "--new-chain") {
      if (rest.size() != 2)
        throw ConfigError(fmt::format("iptables line \"{}\": -N takes CHAIN", line), line_of(where, index));
      p.chains[table].push_back(fmt::format(":{} - [0:0]", rest[1]));
    } else if (op == "-A" || op == "--append" || op == "-I" || op == "--insert") {
      std::string rule;
      for (const auto& r : rest) rule += (rule.empty() ? "" : " ") + r;
      p.rules[table].push_back({index, rule});
    } else {
      throw ConfigError(fmt::format("iptables line \"{}\": only -A, -I, -P and -N build a lab's "
                                    "rules (got \"{}\")",
                                    line, op),
                        line_of(where, index));
    }
    if (std::find(p.tables.begin(), p.tables.end(), table) == p.tables.end()) p.tables.push_back(table);
  }
  return p;
}

// iptables-restore input, and for each of its lines the rule line it came
// from (-1 for headers, chains and COMMIT).
std::pair<std::string, std::vector<int>> render(const Parsed& p) {
  std::string out;
  std::vector<int> origin;  // restore line (1-based) -> user line index, -1 for none
  auto emit = [&](const std::string& s, int from) {
    out += s + "\n";
    origin.push_back(from);
  };
  for (const auto& table : p.tables) {
    emit("*" + table, -1);
    if (auto it = p.chains.find(table); it != p.chains.end())
      for (const auto& c : it->second) emit(c, -1);
    if (auto it = p.rules.find(table); it != p.rules.end())
      for (const auto& [line, rule] : it->second) emit(rule, line);
    emit("COMMIT", -1);
  }
  return {out, origin};
}

}  // namespace

std::string iptables_restore_input(std::string_view lines, SourceLocation where) {
  return render(parse(lines, where)).first;
}

void apply_iptables(const Node& node, std::string_view lines, Family family, SourceLocation where) {
  Parsed parsed = parse(lines, where);
  if (parsed.tables.empty()) return;
  std::string input = render(parsed).first;
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

void apply_nftables(const Node& node, std::string_view ruleset, SourceLocation where) {
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

}  // namespace nslab
