// The scenario loader's series of probes: paths (`path: [r1, r2, dst]`,
// `via: r2`, an in-process traceroute) and counted probes (`count: 10`
// with `answers: ">= 9"` or `loss: "<= 10%"`). Both take the probe keys of
// a single probe; the protocol may be left out (an ICMP echo).
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fmt/format.h>

#include "scenario_loader.h"

namespace nslab::detail {

namespace {

// The keys every series probe takes, as a single probe has them.
const Keys kProbeKeys{"from", "to", "icmp", "tcp", "udp", "family", "source", "size", "tos", "dscp"};

Keys with(Keys keys, std::initializer_list<const char*> more) {
  for (const char* k : more) keys.emplace_back(k);
  return keys;
}

}  // namespace

// from, to and the protocol of a path or count: `icmp: echo` or nothing
// (an echo), `tcp: PORT`, `udp: PORT`; a verdict has no place there.
std::optional<Probe> Loader::series_probe(const YAML::Node& item, std::string_view what) {
  if (auto v = item["verdict"]) {
    r_.error(v, fmt::format("{} checks {}, not a verdict; write a probe expectation beside it for that", what,
                            item["count"] ? "how many requests are answered" : "the path"));
    return std::nullopt;
  }
  if (auto i = item["icmp"]) {
    auto text = r_.scalar(i, "icmp");
    if (!text) return std::nullopt;
    if (*text != "echo") {
      r_.error(i, fmt::format("in {}, icmp names the probe, not a verdict: write icmp: echo, or leave it out (an "
                              "echo is the default), not \"{}\"",
                              what, *text));
      return std::nullopt;
    }
  }
  icmp_by_default_ = true;
  auto probe = probe_of(item, what);
  icmp_by_default_ = false;
  return probe;
}

// { from, to, path: [r1, r2, dst] } / { from, to, via: r2 }, tcp: PORT or udp: PORT, hops: N
void Loader::path_expectation(const YAML::Node& item) {
  if (auto c = item["count"]) {
    r_.error(c,
             "count and path are two expectations (a path is traced once, one probe per TTL); write each on its "
             "own");
    return;
  }
  if (!r_.keys(item, with(kProbeKeys, {"path", "via", "hops", "ttl", "sport", "verdict"}), "a path expectation"))
    return;
  if (auto n = item["ttl"])
    r_.error(n, "ttl is not for a path: a path sets the TTL of each hop's probe itself (1 to hops)");
  ProbeExpectation e;
  e.where = r_.at(item);
  auto probe = series_probe(item, "a path expectation");
  if (!probe) return;
  // sport: one flow for every TTL (a Paris traceroute), so that ECMP
  // routers hash every probe of the trace onto one path.
  if (auto n = item["sport"]; n && probe->protocol == Protocol::tcp)
    r_.error(n,
             "sport (one flow for every TTL) needs a udp path: each TTL of a TCP path is a connection of its "
             "own, with a random flow hash that an ECMP router behind a veth hashes on instead of the ports");
  else if (n && probe->protocol == Protocol::icmp && !item["icmp"])
    r_.error(n, "sport needs a udp path (udp: PORT); an echo has no port");
  ExpectedPath x;
  if (auto h = item["hops"])
    if (auto v = r_.integer(h, "hops (the largest TTL tried, as traceroute -m)", 1, 255))
      x.max_hops = static_cast<int>(*v);
  const std::string target = source_node(probe->to);  // the node owning `to`
  auto node_or_star = [&](const YAML::Node& n, bool star) -> std::optional<std::string> {
    auto name = r_.scalar(n, "a hop (a node name)");
    if (!name) return std::nullopt;
    if (*name == "*") {
      if (star) return name;
      r_.error(n, "via names nodes the path goes through; \"*\" (a hop that does not answer) belongs in path");
      return std::nullopt;
    }
    if (!check_node(n, *name, "a hop")) return std::nullopt;
    return name;
  };
  if (auto p = item["path"]) {
    if (item["via"]) r_.error(item["via"], "path already names every hop; via is for when only some of them matter");
    if (!p.IsSequence() || p.size() == 0) {
      r_.error(p,
               "path is a list of hops, e.g. [r1, r2, web]: the nodes that answer at TTL 1, 2, ... and the "
               "destination last (\"*\" for a hop that does not answer)");
      return;
    }
    for (auto it = p.begin(); it != p.end(); ++it) {
      auto name = node_or_star(*it, true);
      if (!name) continue;
      if (*name != "*" && std::find(x.path.begin(), x.path.end(), *name) != x.path.end())
        r_.error(*it, fmt::format("\"{}\" is twice in the path; a node answering at two TTLs is a routing loop, which "
                                  "a path never expects (a trace reports it)",
                                  *name));
      x.path.push_back(*name);
    }
    if (x.path.size() != p.size()) return;
    if (static_cast<int>(x.path.size()) > x.max_hops)
      r_.error(p, fmt::format("the path has {} hops, more than hops: {} tries", x.path.size(), x.max_hops));
  } else {
    auto v = item["via"];
    const auto errors_before = r_.errors().size();
    for (const auto& n : r_.list(v, "via"))
      if (auto name = node_or_star(n, false)) {
        if (*name == target)
          r_.error(n, fmt::format("\"{}\" is the destination; via names the nodes on the way to it", *name));
        x.via.push_back(*name);
      }
    if (x.via.empty() && r_.errors().size() == errors_before)
      r_.error(v, "via names a node the path goes through (via: r2), or several in order (via: [r1, r2])");
  }
  e.path = std::move(x);
  e.probe = std::move(*probe);
  s_.expectations.push_back(std::move(e));
}

// { from, to, count: 10, answers: ">= 9" } / { ..., loss: "<= 10%" }
void Loader::count_expectation(const YAML::Node& item) {
  if (!r_.keys(item, with(kProbeKeys, {"count", "answers", "loss", "ttl", "df", "payload", "sport", "verdict"}),
               "a counted probe"))
    return;
  ProbeExpectation e;
  e.where = r_.at(item);
  auto probe = series_probe(item, "a counted probe");
  if (!probe) return;
  if (auto s = item["sport"])
    r_.error(s,
             "sport is not for a counted probe: its requests go out at once, and one source port cannot carry "
             "them all");
  ExpectedAnswers x;
  if (auto v = r_.integer(item["count"], "count (requests sent, as ping -c)", 1,
                          static_cast<long>(ExpectedAnswers::kMaxCount)))
    x.count = static_cast<std::size_t>(*v);
  else
    return;
  auto a = item["answers"], l = item["loss"];
  if ((a ? 1 : 0) + (l ? 1 : 0) != 1) {
    r_.error(a && l ? l : item,
             "a counted probe needs one of answers: (a count, e.g. \">= 9\") or loss: (e.g. "
             "\"<= 10%\")");
    return;
  }
  if (a) {
    auto text = r_.scalar(a, "answers").value_or("");
    x.answers = CountSpec::parse(text);
    if (!x.answers) {
      r_.error(a, fmt::format("answers \"{}\" is not a count (e.g. 10, \">= 9\", \"<= 1\", \"0\")", text));
      return;
    }
  } else {
    auto text = r_.scalar(l, "loss").value_or("");
    std::string why;
    x.loss = LossBound::parse(text, &why);
    if (!x.loss) {
      r_.error(l, fmt::format("loss \"{}\": {}", text, why));
      return;
    }
  }
  if (auto why = x.vacuous()) {
    r_.error(a ? a : l, *why);
    return;
  }
  e.answers = x;
  e.probe = std::move(*probe);
  s_.expectations.push_back(std::move(e));
}

}  // namespace nslab::detail
