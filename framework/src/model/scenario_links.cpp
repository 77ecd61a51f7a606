// The scenario loader's "links" section: each link's two endpoints, its MTU
// and its impairment.
#include <yaml-cpp/yaml.h>

#include <fmt/format.h>

#include "scenario_loader.h"

namespace nslab::detail {

void Loader::link(const YAML::Node& item) {
  int mtu = 0;
  if (item.IsMap()) {
    if (!r_.keys(item, {"endpoints", "mtu", "impair"}, "a link")) return;
    if (!item["endpoints"]) {
      r_.error(item, "a link needs \"endpoints\": [node:if, node:if]");
      return;
    }
    if (auto m = item["mtu"])
      if (auto v = r_.integer(m, "mtu", 68, 65535)) mtu = static_cast<int>(*v);
  } else if (!item.IsSequence()) {
    r_.error(item, "a link is [\"node:if ADDR\", \"node:if ADDR\"] or {endpoints: [...]}");
    return;
  }
  // Bound once, never assigned: assigning a missing (zombie) node to a
  // YAML::Node throws InvalidNode, which a link map without "endpoints" did.
  const YAML::Node ends = item.IsMap() ? item["endpoints"] : item;
  if (!ends.IsSequence() || ends.size() != 2) {
    r_.error(ends, "a link has exactly two endpoints");
    return;
  }
  auto a = endpoint(ends[0]);
  auto b = endpoint(ends[1]);
  if (!a || !b) return;
  if (mtu) {
    if (!a->mtu) a->mtu = mtu;
    if (!b->mtu) b->mtu = mtu;
  }
  auto& spec = s_.topology.add_link(*a, *b, r_.at(item));
  if (item.IsMap())
    if (auto im = item["impair"]) spec.impair = impairment(im);
}

// "node:interface[@bridge] [ADDRESS/LEN ...]" (Endpoint::parse), or
// { at, addresses, mtu, up }.
std::optional<Endpoint> Loader::endpoint(const YAML::Node& e) {
  try {
    if (e.IsScalar()) return Endpoint::parse(e.Scalar(), r_.at(e));
    if (e.IsMap()) {
      if (!r_.keys(e, {"at", "addresses", "mtu", "up"}, "a link endpoint")) return std::nullopt;
      if (!e["at"]) {
        r_.error(e, "a link endpoint needs \"at\": node:interface");
        return std::nullopt;
      }
      auto at = r_.scalar(e["at"], "at");
      if (!at) return std::nullopt;
      Endpoint ep = Endpoint::parse(*at, r_.at(e["at"]));
      if (auto a = e["addresses"])
        for (const auto& item : r_.list(a, "addresses"))
          if (auto p = r_.prefix(item, "address")) ep.addresses.push_back(*p);
      if (auto m = e["mtu"])
        if (auto v = r_.integer(m, "mtu", 68, 65535)) ep.mtu = static_cast<int>(*v);
      if (auto u = e["up"])
        if (auto v = r_.boolean(u, "up")) ep.up = *v;
      return ep;
    }
    r_.error(e, "a link endpoint is \"node:interface [ADDRESS/LEN ...]\"");
  } catch (const ConfigError& err) {
    r_.error(e, err.message());
  }
  return std::nullopt;
}

Impairment Loader::impairment(const YAML::Node& im) {
  Impairment out;
  if (!r_.keys(im, {"rate", "loss", "delay", "jitter", "direction"}, "an impairment")) return out;
  if (auto r = im["rate"]) {
    if (auto v = r_.scalar(r, "rate")) {
      out.rate = Rate::parse(*v);
      if (!out.rate)
        r_.error(r, fmt::format("rate \"{}\" is not a rate from 8bit to 10tbit (a number with bit, kbit, mbit, "
                                "gbit or tbit, or bps... for bytes; e.g. 10mbit, 500kbit, 1gbit)",
                                *v));
    }
  }
  if (auto l = im["loss"]) {
    if (auto v = r_.scalar(l, "loss")) {
      out.loss_percent = parse_percent(*v);
      if (!out.loss_percent)
        r_.error(l, fmt::format("loss \"{}\" is not a percentage from 0% to 100% (e.g. 1%, 0.5%; the smallest "
                                "loss is {}%)",
                                *v, kMinLossPercent));
    }
  }
  for (const auto& [key, slot] : {std::pair{"delay", &out.delay}, std::pair{"jitter", &out.jitter}})
    if (auto d = im[key])
      if (auto ms = duration(d, key, std::chrono::milliseconds(0), std::chrono::milliseconds(60000),
                             fmt::format("{} is from 0ms to 60s", key)))
        *slot = std::chrono::duration_cast<std::chrono::microseconds>(*ms);
  if (auto d = im["direction"]) {
    auto v = r_.scalar(d, "direction").value_or("");
    if (v == "both")
      out.direction = Impairment::Direction::both;
    else if (v == "forward")
      out.direction = Impairment::Direction::a_to_b;
    else if (v == "reverse")
      out.direction = Impairment::Direction::b_to_a;
    else
      r_.error(d, fmt::format("direction \"{}\" is not both, forward (first endpoint to second) or reverse", v));
  }
  return out;
}

}  // namespace nslab::detail
