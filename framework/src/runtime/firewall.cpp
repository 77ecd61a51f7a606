#include "firewall.h"

#include <nftables/libnftables.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <fmt/format.h>
#include <map>
#include <regex>
#include <vector>

#include "iptables_text.h"
#include "nslab/netns.h"
#include "nslab/node.h"
#include "subprocess.h"
#include "sys.h"

namespace nslab {

void apply_iptables(const Node& node, std::string_view lines, Family family, SourceLocation where) {
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
