#include "nslab/probe.h"

#include <fmt/format.h>

namespace nslab {

std::string Probe::str() const {
  std::string s = fmt::format("{} -> {} {}", from, to, nslab::to_string(protocol));
  if (protocol == Protocol::icmp && icmp_type)
    s = fmt::format("{} -> {} {} {}", from, to, icmp_type->family == Family::ipv6 ? "icmpv6" : "icmp",
                    icmp_type->str());
  if (broadcast) s += " broadcast";
  if (protocol != Protocol::icmp) s += fmt::format("/{}", port);
  if (family) s += fmt::format(" ({})", nslab::to_string(*family));
  if (source && sport)
    s += fmt::format(" from {}", source->is_v4() ? fmt::format("{}:{}", source->str(), sport)
                                                 : fmt::format("[{}]:{}", source->str(), sport));
  else if (source)
    s += fmt::format(" from {}", source->str());
  else if (sport)
    s += fmt::format(" from port {}", sport);
  if (ttl) s += fmt::format(" ttl {}", ttl);
  if (size) s += fmt::format(" size {}", *size);
  if (df) s += " df";
  if (tos) s += fmt::format(" tos 0x{:02x}", *tos);
  return s;
}

std::optional<std::string> ProbeResult::payload_problem() const {
  const std::string& sent = probe.payload;
  if (sent.empty() || probe.protocol == Protocol::icmp) return std::nullopt;
  if (echo && *echo == sent) return std::nullopt;
  if (!echo || echo->empty()) return fmt::format("the {}-byte payload was not echoed", sent.size());
  std::size_t at = 0;
  while (at < sent.size() && at < echo->size() && sent[at] == (*echo)[at]) ++at;
  auto excerpt = [](const std::string& s, std::size_t from) {
    std::string out;
    for (std::size_t i = from; i < s.size() && i < from + 24; ++i) {
      auto c = static_cast<unsigned char>(s[i]);
      out += c >= 0x20 && c < 0x7f ? std::string(1, s[i]) : fmt::format("\\x{:02x}", c);
    }
    return out;
  };
  return fmt::format(
      "the payload came back altered: sent {} bytes, got {}; first difference at byte {} "
      "(sent \"{}\", got \"{}\")",
      sent.size(), echo->size(), at, excerpt(sent, at), excerpt(*echo, at));
}

}  // namespace nslab
