// Counted probes as values (nslab/probe_count.h): loss bounds, a count's
// summary, and whether an expectation holds.
#include "nslab/probe_count.h"

#include <cmath>
#include <cstdlib>
#include <fmt/format.h>

namespace nslab {

namespace {

constexpr const char* kOps[] = {"==", ">=", "<=", ">", "<"};

// "10", "12.5": a plain decimal percentage (no sign, exponent, inf or nan).
std::optional<double> percentage(std::string_view t) {
  if (t.empty() || t.size() > 16) return std::nullopt;
  int dots = 0;
  for (char c : t) {
    if (c == '.')
      ++dots;
    else if (c < '0' || c > '9')
      return std::nullopt;
  }
  if (dots > 1 || t.front() == '.' || t.back() == '.') return std::nullopt;
  return std::strtod(std::string(t).c_str(), nullptr);
}

}  // namespace

std::optional<LossBound> LossBound::parse(std::string_view t, std::string* why) {
  auto fail = [&](std::string w) -> std::optional<LossBound> {
    if (why) *why = std::move(w);
    return std::nullopt;
  };
  auto trim = [](std::string_view& s) {
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  };
  trim(t);
  LossBound b;
  b.op = CountSpec::Op::eq;
  for (auto [word, op] :
       {std::pair{">=", CountSpec::Op::ge}, std::pair{"<=", CountSpec::Op::le}, std::pair{"==", CountSpec::Op::eq},
        std::pair{">", CountSpec::Op::gt}, std::pair{"<", CountSpec::Op::lt}}) {
    std::string_view w(word);
    if (t.substr(0, w.size()) == w) {
      b.op = op;
      t.remove_prefix(w.size());
      break;
    }
  }
  trim(t);
  if (t.empty() || t.back() != '%') return fail("a loss is a percentage with its % sign, e.g. \"<= 10%\", \"0%\"");
  t.remove_suffix(1);
  trim(t);
  auto v = percentage(t);
  if (!v) return fail(fmt::format("\"{}\" is not a percentage (0 to 100, e.g. 10 or 2.5)", t));
  if (*v > 100) return fail(fmt::format("{}% is more than 100%", t));
  b.percent = *v;
  return b;
}

bool LossBound::holds(double loss) const noexcept {
  // Loss is k/N * 100: compared with a margin well below one request in
  // 10,000, so that 1/3 reads as 33.333...% and "<= 33.34%" holds.
  constexpr double kEpsilon = 1e-9;
  switch (op) {
    case CountSpec::Op::eq: return std::fabs(loss - percent) < kEpsilon;
    case CountSpec::Op::ge: return loss > percent - kEpsilon;
    case CountSpec::Op::le: return loss < percent + kEpsilon;
    case CountSpec::Op::gt: return loss > percent + kEpsilon;
    case CountSpec::Op::lt: return loss < percent - kEpsilon;
  }
  return false;
}

std::string LossBound::str() const {
  return fmt::format("{} {}%", kOps[static_cast<int>(op)], percent);
}

double CountResult::loss_percent() const noexcept {
  if (count == 0) return 0;
  return 100.0 * static_cast<double>(count - answered) / static_cast<double>(count);
}

std::string CountResult::summary() const {
  std::string s = fmt::format("{} sent, {} answered, {:.4g}% loss", count, answered, loss_percent());
  for (const auto& [v, n] : tally) {
    if (v == Verdict::reachable) continue;
    std::string why;
    for (const auto& [ev, d] : evidence)
      if (ev == v) why = d;
    s += fmt::format("; {} {}{}", to_string(v), n, why.empty() ? "" : " (" + why + ")");
  }
  return s;
}

std::string ExpectedAnswers::str() const {
  if (loss) return fmt::format("count {}, loss {}", count, loss->str());
  if (answers) return fmt::format("count {}, answers {}", count, answers->str());
  return fmt::format("count {}", count);
}

std::optional<std::string> ExpectedAnswers::problem(const CountResult& r) const {
  if (loss && !loss->holds(r.loss_percent()))
    return fmt::format("expected loss {}, observed {:.4g}% ({} of {} answered)", loss->str(), r.loss_percent(),
                       r.answered, r.count);
  if (answers && !answers->holds(r.answered))
    return fmt::format("expected {} answers of {}, observed {}", answers->str(), r.count, r.answered);
  return std::nullopt;
}

std::optional<std::string> ExpectedAnswers::vacuous() const {
  std::size_t holds = 0;
  for (std::size_t k = 0; k <= count; ++k) {
    bool ok = true;
    if (answers) ok = answers->holds(k);
    if (loss) ok = loss->holds(100.0 * static_cast<double>(count - k) / static_cast<double>(count));
    holds += ok ? 1 : 0;
  }
  const std::string what = loss ? "loss " + loss->str() : "answers " + answers->str();
  if (holds == count + 1)
    return fmt::format("{} holds whatever comes back of {} request{}; it checks nothing", what, count,
                       count == 1 ? "" : "s");
  if (holds == 0) return fmt::format("{} can never hold with {} request{}", what, count, count == 1 ? "" : "s");
  return std::nullopt;
}

}  // namespace nslab
