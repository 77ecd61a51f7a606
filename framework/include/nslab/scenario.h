// Scenario files: one lab and its expected connectivity in YAML, validated
// (with no privilege) before anything is built. Every problem names
// file:line:column; unknown keys come with the closest valid key.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "nslab/conntrack.h"
#include "nslab/matrix.h"
#include "nslab/options.h"
#include "nslab/packet.h"
#include "nslab/path.h"
#include "nslab/probe.h"
#include "nslab/probe_count.h"
#include "nslab/step.h"
#include "nslab/topology.h"
#include "nslab/values.h"

namespace nslab {

// "from red to blue over icmp: reachable", optionally served by a node.
struct ProbeExpectation {
  Probe probe;
  Verdict verdict = Verdict::reachable;
  std::optional<std::string> served_by;
  std::optional<IpAddress> seen_from;  // the client address the service saw
  // `answered_by: [b, c]`: an echo to a broadcast address, answered by
  // exactly these nodes (sorted; README, ICMP types).
  std::optional<std::vector<std::string>> answered_by;
  // A port set (`tcp: [22, 80]`, `tcp: 1-1024`): every port of it probed
  // (Lab::scan), each with `verdict`. With `open` (`scan: tcp/1-65535,
  // open: [80, 443]`): exactly those ports count as open (README, Port scans).
  std::optional<PortSet> ports;
  std::optional<PortSet> open;
  // `path: [r1, r2, dst]` / `via: r2`: a trace of the probe (Lab::trace)
  // must show that path (README, Paths); the verdict is not checked.
  std::optional<ExpectedPath> path;
  // `count: N` with `answers:` or `loss:`: N single-shot copies of the probe
  // (Lab::count_answers), their answers counted; the verdict is not checked.
  std::optional<ExpectedAnswers> answers;
  // `keep: NAME` (a tcp or udp probe whose verdict is reachable): its
  // connection stays open, for `kept: NAME` expectations later (README,
  // Kept connections).
  std::optional<std::string> keep;
  SourceLocation where;
  std::string str() const;
  PortScan scan() const;  // the scan of a port set
};

// What crossed an interface while one probe ran: a count of the packets that
// match a BPF filter, and optionally fields every one of them must have.
struct CaptureExpectation {
  std::string on;      // "node:interface"
  std::string filter;  // BPF, as tcpdump takes it; empty for every packet
  Probe during;
  CountSpec count;
  std::optional<IpAddress> src, dst;  // every matching packet must have these
  SourceLocation where;
  std::string str() const;
};

// A real client run inside a node (curl, nc, dig...): its exit code, and
// optionally text its output must contain.
struct CommandExpectation {
  std::string from;
  std::string command;  // run with sh -c inside the node
  int exit = 0;
  std::optional<std::string> output;
  std::chrono::milliseconds timeout{5000};
  SourceLocation where;
  std::string str() const;
};

// How many packets a firewall rule of a node matched while the expectations
// before it ran (see nslab/rule_hits.h): a rule or policy line
// ("rules.v4:12", "office.yaml:9" for inline rules) or an nftables named
// counter ("ssh_hits").
struct CounterExpectation {
  std::string node;
  std::string rule;
  CountSpec packets;
  SourceLocation where;
  std::string str() const;
};

// What a node's conntrack table holds after one probe ran (see
// nslab/conntrack.h): how many of the entries that probe made match.
// `absent: true` is `count: 0`.
struct ConntrackExpectation {
  std::string node;
  Probe during;
  ConntrackMatch expect;
  CountSpec count;  // default ">= 1"
  SourceLocation where;
  std::string str() const;
};

// `{ kept: NAME, verdict: reachable }`: data sent over the connection a
// probe with `keep: NAME` opened earlier (in this step or one before) comes
// back (reachable), meets silence (blocked), a reset (refused) or an ICMP
// error (nslab/connection.h, Connection::exchange).
struct KeptExpectation {
  std::string name;
  Verdict verdict = Verdict::reachable;
  std::string payload;   // empty: a line of nslab's own
  std::string opened;    // the opening probe, "red -> web tcp/80" (filled once the file is read)
  SourceLocation where;  // of this expectation; the `keep:` is the opening probe's
  std::string str() const;
};

using Expectation = std::variant<ProbeExpectation, MatrixSpec, CaptureExpectation, CommandExpectation,
                                 CounterExpectation, ConntrackExpectation, KeptExpectation>;

// What a step's `wait:` polls (nslab/step.h): a probe or command expectation.
struct WaitCondition {
  Expectation expectation;
  std::string str() const;  // the expectation's own title
};

// One step of `steps:` (nslab/step.h): its actions, then its expectations.
struct Step {
  std::string name;
  std::vector<StepAction> actions;
  std::vector<Expectation> expectations;
  SourceLocation where;
};

struct Scenario {
  std::string file;
  std::string name;
  std::string description;
  Topology topology;
  std::vector<Expectation> expectations;
  std::vector<Step> steps;  // after `expectations` (step 0), in order
  ProbeOptions probe_options;
  LabOptions lab_options;
  // "file:line:column: warning: ..." for what is valid but likely a mistake
  // (a file with no expectations checks nothing).
  std::vector<std::string> warnings;
};

// Reads and validates a scenario; throws ScenarioError listing every problem.
Scenario load_scenario(const std::string& path);
// The same from text; `file` names it in messages.
Scenario parse_scenario(std::string_view yaml, const std::string& file);

}  // namespace nslab
