// A node's `limits:` (cpu, memory, pids, io_weight): see nslab/limits.h.
#include <fmt/format.h>

#include <charconv>
#include <cmath>

#include "scenario_loader.h"

namespace nslab::detail {

void Loader::limits(NodeSpec& n, const YAML::Node& body) {
  std::string ctx = fmt::format("limits of node \"{}\"", n.name);
  if (!r_.keys(body, {"cpu", "memory", "pids", "io_weight"}, ctx)) return;
  if (auto c = body["cpu"]) {
    auto s = r_.scalar(c, "limits.cpu");
    double v = 0;
    if (s) {
      auto [p, ec] = std::from_chars(s->data(), s->data() + s->size(), v);
      if (ec != std::errc{} || p != s->data() + s->size() || !std::isfinite(v) || v < Limits::kMinCpu ||
          v > Limits::kMaxCpu)
        r_.error(c, fmt::format("limits.cpu must be a number of CPUs from {} to {} (0.5: half of one CPU), not \"{}\"",
                                Limits::kMinCpu, Limits::kMaxCpu, *s));
      else
        n.limits.cpu = v;
    }
  }
  if (auto m = body["memory"]) {
    if (auto s = r_.scalar(m, "limits.memory")) {
      auto bytes = parse_size(*s);
      if (!bytes || *bytes < Limits::kMinMemory)
        r_.error(m,
                 fmt::format("limits.memory must be a size of at least 1MiB (64MiB, 1.5GiB, 500MB), not \"{}\"", *s));
      else
        n.limits.memory = *bytes;
    }
  }
  if (auto p = body["pids"])
    if (auto v = r_.integer(p, "limits.pids", 1, Limits::kMaxPids)) n.limits.pids = static_cast<std::uint32_t>(*v);
  if (auto w = body["io_weight"])
    if (auto v = r_.integer(w, "limits.io_weight", 1, 10000)) n.limits.io_weight = static_cast<std::uint32_t>(*v);
}

}  // namespace nslab::detail
