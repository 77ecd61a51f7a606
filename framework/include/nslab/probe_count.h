// Counted probes (Lab::count_answers): `ping -c N` as a probe. N copies of
// one probe, each a single request (one echo, one datagram, one connection
// attempt: never resent), all at once, and how many were answered. With
// `loss:` on a link's impairment this is how a loss test is written.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "nslab/ip_address.h"
#include "nslab/packet.h"
#include "nslab/probe.h"
#include "nslab/verdict.h"

namespace nslab {

// "<= 10%", "< 5%", ">= 90%", "== 0%", "0%" (== 0%): a bound on the
// percentage of requests that got no answer.
struct LossBound {
  CountSpec::Op op = CountSpec::Op::le;
  double percent = 0;  // 0..100
  static std::optional<LossBound> parse(std::string_view text, std::string* why = nullptr);
  bool holds(double loss_percent) const noexcept;
  std::string str() const;
};

struct CountResult {
  Probe probe;
  std::size_t count = 0;  // requests sent (probes run)
  IpAddress target;
  // An answer is what makes a probe reachable: an echo reply, a TCP
  // connection, a UDP reply (as `ping -c` counts "received"). Refusals and
  // ICMP errors are not answers; they are tallied with the other verdicts.
  std::size_t answered = 0;
  std::vector<std::pair<Verdict, std::size_t>> tally;     // each verdict seen, with how many
  std::vector<std::pair<Verdict, std::string>> evidence;  // the first detail of each verdict
  double elapsed_ms = 0;

  double loss_percent() const noexcept;
  // "10 sent, 9 answered, 10% loss; blocked 1 (no answer within 1000 ms)"
  std::string summary() const;
};

// What a counted probe expectation asks: `count: N` with `answers: SPEC`
// (a count of answers, "9", ">= 9") or `loss: BOUND`, exactly one of them.
struct ExpectedAnswers {
  static constexpr std::size_t kMaxCount = 10000;
  std::size_t count = 1;
  std::optional<CountSpec> answers;
  std::optional<LossBound> loss;
  std::string str() const;  // "count 10, answers >= 9" / "count 10, loss <= 10%"
  // Empty when `r` meets it; else what was expected and seen.
  std::optional<std::string> problem(const CountResult& r) const;
  // Why the bound decides nothing for `count` requests (it always or never
  // holds), or empty.
  std::optional<std::string> vacuous() const;
};

}  // namespace nslab
