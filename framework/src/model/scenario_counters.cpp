// The scenario loader's counter expectations:
//   counter: { node: fw, rule: "rules.v4:12", packets: ">= 1" }
//   counter: { node: fw, rule: ssh_hits, packets: 0 }   # an nftables named counter
// A rule is named by its rule file (or the scenario, for inline rules) and
// line; it must be a rule or policy line nslab loads into that node.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fmt/format.h>
#include <regex>

#include "iptables_text.h"
#include "rule_files.h"
#include "scenario_loader.h"

namespace nslab {

std::string CounterExpectation::str() const {
  return fmt::format("counter {} on {}: {} packets", rule, node, packets.str());
}

// "rules.v4:12" names a line of `rules` (FILE is its file's name, or a
// path ending in it).
bool names_rule_file(std::string_view file, const RulesSpec& rules) {
  const std::string& have = rules.where.file;
  if (file.empty() || have.size() < file.size()) return false;
  if (have == file) return true;
  return have.ends_with(file) && have[have.size() - file.size() - 1] == '/';
}

namespace detail {

void Loader::counter(const YAML::Node& c) {
  if (!r_.keys(c, {"node", "rule", "packets"}, "a counter")) return;
  CounterExpectation e;
  e.where = r_.at(c);
  for (const char* k : {"node", "rule"})
    if (!c[k]) {
      r_.error(c, fmt::format(
                      "a counter needs \"{}\": counter: {{ node: fw, rule: \"rules.v4:12\", packets: \">= 1\" }}", k));
      return;
    }
  e.node = r_.scalar(c["node"], "node").value_or("");
  e.rule = r_.scalar(c["rule"], "rule").value_or("");
  if (e.node.empty() || !check_node(c["node"], e.node, "a counter's node")) return;
  e.packets = count_of(c, "packets");
  const NodeSpec* node = s_.topology.find_node(e.node);
  if (!node) return;
  auto colon = e.rule.rfind(':');
  if (colon == std::string::npos) {  // an nftables named counter
    std::regex declared("(^|[\\s{;])counter\\s+\"?" + std::regex_replace(e.rule, std::regex(R"([^\w])"), R"(\$&)") +
                        "\"?\\s*\\{");
    if (e.rule.empty() ||
        (!node->nftables.empty() && !std::regex_search(node->nftables.text, declared) &&
         node->nftables.text.find("include") == std::string::npos) ||
        node->nftables.empty())
      r_.error(c["rule"], fmt::format("node \"{}\" has no nftables counter \"{}\" (declare it: counter {} {{ }}); "
                                      "an iptables rule is named FILE:LINE, e.g. \"rules.v4:12\"",
                                      e.node, e.rule, e.rule));
    else
      s_.expectations.push_back(std::move(e));
    return;
  }
  std::string file = e.rule.substr(0, colon);
  int line = 0;
  auto digits = std::string_view(e.rule).substr(colon + 1);
  auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), line);
  if (ec != std::errc{} || p != digits.data() + digits.size() || line < 1) {
    r_.error(c["rule"],
             fmt::format("rule \"{}\" is FILE:LINE (\"rules.v4:12\") or an nftables counter's name", e.rule));
    return;
  }
  // The rule and policy lines of the node's rules in that file.
  std::vector<int> lines;
  bool file_known = false;
  for (const RulesSpec* rules : {&node->iptables, &node->ip6tables}) {
    if (rules->empty() || !names_rule_file(file, *rules)) continue;
    file_known = true;
    try {
      auto parsed = parse_iptables(rules->text, rules->where);
      for (const auto& [t, rs] : parsed.rules)
        for (const auto& r : rs) lines.push_back(line_of(rules->where, r.line).line);
      for (const auto& [t, cs] : parsed.chains)
        for (const auto& ch : cs)
          if (ch.policy != "-") lines.push_back(line_of(rules->where, ch.line).line);
    } catch (const ConfigError&) {
      return;  // the rules' own problem is reported with the node
    }
  }
  if (!file_known) {
    std::string have;
    for (const RulesSpec* rules : {&node->iptables, &node->ip6tables})
      if (!rules->empty())
        have += fmt::format("{}\"{}\"", have.empty() ? "" : ", ",
                            std::filesystem::path(rules->where.file).filename().string());
    r_.error(c["rule"], fmt::format("node \"{}\" loads no iptables rules from \"{}\"{}", e.node, file,
                                    have.empty() ? "" : fmt::format(" (its rules are in {})", have)));
    return;
  }
  std::sort(lines.begin(), lines.end());
  if (!std::binary_search(lines.begin(), lines.end(), line)) {
    auto near = std::lower_bound(lines.begin(), lines.end(), line);
    std::string hint;
    if (near != lines.end()) hint = fmt::format("; the next rule is at line {}", *near);
    if (near != lines.begin())
      hint += fmt::format("{} the one before at line {}", hint.empty() ? ";" : ",", *(near - 1));
    r_.error(c["rule"],
             fmt::format("line {} of {} is not a rule or policy of node \"{}\"{}", line, file, e.node, hint));
    return;
  }
  s_.expectations.push_back(std::move(e));
}

}  // namespace detail
}  // namespace nslab
