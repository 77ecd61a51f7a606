// The scenario loader's ICMP messages (README, ICMP types): `icmp: VERDICT`
// (an echo), `icmp: timestamp` or `icmp: { type: 3, code: 3 }` with a
// `verdict:`, `icmpv6: router-advertisement`, and `answered_by: [b, c]` for
// an echo to a broadcast address.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fmt/format.h>

#include "scenario_loader.h"

namespace nslab::detail {

namespace {

bool is_number(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

const char* kind_name(Family f) {
  return f == Family::ipv4 ? "ICMP" : "ICMPv6";
}

}  // namespace

// The message a probe sends. `icmp: VERDICT` and `icmp: echo` are the echo;
// a capture's `during` may write `icmp: 1` (a number) for one.
void Loader::icmp_kind(const YAML::Node& item, Probe& probe) {
  const bool v6 = !item["icmp"] && item["icmpv6"];
  auto n = v6 ? item["icmpv6"] : item["icmp"];
  if (!n) return;
  const Family f = v6 ? Family::ipv6 : Family::ipv4;
  std::optional<IcmpType> kind;
  if (n.IsMap()) {
    if (!r_.keys(n, {"type", "code"}, fmt::format("an {} message", kind_name(f)))) return;
    auto t = n["type"];
    if (!t) {
      r_.error(n, fmt::format("an {} message needs a type: a number (0-255) or a name, e.g. {}", kind_name(f),
                              v6 ? "{ type: 134 } or { type: router-advertisement }"
                                 : "{ type: 3, code: 3 } or { type: redirect }"));
      return;
    }
    auto text = r_.scalar(t, "type");
    if (!text) return;
    if (is_number(*text)) {
      if (auto v = r_.integer(t, "type", 0, 255)) kind = IcmpType{f, static_cast<std::uint8_t>(*v), 0};
    } else {
      std::string why;
      kind = IcmpType::parse(*text, f, &why);
      if (!kind) r_.error(t, why);
      if (kind && IcmpType::names_code(*text, f) && n["code"])
        r_.error(n["code"], fmt::format("\"{}\" names a type and its code; leave code out", *text));
    }
    if (auto c = n["code"]; c && kind) {
      auto ctext = r_.scalar(c, "code").value_or("");
      if (is_number(ctext)) {
        if (auto v = r_.integer(c, "code", 0, 255)) kind->code = static_cast<std::uint8_t>(*v);
      } else if (auto named = IcmpType::parse(ctext, f); named && IcmpType::names_code(ctext, f)) {
        if (named->type != kind->type)
          r_.error(c, fmt::format("\"{}\" is a code of type {} ({}), not of type {}", ctext, named->type,
                                  IcmpType{f, named->type, 0}.str(), kind->type));
        kind->code = named->code;
      } else {
        r_.error(c, fmt::format("code \"{}\" is not a number (0-255) or the name of an {} code", ctext, kind_name(f)));
      }
    }
  } else if (n.IsScalar()) {
    const std::string& s = n.Scalar();
    if (!v6 && (parse_verdict(s) || s == "echo" || is_number(s))) return;  // an echo
    if (auto k = IcmpType::parse(s, f)) {
      kind = k;
    } else {
      // A misspelt verdict is the verdict's to report (probe_expectation).
      auto verdicts = std::vector<std::string>{"reachable", "blocked", "refused", "unreachable"};
      if (!v6 && closest(s, verdicts) != "") return;
      std::string hint = closest(s, IcmpType::names(f));
      r_.error(n, hint.empty() ? fmt::format("\"{}\" is {}", s,
                                             v6 ? "not the name of an ICMPv6 type (e.g. router-advertisement, "
                                                  "neighbour-solicitation; or { type: N, code: N })"
                                                : "not a verdict (reachable, blocked, refused or unreachable) nor the "
                                                  "name of an ICMP type (e.g. timestamp-request, redirect; or { type: "
                                                  "N, code: N })")
                               : fmt::format("\"{}\" is not the name of an {} type; did you mean \"{}\"?", s,
                                             kind_name(f), hint));
      return;
    }
  } else {
    r_.error(n, fmt::format("{} takes {}a type name, or {{ type: N, code: N }}", v6 ? "icmpv6" : "icmp",
                            v6 ? "" : "a verdict (an echo), "));
    return;
  }
  if (!kind) return;
  if (auto to = IpAddress::parse(probe.to); to && to->family() != f)
    r_.error(item["to"], fmt::format("an {} message needs an {} target, not {}", kind_name(f), to_string(f), probe.to));
  else if (!to && s_.topology.find_node(source_node(probe.to)) && addresses_of(probe.to, f).empty())
    r_.error(item["to"],
             fmt::format("\"{}\" has no {} address for an {} message", probe.to, to_string(f), kind_name(f)));
  if (auto fam = item["family"]; fam && fam.IsScalar() && fam.Scalar() != to_string(f))
    r_.error(fam, fmt::format("{} already makes the probe {}; leave family out", v6 ? "icmpv6" : "icmp", to_string(f)));
  probe.icmp_type = kind;
  if (auto size = item["size"]; size && !kind->echo())
    r_.error(size, fmt::format("size is an echo's data; the {} message has its own", kind->str()));
}

void Loader::icmp_expectation(const YAML::Node& item, ProbeExpectation& e, Probe& probe) {
  auto i = item["icmp"] ? item["icmp"] : item["icmpv6"];
  if (probe.icmp_type && !probe.icmp_type->echo()) {
    const auto& k = *probe.icmp_type;
    const bool answered = k.reply_type().has_value();
    auto v = item["verdict"];
    if (!v) {
      r_.error(item,
               fmt::format("an {} {} probe needs a verdict: {}", kind_name(k.family), k.str(),
                           answered ? fmt::format("reachable (answered with {}), blocked, refused or unreachable",
                                                  IcmpType{k.family, *k.reply_type(), 0}.str())
                                    : std::string("delivered (the target got it) or blocked; it gets no answer")));
    } else if (auto verdict = r_.verdict(v, !answered)) {
      e.verdict = *verdict;
      if (!answered && (*verdict == Verdict::reachable || *verdict == Verdict::refused))
        r_.error(v, fmt::format("{} gets no answer, so it is judged by delivery: write verdict: delivered (a raw "
                                "socket in the target saw it) or blocked",
                                k.str()));
    }
  } else if (i) {
    // What icmp_kind refused already (a mapping, a list, a name that is
    // no type and too far from a verdict) is not reported again here.
    auto verdicts = std::vector<std::string>{"reachable", "blocked", "refused", "unreachable"};
    if (!probe.icmp_type && (!i.IsScalar() || item["icmpv6"] ||
                             (!parse_verdict(i.Scalar()) && i.Scalar() != "echo" && i.Scalar() != "echo-request" &&
                              !is_number(i.Scalar()) && closest(i.Scalar(), verdicts).empty())))
      return;
    if (i.IsScalar() && (i.Scalar() == "echo" || i.Scalar() == "echo-request")) {
      if (auto v = item["verdict"]) {
        if (auto verdict = r_.verdict(v)) e.verdict = *verdict;
      } else {
        r_.error(i, "an echo expectation names its verdict: icmp: reachable (or blocked, refused, unreachable)");
      }
    } else if (probe.icmp_type) {  // { type: 8 }, { type: echo-request, code: N }
      if (auto v = item["verdict"])
        if (auto verdict = r_.verdict(v)) e.verdict = *verdict;
    } else {
      if (auto v = r_.verdict(i)) e.verdict = *v;
      if (item["verdict"]) r_.error(item["verdict"], "with icmp, write the verdict as icmp: VERDICT");
    }
  } else if (auto v = item["verdict"]) {
    if (auto verdict = r_.verdict(v)) e.verdict = *verdict;
  }
  auto a = item["answered_by"];
  if (!a) return;
  probe.broadcast = true;
  if (probe.icmp_type && !probe.icmp_type->echo())
    r_.error(a,
             "answered_by lists the nodes that answer an echo to a broadcast address; an icmp type other than "
             "the echo has no such answers");
  auto to = IpAddress::parse(probe.to);
  if (!to || !to->is_v4())
    r_.error(item["to"], fmt::format("answered_by needs an echo to an IPv4 broadcast address (e.g. 192.168.1.255), "
                                     "not \"{}\"",
                                     probe.to));
  std::vector<std::string> who;
  bool bad = false;
  for (const auto& n : r_.list(a, "answered_by")) {
    auto name = r_.scalar(n, "a node name");
    if (!name) continue;
    if (std::find(who.begin(), who.end(), *name) != who.end()) {
      r_.error(n, fmt::format("\"{}\" is listed twice in answered_by", *name));
      bad = true;
      continue;
    }
    if (check_node(n, *name, "answered_by"))
      who.push_back(*name);
    else
      bad = true;
  }
  std::sort(who.begin(), who.end());
  if (bad) return;
  if (who.empty() && e.verdict != Verdict::blocked)
    r_.error(a, fmt::format("answered_by is empty (nobody answers), so the verdict is blocked, not {}",
                            to_string(e.verdict)));
  if (!who.empty() && e.verdict != Verdict::reachable)
    r_.error(a, fmt::format("answered_by names nodes that answer, so the verdict is reachable, not {}",
                            to_string(e.verdict)));
  e.answered_by = std::move(who);
}

}  // namespace nslab::detail
