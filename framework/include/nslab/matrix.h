// Connectivity matrices: every ordered pair of a set of nodes probed at once,
// compared with an expectation given as a default and exceptions. On a
// mismatch, three tables: expected, observed, difference (the Kubernetes
// network-policy e2e truth tables are the model).
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "nslab/error.h"
#include "nslab/probe.h"

namespace nslab {

struct MatrixCell {
  std::string from;
  std::string to;
  Verdict verdict = Verdict::reachable;
  SourceLocation where;
};

struct MatrixSpec {
  Protocol protocol = Protocol::icmp;
  std::uint16_t port = 0;
  std::optional<Family> family;
  // Nodes ("fw": the kernel picks the source address, and the node's first
  // address is the target) or node:interface entries ("fw:eth1": that
  // interface's address, as source and as target). Entries of one node are
  // not probed from each other.
  std::vector<std::string> nodes;
  Verdict default_verdict = Verdict::reachable;
  std::vector<MatrixCell> exceptions;
  SourceLocation where;

  std::string str() const;  // "icmp", "tcp/80 (ipv6)"
};

class TruthTable {
 public:
  explicit TruthTable(std::vector<std::string> nodes) : nodes_(std::move(nodes)) {}
  void set(const std::string& from, const std::string& to, Verdict v) { cells_[{from, to}] = v; }
  Verdict at(const std::string& from, const std::string& to) const;
  const std::vector<std::string>& nodes() const noexcept { return nodes_; }
  // Rows are sources, columns destinations; the diagonal is `-`.
  std::string render(const std::string& title) const;

 private:
  std::vector<std::string> nodes_;
  std::map<std::pair<std::string, std::string>, Verdict> cells_;
};

struct MatrixReport {
  MatrixSpec spec;
  TruthTable expected{{}};
  TruthTable observed{{}};
  std::vector<ProbeResult> results;
  std::vector<ProbeResult> mismatches;
  double elapsed_ms = 0;

  bool ok() const noexcept { return mismatches.empty(); }
  // Expected, observed and difference tables, then one line per mismatch.
  std::string text() const;
  std::string difference() const;
};

// The expected table of a spec; throws ConfigError naming a bad exception.
TruthTable expected_table(const MatrixSpec& spec);

// The two halves of Lab::run_matrix, for callers that batch several
// matrices: the probes of every ordered pair, and the report from their results.
std::vector<Probe> matrix_probes(const MatrixSpec& spec);
MatrixReport matrix_report(const MatrixSpec& spec, std::vector<ProbeResult> results, double elapsed_ms);

}  // namespace nslab
