// The scenario loader's rule files: `iptables_file: rules.v4`,
// `ip6tables_file: rules.v6`, `nftables_file: fw.nft` (or
// `{ path: fw.nft, includes_outside: true }`), read relative to the
// scenario's folder (see rule_files.h for what a path may be).
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fmt/format.h>

#include "rule_files.h"
#include "scenario_loader.h"

namespace nslab::detail {

void Loader::rule_file(const YAML::Node& node, const YAML::Node& inline_rules, RulesSpec& out, std::string_view what) {
  if (!node) return;
  std::string key(what);
  std::string inline_key = key.substr(0, key.size() - std::string_view("_file").size());
  if (inline_rules) {
    r_.error(node, fmt::format("give \"{}\" or \"{}\", not both: the rules come from one place", inline_key, key));
    return;
  }
  bool outside = false;
  if (node.IsMap()) {
    if (what != "nftables_file") {
      r_.error(node, fmt::format("\"{}\" is the rule file's path, relative to the scenario's folder", key));
      return;
    }
    if (!r_.keys(node, {"path", "includes_outside"}, "\"nftables_file\"")) return;
    if (!node["path"]) {
      r_.error(node, "\"nftables_file\" needs a \"path\"");
      return;
    }
    if (auto o = node["includes_outside"])
      if (auto b = r_.boolean(o, "includes_outside")) outside = *b;
  }
  // (A YAML::Node assigned to another changes the node it refers to: no
  // variable is reused here.)
  const YAML::Node path = node.IsMap() ? node["path"] : node;
  auto written = r_.scalar(path, key);
  if (!written) return;
  std::string folder = std::filesystem::path(r_.file()).parent_path().string();
  if (folder.empty()) folder = ".";
  try {
    out = read_rule_file(*written, {.base = folder, .root = folder, .what = what}, r_.at(path));
    out.includes_outside = outside;
  } catch (const ConfigError& e) {
    r_.errors().push_back(e);
  }
}

}  // namespace nslab::detail
