#include "nslab/verdict.h"

#include <ostream>

namespace nslab {

std::string_view to_string(Verdict v) noexcept {
  switch (v) {
    case Verdict::reachable: return "reachable";
    case Verdict::blocked: return "blocked";
    case Verdict::refused: return "refused";
    case Verdict::unreachable: return "unreachable";
    case Verdict::delivered: return "delivered";
  }
  return "?";
}

char symbol(Verdict v) noexcept {
  switch (v) {
    case Verdict::reachable: return '.';
    case Verdict::blocked: return 'X';
    case Verdict::refused: return 'R';
    case Verdict::unreachable: return 'U';
    case Verdict::delivered: return 'D';
  }
  return '?';
}

std::optional<Verdict> parse_verdict(std::string_view t) {
  for (Verdict v : {Verdict::reachable, Verdict::blocked, Verdict::refused, Verdict::unreachable, Verdict::delivered})
    if (t == to_string(v)) return v;
  return std::nullopt;
}

std::ostream& operator<<(std::ostream& os, Verdict v) {
  return os << to_string(v);
}

}  // namespace nslab
