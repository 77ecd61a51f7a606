// Port sets ("22, 80, 8000-8010") and what a port scan's verdicts say
// (probe.h): the description side of Lab::scan.
#include <algorithm>
#include <charconv>
#include <fmt/format.h>

#include "nslab/probe.h"

namespace nslab {

PortSet::PortSet(std::initializer_list<std::uint16_t> ports) {
  for (auto p : ports) add(p);
}

PortSet PortSet::range(std::uint16_t lo, std::uint16_t hi) {
  PortSet s;
  s.add(lo, hi);
  return s;
}

// The ranges stay sorted and apart (no two touch): the new range merges
// with the neighbours it touches, in place. Adding ports in ascending order
// (a parsed list, a scan's results) appends; sorting the whole set on every
// add made "1, 3, 5, ..., 65535" take minutes.
void PortSet::add(std::uint16_t lo, std::uint16_t hi) {
  if (lo > hi) std::swap(lo, hi);
  // The first range that ends at or after lo - 1 (it may touch or overlap).
  auto first = std::lower_bound(ranges_.begin(), ranges_.end(), static_cast<unsigned>(lo),
                                [](const auto& r, unsigned l) { return static_cast<unsigned>(r.second) + 1 < l; });
  // The ranges from `first` that start at or before hi + 1 merge with it.
  auto last = first;
  while (last != ranges_.end() && static_cast<unsigned>(last->first) <= static_cast<unsigned>(hi) + 1) ++last;
  if (first == last) {
    ranges_.insert(first, {lo, hi});
    return;
  }
  first->first = std::min(first->first, lo);
  first->second = std::max(std::prev(last)->second, hi);
  ranges_.erase(std::next(first), last);
}

bool PortSet::contains(std::uint16_t port) const noexcept {
  auto it = std::upper_bound(ranges_.begin(), ranges_.end(), std::pair<std::uint16_t, std::uint16_t>{port, 65535});
  return it != ranges_.begin() && std::prev(it)->second >= port;
}

std::size_t PortSet::size() const noexcept {
  std::size_t n = 0;
  for (const auto& [lo, hi] : ranges_) n += static_cast<std::size_t>(hi - lo) + 1;
  return n;
}

std::vector<std::uint16_t> PortSet::ports() const {
  std::vector<std::uint16_t> out;
  out.reserve(size());
  for (const auto& [lo, hi] : ranges_)
    for (unsigned p = lo; p <= hi; ++p) out.push_back(static_cast<std::uint16_t>(p));
  return out;
}

std::string PortSet::str() const {
  std::string s;
  for (const auto& [lo, hi] : ranges_) {
    if (!s.empty()) s += ", ";
    s += lo == hi ? fmt::format("{}", lo) : fmt::format("{}-{}", lo, hi);
  }
  return s;
}

std::optional<PortSet> PortSet::parse(std::string_view text, std::string* why) {
  auto fail = [&](std::string msg) -> std::optional<PortSet> {
    if (why) *why = std::move(msg);
    return std::nullopt;
  };
  auto number = [](std::string_view t) -> std::optional<std::uint16_t> {
    while (!t.empty() && t.front() == ' ') t.remove_prefix(1);
    while (!t.empty() && t.back() == ' ') t.remove_suffix(1);
    unsigned v = 0;
    auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    if (t.empty() || ec != std::errc{} || p != t.data() + t.size() || v < 1 || v > 65535) return std::nullopt;
    return static_cast<std::uint16_t>(v);
  };
  PortSet out;
  std::size_t at = 0;
  while (at <= text.size()) {
    auto comma = text.find(',', at);
    std::string_view item = text.substr(at, comma == std::string_view::npos ? std::string_view::npos : comma - at);
    auto dash = item.find('-');
    auto lo = number(item.substr(0, dash));
    auto hi = dash == std::string_view::npos ? lo : number(item.substr(dash + 1));
    if (!lo || !hi) return fail(fmt::format("\"{}\" is not a port (1 to 65535) or a range of them (1-1024)", item));
    if (*lo > *hi) return fail(fmt::format("range \"{}\" ends before it starts", item));
    out.add(*lo, *hi);
    if (comma == std::string_view::npos) break;
    at = comma + 1;
  }
  return out;
}

std::string PortScan::str() const {
  std::string s = fmt::format("{} -> {} scan {}/{}", from, to, nslab::to_string(protocol), ports.str());
  if (family) s += fmt::format(" ({})", nslab::to_string(*family));
  return s;
}

std::string_view to_string(PortState s) noexcept {
  switch (s) {
    case PortState::open: return "open";
    case PortState::closed: return "closed";
    case PortState::filtered: return "filtered";
    case PortState::open_filtered: return "open|filtered";
  }
  return "?";
}

PortState port_state(Protocol p, Verdict v) noexcept {
  switch (v) {
    case Verdict::reachable:
    case Verdict::delivered: return PortState::open;
    case Verdict::refused: return PortState::closed;
    case Verdict::unreachable: return PortState::filtered;
    case Verdict::blocked: return p == Protocol::udp ? PortState::open_filtered : PortState::filtered;
  }
  return PortState::filtered;
}

namespace {
template <typename Pred>
PortSet select(const ScanResult& r, Pred pred) {
  PortSet s;
  auto ports = r.scan.ports.ports();
  for (std::size_t i = 0; i < ports.size() && i < r.verdicts.size(); ++i)
    if (pred(r.verdicts[i])) s.add(ports[i]);
  return s;
}
}  // namespace

PortSet ScanResult::with(Verdict v) const {
  return select(*this, [&](Verdict x) { return x == v; });
}

PortSet ScanResult::in(PortState s) const {
  return select(*this, [&](Verdict x) { return port_state(scan.protocol, x) == s; });
}

PortSet ScanResult::open() const {
  return select(*this, [&](Verdict x) {
    auto s = port_state(scan.protocol, x);
    return s == PortState::open || s == PortState::open_filtered;
  });
}

std::optional<std::string> ScanResult::open_problem(const PortSet& expected) const {
  std::string out;
  auto add = [&](const std::string& what, const PortSet& s) {
    if (s.empty()) return;
    out += fmt::format("{}{}: {}", out.empty() ? "" : "; ", what, s.str());
  };
  PortSet surplus, missing_closed, missing_filtered;
  auto ports = scan.ports.ports();
  for (std::size_t i = 0; i < ports.size() && i < verdicts.size(); ++i) {
    auto s = port_state(scan.protocol, verdicts[i]);
    bool is_open = s == PortState::open || s == PortState::open_filtered;
    bool want = expected.contains(ports[i]);
    if (is_open && !want) surplus.add(ports[i]);
    if (!is_open && want) (s == PortState::closed ? missing_closed : missing_filtered).add(ports[i]);
  }
  add("open but not expected", surplus);
  add("expected open but closed", missing_closed);
  add("expected open but filtered", missing_filtered);
  if (out.empty()) return std::nullopt;
  return out;
}

std::optional<std::string> ScanResult::verdict_problem(Verdict v) const {
  std::string out;
  for (Verdict x : {Verdict::reachable, Verdict::blocked, Verdict::refused, Verdict::unreachable}) {
    if (x == v) continue;
    auto s = with(x);
    if (!s.empty()) out += fmt::format("{}{} on {}", out.empty() ? "" : "; ", nslab::to_string(x), s.str());
  }
  if (out.empty()) return std::nullopt;
  return out;
}

std::string ScanResult::summary() const {
  std::string out = fmt::format("{} port{} in {:.0f} ms", verdicts.size(), verdicts.size() == 1 ? "" : "s", elapsed_ms);
  std::string sep = ": ";
  for (auto s : {PortState::open, PortState::open_filtered, PortState::closed, PortState::filtered}) {
    auto set = in(s);
    if (set.empty()) continue;
    std::string list = set.str();
    if (list.size() > 200) list = list.substr(0, list.rfind(", ", 200)) + ", ...";
    out += fmt::format("{}{} {}", sep, nslab::to_string(s), list);
    sep = "; ";
  }
  return out;
}

}  // namespace nslab
