// The scenario loader's kept connections: `keep: NAME` on a tcp or udp probe
// opens a connection and holds it, `{ kept: NAME, verdict: ... }` later
// sends data over it (README, Kept connections). Names are checked once the
// whole file is read: each opened once, before it is used.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fmt/format.h>

#include "scenario_loader.h"

namespace nslab {

std::string KeptExpectation::str() const {
  std::string s = fmt::format("kept {}", name);
  if (!opened.empty()) s += fmt::format(" ({})", opened);
  return fmt::format("{}: {}", s, to_string(verdict));
}

namespace detail {

namespace {

// A kept connection's name: 1 to 64 letters, digits, '-', '_' or '.',
// starting with a letter or digit (it is shown in titles and messages).
std::optional<std::string> name_problem(const std::string& name) {
  if (name.empty()) return "a kept connection's name is empty";
  if (name.size() > 64) return fmt::format("a kept connection's name has at most 64 characters, not {}", name.size());
  auto plain = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
           c == '.';
  };
  if (!std::all_of(name.begin(), name.end(), plain) || !plain(name.front()) || name.front() == '-' ||
      name.front() == '_' || name.front() == '.')
    return fmt::format(
        "kept connection name \"{}\" must be letters, digits, '-', '_' and '.', starting with a letter "
        "or digit",
        name);
  return std::nullopt;
}

}  // namespace

void Loader::keep_key(const YAML::Node& item, ProbeExpectation& e) {
  auto k = item["keep"];
  if (!k) return;
  auto name = r_.scalar(k, "keep");
  if (!name) return;
  if (auto why = name_problem(*name)) {
    r_.error(k, *why);
    return;
  }
  if (e.probe.protocol == Protocol::icmp) {
    r_.error(k, "keep needs a tcp or udp probe (a connection or flow to hold open); an icmp echo has none");
    return;
  }
  if (e.ports) {
    r_.error(k, "keep needs a single port; a port set opens a connection per port and keeps none");
    return;
  }
  if (e.verdict != Verdict::reachable) {
    r_.error(k, fmt::format("keep needs verdict: reachable (only an established connection can be kept), not {}",
                            to_string(e.verdict)));
    return;
  }
  auto same =
      std::find_if(kept_opened_.begin(), kept_opened_.end(), [&](const KeptName& x) { return x.name == *name; });
  if (same != kept_opened_.end()) {
    r_.error(k, fmt::format("kept connection \"{}\" is already opened at {}; each keep needs a name of its own", *name,
                            same->where.str()));
    return;
  }
  e.keep = *name;
  kept_opened_.push_back({*name, r_.at(k), e.probe.str()});
}

void Loader::kept_expectation(const YAML::Node& item) {
  if (!r_.keys(item, {"kept", "verdict", "payload"}, "a kept-connection expectation")) return;
  KeptExpectation e;
  e.where = r_.at(item);
  auto k = item["kept"];
  auto name = r_.scalar(k, "kept");
  if (!name) return;
  if (auto why = name_problem(*name)) {
    r_.error(k, *why);
    return;
  }
  e.name = *name;
  if (auto v = item["verdict"]) {
    if (auto verdict = r_.verdict(v)) e.verdict = *verdict;
  } else {
    r_.error(item, fmt::format("a kept-connection expectation needs \"verdict\", e.g. {{ kept: {}, verdict: "
                               "reachable }}",
                               *name));
  }
  if (auto p = item["payload"]; p && r_.scalar(p, "payload")) {
    e.payload = p.Scalar();
    if (e.payload.empty()) r_.error(p, "the payload is empty (leave it out for a line of nslab's own)");
    if (e.payload.size() > Probe::kMaxUdpPayload)
      r_.error(p, fmt::format("a kept connection's payload has at most {} bytes, not {}", Probe::kMaxUdpPayload,
                              e.payload.size()));
  }
  auto opened =
      std::find_if(kept_opened_.begin(), kept_opened_.end(), [&](const KeptName& x) { return x.name == e.name; });
  if (opened != kept_opened_.end())
    e.opened = opened->probe;
  else
    kept_early_.push_back({e.name, r_.at(k), ""});
  s_.expectations.push_back(std::move(e));
}

// A `kept:` whose name was not opened when it was read: opened later (the
// run would reach it first), or never.
void Loader::check_kept_names() {
  std::vector<std::string> names;
  names.reserve(kept_opened_.size());
  for (const auto& o : kept_opened_) names.push_back(o.name);
  for (const auto& early : kept_early_) {
    auto later =
        std::find_if(kept_opened_.begin(), kept_opened_.end(), [&](const KeptName& x) { return x.name == early.name; });
    if (later != kept_opened_.end()) {
      r_.error(early.where,
               fmt::format("kept connection \"{}\" is used before it is opened (keep: {} at {}); the top-level "
                           "expectations run first, then each step in order",
                           early.name, early.name, later->where.str()));
      continue;
    }
    std::string hint = closest(early.name, names);
    r_.error(early.where, fmt::format("no probe keeps a connection named \"{}\"{}", early.name,
                                      hint.empty() ? std::string(" (open one with keep: NAME on a tcp probe)")
                                                   : fmt::format("; did you mean \"{}\"?", hint)));
  }
}

}  // namespace detail

}  // namespace nslab
