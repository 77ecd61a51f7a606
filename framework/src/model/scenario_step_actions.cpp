// The steps' actions that change impairments, start and stop programs and
// wait for a condition (scenario_steps.cpp reads the others). Each reuses
// the reader of the section it mirrors: a link's `impair:`, a node's `run:`
// entry, an expectation.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fmt/format.h>
#include <map>

#include "scenario_loader.h"

namespace nslab::detail {

namespace {

// A program's name in `start`/`stop`: one word a message can quote.
bool plain_name(const std::string& s) {
  return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

// The mapping without the keys `drop`, its marks kept (errors stay at the
// user's own positions).
YAML::Node without(const YAML::Node& map, std::initializer_list<const char*> drop) {
  YAML::Node out(YAML::NodeType::Map);
  for (auto it = map.begin(); it != map.end(); ++it) {
    bool keep = !it->first.IsScalar() ||
                std::none_of(drop.begin(), drop.end(), [&](const char* k) { return it->first.Scalar() == k; });
    if (keep) out.force_insert(it->first, it->second);
  }
  return out;
}

// Only the keys `keep` of the mapping, their marks kept.
YAML::Node only(const YAML::Node& map, std::initializer_list<const char*> keep) {
  YAML::Node out(YAML::NodeType::Map);
  for (auto it = map.begin(); it != map.end(); ++it)
    if (it->first.IsScalar() &&
        std::any_of(keep.begin(), keep.end(), [&](const char* k) { return it->first.Scalar() == k; }))
      out.force_insert(it->first, it->second);
  return out;
}

// Problems found since `before` that have no position (about the mapping
// `without` made, which has none) are put at `where`.
void relocate(std::vector<ConfigError>& errors, std::size_t before, const SourceLocation& where) {
  for (std::size_t k = before; k < errors.size(); ++k)
    if (errors[k].where().line <= 0) errors[k] = ConfigError(errors[k].message(), where);
}

}  // namespace

// { "a:eth0": { rate: 1mbit, loss: 5% }, "b:eth1": none }: each an action.
void Loader::impair_action(Step& step, const YAML::Node& body) {
  if (!body.IsMap() || body.size() == 0) {
    r_.error(body,
             "\"impair\" is a mapping of node:interface to an impairment or none, e.g. "
             "{ \"r1:eth0\": { rate: 1mbit, loss: 5% } }");
    return;
  }
  for (auto it = body.begin(); it != body.end(); ++it) {
    auto label = r_.scalar(it->first, "an interface");
    if (!label) continue;
    ImpairAction a;
    a.interface = *label;
    a.where = r_.at(it->first);
    if (label->find(':') == std::string::npos || IpAddress::parse(*label)) {
      r_.error(it->first, fmt::format("\"{}\" is not node:interface", *label));
      continue;
    }
    auto before = r_.errors().size();
    check_target(it->first, *label);
    if (r_.errors().size() != before) continue;
    const auto& links = s_.topology.links();
    if (std::none_of(links.begin(), links.end(),
                     [&](const LinkSpec& l) { return l.a.label() == *label || l.b.label() == *label; })) {
      r_.error(it->first, fmt::format("\"{}\" is not an end of a link (impair changes a link's impairment)", *label));
      continue;
    }
    if (it->second.IsScalar() && it->second.Scalar() == "none") {
      step.actions.push_back(std::move(a));
      continue;
    }
    if (!it->second.IsMap()) {
      r_.error(it->second, fmt::format("the impairment of \"{}\" is a mapping (rate, loss, delay, jitter, "
                                       "direction) or none",
                                       *label));
      continue;
    }
    before = r_.errors().size();
    a.impair = impairment(it->second);  // scenario_links.cpp: a link's own keys
    if (r_.errors().size() != before) continue;
    if (a.impair.empty()) {
      r_.error(it->second, fmt::format("the impairment of \"{}\" sets nothing; to remove it, write none", *label));
      continue;
    }
    step.actions.push_back(std::move(a));
  }
}

// { node: web, name: srv, run: CMD, ready: {...}, cwd, env, timeout }: read
// as a node's `run:` entry (scenario_nodes.cpp), whose `command` is `run`.
void Loader::start_action(Step& step, const YAML::Node& body) {
  if (!r_.keys(body, {"node", "name", "run", "ready", "cwd", "env", "timeout"}, "a \"start\" action")) return;
  if (!body["node"] || !body["name"] || !body["run"]) {
    r_.error(body,
             "a \"start\" action needs node, name and run, e.g. { node: web, name: srv, run: \"python3 -m "
             "http.server 80\", ready: { tcp: 80 } }");
    return;
  }
  StartAction a;
  a.where = r_.at(body);
  auto node = r_.scalar(body["node"], "node");
  if (!node || !check_node(body["node"], *node, "node")) return;
  a.node = *node;
  auto name = r_.scalar(body["name"], "a program's name");
  if (!name) return;
  a.name = *name;
  if (!plain_name(a.name)) {
    r_.error(body["name"], fmt::format("program name \"{}\" is 1 to 64 letters, digits, '-', '_' or '.'", a.name));
    return;
  }
  // (Unknown keys, "exit" among them, were reported above.)
  YAML::Node entry = only(body, {"ready", "cwd", "env", "timeout"});
  entry.force_insert(YAML::Node("command"), body["run"]);
  NodeSpec scratch;
  auto before = r_.errors().size();
  run(scratch, entry);
  relocate(r_.errors(), before, a.where);
  if (r_.errors().size() != before || scratch.run.empty()) return;
  a.run = std::move(scratch.run.front());
  a.run.where = a.where;
  step.actions.push_back(std::move(a));
}

// stop: srv, or { name: srv, signal: TERM | KILL, grace: 1s }.
void Loader::stop_action(Step& step, const YAML::Node& body) {
  StopAction a;
  a.where = r_.at(body);
  // (A YAML::Node is a reference: assigning one would overwrite `body`.)
  const YAML::Node name = body.IsMap() ? body["name"] : body;
  if (body.IsMap()) {
    if (!r_.keys(body, {"name", "signal", "grace"}, "a \"stop\" action")) return;
    if (!name) {
      r_.error(body, "a \"stop\" action needs the name a \"start\" gave, e.g. stop: srv");
      return;
    }
    if (auto s = body["signal"]) {
      auto v = r_.scalar(s, "a signal").value_or("");
      if (v == "TERM" || v == "SIGTERM")
        a.kill = false;
      else if (v == "KILL" || v == "SIGKILL")
        a.kill = true;
      else
        r_.error(s,
                 fmt::format("signal \"{}\": a step stops a program with TERM (then KILL after \"grace\") or KILL", v));
    }
    if (auto g = body["grace"]) {
      if (a.kill) r_.error(g, "\"grace\" is the time between TERM and KILL; with signal KILL there is none");
      if (auto d = duration(g, "grace", std::chrono::milliseconds(0), std::chrono::milliseconds(60000),
                            "grace is from 0ms to 60s"))
        a.grace = *d;
    }
  }
  auto text = r_.scalar(name, "a program's name");
  if (!text) return;
  a.name = *text;
  if (!plain_name(a.name)) {
    r_.error(name, fmt::format("program name \"{}\" is 1 to 64 letters, digits, '-', '_' or '.'", a.name));
    return;
  }
  step.actions.push_back(std::move(a));
}

// { EXPECTATION..., within: 5s } or { link: "a:eth0", state: up, within: 5s }.
void Loader::wait_action(Step& step, const YAML::Node& body) {
  if (!body.IsMap()) {
    r_.error(body,
             "\"wait\" is an expectation with \"within\", e.g. { from: a, to: b, icmp: reachable, within: 5s }, "
             "or { link: \"a:eth0\", state: up, within: 5s }");
    return;
  }
  WaitAction a;
  a.where = r_.at(body);
  if (auto w = body["within"]) {
    if (auto d = duration(w, "within", std::chrono::milliseconds(10), std::chrono::milliseconds(600000),
                          "within is from 10ms to 600s"))
      a.within = *d;
  } else {
    r_.error(body, "a \"wait\" needs \"within\": how long the condition has to hold, e.g. within: 5s");
  }
  if (auto l = body["link"]) {
    if (!r_.keys(body, {"link", "state", "within"}, "a link \"wait\"")) return;
    auto label = r_.scalar(l, "an interface");
    if (!label) return;
    a.link = *label;
    if (a.link.find(':') == std::string::npos || IpAddress::parse(a.link)) {
      r_.error(l, fmt::format("\"{}\" is not node:interface", a.link));
      return;
    }
    auto before = r_.errors().size();
    check_target(l, a.link);
    if (r_.errors().size() != before) return;
    auto state = body["state"] ? r_.scalar(body["state"], "a link state") : std::optional<std::string>("up");
    if (!state) return;
    if (*state != "up" && *state != "down") {
      r_.error(body["state"], fmt::format("link state \"{}\" is not up or down", *state));
      return;
    }
    a.up = *state == "up";
    step.actions.push_back(std::move(a));
    return;
  }
  for (const char* k : {"matrix", "capture", "counter", "conntrack"})
    if (body[k]) {
      r_.error(body[k], fmt::format("a \"wait\" polls a probe or a command expectation, not a {}", k));
      return;
    }
  // Read by the "expect" section's code, then moved into the wait.
  std::vector<Expectation> one;
  std::swap(one, s_.expectations);
  auto before = r_.errors().size();
  expectation(without(body, {"within"}));
  relocate(r_.errors(), before, a.where);
  std::swap(one, s_.expectations);
  if (r_.errors().size() != before || one.size() != 1) return;
  a.condition = std::make_shared<const WaitCondition>(WaitCondition{std::move(one.front())});
  step.actions.push_back(std::move(a));
}

// A `stop` names a program that an earlier `start` started and that has not
// been stopped since; a `start` does not reuse the name of one that runs.
void Loader::check_programs() {
  std::map<std::string, SourceLocation> running;
  for (const auto& step : s_.steps)
    for (const auto& action : step.actions) {
      if (const auto* start = std::get_if<StartAction>(&action)) {
        if (auto it = running.find(start->name); it != running.end())
          r_.error(start->where, fmt::format("program \"{}\" is already running (started at {}); stop it first",
                                             start->name, it->second.str()));
        else
          running.emplace(start->name, start->where);
      } else if (const auto* stop = std::get_if<StopAction>(&action)) {
        if (running.erase(stop->name) == 0) {
          std::vector<std::string> names;
          names.reserve(running.size());
          for (const auto& [n, w] : running) names.push_back(n);
          r_.error(stop->where, fmt::format("no running program \"{}\" to stop ({})", stop->name,
                                            names.empty() ? std::string("no step has started one")
                                                          : "running: " + Reader::join(names)));
        }
      }
    }
}

}  // namespace nslab::detail
