// Verdict: how a probe ended, as a real client would report it (README,
// Verdicts; the rules are in framework/src/runtime/verdict_rules.h).
#pragma once

#include <iosfwd>
#include <optional>
#include <string_view>

namespace nslab {

enum class Verdict {
  reachable,    // answered
  blocked,      // no answer before the timeout: a DROP
  refused,      // TCP RST or ICMP port unreachable / prohibited: a REJECT
  unreachable,  // ICMP host or net unreachable, or no route at the source
  // An ICMP message that gets no answer (a redirect, a router
  // advertisement; nslab/icmp_type.h) reached the target: a raw socket there
  // saw it, after the target's INPUT chain.
  delivered,
};

std::string_view to_string(Verdict v) noexcept;
// The table symbol: `.` reachable, `X` blocked, `R` refused, `U` unreachable,
// `D` delivered.
char symbol(Verdict v) noexcept;
std::optional<Verdict> parse_verdict(std::string_view text);
std::ostream& operator<<(std::ostream& os, Verdict v);

}  // namespace nslab
