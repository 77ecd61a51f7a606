// Paths as values (nslab/path.h): a trace's hops read as the path a
// scenario writes, and compared with the expected one.
#include "nslab/path.h"

#include <algorithm>
#include <fmt/format.h>

namespace nslab {

namespace {

std::string joined(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s.empty() ? std::string("(no hop)") : s;
}

// The hops after which nothing answered up to max_hops: from this index on.
std::size_t silent_tail(const std::vector<Hop>& hops) {
  std::size_t end = hops.size();
  while (end > 0 && !hops[end - 1].address) --end;
  return end;
}

}  // namespace

std::string PathTrace::str() const {
  Probe shown = probe;
  shown.ttl = 0;
  return fmt::format("{} (path, up to {} hops)", shown.str(), max_hops);
}

std::string ExpectedPath::str() const {
  std::string s;
  if (!path.empty()) s = "path " + joined(path);
  if (!via.empty()) s += (s.empty() ? "via " : "; via ") + joined(via);
  return s;
}

std::vector<std::string> TraceResult::path() const {
  std::vector<std::string> out;
  std::size_t tail = silent_tail(hops);
  for (std::size_t i = 0; i < tail; ++i) out.push_back(hops[i].name());
  if (tail < hops.size()) out.emplace_back("*");
  return out;
}

std::string TraceResult::str() const {
  std::string s = joined(path());
  if (!hops.empty() && hops.back().address && !hops.back().destination && !hops.back().time_exceeded)
    s += fmt::format(" ({})", hops.back().evidence);
  if (loop_node)
    s += fmt::format(" (loop: {} answered at ttl {} and {})", *loop_node, loop_first, loop_again);
  else if (!reached && silent_tail(hops) < hops.size())
    s += fmt::format(" (no answer from ttl {} to {})", hops[silent_tail(hops)].ttl, hops.back().ttl);
  return s;
}

std::string TraceResult::table() const {
  std::string s;
  std::size_t tail = silent_tail(hops);
  for (std::size_t i = 0; i < tail; ++i) {
    const Hop& h = hops[i];
    if (!h.address)
      s += fmt::format("    {:>2}  *  {}\n", h.ttl, h.evidence);
    else
      s += fmt::format("    {:>2}  {}  {}  {}\n", h.ttl, h.node, h.address->str(), h.evidence);
  }
  if (tail < hops.size()) {
    const Hop& first = hops[tail];
    if (tail + 1 == hops.size())
      s += fmt::format("    {:>2}  *  {}\n", first.ttl, first.evidence);
    else
      s += fmt::format("    {}-{}  *  {}\n", first.ttl, hops.back().ttl, first.evidence);
  }
  return s;
}

std::optional<std::string> TraceResult::path_problem(const std::vector<std::string>& expected) const {
  auto seen = path();
  if (seen == expected && !loop_node) return std::nullopt;
  std::string why = fmt::format("expected path {}, observed {}", joined(expected), str());
  std::size_t k = 0;
  while (k < seen.size() && k < expected.size() && seen[k] == expected[k]) ++k;
  if (loop_node)
    why += "; a routing loop";
  else if (k < seen.size() && k < expected.size())
    why += fmt::format("; hop {} differs: expected {}, observed {}", k + 1, expected[k], seen[k]);
  else if (k < expected.size())
    why += fmt::format("; the path ends after {} hop{}", seen.size(), seen.size() == 1 ? "" : "s");
  else
    why += fmt::format("; {} more hop{} observed", seen.size() - k, seen.size() - k == 1 ? "" : "s");
  return why;
}

std::optional<std::string> TraceResult::via_problem(const std::vector<std::string>& nodes) const {
  if (loop_node) return fmt::format("expected via {}, observed a routing loop: {}", joined(nodes), str());
  if (!reached)
    return fmt::format("expected via {} to {}, the destination did not answer: {}", joined(nodes),
                       target_node.empty() ? target.str() : target_node, str());
  auto seen = path();
  auto at = seen.begin();
  auto before = seen.end() - 1;  // the destination itself is no hop on the way
  for (const auto& n : nodes) {
    at = std::find(at, before, n);
    if (at == before)
      return fmt::format("expected via {}, observed path {}; it does not go through {}{}", joined(nodes), str(), n,
                         nodes.size() > 1 ? " (in that order)" : "");
    ++at;
  }
  return std::nullopt;
}

}  // namespace nslab
