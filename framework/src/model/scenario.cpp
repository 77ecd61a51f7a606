// The scenario loader's top level and entry points. It reads YAML with
// yaml-cpp, keeping every node's mark so that each problem names
// file:line:column, and builds a Topology and a list of expectations (see
// scenario_loader.h for where each section is read).
#include "nslab/scenario.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <set>

#include "scenario_loader.h"
#include "yaml_reader.h"

namespace nslab {

namespace {
// A scenario file read whole: far beyond any description (the seed labs
// are 1 to 3 kB; groups: write hundreds of nodes in a few lines).
constexpr std::size_t kMaxScenarioBytes = 16u << 20;
}  // namespace

namespace detail {

void Loader::load(const YAML::Node& root) {
  // Top-level keys that start with "x-" are the file's own (a home for
  // anchors, as in Compose files) and are not read.
  Keys top{"name", "description", "nodes", "links", "expect", "options", "defaults", "groups", "steps"};
  if (root.IsMap())
    for (auto it = root.begin(); it != root.end(); ++it)
      if (it->first.IsScalar() && it->first.Scalar().rfind("x-", 0) == 0) top.push_back(it->first.Scalar());
  if (!r_.keys(root, top, "the scenario")) return;
  if (auto n = root["name"]) {
    if (auto v = r_.scalar(n, "name")) s_.name = *v;
  }
  if (auto d = root["description"]) {
    if (auto v = r_.scalar(d, "description")) s_.description = *v;
  }
  if (s_.name.empty()) {
    auto base = r_.file().substr(r_.file().find_last_of('/') + 1);
    s_.name = base.substr(0, base.find('.'));
    // ".hidden.yaml": the name up to its last dot, never empty
    if (s_.name.empty()) s_.name = base.substr(0, base.rfind('.') > 0 ? base.rfind('.') : base.size());
    if (s_.name.empty()) s_.name = "scenario";
  }
  s_.topology.set_name(s_.name);
  if (auto o = root["options"]) options(o);
  if (!root["nodes"]) {
    r_.error(root, "the scenario has no \"nodes\"");
    return;
  }
  if (auto d = root["defaults"]) defaults(d);
  nodes(root["nodes"]);
  if (auto g = root["groups"]) groups(g);
  if (auto l = root["links"])
    for (const auto& item : r_.list(l, "links")) link(item);
  if (auto e = root["expect"])
    for (const auto& item : r_.list(e, "expect")) expectation(item);
  if (auto st = root["steps"]) steps(st);
  check_kept_names();
  if (s_.expectations.empty() && s_.steps.empty())
    s_.warnings.push_back(fmt::format(
        "{}: warning: no expectations: `nslab check` builds this lab and checks nothing (add an \"expect:\" list)",
        root["expect"] ? r_.at(root["expect"]).str() : SourceLocation{r_.file(), 1, 1}.str()));
}

void Loader::options(const YAML::Node& o) {
  if (!r_.keys(o, {"timeout", "static_neighbours", "link_up_timeout"}, "options")) return;
  if (auto t = o["timeout"])
    if (auto d = timeout(t, "timeout")) s_.probe_options.timeout = *d;
  if (auto t = o["link_up_timeout"])
    if (auto d = timeout(t, "link_up_timeout")) s_.lab_options.link_up_timeout = *d;
  if (auto n = o["static_neighbours"])
    if (auto b = r_.boolean(n, "static_neighbours")) s_.lab_options.static_neighbours = *b;
}

std::vector<std::string> Loader::command(const YAML::Node& n, std::string_view what) {
  std::vector<std::string> argv;
  if (n.IsScalar()) {
    if (n.Scalar().find('\0') != std::string::npos) {
      r_.error(n, fmt::format("{} cannot hold a NUL character", what));
      return argv;
    }
    if (n.Scalar().find_first_not_of(" \t\n") == std::string::npos) {
      r_.error(n, fmt::format("{} is empty", what));
      return argv;
    }
    return {"sh", "-c", n.Scalar()};
  }
  if (!n.IsSequence() || n.size() == 0) {
    r_.error(n, fmt::format("{} is a list of words, or a string for sh -c", what));
    return argv;
  }
  for (const auto& w : r_.list(n, what))
    if (auto v = r_.scalar(w, "a command word")) {
      if (v->find('\0') != std::string::npos)
        r_.error(w, "a command word cannot hold a NUL character");
      else if (argv.empty() && v->empty())
        r_.error(w, fmt::format("the program of {} (its first word) is empty", what));
      else
        argv.push_back(*v);
    }
  return argv;
}

std::optional<std::chrono::milliseconds> Loader::duration(const YAML::Node& n, std::string_view what,
                                                          std::chrono::milliseconds lo, std::chrono::milliseconds hi,
                                                          std::string_view range) {
  auto v = r_.scalar(n, what);
  if (!v) return std::nullopt;
  auto ms = parse_milliseconds(*v);
  if (!ms) {
    r_.error(n, fmt::format("{} \"{}\" is not a duration (a number with ms or s, e.g. 500ms, 2s)", what, *v));
    return std::nullopt;
  }
  // Compared unrounded: 0.5ms is below a minimum of 1ms, not 1ms.
  if (!(*ms <= static_cast<double>(hi.count())) || *ms < static_cast<double>(lo.count())) {
    r_.error(n, fmt::format("{} \"{}\" is out of range: {}", what, *v, range));
    return std::nullopt;
  }
  return std::chrono::milliseconds(std::llround(*ms));
}

std::optional<std::chrono::milliseconds> Loader::timeout(const YAML::Node& n, std::string_view what) {
  return duration(n, what, std::chrono::milliseconds(1), kMaxDuration, "a timeout is from 1ms to 1h (3600s)");
}

std::optional<Family> Loader::family(const YAML::Node& n) {
  auto v = r_.scalar(n, "family").value_or("");
  if (v == "ipv4" || v == "4" || v == "inet") return Family::ipv4;
  if (v == "ipv6" || v == "6" || v == "inet6") return Family::ipv6;
  r_.error(n, fmt::format("family \"{}\" is not ipv4 or ipv6", v));
  return std::nullopt;
}

}  // namespace detail

Scenario parse_scenario(std::string_view yaml, const std::string& file) {
  Scenario s;
  s.file = file;
  detail::Reader r(file, yaml);
  YAML::Node root;
  try {
    // Every document is parsed (YAML::Load reads the first and ignores the
    // rest, so a lab after a stray `---` was silently lost); a file holds
    // one lab, and empty documents around it are nothing to lose.
    std::vector<YAML::Node> docs;
    for (auto& d : YAML::LoadAll(std::string(yaml)))
      if (d && !d.IsNull()) docs.push_back(d);
    if (docs.size() > 1)
      throw ScenarioError({ConfigError(
          "a second YAML document: a scenario file holds one lab (one document); put the other in a file of its own",
          r.at(docs[1], {file, 1, 1}))});
    if (!docs.empty()) root = docs.front();
  } catch (const YAML::Exception& e) {
    SourceLocation w{file, e.mark.line + 1, e.mark.column + 1};
    if (e.mark.is_null()) w = {file, 0, 0};
    throw ScenarioError({ConfigError(detail::Reader::printable(fmt::format("YAML syntax: {}", e.msg)), w)});
  }
  if (!root || root.IsNull()) throw ScenarioError({ConfigError("the scenario is empty", {file, 1, 1})});
  try {
    r.expand_merge_keys(root);
    if (r.errors().empty()) detail::Loader(r, s).load(root);
  } catch (const YAML::Exception& e) {
    // A yaml-cpp fault of the loader's own (a missing node assigned, an
    // iterator misused): where the mark is unknown, the file's start.
    r.errors().emplace_back(
        detail::Reader::printable(fmt::format("YAML: {}", e.msg)),
        e.mark.is_null() ? SourceLocation{file, 1, 1} : SourceLocation{file, e.mark.line + 1, e.mark.column + 1});
  }
  if (r.errors().empty()) {
    for (auto& p : s.topology.problems()) r.error(p.where(), p.message());
  }
  if (!r.errors().empty()) {
    // A problem in `defaults` (or in a merge key's anchor) is found once per
    // node that uses it, at the same place: it is reported once.
    std::vector<ConfigError> once;
    std::set<std::string> seen;
    for (auto& e : r.errors())
      if (seen.insert(e.what()).second) once.push_back(std::move(e));
    throw ScenarioError(std::move(once));
  }
  return s;
}

Scenario load_scenario(const std::string& path) {
  auto fail = [&](const std::string& why) { throw ScenarioError({ConfigError(why, {path, 0, 0})}); };
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) fail("the scenario file is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(fmt::format("cannot read the scenario file: {}", std::strerror(errno)));
  // Read at most kMaxScenarioBytes (and one more, to tell): a pipe
  // (<(...)) is fine, /dev/zero or a runaway generator is not a scenario.
  std::string text;
  char chunk[1 << 16];
  while (text.size() <= kMaxScenarioBytes && in.read(chunk, sizeof chunk).gcount() > 0)
    text.append(chunk, static_cast<std::size_t>(in.gcount()));
  if (in.bad()) fail(fmt::format("cannot read the scenario file: {}", std::strerror(errno)));
  if (text.size() > kMaxScenarioBytes)
    fail(
        fmt::format("the scenario file is larger than {} MiB; a scenario is a short description (use groups: for "
                    "many alike nodes)",
                    kMaxScenarioBytes >> 20));
  return parse_scenario(text, path);
}

}  // namespace nslab
