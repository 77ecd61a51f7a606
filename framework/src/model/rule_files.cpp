// Rule files: paths checked before anything is read, so that a scenario
// cannot read what lies outside its folder (a scenario may come from
// someone else; its rule files are loaded as root).
#include "rule_files.h"

#include <algorithm>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <sstream>

#include "nftables_text.h"

namespace nslab {

namespace fs = std::filesystem;

namespace {

constexpr std::uintmax_t kMaxRuleFile = 4 << 20;  // iptables-save of a big router is a few hundred kB
constexpr int kMaxIncludeDepth = 8;

std::string shown(std::string_view s) {
  std::string out;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    out += u < 0x20 || u == 0x7f ? fmt::format("\\x{:02x}", static_cast<unsigned>(u)) : std::string(1, c);
  }
  return out;
}

// `inner` is `outer` or below it (both canonical).
bool inside(const fs::path& outer, const fs::path& inner) {
  auto [o, i] = std::mismatch(outer.begin(), outer.end(), inner.begin(), inner.end());
  return o == outer.end();
}

}  // namespace

RulesSpec read_rule_file(std::string_view written, const RuleFileOptions& opt, const SourceLocation& at) {
  auto fail = [&](const std::string& why) {
    throw ConfigError(fmt::format("{} \"{}\": {}", opt.what, shown(written), why), at);
  };
  if (written.empty()) fail("the path is empty");
  for (char c : written)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      fail(fmt::format("the path holds control character 0x{:02x}",
                       static_cast<unsigned>(static_cast<unsigned char>(c))));
  const fs::path path(written);
  const std::string folder = opt.base.empty() ? std::string(".") : opt.base;
  if (!opt.root.empty()) {
    if (path.is_absolute())
      fail(
          fmt::format("the path is absolute; a rule file is named relative to the scenario's folder ({}) and "
                      "stays inside it",
                      folder));
    fs::path normal = (fs::path(opt.base) / path).lexically_normal();
    fs::path rel = normal.lexically_relative(fs::path(opt.root).lexically_normal());
    if (rel.empty() || *rel.begin() == "..")
      fail(fmt::format("the path leaves the scenario's folder ({}); keep rule files beside the scenario", opt.root));
  }
  const fs::path full = opt.base.empty() || path.is_absolute() ? path : fs::path(opt.base) / path;
  const std::string name = full.lexically_normal().string();
  std::error_code ec;
  fs::path real = fs::canonical(full, ec);
  if (ec) fail(fmt::format("cannot read {}: {}", name, ec.message()));
  if (!opt.root.empty()) {
    fs::path real_root = fs::canonical(opt.root.empty() ? "." : opt.root, ec);
    if (ec) fail(fmt::format("cannot resolve the scenario's folder {}: {}", opt.root, ec.message()));
    if (!inside(real_root, real))
      fail(fmt::format("{} resolves to {} (a symbolic link), outside the scenario's folder {}", name, real.string(),
                       real_root.string()));
  }
  if (!fs::is_regular_file(real, ec)) fail(fmt::format("{} is not a regular file", name));
  auto size = fs::file_size(real, ec);
  if (ec) fail(fmt::format("cannot read {}: {}", name, ec.message()));
  if (size > kMaxRuleFile) fail(fmt::format("{} has {} bytes; a rule file has at most {}", name, size, kMaxRuleFile));
  std::ifstream in(real, std::ios::binary);
  std::stringstream buf;
  buf << in.rdbuf();
  if (!in) fail(fmt::format("cannot read {}", name));
  RulesSpec r;
  r.text = buf.str();
  if (r.text.find('\0') != std::string::npos) fail(fmt::format("{} holds a NUL byte: it is not a text file", name));
  r.where = SourceLocation{name, 1, 1};
  r.file = name;
  r.root = opt.root;
  return r;
}

std::optional<ConfigError> include_problem(const RulesSpec& rules, std::string_view path, const SourceLocation& at,
                                           int depth) {
  if (depth >= kMaxIncludeDepth)
    return ConfigError(fmt::format("include \"{}\": includes nest more than {} deep", shown(path), kMaxIncludeDepth),
                       at);
  if (path.find_first_of("*?[") != std::string_view::npos)
    return ConfigError(fmt::format("include \"{}\": a wildcard include is not read; name each file", shown(path)), at);
  RuleFileOptions opt;
  // nft looks for a relative include in its include path, which nslab sets
  // to the rule file's folder (and nothing else).
  opt.base = fs::path(rules.file).parent_path().string();
  opt.root = rules.includes_outside ? std::string() : rules.root;
  opt.what = "include";
  RulesSpec included;
  try {
    included = read_rule_file(path, opt, at);
  } catch (const ConfigError& e) {
    if (!rules.includes_outside && !rules.root.empty() && fs::path(path).is_absolute())
      return ConfigError(e.message() + " (an include outside it needs includes_outside: true)", at);
    return e;
  }
  return nftables_problem(included.text, included.where, [&](std::string_view p, const SourceLocation& w) {
    return include_problem(rules, p, w, depth + 1);
  });
}

NodeSpec& NodeSpec::iptables_file(const std::string& path) {
  iptables = read_rule_file(path, {.base = {}, .root = {}, .what = "iptables_file"});
  return *this;
}
NodeSpec& NodeSpec::ip6tables_file(const std::string& path) {
  ip6tables = read_rule_file(path, {.base = {}, .root = {}, .what = "ip6tables_file"});
  return *this;
}
NodeSpec& NodeSpec::nftables_file(const std::string& path) {
  nftables = read_rule_file(path, {.base = {}, .root = {}, .what = "nftables_file"});
  nftables.includes_outside = true;  // the program's author wrote the file
  return *this;
}

}  // namespace nslab
